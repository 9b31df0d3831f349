"""The sync rules, against an in-memory remote: file wins, Done archives, pull idempotent, push creates
and writes the key back, a cut-off run re-runs without duplicates, a dry run writes nothing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from loop_pm import journal
from loop_pm.sync import Context, SyncAbortedError, run_direction
from loop_schemas import TaskStatus, lint_tasks, parse_task
from loop_schemas.pm import AdapterAuthError, AdapterConnectionError, AdapterError, task_label
from pm_fakes import MemoryAdapter, Remote, task_text, write_task


def ctx_for(project: Path, adapter: MemoryAdapter, dry_run: bool = False) -> Context:
    return Context("mem", project / "tasks", project, adapter.connect({}), dry_run)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def log_lines(project: Path) -> list[str]:
    path = project / "ops-wiki" / "log.md"
    return path.read_text().splitlines() if path.exists() else []


# ---------------------------------------------------------------------------------------------- pull


def test_pull_creates_lintable_task_files_with_the_key(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    write_task(project / "tasks", "T0003", "Existing work")
    remote.add("Write the docs", description="Explain the thing.\n\n## Not a section\n\nMore.")
    remote.add("Fix login", TaskStatus.IN_PROGRESS)
    remote.add("Old work", TaskStatus.DONE)  # Done and unknown: not imported

    plan = run_direction(ctx_for(project, adapter), "pull")

    assert [a.kind for a in plan.actions] == ["create-task", "create-task"]
    assert all(a.state == "done" for a in plan.actions)
    names = sorted(p.name for p in (project / "tasks").glob("*.md"))
    assert names == ["T0003-existing-work.md", "T0004-write-the-docs.md", "T0005-fix-login.md"]
    docs = parse_task((project / "tasks" / "T0004-write-the-docs.md").read_text(), "T0004-write-the-docs.md")
    assert docs.frontmatter.jira == "MEM-1"
    assert docs.frontmatter.status == TaskStatus.OPEN
    assert "Explain the thing." in docs.sections["Objective"]
    assert "### Not a section" in docs.sections["Objective"]  # remote headings cannot open sections
    fix = parse_task((project / "tasks" / "T0005-fix-login.md").read_text(), "T0005-fix-login.md")
    assert fix.frontmatter.status == TaskStatus.IN_PROGRESS
    assert lint_tasks(project / "tasks") == []


def test_pull_is_idempotent(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    remote.add("One")
    remote.add("Two")
    run_direction(ctx_for(project, adapter), "pull")
    before = tree_digest(project)
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert plan.actions == []
    assert tree_digest(project) == before


def test_file_wins_pull_never_rewrites_a_linked_task(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    issue = remote.add("Remote title changed by a human", TaskStatus.IN_PROGRESS, description="remote text")
    path = write_task(project / "tasks", "T0001", "Local title", status="review", jira=issue.key)
    before = path.read_bytes()
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert plan.actions == []
    assert path.read_bytes() == before


def test_remote_done_archives_the_task_and_logs(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    issue = remote.add("Ship it", TaskStatus.IN_PROGRESS)
    path = write_task(project / "tasks", "T0007", "Ship it", status="in-progress", jira=issue.key)
    original = path.read_text()
    remote.issues[issue.key] = issue.model_copy(update={"task_status": TaskStatus.DONE, "status": "Done"})

    plan = run_direction(ctx_for(project, adapter), "pull")

    assert [(a.kind, a.state) for a in plan.actions] == [("archive-task", "done")]
    archived = project / "tasks" / "archive" / path.name
    assert not path.exists()
    text = archived.read_text()
    assert "status: done\n" in text
    # every other byte is kept: only the status line changed
    assert text == original.replace("status: in-progress\n", "status: done\n")
    assert re.fullmatch(r"## \[\d{4}-\d{2}-\d{2}\] task \| T0007 done", log_lines(project)[-1])
    assert lint_tasks(project / "tasks") == []
    # and again: nothing more to do, no second log line
    assert run_direction(ctx_for(project, adapter), "pull").actions == []
    assert len(log_lines(project)) == 1


def test_remote_wont_do_only_warns(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    issue = remote.add("Maybe", TaskStatus.DROPPED, name="Won't Do")
    path = write_task(project / "tasks", "T0001", "Maybe", jira=issue.key)
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert plan.actions == []
    assert any("Won't Do" in w and "T0001" in w for w in plan.warnings)
    assert path.exists()


def test_interrupted_archive_move_is_finished_by_the_next_pull(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    issue = remote.add("Half moved", TaskStatus.DONE)
    live = write_task(project / "tasks", "T0002", "Half moved", status="open", jira=issue.key)
    done = project / "tasks" / "archive" / live.name
    done.parent.mkdir()
    done.write_text(live.read_text().replace("status: open", "status: done"))
    assert lint_tasks(project / "tasks")  # duplicate id: the state a crash leaves

    plan = run_direction(ctx_for(project, adapter), "pull")

    assert [a.kind for a in plan.actions] == ["archive-task"]
    assert not live.exists() and done.exists()
    assert lint_tasks(project / "tasks") == []
    assert log_lines(project)[-1].endswith("task | T0002 done")


def test_a_label_alone_never_links_imports_or_archives(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    """Issue 15 item 5: a stranger's issue carrying `loop-task-T0001` does not claim T0001."""
    path = write_task(project / "tasks", "T0001", "Local work")
    before = path.read_text()
    issue = remote.add("A stranger's issue", labels=[task_label("T0001")])

    plan = run_direction(ctx_for(project, adapter), "pull")

    assert plan.actions == []  # no link-task, and not imported as a second task either
    assert path.read_text() == before
    assert sorted(p.name for p in (project / "tasks").glob("*.md")) == [path.name]
    assert [(p.task_id, p.key, p.label) for p in plan.possible_links] == [
        ("T0001", issue.key, "loop-task-T0001")
    ]
    assert any(w.startswith(f"possible link: {issue.key} carries the label") for w in plan.warnings)
    assert log_lines(project) == []

    # the stranger closes the issue: T0001 stays where it is, open, and nothing is logged
    remote.issues[issue.key] = remote.issues[issue.key].model_copy(
        update={"task_status": TaskStatus.DONE, "status": "Done"}
    )
    again = run_direction(ctx_for(project, adapter), "pull")
    assert again.actions == []
    assert path.read_text() == before
    assert not (project / "tasks" / "archive").exists()
    assert log_lines(project) == []


