"""The cycle with the built-in brain against a fake substrate: queue, approve, reject, auto, tasks, asks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_fakes import Project
from loop_engine.cycle import EngineError
from loop_engine.queue import QueueError
from loop_engine.tasks import load_tasks


def _status(project: Project, tid: str) -> str:
    tasks, _ = load_tasks(project.root / "tasks")
    return next(t.status for t in tasks if t.id == tid)


def test_manual_queues_then_approve_delivers_task_text_byte_for_byte(project: Project) -> None:
    path = project.task("T0001", "first")
    engine = project.engine()
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    assert project.substrate.sent == []  # manual: nothing runs
    pending = json.loads(project.paths.pending.read_text())
    assert pending["id"] == result.decision_id
    action = pending["decision"]["actions"][0]
    assert action["kind"] == "dispatch" and action["lane"] in ("infra", "web")
    assert action["payload"].startswith(path.read_text().rstrip("\n"))
    assert pending["gates"][0]["gate_class"] == "safe"
    assert _status(project, "T0001") == "open"

    out = engine.approve(result.decision_id)
    assert out["outcomes"] == [{"index": 0, "state": "done", "error": None}]
    assert [s["text"] for s in project.substrate.sent] == [action["payload"]]
    assert not project.paths.pending.exists()
    archived = json.loads((project.paths.decisions / f"{result.decision_id}.json").read_text())
    assert archived["resolution"] == "approved"
    assert _status(project, "T0001") == "in-progress"
    checkpoint = (project.root / "ops-wiki" / "checkpoint.md").read_text()
    head, marker, tail = checkpoint.partition("<!-- coord-decisions -->")
    assert marker and result.decision_id in tail and result.decision_id not in head
    # regression: filing left a checkpoint.md.lock in ops-wiki/, an untracked file in the project's wiki
    assert sorted(p.name for p in (project.root / "ops-wiki").iterdir()) == ["checkpoint.md"]


def test_builtin_respects_dependencies_and_never_uses_coord_docs_or_shell_lanes(project: Project) -> None:
    project.task("T0001", "base", status="done", archived=True)
    project.task("T0002", "needs-base", deps=("T0001",))
    project.task("T0003", "needs-open", deps=("T0004",))
    project.task("T0004", "blocked-dep", status="in-progress")
    project.substrate.set("docs", "idle", "pi", True)
    engine = project.engine()
    result = engine.cycle(approval="manual")
    pending = json.loads(project.paths.pending.read_text())
    lanes = [a["lane"] for a in pending["decision"]["actions"]]
    payloads = [a["payload"] for a in pending["decision"]["actions"]]
    assert result.outcome == "queued"
    assert len(lanes) == 1 and lanes[0] in ("web", "infra")
    assert "id: T0002" in payloads[0]
    assert not {"coord", "docs", "ops-top"} & set(lanes)


def test_nothing_to_do_is_a_noop_not_a_queued_decision(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    result = project.engine().cycle(approval="manual")
    assert result.outcome == "noop"
    assert not project.paths.pending.exists()
    assert project.events("decision-noop")


def test_single_decision_in_flight(project: Project) -> None:
    project.task("T0001", "a")
    engine = project.engine()
    first = engine.cycle(approval="manual")
    second = engine.cycle(approval="manual")
    assert first.outcome == "queued"
    assert second.outcome == "skipped" and "pending" in second.detail
    assert json.loads(project.paths.pending.read_text())["id"] == first.decision_id


def test_auto_runs_safe_actions_and_marks_in_progress(project: Project) -> None:
    project.task("T0001", "a")
    project.task("T0002", "b")
    result = project.engine().cycle(approval="auto")
    assert result.outcome == "executed"
    assert sorted(s["lane"] for s in project.substrate.sent) == ["infra", "web"]
    assert _status(project, "T0001") == "in-progress" and _status(project, "T0002") == "in-progress"
    assert not project.paths.pending.exists()


def test_reject_records_reason_and_runs_nothing(project: Project) -> None:
    project.task("T0001", "a")
    engine = project.engine()
    result = engine.cycle(approval="manual")
    engine.reject(result.decision_id, "not now")
    assert project.substrate.sent == []
    ev = project.events("decision-rejected")[-1]
    assert ev["reason"] == "not now" and ev["decision_id"] == result.decision_id
    with pytest.raises(EngineError):
        engine.approve(result.decision_id)


def test_approve_wrong_id_is_an_error(project: Project) -> None:
    project.task("T0001", "a")
    engine = project.engine()
    engine.cycle(approval="manual")
    with pytest.raises(EngineError, match="not the pending decision"):
        engine.approve("d-nope")


def test_completion_report_moves_task_to_review_never_done(project: Project) -> None:
    project.task("T0001", "a")
    engine = project.engine()
    engine.cycle(approval="auto")
    lane = project.substrate.sent[0]["lane"]
    project.mail(lane, subject="done T0001: finished it")
    engine.cycle(approval="auto")
    assert _status(project, "T0001") == "review"
    assert project.events("task-review")[0]["task"] == "T0001"


def test_a_report_the_docs_lane_acked_before_the_cycle_still_moves_the_task(project: Project) -> None:
    """Ingest may ack a lane's report before any cycle saw it pending; the task must not stick."""
    import datetime as dt

    project.task("T0001", "a")
    engine = project.engine()
    engine.cycle(approval="auto")
    lane = project.substrate.sent[0]["lane"]
    processed = project.root / ".loop" / "messages" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    # an old report for the same task id (a previous run) is history, not this dispatch's report
    (processed / f"20250101-000000-{lane}-to-coord.md").write_text("---\nsubject: done T0001: old\n---\n")
    engine.cycle(approval="auto")
    assert _status(project, "T0001") == "in-progress"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")  # names are UTC, as loop-mail writes
    (processed / f"{stamp}-{lane}-to-coord.md").write_text("---\nsubject: done T0001: finished it\n---\n")
    engine.cycle(approval="auto")
    assert _status(project, "T0001") == "review"
    review = project.events("task-review")
    assert [e["task"] for e in review] == ["T0001"] and review[0]["mail"] == f"{stamp}-{lane}-to-coord.md"


