"""The defensive stop (issue 21, section 4): before the engine obeys a brain's `stop`, the lanes its
observation saw working are probed again, and (unless the observation was stale) the mailbox is read
again. Every path through the real cycle: a stop obeyed is `noop`; one not obeyed ends the cycle with
its own outcome and event, and the daemon asks the brain again at its next trigger."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from typing import Any

from engine_fakes import Project, retry_until
from loop_engine import watch
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_schemas import EngineConfig, LaneStatus

STOP = (
    "```decision\nversion: 1\ncritique: all quiet\nactions:\n"
    "  - kind: stop\n    rationale: waiting for the lanes\n```\n"
)


def engine(project: Project, during: Callable[[], None] | None = None, **config: Any) -> Engine:
    """An engine whose brain answers `stop`, running `during` while it thinks (after the observation)."""

    def brain(prompt: str) -> str:
        if during is not None:
            during()
        return STOP

    cfg = EffectiveConfig(model=EngineConfig.model_validate({"brain": {"harness": "claude"}, **config}))
    return Engine(project.paths, project.substrate, cfg, brain_fn=brain)


def decision_resolution(project: Project, decision_id: str | None) -> str:
    import json

    return str(json.loads((project.paths.decisions / f"{decision_id}.json").read_text())["resolution"])


def test_a_lane_still_working_when_probed_again_is_no_stop(project: Project) -> None:
    # docs (the fixture) and web work; web finishes while the brain thinks, docs does not
    project.substrate.set("web", "working", "pi", True)
    calls = project.substrate.status_calls
    result = engine(project, lambda: project.substrate.set("web", "idle", "pi", True)).cycle(approval="auto")
    assert result.outcome == "stop-suspected-idle-stall"
    assert result.detail == "a lane seen working still works (docs): no stop"
    assert result.reason == "waiting for the lanes"
    assert project.substrate.status_calls == calls + 2  # the observation, then the probe
    (event,) = project.events("stop-suspected-idle-stall")
    assert event["lanes"] == ["docs"]
    assert not project.events("decision-noop")
    assert project.events("cycle-end")[-1]["outcome"] == "stop-suspected-idle-stall"
    assert decision_resolution(project, result.decision_id) == "stop-suspected-idle-stall"


def test_lanes_that_stopped_working_since_the_observation_let_the_stop_through(project: Project) -> None:
    calls = project.substrate.status_calls
    result = engine(project, lambda: project.substrate.set("docs", "idle", "pi", True)).cycle(approval="auto")
    assert result.outcome == "noop"
    assert project.substrate.status_calls == calls + 2  # docs was probed again
    assert not project.events("stop-suspected-idle-stall") and project.events("decision-noop")
    assert decision_resolution(project, result.decision_id) == "noop"


def test_a_lane_that_cannot_be_probed_counts_as_not_working(project: Project) -> None:
    real = project.substrate.lane_status
    state = {"probe": False}

    def lane_status(lane: str | None = None) -> list[LaneStatus]:
        if state["probe"]:
            raise RuntimeError("loop-lane-status: timed out")
        return real(lane)

    project.substrate.lane_status = lane_status  # type: ignore[method-assign]
    result = engine(project, lambda: state.update(probe=True)).cycle(approval="auto")
    assert result.outcome == "noop"


def test_mail_that_arrived_after_the_observation_is_no_stop(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)
    seen = project.mail("web", subject="already seen")
    new: list[str] = []
    result = engine(project, lambda: new.append(project.mail("infra", subject="late").name)).cycle(
        approval="auto"
    )
    assert result.outcome == "stop-suspected-mailbox-race"
    assert result.detail == "1 message(s) arrived after the observation: no stop"
    (event,) = project.events("stop-suspected-mailbox-race")
    assert event["files"] == new and seen.name not in event["files"]
    assert not project.events("decision-noop")


def test_mail_acked_since_the_observation_is_no_race(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)
    seen = project.mail("web", subject="already seen")
    processed = project.root / ".loop" / "messages" / "processed"
    result = engine(project, lambda: seen.rename(processed / seen.name)).cycle(approval="auto")
    assert result.outcome == "noop"


def test_a_mailbox_that_cannot_be_read_again_lets_the_stop_through(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)
    box = project.root / ".loop" / "messages"
    aside = project.root / ".loop" / "messages-aside"

    def break_mailbox() -> None:
        box.rename(aside)
        box.write_text("not a folder\n")

    result = engine(project, break_mailbox).cycle(approval="auto")
    box.unlink()
    shutil.move(str(aside), str(box))
    assert result.outcome == "noop"
    (event,) = project.events("stop-mailbox-recheck-failed")
    assert event["error"]
    assert not project.events("stop-suspected-mailbox-race")


def test_after_a_stale_observation_the_mailbox_is_not_read_again(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)
    assert engine(project).cycle(approval="auto").outcome == "noop"  # writes the snapshot
    real = project.substrate.lane_status

    def failing(lane: str | None = None) -> list[LaneStatus]:
        raise RuntimeError("loop-lane-status: tmux server not answering")

    project.substrate.lane_status = failing  # type: ignore[method-assign]
    result = engine(project, lambda: project.mail("infra", subject="late")).cycle(approval="auto")
    project.substrate.lane_status = real  # type: ignore[method-assign]
    assert result.stale and result.outcome == "noop"  # its old mail list would make every file new
    assert project.events("observe-stale") and not project.events("stop-suspected-mailbox-race")


def test_the_daemon_asks_again_after_a_stop_it_did_not_obey(project: Project) -> None:
    """An obeyed stop is remembered: the daemon's interval cycles call no brain while nothing changes.
    A stop not obeyed (docs still works) is not: the next interval cycle asks the brain again."""
    calls = {"n": 0}

    def brain(prompt: str) -> str:
        calls["n"] += 1
        return STOP

    cfg = EffectiveConfig(
        model=EngineConfig.model_validate(
            {
                "poll_interval_s": 0.05,
                "checkpoint_interval_s": 0.1,
                "min_cycle_interval_s": 0,
                "brain": {"harness": "claude"},
            }
        )
    )
    daemon = watch.Daemon(
        project.paths,
        lambda abort: Engine(project.paths, project.substrate, cfg, abort=abort, brain_fn=brain),
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        retry_until(lambda: calls["n"] >= 3)  # docs works: every interval cycle asks again
        assert {e["outcome"] for e in project.events("cycle-end")} == {"stop-suspected-idle-stall"}
        project.substrate.set("docs", "idle", "pi", True)
        retry_until(lambda: project.events("decision-noop"))  # obeyed now...
        # The cycle that first sees the stop obeyed may have observed docs still working (the stop guard
        # looks again, fresh), so it remembers the old fleet and the next cycle asks once more. Two cycle
        # ends after the first obeyed stop, the remembered fleet is the idle one.
        ended = len(project.events("cycle-end"))
        retry_until(lambda: len(project.events("cycle-end")) >= ended + 2)
        after = calls["n"]
        start = len(project.events("cycle-end"))
        retry_until(lambda: len(project.events("cycle-end")) >= start + 5)
        assert calls["n"] == after  # ...and remembered: nothing changed, no brain call
    finally:
        daemon.stopping.set()
        thread.join(timeout=10)
