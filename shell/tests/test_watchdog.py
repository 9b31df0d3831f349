"""lib/lane-health.sh, the lane watchdog, on a real tmux server: restart of a crashed AI lane (base and
add-lane), back-off, give-up, lanes it must leave alone, the singleton, and loop-tmux --auto-restart."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


retry_until = _load("_watchdog_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2", "FAKE_AGENT_CRASH_ON": "crash-now"}
# Small timings for tests (the defaults are 30 s polls, 2 s back-off doubling to 60 s, 5 failures).
KNOBS = ["--interval", "0.2", "--confirm", "0.2", "--healthy", "600"]


@pytest.fixture
def wd(tmux_server, shell_env, fake_harnesses, tmp_path):
    """A booted session `s` (validation-only preset: no AI base lanes) and its state dir."""
    shell_env.env.update(FAST)
    state = tmp_path / "state"
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "validation-only",
        "--state-dir", str(state),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    yield shell_env, state
    shell_env.run("lib/lane-health.sh", "stop", "--session", "s", "--state-dir", str(state))


def _health(shell, state: Path, *args: str):
    verb = list(args[:1]) if args and not args[0].startswith("-") else []
    rest = list(args[len(verb) :])
    return shell.run("lib/lane-health.sh", *verb, "--session", "s", "--state-dir", str(state), *rest)


def _lines(state: Path) -> list[dict]:
    path = state / "lane-restarts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _restarts(state: Path, lane: str | None = None) -> list[dict]:
    return [r for r in _lines(state) if "event" not in r and (lane is None or r["lane"] == lane)]


def _events(state: Path, event: str) -> list[dict]:
    return [r for r in _lines(state) if r.get("event") == event]


def _cmd(server, target: str) -> str:
    return server.out("display", "-p", "-t", target, "#{pane_current_command}").strip()


def _ts(record: dict) -> float:
    return dt.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_restarts_a_crashed_add_lane_ai_lane_and_leaves_shell_lanes_alone(wd, tmux_server):
    shell, state = wd
    add = ["add-lane", "--session", "s"]
    assert shell.run("loop-tmux.sh", *add, "--window", "ai1", "--harness", "claude").returncode == 0
    assert shell.run("loop-tmux.sh", *add, "--window", "sh1", "--harness", "shell").returncode == 0
    assert shell.run("loop-tmux.sh", *add, "--window", "tool1", "--cmd", "true").returncode == 0
    retry_until(lambda: _cmd(tmux_server, "=s:ai1") == "claude")
    start = _health(shell, state, "start", *KNOBS)
    assert start.returncode == 0, start.stderr
    assert "started" in start.stdout
    retry_until(lambda: _events(state, "started"))
    pane = tmux_server.out("display", "-p", "-t", "=s:ai1", "#{pane_id}").strip()
    launch = tmux_server.out("show-options", "-wqv", "-t", "=s:ai1", "@loop_lane_launch").strip()
    tmux_server.tmux("send-keys", "-t", pane, "crash-now", "Enter")
    restarts = retry_until(lambda: _restarts(state, "ai1"), timeout=15)
    assert restarts[0] == {
        "timestamp": restarts[0]["timestamp"],
        "session": "s",
        "lane": "ai1",
        "target": pane,
        "cmd": launch,
        "attempt": 1,
    }
    # The harness is back in the same pane, ready for work.
    retry_until(lambda: _cmd(tmux_server, pane) == "claude", timeout=15)
    retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane))
    stop = _health(shell, state, "stop")
    assert stop.returncode == 0, stop.stderr
    assert _events(state, "stopped")
    # Only the AI lane was touched: the shell lane and the exited command lane sit at a shell.
    assert {r["lane"] for r in _restarts(state)} == {"ai1"}
    assert len(_restarts(state)) == 1
    assert _cmd(tmux_server, "=s:sh1") == "bash" and _cmd(tmux_server, "=s:tool1") == "bash"


def test_backoff_then_gives_up(wd, tmux_server):
    shell, state = wd
    lane = "env FAKE_AGENT_CRASH_AFTER_S=0.1 pi"  # every (re)start crashes at once
    # add-lane's launch check would refuse a harness that is gone at once: the watchdog is what is tested
    add = ["add-lane", "--session", "s", "--window", "flaky", "--cmd", lane]
    assert shell.run("loop-tmux.sh", *add, env={"LOOP_TMUX_LAUNCH_CHECK_S": "0"}).returncode == 0
    start = _health(
        shell, state, "start", *KNOBS, "--backoff-base", "0.4", "--backoff-max", "0.8", "--max-failures", "4"
    )
    assert start.returncode == 0, start.stderr
    giving_up = retry_until(lambda: _events(state, "giving-up"), timeout=30)
    assert giving_up[0]["lane"] == "flaky"
    target = giving_up[0]["target"]
    assert target.startswith("%")
    # Once the operator gets the lane running again, the watchdog says so and watches it afresh.
    tmux_server.tmux("respawn-pane", "-k", "-t", target, "sleep 300")
    recovered = retry_until(lambda: _events(state, "recovered"), timeout=15)
    assert recovered[0]["lane"] == "flaky" and recovered[0]["target"] == target
    assert _health(shell, state, "stop").returncode == 0
    restarts = _restarts(state, "flaky")
    assert [r["attempt"] for r in restarts] == [1, 2, 3, 4]
    assert all(r["cmd"] == lane for r in restarts)
    gaps = [_ts(restarts[i + 1]) - _ts(restarts[i]) for i in range(len(restarts) - 1)]
    # The wait before restart n+1 is 0.4 * 2**(n-1), capped at 0.8: never earlier than that.
    assert gaps[0] >= 0.4 and gaps[1] >= 0.8 and gaps[2] >= 0.8, gaps
    assert len(giving_up) == 1
    # The give-up comes after the last restart, and the lane is left at its shell.
    assert _ts(giving_up[0]) >= _ts(restarts[-1])
    assert _ts(recovered[0]) > _ts(giving_up[0])


def test_base_lane_restart_through_auto_restart(tmux_server, shell_env, fake_harnesses, tmp_path):
    shell_env.env.update(FAST)
    state = tmp_path / "sd"
    env = {
        "LOOP_LANE_HEALTH_INTERVAL": "0.2",
        "LOOP_LANE_HEALTH_CONFIRM": "0.2",
        "LOOP_TMUX_STATE_DIR": str(state),
    }
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "all-pi", "--auto-restart", env=env
    )
    assert proc.returncode == 0, proc.stderr
    try:
        assert "watchdog started" in proc.stdout
        assert _health(shell_env, state, "status").stdout.startswith("running ")
        # Re-booting with --auto-restart keeps the one watchdog.
        again = shell_env.run(
            "loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "all-pi", "--auto-restart", env=env
        )
        assert again.returncode == 0 and "already running" in again.stdout
        retry_until(lambda: _cmd(tmux_server, "=s:web") == "pi")
        web = tmux_server.out("display", "-p", "-t", "=s:web", "#{pane_id}").strip()
        tmux_server.tmux("send-keys", "-t", web, "crash-now", "Enter")
        got = retry_until(lambda: _restarts(state, "web"), timeout=15)
        assert got[0]["target"] == web and got[0]["cmd"] == "pi"
        retry_until(lambda: _cmd(tmux_server, web) == "pi", timeout=15)
        assert len(_events(state, "started")) == 1
    finally:
        _health(shell_env, state, "stop")


def test_singleton_and_liveness(wd, tmux_server):
    shell, state = wd
    first = _health(shell, state, "start", *KNOBS)
    assert first.returncode == 0 and "started" in first.stdout
    second = _health(shell, state, "start", *KNOBS)
    assert second.returncode == 0 and "already running" in second.stdout
    status = _health(shell, state, "status")
    assert status.returncode == 0
    pid = int(status.stdout.split()[1])
    assert int((state / "lane-health.pid").read_text()) == pid
    retry_until(lambda: _events(state, "started"))
    assert len(_events(state, "started")) == 1
    # A killed watchdog leaves a stale pid file; the lock says it is gone, and a new one starts.
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: _health(shell, state, "status").returncode == 1)
    assert (state / "lane-health.pid").exists()
    third = _health(shell, state, "start", *KNOBS)
    assert third.returncode == 0 and "started" in third.stdout
    retry_until(lambda: len(_events(state, "started")) == 2)
    new_pid = int(_health(shell, state, "status").stdout.split()[1])
    assert new_pid != pid


def test_watchdog_exits_when_the_session_is_gone(wd, tmux_server):
    shell, state = wd
    assert _health(shell, state, "start", *KNOBS).returncode == 0
    retry_until(lambda: _events(state, "started"))
    tmux_server.tmux("kill-session", "-t", "=s")
    stopped = retry_until(lambda: _events(state, "stopped"), timeout=15)
    assert "gone" in stopped[0]["detail"]
    retry_until(lambda: _health(shell, state, "status").returncode == 1)


def test_once_restarts_what_is_down_now(wd, tmux_server):
    shell, state = wd
    assert (
        shell.run(
            "loop-tmux.sh", "add-lane", "--session", "s", "--window", "w2", "--harness", "codex"
        ).returncode
        == 0
    )
    pane = tmux_server.out("display", "-p", "-t", "=s:w2", "#{pane_id}").strip()
    retry_until(lambda: _cmd(tmux_server, pane) == "codex")
    assert _health(shell, state, "once").returncode == 0
    assert _restarts(state) == []  # running: nothing to do
    tmux_server.tmux("send-keys", "-t", pane, "crash-now", "Enter")
    retry_until(lambda: _cmd(tmux_server, pane) == "bash")
    assert _health(shell, state, "once").returncode == 0
    assert [r["lane"] for r in _restarts(state)] == ["w2"]
    retry_until(lambda: _cmd(tmux_server, pane) == "codex")


@pytest.mark.parametrize(
    "args",
    [["bogus-verb"], ["--interval", "x"], ["--interval", "0"], ["--max-failures", "-1"], ["--nope"]],
)
def test_usage_errors(wd, args):
    shell, state = wd
    proc = shell.run("lib/lane-health.sh", *args, "--session", "s", "--state-dir", str(state))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_session_is_an_error(wd):
    shell, state = wd
    proc = shell.run("lib/lane-health.sh", "once", "--session", "ghost", "--state-dir", str(state))
    assert proc.returncode == 1 and "ghost" in proc.stderr
