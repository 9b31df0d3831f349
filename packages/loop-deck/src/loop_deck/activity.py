"""A cheap look at a session's panes between two status polls: could a loop-lane-status call see anything new?

`loop-lane-status --json --all` costs a bash, a python and a tmux client per call (~25 ms of CPU); this
costs one tmux client (~3 ms): a `list-panes -s` of the session with, per pane, what the status is made
of that is not on the screen (pane id, pid, dead or not, its command, its window, the lane options) and
the second its window last printed anything (`window_activity`, which tmux moves on every byte a pane
writes), plus the modification times of the hook-status folders (a hook writes by rename). The Reader
runs loop-lane-status only when this moved, when output landed in the second the last look was taken (a
second's resolution cannot tell it from output before the look), or when the last poll is older than
its recheck interval. Read-only: it runs no CLI of the project and writes nothing.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# window_activity first, @loop_state_dir second: the two fields read back (split at the first two tabs)
FORMAT = "\t".join(
    (
        "#{window_activity}",
        "#{@loop_state_dir}",
        "#{pane_id}",
        "#{pane_pid}",
        "#{pane_dead}",
        "#{pane_current_command}",
        "#{window_id}",
        "#{pane_index}",
        "#{@loop_lane}",
        "#{@loop_lane_harness}",
        "#{window_name}",
    )
)
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Activity:
    """One look at the panes: `signature` changes whenever anything a status is made of changed, except
    output within the second of `newest` (the newest output second of any window); `taken_at` is the
    wall-clock time of the look."""

    signature: object
    newest: int
    taken_at: float

    def covers(self, later: Activity) -> bool:
        """True when `later` shows nothing that a status poll started right after this look missed: the
        same signature, and no output in the second of this look or after it."""
        return later.signature == self.signature and self.newest < int(self.taken_at)


class ActivityProbe:
    """Looks at one session's panes (callable: an Activity, or None when tmux could not answer)."""

    def __init__(self, session: str, project_root: Path, socket: str | None = None) -> None:
        self.session = session
        self.project_root = project_root
        socket = socket if socket is not None else (os.environ.get("LOOP_TMUX_SOCKET") or None)
        self.argv = ["tmux", *(("-S", socket) if socket else ()), "list-panes", "-s"]
        self.argv += ["-t", f"={session}:", "-F", FORMAT]

    def __call__(self) -> Activity | None:
        taken_at = time.time()  # tmux's clock: window_activity is wall-clock seconds
        try:
            proc = subprocess.run(self.argv, capture_output=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode != 0:
            return None
        newest = 0
        state_dirs: set[str] = set()
        for line in proc.stdout.splitlines():
            fields = line.split(b"\t", 2)
            if len(fields) != 3:
                return None
            try:
                newest = max(newest, int(fields[0]))
            except ValueError:
                return None
            if fields[1]:
                state_dirs.add(os.fsdecode(fields[1]))
        return Activity((proc.stdout, self.hook_stamps(state_dirs)), newest, taken_at)

    def hook_stamps(self, state_dirs: set[str]) -> tuple[tuple[str, int | None], ...]:
        """The mtime of every folder a hook status file of this session may be in (loop-lane-status's
        hook_dir: LOOP_LANE_HOOK_DIR, else LOOP_TMUX_STATE_DIR or a pane's @loop_state_dir, + /hooks,
        else $TMPDIR/loop-lane-hooks-<uid>)."""
        tmp = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - loop-lane-status's own fallback
        folders = {Path(tmp) / f"loop-lane-hooks-{os.getuid()}"}
        explicit = os.environ.get("LOOP_LANE_HOOK_DIR")
        if explicit:
            folders.add(self.project_root / explicit)
        for state in (os.environ.get("LOOP_TMUX_STATE_DIR"), *state_dirs):
            if state:
                folders.add(self.project_root / state / "hooks")
        stamps: list[tuple[str, int | None]] = []
        for folder in sorted(folders):
            try:
                stamps.append((str(folder), os.stat(folder).st_mtime_ns))
            except OSError:
                stamps.append((str(folder), None))
        return tuple(stamps)
