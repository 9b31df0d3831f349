"""loop-pm + loop-pm-jira through the installed `loop-pm` CLI against a stateful fake Jira over real HTTP
on 127.0.0.1: sync both ways, every scrum verb, paging, 410, 429/5xx, the parent rejection, an
interrupted push, and the configuration errors — each a single line with a non-zero exit."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import fake_jira
import httpx
import pytest
from jira_session import jira_env
from loop_schemas import REQUIRED_SECTIONS, lint_tasks, parse_task

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


LOOP_PM = Path(sys.executable).parent / "loop-pm"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks").mkdir()
    return tmp_path


def pm(
    env: dict[str, str], *args: str, cwd: Path | None = None, exe: Path = LOOP_PM
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def write_task(project: Path, task_id: str, title: str, status: str = "open", jira: str = "") -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    folder = project / "tasks" / ("archive" if status in ("done", "dropped") else "")
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"## {s}\n\n{title}: {s.lower()}.\n" for s in REQUIRED_SECTIONS)
    path = folder / f"{task_id}-{slug}.md"
    path.write_text(
        f"---\nid: {task_id}\ntitle: {title}\nstatus: {status}\ndepends_on: []\nscope: one line\n"
        f"jira: {jira}\n---\n\n{body}"
    )
    return path


def digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def shell_lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "bash",
            str(REPO / "shell" / "scripts" / "loop-task-lint.sh"),
            "--tasks-dir",
            str(project / "tasks"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# ------------------------------------------------------------------------------------------- the fake


def test_the_fake_speaks_current_jira(jira: Any) -> None:
    auth = (fake_jira.EMAIL, fake_jira.TOKEN)
    with httpx.Client(base_url=jira.url, auth=auth) as http:
        assert http.post("/rest/api/3/search", json={"jql": "project = TEAM"}).status_code == 410
        assert http.get("/rest/api/3/myself").status_code == 200
    with httpx.Client(base_url=jira.url, auth=(fake_jira.EMAIL, "wrong")) as http:
        assert http.get("/rest/api/3/myself").status_code == 401


# ------------------------------------------------------------------------------------------------ sync


def test_pull_dry_run_shows_remote_issues_and_writes_nothing(jira: Any, project: Path) -> None:
    state = jira.state
    for n in range(5):
        state.add_issue("TEAM", f"Remote issue {n}", status="In Progress" if n == 2 else "To Do")
    state.add_issue("TEAM", "An epic", issuetype="Epic")
    state.add_issue("TEAM", "Finished long ago", status="Done")
    state.add_issue("CORP", "Other project")
    before = digest(project)

    proc = pm(jira_env(jira), "sync", "--adapter", "jira", "pull", "--dry-run", cwd=project)

    assert proc.returncode == 0, proc.stderr
    shown = re.findall(r"create-task  T\d{4} (TEAM-\d+)", proc.stdout)
    assert shown == ["TEAM-1", "TEAM-2", "TEAM-3", "TEAM-4", "TEAM-5"]  # paged (2 per page), in order
    assert proc.stdout.count("would pull  create-task") == 5
    assert "dry run: 5 actions planned; nothing was written" in proc.stdout
    assert digest(project) == before
    assert state.writes() == []
    searches = [r for r in state.requests if r[1] == "/rest/api/3/search/jql"]
    assert len(searches) == 3 and searches[1][2]["nextPageToken"]  # 6 open issues, 2 a page
    assert not any(r[1] == "/rest/api/3/search" for r in state.requests)


def test_pull_then_push_round_trips(jira: Any, project: Path) -> None:
    state = jira.state
    state.add_issue("TEAM", "Write the docs", description="Explain the setup.\n\nWith examples.")
    state.add_issue("TEAM", "Fix login", status="In Progress")
    env = jira_env(jira)

    pulled = pm(env, "sync", "--adapter", "jira", "pull", cwd=project)
    assert pulled.returncode == 0, pulled.stderr
    docs = project / "tasks" / "T0001-write-the-docs.md"
    login = project / "tasks" / "T0002-fix-login.md"
    assert parse_task(docs.read_text(), docs).frontmatter.jira == "TEAM-1"
    assert parse_task(login.read_text(), login).frontmatter.status.value == "in-progress"
    assert lint_tasks(project / "tasks") == []
    assert shell_lint(project).returncode == 0
    # idempotent
    again = pm(env, "sync", "--adapter", "jira", "pull", cwd=project)
    assert again.returncode == 0 and "nothing to do" in again.stdout

    # local edits win: retitle one task and put it in review; add a new task
    login.write_text(
        login.read_text()
        .replace("title: Fix login", "title: Fix login on Safari")
        .replace("status: in-progress", "status: review")
    )
    new = write_task(project, "T0003", "Add audit log", status="in-progress")
    pushed = pm(env, "sync", "--adapter", "jira", "push", "--json", cwd=project)
    assert pushed.returncode == 0, pushed.stderr
    result = json.loads(pushed.stdout)
    assert result["ok"] and result["contract_version"] == 1
    kinds = {(a["kind"], a["task_id"]) for a in result["actions"]}
    assert ("create-issue", "T0003") in kinds and ("update-issue", "T0002") in kinds
    team2 = state.issues["TEAM-2"]
    assert (team2.summary, team2.status) == ("Fix login on Safari", "In Review")
    created_key = parse_task(new.read_text(), new).frontmatter.jira
    assert created_key == "TEAM-3"
    created = state.issues[created_key]
    assert created.labels == ["loop-task-T0003"] and created.status == "In Progress"
    assert created.description["type"] == "doc"
    # transitions were chosen by name, through the transitions API
    posted = [r for r in state.requests if r[0] == "POST" and r[1].endswith("/transitions")]
    assert posted and all(set(r[2]) == {"transition"} for r in posted)
    log = (project / "ops-wiki" / "log.md").read_text().splitlines()
    assert re.fullmatch(r"## \[\d{4}-\d{2}-\d{2}\] sync \| TEAM-3 created from T0003", log[-1])
    assert pm(env, "sync", "--adapter", "jira", "push", cwd=project).stdout.strip().endswith("agree")

    # a human closes TEAM-1 in Jira: pull flips T0001 to done and archives it, with the log line
    state.issues["TEAM-1"].status = "Done"
    both = pm(env, "sync", "--adapter", "jira", "both", cwd=project)
    assert both.returncode == 0, both.stderr
    archived = project / "tasks" / "archive" / "T0001-write-the-docs.md"
    assert archived.exists() and not docs.exists()
    assert parse_task(archived.read_text(), archived).frontmatter.status.value == "done"
    assert (project / "ops-wiki" / "log.md").read_text().splitlines()[-1].endswith("task | T0001 done")
    assert shell_lint(project).returncode == 0
    final = pm(env, "sync", "--adapter", "jira", "both", cwd=project)
    assert final.returncode == 0 and final.stdout.strip().endswith("agree")


def test_review_goes_to_in_review_and_only_done_signs_it_off(
    jira: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The product owner's story: the loop takes a task to review (push: Jira "In Review"); pull reads a
    status named "In Review" as review, whatever its category; only the remote Done category signs the
    task off (done, archived, logged), and only for a task linked by its own `jira:` key."""
    state = jira.state
    env = jira_env(jira)
    mine = state.add_issue("TEAM", "Fix login", status="In Progress")
    path = write_task(project, "T0001", "Fix login", status="review", jira=mine.key)
    stranger = state.add_issue("TEAM", "Someone's issue", labels=["loop-task-T0002"])
    unlinked = write_task(project, "T0002", "Unlinked review", status="review")
    pushed = pm(env, "sync", "--adapter", "jira", "push", cwd=project)
    assert pushed.returncode == 0, pushed.stderr
    assert state.issues[mine.key].status == "In Review"
    # a workflow that files "In Review" under To Do: still review, by its name
    monkeypatch.setitem(fake_jira.CATEGORIES, "In Review", "new")
    other = state.add_issue("TEAM", "Reviewed elsewhere", status="In Review")
    pulled = pm(env, "sync", "--adapter", "jira", "pull", "--json", cwd=project)
    assert pulled.returncode == 0, pulled.stderr
    created = [a for a in json.loads(pulled.stdout)["actions"] if a["kind"] == "create-task"]
    assert [a["key"] for a in created] == [other.key]
    imported = project / created[0]["path"]
    assert parse_task(imported.read_text(), imported).frontmatter.status.value == "review"
    assert parse_task(path.read_text(), path).frontmatter.status.value == "review"  # In Review: no change
    # the product owner signs it off; a stranger closes the issue that only carries T0002's label
    state.issues[mine.key].status = "Done"
    state.issues[stranger.key].status = "Done"
    pulled = pm(env, "sync", "--adapter", "jira", "pull", cwd=project)
    assert pulled.returncode == 0, pulled.stderr
    archived = project / "tasks" / "archive" / path.name
    assert archived.exists() and not path.exists()
    assert parse_task(archived.read_text(), archived).frontmatter.status.value == "done"
    assert (project / "ops-wiki" / "log.md").read_text().splitlines()[-1].endswith("task | T0001 done")
    assert unlinked.exists() and "status: review" in unlinked.read_text()
    assert not (project / "tasks" / "archive" / unlinked.name).exists()


