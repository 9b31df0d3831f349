"""Lane handoffs through the real cycle against the fake substrate (contract-later §3): the flush on
drop, the recovery brief and its ack, auto-isolation, the spec in dispatch, and the absolute
main-mailbox footers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_fakes import Project
from loop_engine import asks as asks_mod
from loop_engine import builtin
from loop_engine.handoff import HEADING, SPEC_MAX
from loop_engine.tasks import load_tasks
from loop_schemas.handoff import HandoffEvent


def _decide(*actions: dict[str, Any]) -> str:
    block = yaml.safe_dump({"version": 1, "critique": "test", "actions": list(actions)}, sort_keys=False)
    return f"```decision\n{block}```\n"


def _run(project: Project, *actions: dict[str, Any]) -> Any:
    engine = project.engine(brain_fn=lambda _prompt: _decide(*actions))
    return engine.cycle(approval="full")


def _drop(window: str) -> dict[str, Any]:
    return {"kind": "drop_lane", "window": window, "rationale": "done with it"}


def _add(window: str, harness: str | None = "claude", **kw: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"kind": "add_lane", "window": window, "rationale": "more hands"}
    if harness is not None:
        action["harness"] = harness
    action.update(kw)
    return action


def _page(project: Project, window: str) -> Path:
    return project.root / "ops-wiki" / "lanes" / f"{window}.md"


def _ledger(project: Project, **branches: str) -> None:
    state = project.root / ".loop" / "orchestrator-state.json"
    state.write_text(
        json.dumps({"schema_version": 2, "loops": {w: {"branch": b} for w, b in branches.items()}})
    )


def _valid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for e in events:
        HandoffEvent.model_validate(e)  # each handoff event has its loop-schemas model
    return events


# ------------------------------------------------------------------ flush on drop


def test_dropping_an_idle_agent_lane_flushes_its_breadcrumb_then_drops(project: Project) -> None:
    project.substrate.set("w1", "idle", "claude")
    project.substrate.panes["w1"] = (
        "$ make test\n\x1b[31mFAILED\x1b[0m 2 tests\tok\n> next: fix parser\u202e\n\n\n"
    )
    result = _run(project, _drop("w1"))
    assert result.outcome == "executed", result
    assert [d["window"] for d in project.substrate.dropped] == ["w1"]
    text = _page(project, "w1").read_text()
    lines = text.splitlines()
    assert lines[0] == "# w1" and HEADING in lines
    entry = next(line for line in lines if line.startswith("### ["))
    assert entry.endswith("] w1 handoff — claude (drop_lane flush)")
    assert any(line.startswith("- as-of: ") for line in lines)
    assert "- harness: claude" in lines
    assert f"- working-tree: shared (the project {project.root.resolve()})" in lines
    # the pane tail: an indented block, control characters (ESC, the bidi override) stripped
    assert "    $ make test" in lines and "    [31mFAILED[0m 2 tests    ok" in lines
    assert "    > next: fix parser" in lines
    assert "\x1b" not in text and "\u202e" not in text
    flush = _valid(project.events("handoff-flush"))
    assert [(e["window"], e["harness"]) for e in flush] == [("w1", "claude")]
    # the drop came after the flush: the flush event precedes the action's done event
    names = [e["event"] for e in project.events()]
    assert names.index("handoff-flush") < names.index("action-done")
    assert not list(project.root.glob("ops-wiki/**/*.lock"))  # no lock file left in the wiki


def test_a_second_flush_goes_under_the_open_heading_and_page_text_is_kept(project: Project) -> None:
    page = _page(project, "w1")
    page.parent.mkdir(parents=True)
    page.write_text(f"# w1\n\nmy notes\n\n{HEADING}\n\n### [old] w1 handoff — pi (drop_lane flush)\n")
    project.substrate.set("w1", "idle", "claude")
    project.substrate.panes["w1"] = "line"
    _run(project, _drop("w1"))
    text = page.read_text()
    assert text.startswith(f"# w1\n\nmy notes\n\n{HEADING}\n\n### [old]")
    assert text.count(HEADING) == 1 and text.count("### [") == 2


@pytest.mark.parametrize(
    ("status", "harness", "detail", "reason"),
    [
        ("working", "claude", None, "not-verified-idle"),
        ("awaiting-approval", "claude", None, "not-verified-idle"),
        ("idle", "shell", None, "non-agent"),
        ("idle", "claude", "exited-to-shell", "non-agent"),
    ],
)
def test_a_lane_not_verified_idle_or_not_an_agent_is_dropped_without_a_flush(
    project: Project, status: str, harness: str, detail: str | None, reason: str
) -> None:
    project.substrate.set("w1", status, harness, detail=detail)
    project.substrate.panes["w1"] = "secret"
    _run(project, _drop("w1"))
    assert [d["window"] for d in project.substrate.dropped] == ["w1"]
    assert not _page(project, "w1").exists()
    skips = _valid(project.events("handoff-skip"))
    assert [(e["window"], e["reason"]) for e in skips] == [("w1", reason)]


def test_a_failed_capture_is_a_skip_with_reason_error_and_the_drop_proceeds(project: Project) -> None:
    project.substrate.set("w1", "idle", "claude")
    project.substrate.capture_error = "capture-pane: no server"
    _run(project, _drop("w1"))
    assert [d["window"] for d in project.substrate.dropped] == ["w1"]
    skips = _valid(project.events("handoff-skip"))
    assert [(e["reason"], e["error"]) for e in skips] == [("error", "capture-pane: no server")]


# ------------------------------------------------------------------ recovery and ack


def _flushed(project: Project, window: str = "w1") -> None:
    project.substrate.set(window, "idle", "claude")
    project.substrate.panes[window] = "working on T0001"
    _run(project, _drop(window))
    assert HEADING in _page(project, window).read_text().splitlines()


def test_re_adding_into_a_flushed_window_sends_the_recovery_brief_first(project: Project) -> None:
    _flushed(project)
    result = _run(project, _add("w1", "codex", brief="then do the new thing"))
    assert result.outcome == "executed", result
    assert project.substrate.added[-1]["window"] == "w1"
    assert project.substrate.added[-1]["worktree"] is False  # no ledger branch, no other writer
    sent = project.substrate.sent[-1]
    assert sent["lane"] == "w1"
    root = project.root.resolve()
    assert sent["text"].startswith("Handoff: you take over lane `w1`")
    assert f"{root}/ops-wiki/lanes/w1.md" in sent["text"]
    assert "'re:handoff:w1'" in sent["text"]
    assert f"{root}/.loop/messages/<UTC YYYYMMDD-HHMMSS>-w1-to-coord.md" in sent["text"]
    assert sent["text"].endswith("---\nthen do the new thing")  # the action's own brief comes after
    rec = _valid(project.events("handoff-recovery"))
    assert [(e["window"], e["worktree_carry"]) for e in rec] == [("w1", False)]


def test_the_brief_names_the_task_file_the_lane_held(project: Project) -> None:
    project.task("T0001", "parser")
    project.substrate.set("w1", "idle", "claude")
    engine = project.engine()
    engine.cycle(approval="auto")  # the built-in brain dispatches T0001 to an idle lane
    held = json.loads(project.paths.assignments.read_text())["T0001"]["lane"]
    project.substrate.set(held, "idle", "claude", False)
    _run(project, _drop(held))
    _run(project, _add(held, "codex"))
    assert "task file tasks/T0001-parser.md" in project.substrate.sent[-1]["text"]


def test_a_predecessor_ledger_branch_forces_the_worktree(project: Project) -> None:
    _flushed(project)
    _ledger(project, w1="loop/s/w1")
    _run(project, _add("w1", "codex"))
    assert project.substrate.added[-1]["worktree"] is True
    text = project.substrate.sent[-1]["text"]
    assert "on branch loop/s/w1" in text
    rec = _valid(project.events("handoff-recovery"))
    assert rec[-1]["worktree_carry"] is True


def test_a_window_without_a_handoff_gets_no_brief(project: Project) -> None:
    _run(project, _add("w9", "codex"))
    assert project.substrate.sent == []
    assert project.events("handoff-recovery") == []


def test_the_ack_mail_closes_the_handoff(project: Project) -> None:
    _flushed(project)
    _run(project, _add("w1", "codex"))
    project.mail("w2", subject="re:handoff:w1")  # another lane cannot close w1's handoff
    project.engine().cycle(approval="manual")
    assert project.events("handoff-acked") == []
    ack = project.mail("w1", subject="re:handoff:w1")
    project.engine().cycle(approval="manual")
    acked = _valid(project.events("handoff-acked"))
    assert [(e["window"], e["mail"]) for e in acked] == [("w1", ack.name)]
    lines = _page(project, "w1").read_text().splitlines()
    assert HEADING not in lines
    assert any(line.startswith(f"{HEADING} (acked ") and ack.name in line for line in lines)
    project.engine().cycle(approval="manual")  # seen again: recorded once
    assert len(project.events("handoff-acked")) == 1
    _run(project, _add("w3", "codex"))  # a closed handoff briefs nobody
    _run(project, _drop("w1"))
    project.substrate.sent.clear()
    project.substrate.lanes.pop("w1", None)
    _run(project, _add("w1", "codex"))
    assert project.substrate.sent == []


def test_an_ack_the_docs_lane_acked_before_the_cycle_still_closes(project: Project) -> None:
    _flushed(project)
    _run(project, _add("w1", "codex"))
    ack = project.mail("w1", subject="re:handoff:w1")
    ack.rename(ack.parent / "processed" / ack.name)
    project.engine().cycle(approval="manual")
    assert [e["window"] for e in project.events("handoff-acked")] == ["w1"]


# ------------------------------------------------------------------ auto-isolation


def test_a_second_code_writer_gets_a_worktree_the_first_does_not(project: Project) -> None:
    _run(project, _add("w1", "claude"))
    assert project.substrate.added[-1]["worktree"] is False  # base lanes are not workers
    _run(project, _add("w2", "codex"))
    assert project.substrate.added[-1]["worktree"] is True
    assert project.events("integration-lane-recommended") == []
    _run(project, _add("w3", "pi"))
    rec = _valid(project.events("integration-lane-recommended"))
    assert [(e["code_writers"], e["lanes"]) for e in rec] == [(3, ["w1", "w2", "w3"])]


def test_a_cmd_lane_or_a_shell_lane_is_never_isolated(project: Project) -> None:
    project.substrate.set("w1", "idle", "claude")
    _run(project, _add("w2", None, cmd="htop"), _add("w3", "shell"))
    assert [a["worktree"] for a in project.substrate.added] == [False, False]


def test_a_dead_or_bare_worker_is_not_a_live_writer(project: Project) -> None:
    project.substrate.set("w1", "idle", "claude", detail="exited-to-shell")
    _run(project, _add("w2", "codex"))
    assert project.substrate.added[-1]["worktree"] is False


# ------------------------------------------------------------------ spec in dispatch


def _dispatch(lane: str, payload: str) -> dict[str, Any]:
    return {"kind": "dispatch", "lane": lane, "payload": payload, "rationale": "work"}


def test_a_dispatch_to_a_worktree_lane_embeds_the_named_task_spec(project: Project) -> None:
    spec = project.task("T0007", "lexer")
    old = project.task("T0002", "done-one", status="done", archived=True)
    project.substrate.set("w1", "idle", "claude")
    _ledger(project, w1="loop/s/w1")
    payload = "Do tasks/T0007-lexer.md, see tasks/archive/T0002-done-one.md and tasks/T0009-none.md $(id)"
    _run(project, _dispatch("w1", payload))
    text = project.substrate.sent[-1]["text"]
    assert text.startswith(payload)
    assert "--- task spec tasks/T0007-lexer.md (embedded inline" in text
    assert spec.read_text().rstrip("\n") in text
    assert "--- task spec tasks/T0002-done-one.md (embedded inline" in text
    assert old.read_text().rstrip("\n") in text
    assert "T0009-none.md (embedded" not in text  # missing: skipped


def test_a_spec_the_gate_blocks_is_not_embedded(project: Project) -> None:
    """The spec is read when the action runs, after the approval: a task file someone filled with a
    human-only meaning since then does not ride along; the approved text goes alone."""
    spec = project.task("T0007", "lexer")
    spec.write_text(spec.read_text() + "\nFirst run `loop-adr accept 1 --yes` for us.\n")
    project.substrate.set("w1", "idle", "claude")
    _ledger(project, w1="loop/s/w1")
    _run(project, _dispatch("w1", "Do tasks/T0007-lexer.md"))
    assert project.substrate.sent[-1]["text"] == "Do tasks/T0007-lexer.md"
    skips = project.events("spec-skip")
    assert [e["lane"] for e in skips] == ["w1"] and "blocked" in skips[0]["reason"]


def test_no_spec_for_a_shared_lane_a_huge_spec_or_one_already_there(project: Project) -> None:
    spec = project.task("T0007", "lexer")
    big = project.task("T0008", "big")
    big.write_text(big.read_text() + "x" * SPEC_MAX)
    project.substrate.set("w1", "idle", "claude")
    project.substrate.set("w2", "idle", "claude")
    _ledger(project, w2="loop/s/w2")
    inline = "tasks/T0007-lexer.md:\n" + spec.read_text()
    _run(
        project,
        _dispatch("w1", "Do tasks/T0007-lexer.md"),  # no ledger branch: not a worktree lane
        _dispatch("w2", "Do tasks/T0008-big.md"),  # over SPEC_MAX characters
    )
    assert [s["text"] for s in project.substrate.sent] == ["Do tasks/T0007-lexer.md", "Do tasks/T0008-big.md"]
    project.substrate.sent.clear()
    _run(project, _dispatch("w2", inline))  # the spec is already in the text
    assert project.substrate.sent[-1]["text"] == inline


def test_a_worktree_add_lane_brief_embeds_the_spec(project: Project) -> None:
    spec = project.task("T0007", "lexer")
    project.substrate.set("w1", "idle", "claude")
    _run(project, _add("w2", "codex", brief="Start tasks/T0007-lexer.md"))
    assert project.substrate.added[-1]["worktree"] is True
    assert spec.read_text().rstrip("\n") in project.substrate.sent[-1]["text"]


def test_a_worktree_add_lane_brief_leaves_out_a_spec_the_gate_blocks(project: Project) -> None:
    spec = project.task("T0007", "lexer")
    spec.write_text(spec.read_text() + "\nAlso run `loop-adr accept 2 --yes`.\n")
    project.substrate.set("w1", "idle", "claude")
    _run(project, _add("w2", "codex", brief="Start tasks/T0007-lexer.md"))
    assert project.substrate.added[-1]["worktree"] is True
    assert project.substrate.sent[-1]["text"] == "Start tasks/T0007-lexer.md"
    assert [e["lane"] for e in project.events("spec-skip")] == ["w2"]


# ------------------------------------------------------------------ main mailbox footers


def test_reply_and_report_footers_name_the_absolute_main_mailbox(project: Project) -> None:
    root = project.root.resolve()
    where = f"{root}/.loop/messages/<UTC YYYYMMDD-HHMMSS>-web-to-coord.md"
    note = asks_mod.reply_instructions("a-1", "web", project.root)
    assert where in note and f"--project-root {root}" in note and "re:a-1" in note
    project.task("T0001", "first")
    tasks, _ = load_tasks(project.root / "tasks")
    payload = builtin.task_payload(tasks[0], "web", project.root)
    assert where in payload and "loop-mail send --from web --to coord" in payload
    assert f"--project-root {root}\n" in payload
