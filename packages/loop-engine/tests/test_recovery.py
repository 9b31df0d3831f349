"""At-most-once: an action recorded as started is never re-sent after a crash; it waits for a human."""

from __future__ import annotations

import json

import pytest
from engine_fakes import Project
from loop_engine import queue as q
from loop_engine.cycle import EngineError
from loop_engine.tasks import load_tasks


class Crash(BaseException):
    """Stands for kill -9 inside a dispatch: nothing after it runs."""


def _crash_on_send(project: Project) -> None:
    def boom(lane: str, text: str) -> None:
        project.substrate.sent.append(
            {"lane": lane, "text": text, "mode": "text", "interrupt": False, "wait_ready": None}
        )
        raise Crash()

    project.substrate.on_dispatch = boom


def test_crash_mid_send_surfaces_uncertain_and_never_resends(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the stop is obeyed (no re-probe)
    project.task("T0001", "a")
    engine = project.engine()
    _crash_on_send(project)
    with pytest.raises(Crash):
        engine.cycle(approval="auto")
    assert len(project.substrate.sent) == 1
    assert q.interrupted(project.paths)  # the execution record survived the "crash"
    project.substrate.on_dispatch = None
    engine2 = project.engine()
    result = engine2.cycle(approval="auto")
    assert len(project.substrate.sent) == 1, "an uncertain dispatch was sent again"
    assert result.outcome == "noop"  # T0001 is held back: it may already be with a lane
    uncertain = json.loads(project.paths.uncertain.read_text())
    assert [u["task"] for u in uncertain] == ["T0001"]
    assert project.events("action-uncertain")
    assert not q.interrupted(project.paths)
    # the human checks the lane and says it arrived
    engine2.resolve(uncertain[0]["id"], sent=True)
    tasks, _ = load_tasks(project.root / "tasks")
    assert tasks[0].status == "in-progress"
    assert json.loads(project.paths.uncertain.read_text()) == []
    with pytest.raises(EngineError):
        engine2.resolve(uncertain[0]["id"], sent=True)


def test_crash_during_approve_keeps_unsent_actions_queued(project: Project) -> None:
    project.task("T0001", "a")
    project.task("T0002", "b")
    engine = project.engine()
    decision_id = engine.cycle(approval="manual").decision_id
    assert decision_id is not None
    calls = {"n": 0}

    def second_crashes(lane: str, text: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash()

    project.substrate.on_dispatch = second_crashes
    with pytest.raises(Crash):
        engine.approve(decision_id)
    project.substrate.on_dispatch = None
    found = project.engine().recover()
    assert len(found) == 1 and found[0]["index"] == 1
    assert not project.paths.pending.exists()  # nothing left that a human could safely re-approve
    archived = json.loads((project.paths.decisions / f"{decision_id}.json").read_text())
    assert archived["resolution"] == "interrupted"
    assert [g["state"] for g in archived["gates"]] == ["done", "uncertain"]
    sent_before = len(project.substrate.sent)
    with pytest.raises(EngineError, match="no pending decision"):
        project.engine().approve(decision_id)
    assert len(project.substrate.sent) == sent_before


def test_never_started_actions_go_back_to_the_queue(project: Project) -> None:
    project.task("T0001", "a")
    engine = project.engine()
    decision_id = engine.cycle(approval="manual").decision_id
    doc = q.read_pending(project.paths)
    assert doc is not None
    q.begin_execution(project.paths, doc, [0])  # crashed right after writing the record
    project.engine().recover()
    pending = json.loads(project.paths.pending.read_text())
    assert pending["gates"][0]["state"] == "queued" and pending["id"] == decision_id
    assert project.substrate.sent == []
    project.engine().approve(decision_id)
    assert len(project.substrate.sent) == 1


def test_torn_event_line_is_skipped_and_next_line_whole(project: Project) -> None:
    from loop_engine.events import EventLog

    log = EventLog(project.paths.events, "s")
    log.emit("one")
    with project.paths.events.open("ab") as fh:
        fh.write(b'{"id": "e-torn", "event": "half')
    log.emit("two")
    assert [e["event"] for e in log.read()] == ["one", "two"]
    first = next(iter(log.read()))
    assert [e["event"] for e in log.read(since=first["id"])] == ["two"]
