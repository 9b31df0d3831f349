"""loop-dispatch and drop-lane on the real CLIs (issue 16): a permission prompt is never answered by a
dispatch, an interrupt never merges the steer into the interrupted prompt, the Claude hook is never
staler than the screen, and drop-lane ends the lane's whole process tree (codex's detached app-server)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from real_agents import HARNESSES, RealSession, retry_until

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

TOOL_FILE = "stub-tool-out.txt"


def start(real: RealSession, harness: str) -> str:
    lane = f"w-{harness}"
    real.add_lane(lane, harness)
    real.wait_status(lane, "idle", "ready", timeout=120)
    return lane


def send(real: RealSession, lane: str, text: str, *extra: str, check: bool = True):
    return real.dispatch(lane, "--mode", "text", "--no-clear", *extra, "--", text, check=check)


@pytest.mark.parametrize("harness", ("claude", "codex"))
def test_dispatch_never_answers_a_permission_prompt(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    send(real, lane, "STUB:TOOL write a file")
    real.wait_status(lane, "awaiting-approval", "approval")
    for extra in ((), ("--wait-ready", "--ready-timeout", "3")):
        proc = send(real, lane, "NOT-AN-ANSWER", *extra, check=False)
        assert proc.returncode == 1, (extra, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert real.word(lane)[:2] == ("awaiting-approval", "approval")
    assert not (real.project / TOOL_FILE).exists()
    assert not any("NOT-AN-ANSWER" in t for t in real.stub.user_parts())
    assert "NOT-AN-ANSWER" not in real.capture(lane)


@pytest.mark.parametrize("harness", HARNESSES)
def test_interrupt_never_merges_the_steer(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    send(real, lane, "STUB:HANG think before answering")
    real.wait_prompt("STUB:HANG think before answering")
    real.wait_status(lane, "working", "busy")
    send(real, lane, "steer during thinking", "--interrupt")
    request = real.wait_prompt("steer during thinking")
    parts = request["user_texts"]
    assert parts[-1] == "steer during thinking", parts  # type: ignore[index]
    assert not any("answeringsteer" in t or ("STUB:HANG" in t and "steer" in t) for t in parts), parts  # type: ignore[union-attr]


def test_claude_hook_follows_approval_cancel_and_api_error(real: RealSession) -> None:
    real.install_claude_hook()
    lane = start(real, "claude")
    # the SessionStart hook writes its file a moment after the prompt is drawn
    retry_until(lambda: real.status(lane)["source"] == "hook", 30, what="the hook's status file read")
    # approved: the tool runs, the turn ends, the lane is idle again (not stuck awaiting-approval)
    send(real, lane, "STUB:TOOL approve me")
    real.wait_status(lane, "awaiting-approval", "approval")
    real.keys(lane, "Enter")  # "1. Yes"
    retry_until((real.project / TOOL_FILE).exists, 60, what="the approved tool's file")
    real.wait_status(lane, "idle", "ready", timeout=60)
    # cancelled with Esc: idle, not awaiting-approval
    (real.project / TOOL_FILE).unlink()
    send(real, lane, "STUB:TOOL cancel me")
    real.wait_status(lane, "awaiting-approval", "approval")
    real.keys(lane, "Escape")
    real.wait_status(lane, "idle", timeout=30)
    assert not (real.project / TOOL_FILE).exists()
    # an API error: not `working` for a minute; the lane takes the next prompt
    send(real, lane, "STUB:FAIL400 hooked")
    real.wait_prompt("STUB:FAIL400 hooked")
    retry_until(lambda: real.word(lane)[0] != "working", 20, what="the lane off `working` after an API error")
    send(real, lane, "after the hooked error", "--wait-ready", "--ready-timeout", "30")
    real.wait_prompt("after the hooked error")


def lane_processes(real: RealSession, lane: str) -> set[int]:
    """Processes whose environment names the lane's pane on this test's tmux server (everything the lane
    started, detached or not; a pane id alone is not unique across servers)."""
    mark = b"TMUX_PANE=" + real.pane(lane).encode() + b"\0"
    server = b"TMUX=" + real.socket.encode() + b","
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if mark in environ and server in environ and comm != "tmux: server":
            found.add(int(entry))
    return found


def started(pid: int) -> str:
    """The process's start time (field 22 of /proc/PID/stat): tells a pid from a later reuse of it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def alive(pid: int, start: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == start


@pytest.mark.parametrize("harness", HARNESSES)
def test_drop_lane_ends_the_whole_process_tree(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    send(real, lane, "hello before the drop")
    real.wait_prompt("hello before the drop")
    real.wait_status(lane, "idle", timeout=60)
    before = {pid: started(pid) for pid in lane_processes(real, lane)}
    assert before, "the lane's processes carry its HOME"
    real.run("loop-tmux.sh", "drop-lane", "--session", real.session, "--window", lane, timeout=120)
    deadline = time.monotonic() + 30
    while (
        left := [describe(p) for p, start in before.items() if alive(p, start)]
    ) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not left, f"processes of the dropped {harness} lane still run: {left}"


def describe(pid: int) -> str:
    try:
        return f"{pid} " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return f"{pid} (gone)"
