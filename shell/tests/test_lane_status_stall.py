"""loop-lane-status against a tmux whose capture of one pane stalls (issue 20): every tmux call is bounded
by LOOP_LANE_STATUS_TMUX_TIMEOUT_S, the stalled lane reads `unknown` (detail tmux-timeout) and the rest
of the fleet is answered. A real tmux server; a `tmux` wrapper first on PATH plays the stall: it runs the
real tmux on the part of a chained command before the stalled pane's capture, then hangs, as a tmux
client does when the server stops answering mid-chain."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
import time
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


fake_agent = _load("fake_agent", TESTS / "fake_agent.py")
retry_until = _load("_lanes_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

WRAPPER = """\
#!/usr/bin/env python3
import os, subprocess, sys, time
real, pids = os.environ["FAKE_TMUX_REAL"], os.environ["FAKE_TMUX_PIDS"]
stall = os.environ.get("FAKE_TMUX_STALL", "")
args = sys.argv[1:]
hangs = [i for i, a in enumerate(args) if a == "capture-pane" and stall and stall in args[i + 1 : i + 4]]
cut = hangs[0] if hangs else None
if cut is None:
    os.execv(real, [real, *args])
head = args[:cut]
while head and head[-1] == ";":
    head.pop()
if any(a not in ("-S",) and not a.startswith("/") for a in head):
    sys.stdout.flush()
    subprocess.run([real, *head], check=False)
sys.stdout.flush()
with open(pids, "a") as fh:
    fh.write(f"{os.getpid()}\\n")
time.sleep(float(os.environ.get("FAKE_TMUX_STALL_S", "30")))
"""


@pytest.fixture
def stalling(tmux_server, shell_env, fake_harnesses, tmp_path):
    """Three idle AI lanes (a, b, c) of session `s`; the `tmux` on shell_env's PATH stalls on b's capture."""
    env = {"FAKE_AGENT_WELCOME_S": "0"}
    panes = {}
    for window, harness in (("a", "claude"), ("b", "codex"), ("c", "claude")):
        panes[window] = fake_agent.spawn_window(
            tmux_server.socket,
            shell_env.env,
            "s",
            window,
            harness,
            env,
            {"@loop_lane": "1", "@loop_lane_harness": harness},
        )
    for pane in panes.values():
        retry_until(lambda pane=pane: "? for shortcuts" in tmux_server.out("capture-pane", "-p", "-t", pane))
    bindir = tmp_path / "stallbin"
    bindir.mkdir()
    wrapper = bindir / "tmux"
    wrapper.write_text(WRAPPER, encoding="utf-8")
    wrapper.chmod(0o755)
    pids = tmp_path / "stalled-pids"
    shell_env.env.update(
        {
            "FAKE_TMUX_REAL": shutil.which("tmux") or "/usr/bin/tmux",
            "FAKE_TMUX_STALL": panes["b"],
            "FAKE_TMUX_PIDS": str(pids),
            "LOOP_LANE_STATUS_TMUX_TIMEOUT_S": "1",
            "LOOP_LANE_STATUS_CACHE_DIR": str(tmp_path / "cache"),
            "LOOP_LANE_HOOK_DIR": str(tmp_path / "hooks"),
        }
    )
    shell_env.prepend_path(bindir)
    try:
        yield panes
    finally:
        for line in pids.read_text().split() if pids.exists() else []:
            try:
                os.kill(int(line), signal.SIGKILL)
            except OSError:
                pass


def _fleet(shell_env, **env: str) -> tuple[dict, float]:
    start = time.monotonic()
    proc = shell_env.run("loop-lane-status.sh", "--json", "--all", "s", env=env, timeout=25)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["lanes"], took


def test_a_stalled_capture_makes_that_lane_unknown(shell_env, stalling) -> None:
    lanes, took = _fleet(shell_env, LOOP_LANE_STATUS_NO_CACHE="1")
    assert (lanes["b"]["status"], lanes["b"]["detail"]) == ("unknown", "tmux-timeout")
    assert lanes["b"]["harness"] == "codex"
    assert lanes["a"]["status"] == "idle" and lanes["c"]["status"] == "idle"  # the panes after b too
    assert took < 10, took
    one = shell_env.run("loop-lane-status.sh", "s", "b", timeout=25)
    assert (one.returncode, one.stdout) == (0, "unknown\n")


def test_a_stalled_prefetch_is_bounded_too(shell_env, stalling) -> None:
    """The second call reads the tmux client loop-lane-status.sh started from the first call's prefetch
    file: that client hangs on b's capture as well, and the answer still comes."""
    _fleet(shell_env)  # writes the prefetch file
    lanes, took = _fleet(shell_env)
    assert (lanes["b"]["status"], lanes["b"]["detail"]) == ("unknown", "tmux-timeout")
    assert lanes["a"]["status"] == "idle" and lanes["c"]["status"] == "idle"
    assert took < 12, took


def test_a_stalled_listing_is_an_error_not_a_hang(shell_env, stalling) -> None:
    shell_env.env["FAKE_TMUX_STALL"] = "=s:"  # the listing's -t target: list-panes hangs
    wrapper = Path(shell_env.env["PATH"].split(os.pathsep)[0]) / "tmux"
    wrapper.write_text(
        wrapper.read_text().replace('a == "capture-pane"', 'a == "list-panes"'), encoding="utf-8"
    )
    start = time.monotonic()
    proc = shell_env.run(
        "loop-lane-status.sh", "--json", "--all", "s", env={"LOOP_LANE_STATUS_NO_CACHE": "1"}
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "did not list the panes" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert time.monotonic() - start < 10