def test_idle_lane_without_report_is_steered_with_an_ask_and_reply_closes_it(project: Project) -> None:
    project.task("T0001", "a")
    engine = project.engine()
    engine.cycle(approval="auto")
    lane = project.substrate.sent[0]["lane"]
    project.substrate.set(lane, "working", project.substrate.lanes[lane][1], True)
    engine.cycle(approval="auto")  # seen working
    project.substrate.set(lane, "idle", project.substrate.lanes[lane][1], True)
    engine.cycle(approval="auto")
    steer = project.substrate.sent[-1]
    assert steer["lane"] == lane and "T0001" in steer["text"]
    asks = json.loads(project.paths.asks.read_text())
    ((ask_id, ask),) = asks.items()
    assert f"re:{ask_id}" in steer["text"] and ask["state"] == "open"
    sent_before = len(project.substrate.sent)
    engine.cycle(approval="auto")  # no second steer while the ask is open
    assert len(project.substrate.sent) == sent_before
    project.mail(lane, subject=f"re:{ask_id}")
    engine.cycle(approval="auto")
    assert json.loads(project.paths.asks.read_text())[ask_id]["state"] == "answered"
    assert project.events("ask-answered")[0]["ask_id"] == ask_id


def test_an_ask_reply_acked_before_the_cycle_still_answers_the_ask(project: Project) -> None:
    import datetime as dt

    from loop_engine.asks import AskBook

    AskBook(project.paths.asks).record("a-7", lane="web", decision_id="d-1", timeout_s=3600, task="T0001")
    processed = project.root / ".loop" / "messages" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")  # names are UTC, as loop-mail writes
    (processed / f"{stamp}-web-to-coord.md").write_text("---\nsubject: re:a-7\n---\nthe answer\n")
    project.engine().cycle(approval="manual")
    assert json.loads(project.paths.asks.read_text())["a-7"]["state"] == "answered"


def test_a_hand_written_reply_whose_subject_yaml_refuses_still_answers_the_ask(project: Project) -> None:
    """`subject: re: a-8` written by hand (unquoted, with a space) is not valid YAML; the shell's readers take
    its raw text, and so must the engine, or the ask never closes."""
    from loop_engine.asks import AskBook

    AskBook(project.paths.asks).record("a-8", lane="web", decision_id="d-1", timeout_s=3600, task="T0001")
    project.mail("web", subject="re: a-8")
    project.engine().cycle(approval="manual")
    assert json.loads(project.paths.asks.read_text())["a-8"]["state"] == "answered"


