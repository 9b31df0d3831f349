"""The watch loop in a thread over the in-process fake substrate: triggers, zero brain calls while
nothing changes, cycle-now, pause/resume, the singleton lock; and a real daemon process killed -9
mid brain call (its orphaned brain is reaped, never two calls in flight)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import REGISTRY, SESSION, Project, lane_list, lane_report, respond_registry, retry_until
from loop_engine import watch
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_engine.paths import EnginePaths
from loop_schemas import EngineConfig
from loop_substrate.testing import FakeSubstrate

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
    project.substrate.set("docs", "idle", "pi", True)  # an idle fleet: the brain's stop is obeyed
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
    info = watch.daemon_info(project.paths)
    assert (info["code"], info["stale"], info["warning"]) == ("current", False, None)
    record = json.loads(project.paths.daemon_build.read_text())
    assert record["pid"] == os.getpid() and len(record["code_sha256"]) == 64
    assert set(record) >= {"pid", "started_at", "module", "module_mtime_ns", "code_sha256"}
    # a reinstall that only touches the files (same content): still current, content-based
    _signature, newest = watch.code_signature()
    monkeypatch.setattr(watch, "code_signature", lambda: ("touched", newest + 10**9))
    assert watch.daemon_info(project.paths)["code"] == "current"
    # a reinstall of other code: stale, said by status and once by the daemon (event daemon-stale)
    monkeypatch.setattr(watch, "code_sha256", lambda: "0" * 64)
    info = watch.daemon_info(project.paths)
    assert info["code"] == "stale" and info["stale"] is True and "restart" in str(info["warning"])
    retry_until(lambda: len(project.events("daemon-stale")) == 1)
    assert project.events("daemon-stale")[0]["installed_sha256"] == "0" * 64


def test_a_build_record_without_code_sha256_falls_back_to_mtime(
    running: Running, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    retry_until(lambda: watch.daemon_alive(project.paths) and project.paths.pid.exists())
    record = json.loads(project.paths.daemon_build.read_text())
    del record["code_sha256"]
    project.paths.daemon_build.write_text(json.dumps(record))
    assert watch.daemon_info(project.paths)["code"] == "current"
    monkeypatch.setattr(watch, "code_signature", lambda: ("moved", record["module_mtime_ns"] + 1))
    assert watch.daemon_info(project.paths)["code"] == "stale"


def test_status_cost_stays_a_stat_while_the_code_is_untouched(
    running: Running, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    retry_until(lambda: watch.daemon_alive(project.paths) and project.paths.pid.exists())

    def no_hashing() -> str:
        raise AssertionError("status hashed the engine's files although none moved")

    monkeypatch.setattr(watch, "code_sha256", no_hashing)
    info = watch.daemon_info(project.paths)
    assert info["code"] == "current" and isinstance(info["heartbeat_age_s"], int)


# ---------------------------------------------------------------- a real daemon process, killed -9

FAKE_PI = """import os, sys, time
d = {dir!r}
open(os.path.join(d, "running-%d" % os.getpid()), "w").close()
while not os.path.exists(os.path.join(d, "release")):
    time.sleep(0.05)
print("```decision\\nversion: 1\\ncritique: quiet\\nactions:\\n  - {{kind: stop, rationale: nothing}}\\n```")
"""


def _alive(pid: int) -> bool:
    """Runs (a zombie waiting for its parent does not): checked by hand, independent of the engine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # Linux (no ps needed)
        with contextlib.suppress(OSError):
            return stat.read_text().rpartition(")")[2].split()[0] != "Z"
        return False
    out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip()) and not out.stdout.strip().startswith("Z")