def test_company_managed_project_rejects_parent(jira: Any, project: Path) -> None:
    epic = jira.state.add_issue("CORP", "Platform epic", issuetype="Epic")
    path = write_task(project, "T0001", "Harden auth", status="review")
    write_task(project, "T0002", "Open work")
    env = jira_env(jira, JIRA_PROJECT_KEY="CORP")
    proc = pm(env, "sync", "--adapter", "jira", "push", "--epic", epic.key, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "rejected the epic link" in proc.stderr and "never guessed" in proc.stderr
    corp = [i for i in jira.state.issues.values() if i.project == "CORP" and i.issuetype == "Task"]
    assert len(corp) == 1 and corp[0].parent is None  # review tasks are not created, open ones are
    assert corp[0].summary == "Open work"
    # put the review task on a CORP issue: CORP has no "In Review", so it lands in In Progress, with a warning
    issue = jira.state.add_issue("CORP", "Harden auth")
    path.write_text(path.read_text().replace("jira: \n", f"jira: {issue.key}\n"))
    proc = pm(env, "sync", "--adapter", "jira", "push", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert jira.state.issues[issue.key].status == "In Progress"
    assert "no 'In Review / Review / Code Review' status" in proc.stderr


def test_rate_limits_and_server_errors_are_retried(jira: Any, project: Path) -> None:
    jira.state.add_issue("TEAM", "Survives flakiness")
    jira.state.fail_next("POST", "/rest/api/3/search/jql", 429, headers={"Retry-After": "1"})
    jira.state.fail_next("POST", "/rest/api/3/search/jql", 503)
    start = time.monotonic()
    proc = pm(jira_env(jira), "sync", "--adapter", "jira", "pull", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start >= 1.0  # Retry-After was honoured
    assert (project / "tasks" / "T0001-survives-flakiness.md").exists()
    assert [r[1] for r in jira.state.requests].count("/rest/api/3/search/jql") == 3


def test_an_interrupted_push_reruns_without_duplicates(jira: Any, project: Path) -> None:
    path = write_task(project, "T0001", "Killed midway")
    reached, release = jira.state.hold("POST", "/rest/api/3/issue")
    proc = subprocess.Popen(
        [str(LOOP_PM), "sync", "--adapter", "jira", "push"],
        cwd=project,
        env=jira_env(jira),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert reached.wait(timeout=60), "the push never created the issue"
        proc.send_signal(signal.SIGKILL)  # killed after Jira created the issue, before the key was written
        proc.wait(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    assert parse_task(path.read_text(), path).frontmatter.jira is None
    assert len(jira.state.issues) == 1

    rerun = pm(jira_env(jira), "sync", "--adapter", "jira", "push", cwd=project)
    assert rerun.returncode == 0, rerun.stderr
    assert "link-task" in rerun.stdout
    assert len(jira.state.issues) == 1
    assert parse_task(path.read_text(), path).frontmatter.jira == "TEAM-1"
    assert (project / "ops-wiki" / "log.md").read_text().count("TEAM-1 created from T0001") == 1


# ----------------------------------------------------------------------------------------------- verbs


def test_every_scrum_verb(jira: Any, project: Path, tmp_path: Path) -> None:
    env = jira_env(jira)
    state = jira.state
    one = state.add_issue("TEAM", "Story one")
    two = state.add_issue("TEAM", "Story two")

    created = pm(env, "jira", "ensure-epic", "--name", "Checkout revamp")
    assert created.returncode == 0, created.stderr
    epic_key = created.stdout.strip()
    assert state.issues[epic_key].issuetype == "Epic"
    found = pm(env, "jira", "ensure-epic", "--name", "  checkout   REVAMP ")
    assert found.stdout.strip() == epic_key
    assert sum(1 for i in state.issues.values() if i.issuetype == "Epic") == 1

    assert pm(env, "jira", "sprint-status").stdout.strip() == "no active sprint"
    assert json.loads(pm(env, "jira", "sprint-status", "--json").stdout) == {
        "contract_version": 1,
        "board": 7,
        "active": None,
    }

    started = pm(
        env, "jira", "start-sprint", "--create", "Sprint 1", "--goal", "ship it", "--duration-days", "7"
    )
    assert started.returncode == 0, started.stderr
    sprint = next(s for s in state.sprints.values() if s.name == "Sprint 1")
    assert sprint.state == "active" and sprint.goal == "ship it"
    assert "started sprint" in started.stdout and "Sprint 1" in started.stdout
    status = pm(env, "jira", "sprint-status", "--board", "7")
    assert (
        status.stdout.startswith(f"active sprint {sprint.id} (Sprint 1)") and "goal: ship it" in status.stdout
    )

    moved = pm(env, "jira", "move-to-sprint", "--active", one.key, two.key)
    assert moved.returncode == 0, moved.stderr
    assert state.issues[one.key].sprint == sprint.id == state.issues[two.key].sprint
    state.issues[one.key].status = "Done"

    completed = pm(env, "jira", "complete-sprint", "--active")
    assert completed.returncode == 0, completed.stderr
    assert "1 incomplete issue returned to the backlog" in completed.stdout
    assert sprint.state == "closed" and state.issues[two.key].sprint is None

    nxt = state.add_sprint(7, "Sprint 2")
    state.add_sprint(7, "Sprint 3")
    assert pm(env, "jira", "start-sprint", "--next").returncode == 0
    assert nxt.state == "active"
    moved = pm(env, "jira", "move-to-sprint", "--sprint", str(nxt.id), two.key)
    assert moved.returncode == 0 and state.issues[two.key].sprint == nxt.id
    assert pm(env, "jira", "complete-sprint", "--sprint", str(nxt.id)).returncode == 0
    later = state.add_sprint(7, "Sprint 4")
    assert pm(env, "jira", "start-sprint", "--sprint", str(later.id), "--board", "7").returncode == 0
    assert later.state == "active"

    retro = pm(env, "jira", "retro", "--epic", epic_key, "--body", "- went well\n- to improve")
    assert retro.returncode == 0, retro.stderr
    comment = state.issues[epic_key].comments[-1]["body"]
    assert comment["type"] == "doc" and "Retrospective: Checkout revamp" in json.dumps(comment)
    body_file = tmp_path / "retro.md"
    body_file.write_text("## What happened\n\nThings.\n")
    as_issue = pm(
        env,
        "jira",
        "retro",
        "--epic",
        epic_key,
        "--title",
        "Retro S1",
        "--body-file",
        str(body_file),
        "--as-issue",
    )
    assert as_issue.returncode == 0, as_issue.stderr
    retro_issue = next(i for i in state.issues.values() if i.summary == "Retro S1")
    assert retro_issue.labels == ["retrospective"] and retro_issue.parent == epic_key

    done = pm(env, "jira", "complete-epic", epic_key)
    assert done.returncode == 0, done.stderr
    assert state.issues[epic_key].status == "Done"
    assert "child issues unchanged" in done.stdout
    assert "already" in pm(env, "jira", "complete-epic", epic_key).stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["jira", "move-to-sprint", "TEAM-1"], "exactly one of"),
        (["jira", "move-to-sprint", "--active", "--sprint", "3", "TEAM-1"], "exactly one of"),
        (["jira", "start-sprint"], "exactly one of"),
        (["jira", "retro", "--epic", "TEAM-1"], "exactly one of"),
        (["jira", "start-sprint", "--next", "--duration-days", "0"], "duration-days"),
    ],
)
def test_verb_usage_errors_exit_2(jira: Any, args: list[str], needle: str) -> None:
    proc = pm(jira_env(jira), *args)
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_verb_failures_are_one_line(jira: Any) -> None:
    env = jira_env(jira)
    line = one_line_error(pm(env, "jira", "complete-sprint", "--active"))
    assert "board 7 has no active sprint" in line
    line = one_line_error(pm(env, "jira", "complete-epic", "TEAM-999"))
    assert "HTTP 404" in line
    line = one_line_error(pm(env, "jira", "start-sprint", "--next"))
    assert "no future sprint" in line
    line = one_line_error(pm(jira_env(jira, JIRA_BOARD_ID=""), "jira", "sprint-status", "--board", "x"))
    assert "--board must be a board id" in line


# -------------------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"JIRA_BASE_URL": "not a url"}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": f"https://bot:{fake_jira.TOKEN}@127.0.0.1:1"}, "user@"),
        ({"JIRA_ALLOW_INSECURE_BASE_URL": ""}, "must be https://"),
        ({"JIRA_BASE_URL": "http://jira.example.com"}, "localhost and 127.0.0.1 only"),
        ({"JIRA_API_TOKEN": "wrong-token"}, "rejected the credentials (HTTP 401)"),
        ({"JIRA_EMAIL": ""}, "missing environment: JIRA_EMAIL"),
    ],
)
def test_bad_configuration_is_one_clear_line(
    jira: Any, project: Path, extra: dict[str, str], needle: str
) -> None:
    env = jira_env(jira, **extra)
    for args in (["sync", "--adapter", "jira", "pull"], ["jira", "sprint-status"]):
        proc = pm(env, *args, cwd=project)
        line = one_line_error(proc)
        assert needle in line
        assert fake_jira.TOKEN not in proc.stderr + proc.stdout
    assert jira.state.writes() == []
    if extra.get("JIRA_API_TOKEN") != "wrong-token":
        listing = json.loads(pm(env, "list-adapters", "--json").stdout)
        row = next(a for a in listing["adapters"] if a["name"] == "jira")
        assert row["available"] is False and needle in row["reason"]


