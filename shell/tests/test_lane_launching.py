"""A lane whose launching shell is still starting (slow rc files) is booting, not a harness that exited:
loop-lane-status says working/booting, add-lane --wait-ready waits for it, boot-check says it has not
started; a lane whose harness really exited ends add-lane --wait-ready early. Real tmux server."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

pytestmark = pytest.mark.tmux


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


retry_until = _load("_launching_conftest", TESTS / "conftest.py").retry_until

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2"}
RC_WAIT_S = 5


def slow_rc(home: Path) -> Path:
    """An interactive bash rc that, while HOME/slow-rc exists, spends RC_WAIT_S seconds in a builtin (as a
    heavy rc does in shell code): the launching shell is all tmux sees meanwhile. Returns the marker."""
    fifo = home / "rc-fifo"
    os.mkfifo(fifo)
    (home / ".bashrc").write_text(
        f'if [ -f "$HOME/slow-rc" ]; then read -r -t {RC_WAIT_S} _ <> "$HOME/rc-fifo"; fi\n'
    )
    return home / "slow-rc"


def lane_json(shell_env, session: str, lane: str) -> dict:
    proc = shell_env.run("loop-lane-status.sh", "--json", session, lane)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["lanes"][lane]


def test_a_lane_still_launching_is_booting_and_add_lane_waits_for_it(tmux_server, shell_env, fake_harnesses):
    shell_env.env.update(FAST)
    marker = slow_rc(shell_env.home)
    boot = shell_env.run("loop-tmux.sh", "--session", "sl", "--no-attach", "--preset", "validation-only")
    assert boot.returncode == 0, boot.stderr
    marker.write_text("")
    # add-lane waits LOOP_TMUX_LAUNCH_CHECK_S for the command to start; 0: it returns while still launching
    add = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "sl", "--window", "w1", "--harness", "claude",
        env={"LOOP_TMUX_LAUNCH_CHECK_S": "0"},
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    first = lane_json(shell_env, "sl", "w1")
    assert (first["status"], first.get("detail")) == ("working", "booting"), first
    assert (
        tmux_server.out("display-message", "-p", "-t", "=sl:w1", "#{pane_current_command}").strip() == "bash"
    )
    retry_until(lambda: lane_json(shell_env, "sl", "w1")["status"] == "idle", timeout=40)

    waited = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "sl", "--window", "w2", "--harness", "claude",
        "--wait-ready", "--ready-timeout", "60",
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    assert "is ready" in waited.stdout


def test_add_lane_wait_ready_gives_up_early_on_a_harness_that_exited(tmux_server, shell_env, fake_harnesses):
    """A harness that crashes after it started (not one that never starts: add-lane fails on that at once)."""
    shell_env.env.update(FAST)
    boot = shell_env.run("loop-tmux.sh", "--session", "ge", "--no-attach", "--preset", "validation-only")
    assert boot.returncode == 0, boot.stderr
    started = time.monotonic()
    proc = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "ge", "--window", "gone",
        "--cmd", "env FAKE_AGENT_WELCOME_S=30 FAKE_AGENT_CRASH_AFTER_S=3 claude", "--wait-ready",
        "--ready-timeout", "120",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "exited to a bare shell" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 60  # it did not sit out the 120 s timeout
    assert "gone" in tmux_server.out("list-windows", "-t", "=ge:", "-F", "#{window_name}").split()


def test_boot_check_says_a_lane_still_launching_has_not_started(tmux_server, shell_env, fake_harnesses):
    shell_env.env.update(FAST)
    slow_rc(shell_env.home).write_text("")
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "bc", "--no-attach", "--preset", "all-pi", "--boot-check", "0"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "boot-check: FAIL web" in proc.stdout and "has not started after 0s" in proc.stdout, proc.stdout
    assert "fell back to a bare shell" not in proc.stdout


def test_the_watchdog_leaves_a_lane_that_is_still_launching_alone(
    tmux_server, shell_env, fake_harnesses, tmp_path
):
    """A restart now would launch a second agent into the pane once the slow rc is done."""
    shell_env.env.update(FAST)
    state = tmp_path / "state"
    marker = slow_rc(shell_env.home)
    boot = shell_env.run(
        "loop-tmux.sh",
        "--session",
        "wl",
        "--no-attach",
        "--preset",
        "validation-only",
        "--state-dir",
        str(state),
    )
    assert boot.returncode == 0, boot.stderr
    marker.write_text("")
    add = shell_env.run("loop-tmux.sh", "add-lane", "--session", "wl", "--window", "w1", "--harness", "codex")
    assert add.returncode == 0, add.stderr
    health = ["--session", "wl", "--state-dir", str(state), "--confirm", "0.2"]
    once = shell_env.run("lib/lane-health.sh", "once", *health)
    assert once.returncode == 0, once.stderr
    log = state / "lane-restarts.jsonl"
    assert not log.exists() or log.read_text() == "", log.read_text()
    pane = tmux_server.out("display-message", "-p", "-t", "=wl:w1", "#{pane_id}").strip()
    retry_until(
        lambda: (
            tmux_server.out("display-message", "-p", "-t", pane, "#{pane_current_command}").strip() == "codex"
        ),
        timeout=40,
    )


def test_add_lane_fails_at_once_on_a_harness_that_never_starts(tmux_server, shell_env, fake_harnesses):
    shell_env.env.update(FAST)
    boot = shell_env.run("loop-tmux.sh", "--session", "ns", "--no-attach", "--preset", "validation-only")
    assert boot.returncode == 0, boot.stderr
    proc = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "ns", "--window", "gone",
        "--cmd", "env PATH=/nonexistent claude", "--wait-ready", "--ready-timeout", "120",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "lane gone not added" in proc.stderr
    assert "claude" in proc.stderr and "No such file or directory" in proc.stderr, proc.stderr
    assert "gone" not in tmux_server.out("list-windows", "-t", "=ns:", "-F", "#{window_name}").split()