class Live:
    """A project whose brain is a fake `pi` on PATH that blocks until `release` exists."""

    def __init__(self, tmp_path: Path, fake: FakeSubstrate, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "proj"
        (self.root / ".loop" / "messages" / "processed").mkdir(parents=True)
        (self.root / "tasks" / "archive").mkdir(parents=True)
        (self.root / "ops-wiki").mkdir()
        (self.root / "ops-wiki" / "checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\n")
        (self.root / "lane-config.yaml").write_text(
            "engine:\n  poll_interval_s: 0.2\n  min_cycle_interval_s: 0\n  checkpoint_interval_s: 3600\n"
            "  brain: {harness: pi, timeout_s: 120, max_retries: 0}\n"
        )
        lanes = {"coord": ("idle", None, "fixed"), "web": ("idle", "pi", "fixed")}
        fake.respond("loop-lane-status", lane_report(lanes))
        fake.respond("loop-tmux", lane_list(lanes))
        respond_registry(fake, REGISTRY)
        self.calls = tmp_path / "brain-calls"
        self.calls.mkdir()
        bin_dir = tmp_path / "brain-bin"
        bin_dir.mkdir()
        pi = bin_dir / "pi"
        pi.write_text(f"#!{sys.executable}\n" + FAKE_PI.format(dir=str(self.calls)))
        pi.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        self.paths = EnginePaths(self.root.resolve(), SESSION)
        self.argv = [
            sys.executable,
            "-m",
            "loop_engine",
            "--project-root",
            str(self.root),
            "--session",
            SESSION,
        ]
        self.daemons: list[int] = []

    def brains(self) -> list[int]:
        """The fake brains that started, by pid."""
        return sorted(int(p.name.split("-")[1]) for p in self.calls.glob("running-*"))

    def in_flight(self) -> list[int]:
        return [pid for pid in self.brains() if _alive(pid)]

    def spawn(self) -> int:
        pid = watch.spawn(self.paths, self.argv, timeout=60)
        self.daemons.append(pid)
        return pid

    def events(self, kind: str) -> list[dict[str, Any]]:
        lines = self.paths.events.read_text().splitlines() if self.paths.events.exists() else []
        return [e for e in map(json.loads, lines) if e.get("event") == kind]

    def close(self) -> None:
        (self.calls / "release").touch()  # every fake brain ends on its own
        with contextlib.suppress(Exception):
            watch.stop(self.paths, timeout=30)
        for pid in self.daemons:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        retry_until(lambda: not self.in_flight(), timeout=30)


@pytest.fixture
def live(tmp_path: Path, fake_substrate: FakeSubstrate, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    lv = Live(tmp_path, fake_substrate, monkeypatch)
    yield lv
    lv.close()


def test_a_daemon_killed_mid_call_leaves_no_brain_running_beside_the_next_one(live: Live) -> None:
    first = live.spawn()
    retry_until(lambda: len(live.in_flight()) == 1, timeout=60)
    [old_brain] = live.in_flight()
    os.kill(first, signal.SIGKILL)
    retry_until(lambda: not watch.daemon_alive(live.paths), timeout=30)
    assert _alive(old_brain)  # its own process group: the kill did not reach it
    live.spawn()
    # the new daemon stops the orphan before it asks its own brain: one call in flight, never two
    retry_until(lambda: not _alive(old_brain) and len(live.in_flight()) == 1, timeout=60)
    assert live.in_flight() != [old_brain] and len(live.brains()) == 2
    [reaped] = live.events("brain-orphan")
    assert reaped["pid"] == old_brain and reaped["outcome"] in ("terminated", "killed")
    assert reaped["by"] == "daemon-start"
    assert len(list(live.paths.children.glob("*.json"))) == 1  # the new daemon's own call


def test_stop_after_a_kill_reaps_the_orphan_and_a_second_watch_names_the_running_one(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = live.spawn()
    retry_until(lambda: len(live.in_flight()) == 1, timeout=60)
    [orphan] = live.in_flight()
    # two `watch` at the same moment: both saw no daemon, the second loses the lock race
    real_alive = watch.daemon_alive
    seen = {"n": 0}

    def raced(paths: EnginePaths) -> bool:
        seen["n"] += 1
        return False if seen["n"] == 1 else real_alive(paths)

    monkeypatch.setattr(watch, "daemon_alive", raced)
    with pytest.raises(watch.DaemonError, match=rf"^a daemon is already running \(pid {first}\)$"):
        watch.spawn(live.paths, live.argv, timeout=60)
    monkeypatch.setattr(watch, "daemon_alive", real_alive)
    assert _alive(orphan)  # the loser reaped nothing: the winner's call is alive
    os.kill(first, signal.SIGKILL)
    retry_until(lambda: not watch.daemon_alive(live.paths), timeout=30)
    assert watch.stop(live.paths) is False  # no daemon ran, but its orphan is stopped all the same
    assert not _alive(orphan)
    assert [(e["pid"], e["by"]) for e in live.events("brain-orphan")] == [(orphan, "stop")]
    assert list(live.paths.children.glob("*.json")) == []


def test_a_recorded_pid_now_used_by_another_process_is_never_signalled(tmp_path: Path) -> None:
    paths = EnginePaths(tmp_path, SESSION)
    paths.children.mkdir(parents=True)
    # pid reuse: the record names a live process in its own group that is not the child we started
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    dead_owner = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner.wait()
    try:
        record = {
            "token": "0" * 32,
            "pid": stranger.pid,
            "start": "linux:1" if sys.platform.startswith("linux") else "ps:Thu Jan  1 00:00:00 1970",
            "owner": dead_owner.pid,
            "owner_start": "linux:1",
            "transcript": "t.log",
        }
        (paths.children / "a.json").write_text(json.dumps(record))
        # and a record whose child's identity cannot be read at all
        (paths.children / "b.json").write_text(json.dumps({**record, "start": None, "token": "1" * 32}))
        done = watch.reap(paths, "daemon-start")
        assert [d["outcome"] for d in done] == ["not-proven", "not-proven"]
        assert stranger.poll() is None and _alive(stranger.pid)
        assert list(paths.children.iterdir()) == []
        events = [json.loads(x) for x in paths.events.read_text().splitlines()]
        assert [(e["event"], e["pid"], e["outcome"]) for e in events] == [
            ("brain-orphan", stranger.pid, "not-proven")
        ] * 2
    finally:
        stranger.kill()
        stranger.wait()


def test_loop_restart_swaps_a_real_daemon_for_one_running_the_current_code(live: Live) -> None:
    """bin/loop-restart on a real daemon: the restart runs in the background, and success is said only
    once `status` shows a new pid with `code: current`."""
    (live.calls / "release").touch()  # the fake brain answers at once
    first = live.spawn()
    retry_until(
        lambda: live.paths.daemon_build.exists() and watch.daemon_info(live.paths)["code"] == "current"
    )
    script = Path(__file__).resolve().parents[3] / "shell" / "bin" / "loop-restart"
    env = {**os.environ, "LOOP_RESTART_INSTALL_CMD": "", "LOOP_SECRETS_DIR": str(live.root / "no-secrets")}
    proc = subprocess.run(
        [str(script), SESSION, "--project-root", str(live.root), "--timeout", "30"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    info = watch.daemon_info(live.paths)
    new = info["pid"]
    assert isinstance(new, int) and new != first and info["code"] == "current"
    live.daemons.append(new)
    assert f"daemon swapped (pid {first} -> {new}, current code, heartbeat " in proc.stdout
    assert not _alive(first)
    record = json.loads(live.paths.daemon_build.read_text())
    assert record["pid"] == new


# ---------------------------------------------------------------- the CLI's daemon: cycles in forked children

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the forked daemon needs Linux (PR_SET_PDEATHSIG)"
)


def _cycle_child(live: Live) -> int:
    """The pid of the process that started the brain in flight: the daemon's forked cycle child."""
    [record] = [json.loads(p.read_text()) for p in live.paths.children.glob("*.json")]
    owner = record["owner"]
    assert isinstance(owner, int)
    return owner


@linux_only
def test_the_daemon_process_polls_without_pydantic_and_each_cycle_runs_in_a_child(live: Live) -> None:
    (live.calls / "release").touch()  # the fake brain answers at once
    pid = live.spawn()
    retry_until(lambda: len(live.events("cycle-end")) >= 1, timeout=60)
    watch.request_cycle(live.paths)  # a second cycle, after the first one's child has ended
    retry_until(lambda: len(live.events("cycle-end")) >= 2, timeout=60)
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "pydantic_core" not in maps and "_yaml" not in maps
    [start] = live.events("daemon-start")
    assert start["pid"] == pid  # said by the start's child, in the daemon's name
    assert len(live.brains()) == 2 and not live.in_flight()
    assert not any(e["event"] == "cycle-crashed" for e in _all_events(live))


def _open_files(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            out.add(os.readlink(fd))
    return out


def _all_events(live: Live) -> list[dict[str, Any]]:
    return [json.loads(x) for x in live.paths.events.read_text().splitlines()]


@linux_only
def test_a_kill_9_of_the_daemon_mid_cycle_ends_its_cycle_child_and_frees_both_locks(live: Live) -> None:
    from loop_schemas import file_lock

    first = live.spawn()
    retry_until(lambda: len(live.in_flight()) == 1, timeout=60)
    child = _cycle_child(live)
    assert child != first and _alive(child)
    lock = str(live.paths.daemon_lock)
    assert lock in _open_files(first) and lock not in _open_files(child)
    os.kill(first, signal.SIGKILL)
    # the child held no copy of daemon.lock, and died with its parent (it held the cycle lock)
    retry_until(lambda: not watch.daemon_alive(live.paths) and not _alive(child), timeout=10)
    with file_lock(live.paths.cycle_lock, timeout=10):
        pass  # no cycle of the dead daemon runs on (its brain still does): nothing a new cycle overlaps
    live.spawn()
    # the new daemon reaps the dead cycle's brain before its own call: one call in flight, never two
    retry_until(lambda: len(live.brains()) == 2 and len(live.in_flight()) == 1, timeout=60)
    [reaped] = live.events("brain-orphan")
    assert reaped["owner"] == child and reaped["by"] == "daemon-start"
    starts, ends = live.events("cycle-start"), live.events("cycle-end")
    assert len(starts) == 2 and ends == []  # the killed cycle never ended; the new one runs


@linux_only
def test_stop_reaches_the_cycle_child_and_the_daemon_ends_cleanly(live: Live) -> None:
    live.spawn()
    retry_until(lambda: len(live.in_flight()) == 1, timeout=60)
    child = _cycle_child(live)
    assert watch.stop(live.paths, timeout=20) is True
    # SIGTERM went on to the child: its brain call was aborted, the cycle ended, the daemon said so
    assert not _alive(child) and not live.in_flight()
    assert [e["outcome"] for e in live.events("cycle-end")] == ["brain-failed"]
    assert live.events("daemon-stop")
    assert not live.paths.pid.exists()


@linux_only
def test_a_cycle_child_that_dies_is_a_crashed_cycle_and_the_daemon_lives_on(live: Live) -> None:
    first = live.spawn()
    retry_until(lambda: len(live.in_flight()) == 1, timeout=60)
    child = _cycle_child(live)
    os.kill(child, signal.SIGKILL)
    retry_until(lambda: len(live.events("cycle-crashed")) == 1, timeout=30)
    [crash] = live.events("cycle-crashed")
    assert crash["component"] == "engine" and "signal 9" in crash["error"]
    assert watch.daemon_alive(live.paths) and watch.daemon_info(live.paths)["pid"] == first
    (live.calls / "release").touch()
    watch.request_cycle(live.paths)  # the daemon cycles on (the dead child's brain is reaped first)
    retry_until(lambda: len(live.events("cycle-end")) >= 1, timeout=60)


def test_a_brain_whose_owner_dies_with_a_dead_daemon_is_an_orphan_at_once(tmp_path: Path) -> None:
    """The daemon's forked cycle started the brain: once the daemon is dead the brain is an orphan, even
    while the cycle child (its owner) has not yet died of its own SIGKILL."""
    from loop_engine.brain import CHILD_TOKEN_ENV, process_start

    paths = EnginePaths(tmp_path, SESSION)
    paths.children.mkdir(parents=True)
    token = "2" * 32
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    brain = subprocess.Popen(sleeper, start_new_session=True, env={**os.environ, CHILD_TOKEN_ENV: token})
    dying_child = subprocess.Popen(sleeper)  # the cycle child, still running
    dead_daemon = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_daemon.wait()
    try:
        record = {
            "token": token,
            "pid": brain.pid,
            "start": process_start(brain.pid),
            "owner": dying_child.pid,
            "owner_start": process_start(dying_child.pid),
            "owner_dies_with": dead_daemon.pid,
            "owner_dies_with_start": "linux:1",
            "transcript": "t.log",
        }
        (paths.children / "c.json").write_text(json.dumps(record))
        [done] = watch.reap(paths, "stop")
        assert done["pid"] == brain.pid and done["outcome"] in ("terminated", "killed")
        assert brain.wait(timeout=10) is not None
        # a live daemon keeps its cycle's brain: not an orphan
        brain2 = subprocess.Popen(sleeper, start_new_session=True, env={**os.environ, CHILD_TOKEN_ENV: token})
        me = os.getppid()  # a live process standing for the daemon
        live_record = {**record, "pid": brain2.pid, "start": process_start(brain2.pid)}
        live_record.update(owner_dies_with=me, owner_dies_with_start=process_start(me))
        (paths.children / "c.json").write_text(json.dumps(live_record))
        assert watch.reap(paths, "stop") == []
        brain2.kill()
        brain2.wait()
    finally:
        for proc in (brain, dying_child):
            proc.kill()
            proc.wait()


def test_the_poll_path_imports_neither_pydantic_nor_yaml() -> None:
    """What the forked daemon's own process imports to poll: none of it may load the models."""
    code = (
        "import sys\n"
        "import loop_engine.cli, loop_engine.watch, loop_engine.mailhead, loop_engine.runs\n"
        "import loop_substrate.client\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'yaml')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@linux_only
def test_the_forked_daemon_waits_out_a_vanished_session_without_a_child_per_poll(
    live: Live, fake_substrate: FakeSubstrate
) -> None:
    """While the session is away the daemon asks after it at each poll in its own process (list-lanes,
    no model) and forks a cycle's child only once it answers: a child per poll would import the cycle
    code every 0.2 s."""
    (live.calls / "release").touch()
    fake_substrate.respond("loop-tmux", "", exit_code=1, stderr="loop-tmux: no tmux session 's1'")
    live.spawn()
    retry_until(lambda: len(fake_substrate.calls("loop-tmux")) >= 8, timeout=60)
    # each poll reads the lanes once and asks after the session once; a cycle's child would read the
    # lanes a second time (require_session reads them with the windows)
    polls, probes = len(fake_substrate.calls("loop-lane-status")), len(fake_substrate.calls("loop-tmux"))
    assert polls <= probes + 3, (polls, probes)
    assert len(live.events("session-unreachable")) == 1 and not live.events("cycle-start")
    fake_substrate.respond(
        "loop-tmux", lane_list({"coord": ("idle", None, "fixed"), "web": ("idle", "pi", "fixed")})
    )
    retry_until(lambda: live.events("session-back") and live.events("cycle-end"), timeout=60)
