#!/usr/bin/env python3
"""proctree: find and end every process of a lane's pane, not only the pane (stdlib only, 3.8+).

Killing a tmux pane (kill-window, respawn-pane -k) signals the pane's own processes only. A harness
may leave processes that setsid() away from the pane's session and are adopted by init once their
parent exits (codex 0.171 starts a detached `codex app-server` that outlives drop-lane and even
kill-server). A lane's processes are, as far as they can be found:

  * every descendant of the pane's first process (pane_pid), by parent pid (one `ps -A`);
  * every process in a process group or session led by one of those (orphans that kept the group);
  * every process whose environment says it was started in this pane of this tmux server: tmux puts
    TMUX_PANE=%N and TMUX=<socket>,<server pid>,<session> into each pane's environment and children
    inherit it, so a process that setsid()'d and was adopted by init still carries it (Linux: read
    from /proc/<pid>/environ; elsewhere from `ps -E`), with everything they started in turn.

Never this process, its ancestors, or pid 1: `loop-tmux drop-lane` typed inside the lane it drops
must not end itself before the window is gone. end() sends SIGTERM, waits a short grace for them to
exit, then SIGKILLs those still there, each checked to still be the same process (its start time)
so a pid reused meanwhile is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from typing import Dict, Iterable, List, Optional, Set, Tuple

Row = Tuple[int, int, int, int]  # pid, ppid, pgid, sid (sid -1 where ps cannot tell)


def _ps(*args: str) -> Optional[str]:
    try:
        proc = subprocess.run(["ps", *args], capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace")


def process_rows() -> List[Row]:
    """(pid, ppid, pgid, sid) of every process; sid is -1 where ps has no sid keyword (macOS)."""
    text = _ps("-A", "-o", "pid=", "-o", "ppid=", "-o", "pgid=", "-o", "sid=")
    with_sid = text is not None
    if text is None:
        text = _ps("-A", "-o", "pid=", "-o", "ppid=", "-o", "pgid=") or ""
    rows: List[Row] = []
    for line in text.splitlines():
        parts = line.split()
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            continue
        if with_sid and len(nums) == 4:
            rows.append((nums[0], nums[1], nums[2], nums[3]))
        elif not with_sid and len(nums) == 3:
            rows.append((nums[0], nums[1], nums[2], -1))
    return rows


def _env_has(environ: bytes, pane_id: str, tmux_prefix: str) -> bool:
    items = environ.split(b"\0")
    return (f"TMUX_PANE={pane_id}".encode() in items) and any(
        item.startswith(f"TMUX={tmux_prefix}".encode()) for item in items
    )


def pids_started_in_pane(pane_id: str, socket: str, server_pid: str) -> Set[int]:
    """Processes of this user whose environment names this pane of this tmux server."""
    prefix = f"{socket},{server_pid},"
    found: Set[int] = set()
    if os.path.isdir("/proc/self"):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    environ = fh.read()
            except OSError:
                continue  # gone, or another user's
            if _env_has(environ, pane_id, prefix):
                found.add(int(name))
        return found
    text = _ps("-A", "-wwE", "-o", "pid=", "-o", "command=") or ""
    pane_word, tmux_word = f" TMUX_PANE={pane_id} ", f" TMUX={prefix}"
    for line in text.splitlines():
        pid, _, command = line.strip().partition(" ")
        if pid.isdigit() and pane_word in f" {command} " and tmux_word in f" {command}":
            found.add(int(pid))
    return found


def ancestors(rows: Iterable[Row], pid: int) -> Set[int]:
    parent = {r[0]: r[1] for r in rows}
    out: Set[int] = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        pid = parent.get(pid, 0)
    return out


def lane_pids(pane_pid: int, pane_id: str = "", socket: str = "", server_pid: str = "") -> Set[int]:
    """Every process of the pane whose first process is `pane_pid` (see the module doc)."""
    rows = process_rows()
    children: Dict[int, List[int]] = {}
    for pid, ppid, _pgid, _sid in rows:
        children.setdefault(ppid, []).append(pid)
    roots = {pane_pid} if pane_pid > 1 else set()
    if pane_id and socket and server_pid:
        roots |= pids_started_in_pane(pane_id, socket, server_pid)
    found: Set[int] = set()
    while True:
        todo = [p for p in roots if p not in found]
        while todo:
            pid = todo.pop()
            if pid in found:
                continue
            found.add(pid)
            todo.extend(children.get(pid, []))
        # groups and sessions led by a lane process: members that were orphaned but kept them
        more = {pid for pid, _ppid, pgid, sid in rows if (pgid in found or sid in found) and pid not in found}
        if not more:
            break
        roots = more
    return found - ancestors(rows, os.getpid()) - {0, 1}


def start_times(pids: Iterable[int]) -> Dict[int, str]:
    """{pid: its start time} for the pids still there and not zombies."""
    wanted = sorted(set(pids))
    if not wanted:
        return {}
    text = _ps("-o", "pid=", "-o", "stat=", "-o", "lstart=", "-p", ",".join(str(p) for p in wanted)) or ""
    out: Dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit() and not parts[1].startswith("Z"):
            out[int(parts[0])] = parts[2].strip()
    return out


def signal_each(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def terminate(pids: Set[int]) -> Dict[int, str]:
    """SIGTERM each of `pids` still there; return {pid: start time} of those signalled (see finish)."""
    known = start_times(pids)
    signal_each(known, signal.SIGTERM)
    return known


def finish(known: Dict[int, str], grace: float) -> Set[int]:
    """Wait up to `grace` seconds for the processes terminate() signalled to exit, then SIGKILL those
    still there that are still the same process (same start time). Returns the pids killed."""
    deadline = time.monotonic() + grace
    alive = dict(known)
    while alive:
        alive = {p: t for p, t in start_times(alive).items() if known.get(p) == t}
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    signal_each(alive, signal.SIGKILL)
    return set(alive)


def grace_seconds() -> float:
    raw = os.environ.get("LOOP_LANE_KILL_GRACE_S", "")
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        value = 1.0
    return value if 0 <= value < 60 else 1.0