def test_the_token_never_reaches_output(jira: Any, project: Path) -> None:
    jira.state.add_issue("TEAM", "Anything")
    jira.state.fail_next(
        "POST",
        "/rest/api/3/search/jql",
        400,
        body={"errorMessages": [f"echo {fake_jira.TOKEN}"], "errors": {}},
    )
    proc = pm(jira_env(jira), "sync", "--adapter", "jira", "pull", "--json", cwd=project)
    assert proc.returncode == 1
    assert fake_jira.TOKEN not in proc.stdout + proc.stderr
    assert "***" in proc.stderr


# ----------------------------------------------------------------- issue 15: the gate holds against lanes


def test_a_label_never_claims_a_local_task(jira: Any, project: Path) -> None:
    """Item 5: a stranger's TEAM issue labelled `loop-task-T0001` is reported as a possible link, never
    followed: T0001 gets no key, is not archived when that issue goes to Done, and log.md says nothing
    that did not happen. Remote text with ESC sequences lands in a task body visibly."""
    path = write_task(project, "T0001", "Local work")
    before = path.read_text()
    stranger = jira.state.add_issue("TEAM", "Not yours", labels=["loop-task-T0001"])
    jira.state.add_issue(
        "TEAM",
        "Hostile \x1b]0;owned\x07 title",
        description="Run \x1b[2Jthis\x1b[0m\n\n\tand \x9b31mthat",
    )
    env = jira_env(jira)

    pulled = pm(env, "sync", "--adapter", "jira", "pull", "--json", cwd=project)
    assert pulled.returncode == 0, pulled.stderr
    result = json.loads(pulled.stdout)
    assert [(a["kind"], a["key"]) for a in result["actions"]] == [("create-task", "TEAM-2")]
    assert [(p["task_id"], p["key"], p["label"]) for p in result["possible_links"]] == [
        ("T0001", stranger.key, "loop-task-T0001")
    ]
    assert f"warning: pull: possible link: {stranger.key} carries the label loop-task-T0001" in pulled.stderr
    assert path.read_text() == before
    assert not (project / "ops-wiki" / "log.md").exists()
    hostile = project / "tasks" / "T0002-hostile-0-owned-title.md"
    text = hostile.read_text()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    task = parse_task(text, hostile)
    assert task.frontmatter.title == "Hostile \u241b]0;owned\u2407 title"
    assert "Run \u241b[2Jthis\u241b[0m" in task.sections["Objective"]
    assert "\tand \\x9b31mthat" in task.sections["Objective"]  # tabs and newlines kept
    assert "\x1b" not in pulled.stdout + pulled.stderr
    assert lint_tasks(project / "tasks") == []

    # the stranger closes their issue: pull and push leave T0001 alone (no link, no archive, no second
    # issue until a human says which it is) and log.md records nothing, since nothing happened
    jira.state.issues[stranger.key].status = "Done"
    for direction in ("pull", "both"):
        again = pm(env, "sync", "--adapter", "jira", direction, cwd=project)
        assert again.returncode == 0, again.stderr
    assert "push: possible link: " + stranger.key in again.stderr
    assert path.read_text() == before
    assert not (project / "tasks" / "archive").exists()
    assert not (project / "ops-wiki" / "log.md").exists()
    assert [r for r in jira.state.writes() if r[1] == "/rest/api/3/issue"] == []


