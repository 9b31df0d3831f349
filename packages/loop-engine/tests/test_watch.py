"""The watch loop in a thread over the in-process fake substrate: triggers, zero brain calls while
nothing changes, cycle-now, pause/resume, the singleton lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from engine_fakes import Project, retry_until
from loop_engine import watch
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_schemas import EngineConfig

STOP = "```decision\nversion: 1\ncritique: quiet\nactions:\n  - {kind: stop, rationale: nothing}\n```\n"


class Running:
    def __init__(self, project: Project, **config: Any) -> None:
        self.project = project
        self.brain_calls = 0
        cfg = EffectiveConfig(
            model=EngineConfig.model_validate(
                {"poll_interval_s": 0.05, "checkpoint_interval_s": 0.1, "min_cycle_interval_s": 0, **config}
            )
        )

        def brain(prompt: str) -> str:
            self.brain_calls += 1
            return STOP

        def factory(abort: Any) -> Engine:
            return Engine(project.paths, project.substrate, cfg, abort=abort, brain_fn=brain)

        self.daemon = watch.Daemon(project.paths, factory)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)

    def cycles(self) -> int:
        return len(self.project.events("cycle-end"))


@pytest.fixture
def running(project: Project) -> Iterator[Running]:
    r = Running(project)
    r.thread.start()
    yield r
    r.daemon.stopping.set()
    r.thread.join(timeout=10)


def test_zero_brain_calls_while_nothing_changes(running: Running, project: Project) -> None:
    retry_until(lambda: running.brain_calls == 1)
    start = running.cycles()
    retry_until(lambda: running.cycles() >= start + 5)  # the interval keeps triggering cycles...
    assert running.brain_calls == 1  # ...that never call the brain: nothing changed

    project.mail("web", subject="news")
    retry_until(lambda: running.brain_calls == 2)
    triggers = [e["trigger"] for e in project.events("cycle-start")]
    assert any("new-mail" in t for t in triggers)

    watch.request_cycle(project.paths)  # cycle-now calls the brain even with nothing changed
    retry_until(lambda: running.brain_calls == 3)
    assert not project.paths.cycle_now.exists()


def test_lane_going_idle_triggers_a_cycle(running: Running, project: Project) -> None:
    retry_until(lambda: running.brain_calls == 1)
    project.substrate.set("web", "working", "pi", True)
    polls = project.substrate.status_calls
    retry_until(lambda: project.substrate.status_calls >= polls + 2)  # the daemon saw it working
    project.substrate.set("web", "idle", "pi", True)
    retry_until(lambda: any("lane-idle" in e["trigger"] for e in project.events("cycle-start")))


def test_a_lane_finishing_work_asks_the_brain(project: Project) -> None:
    """Regression: the lane-idle cycle skipped the brain ("nothing changed since the last brain call"),
    because the lane's status was back to what it was at that call — so the brain never heard that
    work it had dispatched was finished."""
    r = Running(project, checkpoint_interval_s=3600)  # no interval cycle while the lane works
    r.thread.start()
    try:
        retry_until(lambda: r.brain_calls == 1)
        project.substrate.set("web", "working", "pi", True)
        polls = project.substrate.status_calls
        retry_until(lambda: project.substrate.status_calls >= polls + 2)  # the daemon saw it working
        assert r.brain_calls == 1  # working alone is no trigger
        project.substrate.set("web", "idle", "pi", True)
        retry_until(lambda: r.brain_calls == 2)
        starts = project.events("cycle-start")
        assert starts[-1]["trigger"] == "lane-idle"
        retry_until(lambda: len(project.events("cycle-end")) == len(starts))
        ends = project.events("cycle-end")
        assert ends[-1]["brain_called"] is True
    finally:
        r.daemon.stopping.set()
        r.thread.join(timeout=10)


def test_pause_holds_cycles_and_resume_releases(running: Running, project: Project) -> None:
    retry_until(lambda: running.brain_calls == 1)
    watch.pause(project.paths)
    retry_until(lambda: watch.daemon_info(project.paths)["paused"])
    before = running.cycles()
    project.mail("web", subject="while paused")
    watch.request_cycle(project.paths)
    retry_until(lambda: not project.paths.cycle_now.exists())  # the request is consumed, not run
    assert running.cycles() <= before + 1  # at most the cycle already under way
    held = running.brain_calls
    watch.resume(project.paths)
    retry_until(lambda: running.brain_calls > held)


def test_singleton_lock_and_info(running: Running, project: Project) -> None:
    retry_until(lambda: watch.daemon_alive(project.paths))
    info = watch.daemon_info(project.paths)
    assert info["running"] is True and info["stale"] is False and info["warning"] is None
    second = watch.Daemon(project.paths, lambda abort: None)
    with pytest.raises(watch.DaemonError, match="already running"):
        second.run()
    running.daemon.stopping.set()
    running.thread.join(timeout=10)
    assert not watch.daemon_alive(project.paths)
    assert project.events("daemon-stop")


def test_stale_daemon_warning(running: Running, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    retry_until(lambda: watch.daemon_alive(project.paths) and project.paths.pid.exists())
    stamp = watch.code_stamp()
    monkeypatch.setattr(watch, "code_stamp", lambda: stamp + 100)  # a reinstall after the start
    info = watch.daemon_info(project.paths)
    assert info["stale"] is True and "restart" in str(info["warning"])
