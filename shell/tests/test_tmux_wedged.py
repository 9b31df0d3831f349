"""A wedged tmux server (stopped, never answering) must not hang loop-tmux or the watchdog: lanes.tmux()
gives up with one LaneError line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"

pytestmark = pytest.mark.tmux

CALL = """
import sys
sys.path.insert(0, sys.argv[1])
import lanes
lanes.TMUX_TIMEOUT_S = 1.0
try:
    lanes.tmux("list-sessions")
except lanes.LaneError as exc:
    print(exc)
"""


def test_a_stopped_tmux_server_is_a_one_line_error_not_a_hang(tmux_server):
    tmux_server.tmux("new-session", "-d", "-s", "w")
    pid = int(tmux_server.out("display-message", "-p", "#{pid}").strip())
    env = {**os.environ, "LOOP_TMUX_SOCKET": tmux_server.socket}
    os.kill(pid, signal.SIGSTOP)
    try:
        # in a child with its own deadline: without the timeout it would hang, and must fail, not hang CI
        proc = subprocess.run(
            [sys.executable, "-c", CALL, str(LIB)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert proc.stdout.strip() == "tmux list-sessions did not answer within 1s", proc.stdout + proc.stderr
    assert "w" in tmux_server.out("list-sessions", "-F", "#{session_name}").split()


LIST = """
import sys
sys.path.insert(0, sys.argv[1])
import lane_list
lane_list.TMUX_TIMEOUT_S = 1.0
sys.exit(lane_list.main(["list", "--session", "w", "--json"]))
"""


def test_list_lanes_gives_up_on_a_stopped_tmux_server(tmux_server):
    """list-lanes' own tmux runner (lane_list: posix_spawn, no subprocess) has the same deadline."""
    tmux_server.tmux("new-session", "-d", "-s", "w")
    pid = int(tmux_server.out("display-message", "-p", "#{pid}").strip())
    env = {**os.environ, "LOOP_TMUX_SOCKET": tmux_server.socket}
    os.kill(pid, signal.SIGSTOP)
    try:
        proc = subprocess.run(
            [sys.executable, "-S", "-c", LIST, str(LIB)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    assert proc.stderr == "loop-tmux: tmux list-windows did not answer within 1s\n"
    listed = subprocess.run(
        [sys.executable, "-S", "-c", LIST, str(LIB)], env=env, capture_output=True, text=True, check=False
    )
    assert listed.returncode == 0 and '"window": "' in listed.stdout, listed.stderr
