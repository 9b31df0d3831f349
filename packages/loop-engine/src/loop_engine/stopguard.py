"""The defensive stop: before the engine obeys a brain's `stop`, it checks the two ways a stop is false.

A stop is obeyed by idling: the cycle ends `noop` and the daemon asks the brain again only when what it
sees changes. Two stops would let the loop die quietly:
- idle stall: a lane the observation saw `working` may be misread (harness chrome that looks busy), so
  the brain waits on a fleet that is really idle. Those lanes are probed again (lane-status); one still
  working: `stop-suspected-idle-stall {lanes}` and no stop. A lane that cannot be probed counts as not
  working.
- mailbox race: mail that landed after the observation is work the brain never saw. The mailbox is read
  again (not after a stale observation: its list is old, every file would look new); a pending file the
  observation did not list: `stop-suspected-mailbox-race {files}` and no stop. A re-read that fails:
  `stop-mailbox-recheck-failed {error}`, and the stop is obeyed.
"""

from __future__ import annotations

import os
from pathlib import Path

from loop_schemas import SchemaError, parse_mail_name

from loop_engine.basics import one_line
from loop_engine.events import EventLog
from loop_engine.observe import Observation, SubstrateLike

IDLE_STALL = "stop-suspected-idle-stall"
MAILBOX_RACE = "stop-suspected-mailbox-race"


class StopGuard:
    def __init__(self, mailbox: Path, substrate: SubstrateLike, events: EventLog) -> None:
        self.mailbox = mailbox
        self.substrate = substrate
        self.events = events

    def suspect(self, cycle_id: str, obs: Observation) -> tuple[str, str] | None:
        """(outcome, detail) when the stop must not be obeyed; None when it may be."""
        working = sorted(n for n, v in obs.lanes.items() if v.status == "working")
        still = self._still_working(working)
        if still:
            self.events.emit(IDLE_STALL, cycle_id=cycle_id, lanes=still)
            return IDLE_STALL, f"a lane seen working still works ({', '.join(still)}): no stop"
        if obs.stale:
            return None
        try:
            now = pending_names(self.mailbox)
        except OSError as exc:
            self.events.emit("stop-mailbox-recheck-failed", cycle_id=cycle_id, error=one_line(exc))
            return None
        new = sorted(now - {m.name for m in obs.mail})
        if new:
            self.events.emit(MAILBOX_RACE, cycle_id=cycle_id, files=new)
            return MAILBOX_RACE, f"{len(new)} message(s) arrived after the observation: no stop"
        return None

    def _still_working(self, lanes: list[str]) -> list[str]:
        if not lanes:
            return []
        try:
            # one lane: its own probe; more: one look at the fleet (one client, not one per lane)
            statuses = self.substrate.lane_status(lanes[0] if len(lanes) == 1 else None)
        except Exception:  # not probed: not counted as working
            return []
        return sorted(str(s.lane) for s in statuses if s.lane in lanes and s.status == "working")


def pending_names(mailbox: Path) -> set[str]:
    """The names of the pending messages (the top level of the mailbox, as the observation lists them);
    OSError when the mailbox cannot be listed."""
    names: set[str] = set()
    with os.scandir(mailbox) as entries:
        for entry in entries:
            if not entry.name.endswith(".md") or not entry.is_file(follow_symlinks=False):
                continue
            try:
                parse_mail_name(entry.name)
            except SchemaError:
                continue
            names.add(entry.name)
    return names