def test_ask_timeout_is_recorded(project: Project) -> None:
    from loop_engine.asks import AskBook

    book = AskBook(project.paths.asks)
    book.record("a-1", lane="web", decision_id="d-1", timeout_s=0, task="T0001")
    project.engine().cycle(approval="manual")
    assert json.loads(project.paths.asks.read_text())["a-1"]["state"] == "timed-out"
    assert project.events("ask-timeout")[0]["ask_id"] == "a-1"


def test_failed_dispatch_is_recorded_and_task_stays_open(project: Project) -> None:
    project.task("T0001", "a")
    project.substrate.fail_lanes = {"web", "infra"}
    project.engine().cycle(approval="auto")
    assert _status(project, "T0001") == "open"
    failed = project.events("action-failed")
    assert failed and "not delivered" in failed[0]["error"]


def test_every_step_is_an_event(project: Project) -> None:
    project.task("T0001", "a")
    project.engine().cycle(approval="auto")
    kinds = [e["event"] for e in project.events()]
    for expected in (
        "cycle-start",
        "observed",
        "brain-call",
        "brain-answered",
        "decision",
        "action-started",
        "action-done",
        "task-in-progress",
        "cycle-end",
    ):
        assert expected in kinds
    assert kinds.index("action-started") < kinds.index("action-done")


def _edit_pending(project: Project, edit: Any) -> str:
    doc = json.loads(project.paths.pending.read_text())
    edit(doc)
    project.paths.pending.write_text(json.dumps(doc))
    return str(doc["id"])


def test_approve_regates_a_decision_changed_on_disk_and_never_runs_a_blocked_shape(project: Project) -> None:
    # regression: approve ran whatever the queued file said, so an edit after the gate (here a payload
    # carrying `loop-adr accept`, and a gate already saying blocked but still queued) was sent
    project.task("T0001", "a")
    engine = project.engine()
    assert engine.cycle(approval="manual").outcome == "queued"
    assert len(json.loads(project.paths.pending.read_text())["gates"]) == 1

    def edit(doc: dict[str, Any]) -> None:
        doc["decision"]["actions"][0]["payload"] = "now run loop-adr accept 0001"
        doc["decision"]["actions"].append(dict(doc["decision"]["actions"][0], payload="plain work"))
        doc["gates"].append({"gate_class": "blocked", "reasons": [], "state": "queued"})

    decision_id = _edit_pending(project, edit)
    out = engine.approve(decision_id)
    assert out["outcomes"] == []
    assert project.substrate.sent == []
    archived = json.loads((project.paths.decisions / f"{decision_id}.json").read_text())
    assert [g["state"] for g in archived["gates"]] == ["blocked", "blocked"]
    assert [e["index"] for e in project.events("action-blocked")] == [0, 1]


def test_a_pending_decision_whose_gates_do_not_match_its_actions_is_refused(project: Project) -> None:
    # regression: an extra gate made approve send action 0 and then crash with IndexError
    project.task("T0001", "a")
    engine = project.engine()
    assert engine.cycle(approval="manual").outcome == "queued"
    decision_id = _edit_pending(project, lambda doc: doc["gates"].append(dict(doc["gates"][0])))
    with pytest.raises(QueueError, match="gates for 1 actions"):
        engine.approve(decision_id)
    assert project.substrate.sent == []
    assert project.paths.pending.exists()


def test_approve_with_the_reviewed_digest_refuses_a_decision_edited_since(project: Project) -> None:
    # regression: the deck showed one payload and `approve ID` sent whatever the file said by then
    import hashlib

    project.task("T0001", "a")
    engine = project.engine()
    decision_id = str(engine.cycle(approval="manual").decision_id)
    reviewed = hashlib.sha256(project.paths.pending.read_bytes()).hexdigest()

    def swap(doc: dict[str, Any]) -> None:
        doc["decision"]["actions"][0]["payload"] = "something nobody reviewed"

    _edit_pending(project, swap)
    with pytest.raises(EngineError, match="changed on disk since it was reviewed"):
        engine.approve(decision_id, expect_digest=reviewed)
    assert project.substrate.sent == []
    assert project.paths.pending.exists() and project.events("decision-approved") == []
    current = hashlib.sha256(project.paths.pending.read_bytes()).hexdigest()
    out = engine.approve(decision_id, expect_digest=current.upper())
    assert out["outcomes"] == [{"index": 0, "state": "done", "error": None}]
    assert [s["text"] for s in project.substrate.sent] == ["something nobody reviewed"]