ODD_TOKEN = "ATATT3x/Ff+Gg0=Zz9"  # characters that URL-encoding changes: / + =


def echo_forms(email: str, token: str) -> dict[str, str]:
    import base64
    from urllib.parse import quote, quote_plus

    basic = base64.b64encode(f"{email}:{token}".encode()).decode()
    return {
        "exact": token,
        "url-encoded": quote(token, safe=""),
        "url-encoded lower": quote(token, safe="").lower(),
        "quote_plus": quote_plus(token),
        "upper": token.upper(),
        "lower": token.lower(),
        "spaced": " ".join(token),
        "wrapped": token[:7] + "\n  " + token[7:],
        "basic": basic,
        "basic url-encoded": quote(basic, safe=""),
        "base64 token": base64.b64encode(token.encode()).decode(),
    }


def test_an_echoed_token_is_never_printed_in_any_form(project: Path) -> None:
    """Item 8: a server that echoes the token back (in errors, and in issue text) gets no form of it
    printed, logged or written into a task file."""
    server = fake_jira.FakeJiraServer(token=ODD_TOKEN).start()
    try:
        env = jira_env(server, JIRA_API_TOKEN=ODD_TOKEN)
        forms = echo_forms(fake_jira.EMAIL, ODD_TOKEN)
        for name, form in forms.items():
            server.state.add_issue("TEAM", f"Echo {name}", description=f"the token: {form}")
        write_task(project, "T0001", "Pushed work")
        outputs: list[str] = []
        pulled = pm(env, "sync", "--adapter", "jira", "pull", cwd=project)
        assert pulled.returncode == 0, pulled.stderr
        outputs.append(pulled.stdout + pulled.stderr)
        names = list(forms)
        chunks = [names[i : i + 3] for i in range(0, len(names), 3)]  # an error line is cut at 300 chars
        for index, chunk in enumerate(chunks):
            echo = {"errorMessages": [f"{n}: {forms[n]}" for n in chunk], "errors": {}}
            server.state.fail_next("POST", "/rest/api/3/issue", 400, body=echo)
            args = ["--json"] if index % 2 else []
            pushed = pm(env, "sync", "--adapter", "jira", "push", *args, cwd=project)
            assert pushed.returncode == 1
            for n in chunk:  # the echo reached the output, redacted
                assert f"{n}: ***" in pushed.stdout + pushed.stderr, n
            outputs.append(pushed.stdout + pushed.stderr)
        echo = {"errorMessages": [f"{n}: {forms[n]}" for n in chunks[0]], "errors": {}}
        server.state.fail_next("POST", "/rest/api/3/issue/TEAM-1/comment", 400, body=echo)
        verb = pm(env, "jira", "retro", "--epic", "TEAM-1", "--body", "x", cwd=project)
        assert verb.returncode == 1 and f"{chunks[0][0]}: ***" in verb.stderr
        outputs.append(verb.stdout + verb.stderr)
        files = "\n".join(p.read_text() for p in project.rglob("*") if p.is_file())
        seen = "\n".join(outputs) + files
        assert files.count("***") == len(forms)
        for name, form in forms.items():
            assert form not in seen, name
    finally:
        server.stop()


