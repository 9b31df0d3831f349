"""A lane's whole process tree ends with it: drop-lane and the watchdog's restart reach a helper that
setsid()'d away and was adopted by init (like codex 0.171's `codex app-server`), and nothing outside
the lane. Both tests fail on the main before issue 16 (the detached helper survived)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


fake_agent = _load("fake_agent", TESTS / "fake_agent.py")
retry_until = _load("_lanes_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2", "FAKE_AGENT_CRASH_ON": "crash-now"}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(path: Path) -> int:
    text = path.read_text() if path.exists() else ""
    return int(text) if text.strip().isdigit() else 0


def _parent(pid: int) -> int:
    argv = ["ps", "-o", "ppid=", "-p", str(pid)]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return int(out.strip() or 0)


def test_drop_lane_ends_a_detached_helper_and_nothing_else(tmux_server, shell_env, fake_harnesses, tmp_path):
    pidfile = tmp_path / "app-server.pid"
    agent = dict(FAST, FAKE_AGENT_DETACHED_PIDFILE=str(pidfile), FAKE_AGENT_LOG_NAME="w")
    pane = fake_agent.spawn_window(
        tmux_server.socket, shell_env.env, "s", "w", "codex", agent, {"@loop_lane": "1"}
    )
    other_pidfile = tmp_path / "other.pid"
    other_env = dict(FAST, FAKE_AGENT_DETACHED_PIDFILE=str(other_pidfile), FAKE_AGENT_LOG_NAME="o")
    fake_agent.spawn_window(
        tmux_server.socket, shell_env.env, "s", "other", "codex", other_env, {"@loop_lane": "1"}
    )
    helper = retry_until(lambda: _pid(pidfile))
    other_helper = retry_until(lambda: _pid(other_pidfile))
    assert (
        isinstance(helper, int)
        and _alive(helper)
        and _parent(helper) != int(tmux_server.out("display", "-p", "-t", pane, "#{pane_pid}").strip())
    )  # adopted by init (or a subreaper): not a descendant of the pane any more
    bystander = subprocess.Popen(
        ["sleep", "300"], env={**shell_env.env, "TMUX_PANE": pane}
    )  # not of the server
    try:
        proc = shell_env.run("loop-tmux.sh", "drop-lane", "--session", "s", "--window", "w")
        assert proc.returncode == 0, proc.stderr
        retry_until(lambda: not _alive(helper), timeout=10)
        assert "w" not in tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()
        assert isinstance(other_helper, int) and _alive(other_helper)  # another lane's helper stays
        assert bystander.poll() is None  # same pane id in its environment, but no pane of this server
    finally:
        bystander.kill()
        bystander.wait()
        for pid in (helper, other_helper):
            if isinstance(pid, int) and _alive(pid):
                os.kill(pid, 9)


def test_watchdog_restart_ends_what_the_crashed_harness_left_behind(
    tmux_server, shell_env, fake_harnesses, tmp_path
):
    pidfile = tmp_path / "app-server.pid"
    shell_env.env.update(FAST)
    shell_env.env["FAKE_AGENT_DETACHED_PIDFILE"] = str(pidfile)
    state = tmp_path / "state"
    proc = shell_env.run(
        "loop-tmux.sh",
        "--session",
        "s",
        "--no-attach",
        "--preset",
        "validation-only",
        "--state-dir",
        str(state),
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        shell_env.run(
            "loop-tmux.sh", "add-lane", "--session", "s", "--window", "ai1", "--harness", "codex"
        ).returncode
        == 0
    )
    helper = retry_until(lambda: _pid(pidfile), timeout=20)
    assert isinstance(helper, int) and _alive(helper)
    pane = tmux_server.out("display", "-p", "-t", "=s:ai1", "#{pane_id}").strip()
    retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane), timeout=20)
    tmux_server.tmux("send-keys", "-t", pane, "crash-now", "Enter")
    retry_until(
        lambda: tmux_server.out("display", "-p", "-t", pane, "#{pane_current_command}").strip() == "bash"
    )
    assert _alive(helper)  # the harness is gone, its helper is not
    try:
        once = shell_env.run("lib/lane-health.sh", "once", "--session", "s", "--state-dir", str(state))
        assert once.returncode == 0, once.stderr
        retry_until(lambda: not _alive(helper), timeout=10)
        retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane), timeout=20)  # restarted
        retry_until(lambda: _pid(pidfile) not in (0, helper), timeout=10)
        assert _alive(_pid(pidfile))  # the new harness's own helper is left alone
    finally:
        for pid in (helper, _pid(pidfile)):
            if pid and _alive(pid):
                os.kill(pid, 9)
