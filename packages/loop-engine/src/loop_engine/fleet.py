"""The fleet room: what the lanes and the mailbox say, and what the engine follows up on.

It observes the lanes (through the substrate) and the pending mail, mirrors lane statuses into the
state file, follows in-progress tasks to their completion reports (→ review) and asks to their replies
or timeouts, and sums up what a brain call would see as one fingerprint.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from loop_schemas import Harness, Lane, LaneStatus, SchemaError, StateLane, update_state

from loop_engine.asks import AskBook
from loop_engine.basics import SideBySide, one_line
from loop_engine.events import EventLog, iso, parse_iso
from loop_engine.execute import read_uncertain
from loop_engine.handoff import Handoffs
from loop_engine.observe import (
    MailItem,
    Observation,
    SubstrateLike,
    acked_mail,
    mail_dropped,
    observe_lanes,
    read_mailbox,
)
from loop_engine.paths import EnginePaths
from loop_engine.store import read_json, updating, write_json
from loop_engine.tasks import TaskError, TaskView, set_status


def _held_by(assignments: dict[str, Any], lane: str) -> dict[str, datetime]:
    """The in-progress tasks `lane` holds, each with when the engine dispatched it (its authority on
    which mail can be that task's report); an entry whose dispatch time is unreadable takes no report."""
    held: dict[str, datetime] = {}
    for tid, a in assignments.items():
        if a.get("lane") == lane and a.get("state") == "in-progress":
            try:
                held[tid] = parse_iso(str(a.get("dispatched_at")))
            except ValueError:
                continue
    return held


class Fleet:
    def __init__(
        self,
        paths: EnginePaths,
        substrate: SubstrateLike,
        events: EventLog,
        asks: AskBook,
        handoffs: Handoffs,
    ) -> None:
        self.paths = paths
        self.substrate = substrate
        self.events = events
        self.asks = asks
        self.handoffs = handoffs
        self._registry: list[Harness] | None = None
        self._windows: list[Lane] | None = None
        self._statuses: list[LaneStatus] | None = None

    def registry(self) -> list[Harness]:
        if self._registry is None:
            self._registry = list(self.substrate.registry())
        return self._registry

    def harness(self, name: str) -> Harness | None:
        return next((h for h in self.registry() if h.name == name), None)

    def probe(self, *, statuses: bool = False) -> None:
        """Prove the session's tmux server answers: its windows are listed (list-lanes; its failure is
        what the caller reports); with `statuses`, the lane statuses are read alongside. The next
        observation uses what was read instead of asking again (see forget)."""
        self.forget()
        with SideBySide() as pool:
            f_status = pool.submit(self.substrate.lane_status) if statuses else None
            windows = list(self.substrate.list_lanes())
            try:
                read = list(f_status.result()) if f_status is not None else None
            except Exception:  # the observation asks again, and reports it there
                read = None
        self._windows, self._statuses = windows, read

    def forget(self) -> None:
        """What probe read may be stale (another cycle ran since): the next observation asks again."""
        self._windows = self._statuses = None

    def observe(self) -> Observation:
        # what a probe read serves one observation at most
        windows, statuses = self._windows, self._statuses
        self.forget()
        lanes, ai, self._registry = observe_lanes(self.substrate, self._registry, windows, statuses)
        if mail_dropped(self.paths.mailbox):  # a sandboxed lane's mail waits in its drop folder
            try:
                self.substrate.sweep_mail(self.paths.mailbox)
            except Exception as exc:  # the drop stays where it is: the next cycle sweeps again
                self.events.emit("mail-sweep-failed", component="engine", error=one_line(exc))
        mail, processed = read_mailbox(self.paths.mailbox, self.paths.mail_index)
        return Observation(lanes=lanes, mail=mail, ai_harnesses=ai, processed=processed)

    def record_lanes(self, obs: Observation) -> None:
        """Mirror lane statuses into the state file's extended `lanes` (only when they changed)."""
        path = self.paths.state_file
        if not path.is_file():
            return
        wanted = {n: (v.status, v.harness) for n, v in obs.lanes.items()}
        seen: dict[str, Any] = read_json(self.paths.lanes_seen, {})
        if seen.get("lanes") == {n: list(v) for n, v in wanted.items()}:
            return

        def change(state: Any) -> None:
            now = iso()
            state.lanes = {
                n: StateLane(status=s, harness=h, updated_at=now) for n, (s, h) in sorted(wanted.items())
            }
            state.updated_at = now

        try:
            update_state(path, change)
        except SchemaError as exc:
            self.events.emit("state-invalid", file=str(path), error=one_line(exc))
            return
        write_json(self.paths.lanes_seen, {"lanes": {n: list(v) for n, v in wanted.items()}})

    def track(self, obs: Observation, tasks: list[TaskView]) -> list[str]:
        """Follow the fleet: lanes seen working, completion reports (→ review), ask replies, timeouts."""
        by_id = {t.id: t for t in tasks}
        changed: list[str] = []
        acked = self._acked_since_work_began()
        mail = [*obs.mail, *acked]
        if self.paths.assignments.exists():
            # only tasks the engine dispatched are followed to their reports: a cycle without them never
            # loads the report reader
            from loop_engine.reports import reported_tasks

            with updating(self.paths.assignments, {}) as assignments:
                for a in assignments.values():
                    if a.get("state") != "in-progress":
                        continue
                    lane = obs.lanes.get(str(a.get("lane")))
                    if lane is not None and lane.status == "working":
                        a["seen_working"] = True
                for item in mail:
                    held = _held_by(assignments, item.sender)
                    for tid in reported_tasks(item, held):
                        task = by_id.get(tid)
                        try:
                            moved = task is not None and set_status(
                                task.path, "review", only_from=("in-progress", "open")
                            )
                        except TaskError as exc:
                            self.events.emit("task-update-failed", task=tid, error=one_line(exc))
                            continue
                        assignments[tid].update(state="review", report=item.name, reported_at=iso())
                        changed.append(tid)
                        self.events.emit(
                            "task-review", task=tid, lane=item.sender, mail=item.name, moved=moved
                        )
        self.asks.settle(mail, self.events)
        self.handoffs.settle(mail)
        return changed

    def _acked_since_work_began(self) -> list[MailItem]:
        """Mail already acked (processed/) that may still be a report or a reply the engine has not seen:
        stamped no earlier than the oldest in-progress dispatch or open ask (less a two-minute margin
        for clocks). Nothing in flight: nothing is read, so an idle loop never lists processed/."""
        since: list[datetime] = []
        for path, key, live in (
            (self.paths.assignments, "dispatched_at", "in-progress"),
            (self.paths.asks, "asked_at", "open"),
            (self.handoffs.book, "recovered_at", "recovering"),  # a handoff ack an ingest already acked
        ):
            data = read_json(path, {})
            for entry in data.values() if isinstance(data, dict) else ():
                if isinstance(entry, dict) and entry.get("state") == live:
                    try:
                        since.append(parse_iso(str(entry.get(key))))
                    except ValueError:
                        continue
        if not since:
            return []
        # message names are stamped in UTC (loop-mail writes them so)
        stamp = (min(since) - timedelta(seconds=120)).astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return acked_mail(self.paths.mailbox, stamp, self.paths.acked_names)

    def fingerprint(self, obs: Observation, tasks: list[TaskView]) -> str:
        """What a brain call would see, summed up: the same fingerprint means nothing changed."""
        try:
            st = self.paths.state_file.stat()
            state = f"{st.st_mtime_ns}:{st.st_size}"
        except OSError:
            state = "-"
        task_part = ",".join(f"{t.id}={t.status}" for t in sorted(tasks, key=lambda t: t.id))
        asks = ",".join(f"{k}={v.get('state')}" for k, v in sorted(self.asks.all().items()))
        return obs.fingerprint(f"{state}|{task_part}|{asks}|{len(read_uncertain(self.paths))}")