def test_one_bad_issue_key_skips_that_issue_only(jira: Any, project: Path) -> None:
    """Item 9: one issue whose key is not an issue key (multi-token, a trailing newline) is skipped
    with a warning; the two good issues are written; exit 0."""
    jira.state.add_issue("TEAM", "Good one")
    odd = jira.state.add_issue("TEAM", "Bad key one")
    jira.state.add_issue("TEAM", "Good two")
    newline = jira.state.add_issue("TEAM", "Bad key two")
    jira.state.issues.pop(odd.key)
    odd.key = "TEAM-2 TEAM-1"
    jira.state.issues[odd.key] = odd
    jira.state.issues.pop(newline.key)
    newline.key = "TEAM-4\n"
    jira.state.issues[newline.key] = newline

    proc = pm(jira_env(jira), "sync", "--adapter", "jira", "pull", cwd=project)

    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (project / "tasks").glob("*.md"))
    assert names == ["T0001-good-one.md", "T0002-good-two.md"]
    warnings = [line for line in proc.stderr.splitlines() if "that issue is skipped" in line]
    assert len(warnings) == 2 and "'TEAM-2 TEAM-1'" in warnings[0] + warnings[1]
    assert "Traceback" not in proc.stderr
    assert lint_tasks(project / "tasks") == []