def test_a_key_a_human_writes_is_the_link(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    issue = remote.add("Ours after all", labels=[task_label("T0001")])
    write_task(project / "tasks", "T0001", "Ours after all", jira=issue.key)
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert plan.actions == [] and plan.possible_links == []
    remote.issues[issue.key] = remote.issues[issue.key].model_copy(
        update={"task_status": TaskStatus.DONE, "status": "Done"}
    )
    done = run_direction(ctx_for(project, adapter), "pull")
    assert [a.kind for a in done.actions] == ["archive-task"]
    assert log_lines(project)[-1].endswith("task | T0001 done")


def test_remote_text_is_data_in_the_task_file(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    """Issue 15 item 5: ESC sequences from the remote are written visibly; newlines and tabs kept."""
    remote.add(
        "Title \x1b]0;pwned\x07 here",
        description="line one \x1b[2J\x9b31m\n\tindented\r\nline three \x7f",
        name="In \x1b[5mProgress",
        status=TaskStatus.IN_PROGRESS,
    )

    plan = run_direction(ctx_for(project, adapter), "pull")

    [path] = (project / "tasks").glob("T0001-*.md")
    text = path.read_text()
    assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in text)
    task = parse_task(text, path)
    assert task.frontmatter.title == "Title \u241b]0;pwned\u2407 here"
    assert "line one \u241b[2J\\x9b31m\n\tindented\nline three \u2421" in task.sections["Objective"]
    assert "remote status 'In \u241b[5mProgress'" in text
    assert "\x1b" not in (plan.actions[0].title or "") + plan.actions[0].detail
    assert lint_tasks(project / "tasks") == []


def test_remote_text_is_redacted_in_every_form(project: Path, remote: Remote) -> None:
    """Issue 15 item 8: a remote that echoes the adapter's secret in an issue never gets it written."""
    import base64
    from urllib.parse import quote

    secret = "tok/en+Secret=42"
    remote.add(
        f"Echo {quote(secret, safe='')}",
        description=f"a {secret.upper()} b\n{base64.b64encode(secret.encode()).decode()}",
    )
    adapter = MemoryAdapter(remote)
    ctx = Context("mem", project / "tasks", project, adapter.connect({}), False, secrets=(secret,))
    run_direction(ctx, "pull")
    [path] = (project / "tasks").glob("T0001-*.md")
    text = path.read_text()
    assert secret not in text and secret.upper() not in text and quote(secret, safe="") not in text
    assert base64.b64encode(secret.encode()).decode() not in text
    assert text.count("***") == 3


def test_bad_task_files_are_skipped_with_a_warning(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    (project / "tasks" / "T0001-broken.md").write_text("---\nid: T0001\n---\nno sections\n")
    (project / "tasks" / "README.md").write_text("# tasks\n")
    remote.add("New")
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert any("T0001-broken.md" in w for w in plan.warnings)
    # ids are allocated past the broken file's number, never reusing it
    assert [a.task_id for a in plan.actions] == ["T0002"]


# ---------------------------------------------------------------------------------------------- push


def test_push_creates_issues_writes_keys_back_and_logs(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    t1 = write_task(project / "tasks", "T0001", "Open one")
    t2 = write_task(project / "tasks", "T0002", "Busy one", status="in-progress")
    t3 = write_task(project / "tasks", "T0003", "In review", status="review")
    t4 = write_task(project / "tasks", "T0004", "Finished", status="done")
    before = {p: p.read_text() for p in (t3, t4)}

    plan = run_direction(ctx_for(project, adapter), "push")

    assert [(a.kind, a.task_id, a.state) for a in plan.actions] == [
        ("create-issue", "T0001", "done"),
        ("create-issue", "T0002", "done"),
    ]
    k1 = parse_task(t1.read_text(), t1).frontmatter.jira
    k2 = parse_task(t2.read_text(), t2).frontmatter.jira
    assert {k1, k2} == set(remote.issues)
    assert remote.issues[k1 or ""].task_id == "T0001"
    # only the jira line changed
    assert t1.read_text() == task_text("T0001", "Open one").replace("jira:\n", f"jira: {k1}\n")
    assert {p: p.read_text() for p in (t3, t4)} == before
    assert [line.split("] ", 1)[1] for line in log_lines(project)] == [
        f"sync | {k1} created from T0001",
        f"sync | {k2} created from T0002",
    ]
    assert lint_tasks(project / "tasks") == []
    # a second push has nothing to do
    assert run_direction(ctx_for(project, adapter), "push").actions == []


def test_push_updates_the_remote_from_the_file(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    issue = remote.add("Old remote title", TaskStatus.OPEN, description="stale")
    write_task(project / "tasks", "T0001", "The file's title", status="review", jira=issue.key)
    plan = run_direction(ctx_for(project, adapter), "push")
    assert [(a.kind, a.changes) for a in plan.actions] == [
        ("update-issue", ["title", "description", "status"])
    ]
    now = remote.issues[issue.key]
    assert now.title == "The file's title"
    assert now.task_status == TaskStatus.REVIEW
    assert "The file's title: objective." in now.description


def test_push_never_reopens_a_remote_done_issue(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    issue = remote.add("Closed by a human", TaskStatus.DONE)
    write_task(project / "tasks", "T0001", "Closed by a human", jira=issue.key)
    ctx = ctx_for(project, adapter)
    # make description identical so status is the only difference
    tf_desc = parse_task((project / "tasks" / "T0001-closed-by-a-human.md").read_text()).body.strip("\n")
    remote.issues[issue.key] = remote.issues[issue.key].model_copy(update={"description": tf_desc})
    plan = run_direction(ctx, "push")
    assert plan.actions == []
    assert any("not reopened" in w for w in plan.warnings)
    assert remote.issues[issue.key].task_status == TaskStatus.DONE


def test_push_rerun_after_interruption_creates_no_duplicate(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    path = write_task(project / "tasks", "T0001", "Cut off")
    # our push recorded the create, the remote created the issue, the process died before the key
    # reached the file
    journal.record(project, "mem", "T0001", "Cut off")
    remote.add("Cut off", labels=[task_label("T0001")])
    plan = run_direction(ctx_for(project, adapter), "push")
    assert [a.kind for a in plan.actions] == ["link-task"]
    assert len(remote.issues) == 1
    assert ("create", "T0001") not in remote.calls
    assert parse_task(path.read_text(), path).frontmatter.jira == "MEM-1"
    assert log_lines(project)[-1].endswith("sync | MEM-1 created from T0001")
    assert not journal.pending(project, "mem", "T0001")


def test_push_follows_no_label_its_journal_does_not_record(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    path = write_task(project / "tasks", "T0001", "Mine")
    before = path.read_text()
    stranger = remote.add("Someone else's", labels=[task_label("T0001")])
    plan = run_direction(ctx_for(project, adapter), "push")
    assert plan.actions == []  # no link, and no second issue until a human says which it is
    assert [(p.direction, p.key) for p in plan.possible_links] == [("push", stranger.key)]
    assert path.read_text() == before
    assert remote.writes() == []
    assert log_lines(project) == []


def test_the_journal_records_a_create_before_it_is_sent(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    write_task(project / "tasks", "T0001", "Will hang")
    write_task(project / "tasks", "T0002", "Will be refused")
    seen: list[bool] = []
    remote.fail_create["T0001"] = AdapterConnectionError("the connection broke during POST")
    remote.fail_create["T0002"] = AdapterError("HTTP 400: summary: bad")
    remote.on_create = lambda task_id: seen.append(journal.pending(project, "mem", task_id))
    with pytest.raises(SyncAbortedError):
        run_direction(ctx_for(project, adapter), "push")
    assert seen == [True]
    assert journal.pending(project, "mem", "T0001")  # it may exist: the next push may adopt it
    del remote.fail_create["T0001"]
    plan = run_direction(ctx_for(project, adapter), "push")
    assert [(a.task_id, a.state) for a in plan.actions] == [("T0001", "done"), ("T0002", "failed")]
    assert not journal.pending(project, "mem", "T0001")
    assert not journal.pending(project, "mem", "T0002")  # refused: nothing exists to adopt


def test_a_failed_create_is_reported_and_the_rest_go_on(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    write_task(project / "tasks", "T0001", "Will fail")
    t2 = write_task(project / "tasks", "T0002", "Will work")
    remote.fail_create["T0001"] = AdapterError(
        "Jira rejected POST /rest/api/3/issue (HTTP 400): summary: bad"
    )
    plan = run_direction(ctx_for(project, adapter), "push")
    states = {a.task_id: (a.state, a.error) for a in plan.actions}
    assert states["T0001"][0] == "failed" and "HTTP 400" in (states["T0001"][1] or "")
    assert states["T0002"] == ("done", None)
    assert parse_task(t2.read_text(), t2).frontmatter.jira


def test_a_fatal_error_stops_the_run(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    write_task(project / "tasks", "T0001", "First")
    write_task(project / "tasks", "T0002", "Second")
    remote.fail_create["T0001"] = AdapterAuthError("credentials rejected (HTTP 401)")
    with pytest.raises(SyncAbortedError) as info:
        run_direction(ctx_for(project, adapter), "push")
    assert "401" in str(info.value)
    assert info.value.plan is not None
    assert [a.state for a in info.value.plan.actions] == ["failed", "skipped"]
    assert ("create", "T0002") not in remote.calls


def test_a_planning_error_writes_nothing(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    write_task(project / "tasks", "T0001", "Any")
    remote.fail_fetch = AdapterError("Jira answered HTTP 400 for POST /rest/api/3/search/jql: bad JQL")
    before = tree_digest(project)
    with pytest.raises(SyncAbortedError, match="bad JQL"):
        run_direction(ctx_for(project, adapter), "push")
    assert tree_digest(project) == before


# ------------------------------------------------------------------------------------------- dry run


def test_dry_run_writes_nothing_anywhere(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    write_task(project / "tasks", "T0001", "Needs an issue")
    linked = remote.add("Linked", TaskStatus.OPEN)
    write_task(project / "tasks", "T0002", "Linked differently", jira=linked.key)
    done = remote.add("Done remotely", TaskStatus.OPEN)
    write_task(project / "tasks", "T0003", "Done remotely", jira=done.key)
    remote.issues[done.key] = remote.issues[done.key].model_copy(update={"task_status": TaskStatus.DONE})
    remote.add("Brand new remote")
    before = tree_digest(project)
    issues_before = {k: v.model_dump() for k, v in remote.issues.items()}

    ctx = ctx_for(project, adapter, dry_run=True)
    pull = run_direction(ctx, "pull")
    push = run_direction(ctx, "push")

    assert sorted(a.kind for a in pull.actions) == ["archive-task", "create-task"]
    assert sorted(a.kind for a in push.actions) == ["create-issue", "update-issue", "update-issue"]
    assert all(a.state == "planned" for a in pull.actions + push.actions)
    assert tree_digest(project) == before
    assert not (project / ".loop").exists() and not (project / "ops-wiki").exists()
    assert remote.writes() == []
    assert {k: v.model_dump() for k, v in remote.issues.items()} == issues_before


@pytest.mark.parametrize(
    "text",
    [
        # the frontmatter parses, but the body lacks its sections (a common hand edit)
        "---\nid: T0001\ntitle: Plain\nstatus: open\ndepends_on: []\nscope: s\njira: MEM-1\n---\n"
        "no sections\n",
        # the frontmatter does not parse at all
        "---\nid: T0001\ntitle: [broken\njira: 'MEM-1'  # linked\n---\n",
    ],
)
def test_pull_never_reimports_an_issue_named_by_a_skipped_file(
    project: Path, adapter: MemoryAdapter, remote: Remote, text: str
) -> None:
    (project / "tasks" / "T0001-plain.md").write_text(text)
    remote.add("Plain")  # MEM-1, still open remotely
    remote.add("Other")  # MEM-2, named by no file
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert [(a.kind, a.key) for a in plan.actions] == [("create-task", "MEM-2")]
    assert any("MEM-1 is named by tasks/T0001-plain.md" in w for w in plan.warnings)
    assert sorted(p.name for p in (project / "tasks").glob("*.md")) == ["T0001-plain.md", "T0002-other.md"]


def test_pull_never_reimports_an_issue_of_a_task_id_used_twice(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    write_task(project / "tasks", "T0001", "Plain", jira="MEM-1")
    (project / "tasks" / "T0001-copy.md").write_text(
        (project / "tasks" / "T0001-plain.md").read_text().replace("jira: MEM-1", "jira: ")
    )
    remote.add("Plain")
    plan = run_direction(ctx_for(project, adapter), "pull")
    assert plan.actions == []
    assert any("more than one file" in w for w in plan.warnings)


# ------------------------------------------------------------------- files changed while the remote is read


def test_pull_never_archives_a_task_re_pointed_during_the_fetch(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    done = remote.add("Finished", TaskStatus.DONE)
    path = write_task(project / "tasks", "T0001", "Finished", jira=done.key)
    edited = task_text("T0001", "Finished", status="in-progress", jira="MEM-99")
    remote.on_fetch = lambda: path.write_text(edited, encoding="utf-8")  # a hand edit mid-sync

    plan = run_direction(ctx_for(project, adapter), "pull")

    (action,) = plan.actions
    assert (action.kind, action.state) == ("archive-task", "failed")
    assert "changed since it was read" in (action.error or "")
    assert path.read_text(encoding="utf-8") == edited  # the edit wins: not archived, not marked done
    assert not (project / "tasks" / "archive").exists()
    assert not any("T0001 done" in line for line in log_lines(project))


def test_pull_never_gives_one_id_to_two_files(project: Path, adapter: MemoryAdapter, remote: Remote) -> None:
    write_task(project / "tasks", "T0001", "Existing")
    remote.add("From the tool")
    by_hand = project / "tasks" / "T0002-made-by-hand.md"
    remote.on_fetch = lambda: by_hand.write_text(task_text("T0002", "Made by hand"), encoding="utf-8")

    plan = run_direction(ctx_for(project, adapter), "pull")

    (action,) = plan.actions
    assert (action.kind, action.task_id, action.state) == ("create-task", "T0002", "failed")
    assert "T0002 was taken meanwhile" in (action.error or "")
    assert sorted(p.name for p in (project / "tasks").glob("*.md")) == [
        "T0001-existing.md",
        "T0002-made-by-hand.md",
    ]
    remote.on_fetch = None
    again = run_direction(ctx_for(project, adapter), "pull")  # the next run imports it under a free id
    assert [(a.task_id, a.state) for a in again.actions] == [("T0003", "done")]
    assert lint_tasks(project / "tasks") == []


def test_push_creates_no_issue_for_a_task_keyed_during_the_fetch(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    path = write_task(project / "tasks", "T0001", "Linked by hand")
    keyed = task_text("T0001", "Linked by hand", jira="MEM-42")
    remote.on_fetch = lambda: path.write_text(keyed, encoding="utf-8")

    plan = run_direction(ctx_for(project, adapter), "push")

    (action,) = plan.actions
    assert (action.kind, action.state) == ("create-issue", "failed")
    assert "now names MEM-42" in (action.error or "")
    assert ("create", "T0001") not in remote.calls and remote.issues == {}
    assert path.read_text(encoding="utf-8") == keyed


# --------------------------------------------------------------------- what a third-party adapter may send


@pytest.mark.parametrize("key", ["MEM-5\nstatus: done", "MEM 5", "MEM-5\x00"])
def test_pull_ignores_a_remote_key_no_task_file_can_hold(
    project: Path, adapter: MemoryAdapter, remote: Remote, key: str
) -> None:
    remote.add("Odd key", key=key, unchecked=True)  # RemoteIssue itself refuses the first two
    remote.add("Fine")
    for _ in range(2):  # ignored every time: never a file the next run skips and imports again
        plan = run_direction(ctx_for(project, adapter), "pull")
        assert any("that issue is ignored" in w for w in plan.warnings)
        assert all("\n" not in w for w in plan.warnings)
    assert sorted(p.name for p in (project / "tasks").glob("*.md")) == ["T0001-fine.md"]
    assert lint_tasks(project / "tasks") == []


def test_an_adapter_raising_outside_the_protocol_stops_the_run_in_one_line(
    project: Path, adapter: MemoryAdapter, remote: Remote
) -> None:
    write_task(project / "tasks", "T0001", "First")
    write_task(project / "tasks", "T0002", "Second")
    remote.fail_create["T0001"] = KeyError("fields")
    with pytest.raises(SyncAbortedError) as info:
        run_direction(ctx_for(project, adapter), "push")
    assert str(info.value) == "adapter 'mem' failed unexpectedly: missing key 'fields'"
    assert info.value.plan is not None
    assert [a.state for a in info.value.plan.actions] == ["failed", "skipped"]
    remote.fail_fetch = ValueError("bad\nsecond line")
    with pytest.raises(SyncAbortedError, match=r"^adapter 'mem' failed unexpectedly: bad$"):
        run_direction(ctx_for(project, adapter), "pull")


def test_log_lines_are_dated_in_utc_like_every_other_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """ops-wiki/log.md lines from the shell, loop-init and the engine are dated in UTC; a sync or
    task-done line written just before local midnight far from UTC must carry the same date."""
    import datetime as _dt
    import time as _time

    from loop_pm import taskfiles

    # a zone whose local date differs from UTC's right now: UTC+14 from 10:00 UTC on, UTC-12 before 12:00
    now = _dt.datetime.now(_dt.timezone.utc)
    monkeypatch.setenv("TZ", "<+14>-14" if now.hour >= 11 else "<-12>+12")  # POSIX TZ strings: no tzdata
    _time.tzset()
    try:
        assert _dt.date.today() != now.date() or _dt.datetime.now(_dt.timezone.utc).date() != now.date()
        utc_today = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
        assert taskfiles.today() == utc_today
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()
