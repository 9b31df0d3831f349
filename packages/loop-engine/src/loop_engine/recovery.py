"""The recovery room: close out executions a crash interrupted (executing/<id>.json left behind).

An action marked `started` may have been sent: it becomes uncertain for a human, never re-sent. One
marked `done` has its bookkeeping redone (idempotent); one never started goes back to the queue.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from loop_schemas import read_project_text
from loop_schemas.fsread import ENGINE_CAP

from loop_engine import queue as q
from loop_engine.basics import target_of
from loop_engine.events import EventLog, iso
from loop_engine.execute import Executor
from loop_engine.paths import EnginePaths
from loop_engine.store import updating
from loop_engine.tasks import task_of_payload


class Recovery:
    def __init__(self, paths: EnginePaths, events: EventLog, executor: Executor) -> None:
        self.paths = paths
        self.events = events
        self.executor = executor

    def recover(self) -> list[dict[str, Any]]:
        """Close out executions a crash interrupted: started actions become uncertain, never re-sent."""
        found: list[dict[str, Any]] = []
        with q.locked(self.paths):
            for path in q.interrupted(self.paths):
                try:
                    record: dict[str, Any] = json.loads(read_project_text(path, ENGINE_CAP))
                except (OSError, ValueError, RecursionError):
                    os.replace(path, path.with_suffix(".corrupt"))
                    self.events.emit("recovery-corrupt", file=str(path))
                    continue
                found.extend(self._recover_one(path, record))
            # a pending decision still showing `running` actions lost its executing record: never re-run
            pending = q.read_pending(self.paths)
            if pending is not None and any(g.get("state") == "running" for g in pending.get("gates", [])):
                for g in pending["gates"]:
                    if g.get("state") == "running":
                        g["state"] = "uncertain"
                q.write_pending(self.paths, pending)
        return found

    def _recover_one(self, path: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        actions = record.get("decision", {}).get("actions", [])
        states: dict[int, str] = {}
        for step in record.get("steps", []):
            i = int(step.get("index", -1))
            if not 0 <= i < len(actions):
                continue
            action = actions[i]
            state = step.get("state")
            if state == "started":
                entry = {
                    "id": f"{record['id']}#{i}",
                    "decision_id": record["id"],
                    "index": i,
                    "kind": action.get("kind"),
                    "target": target_of(action),
                    "task": task_of_payload(str(action.get("payload") or "")),
                    "action": action,
                    "started_at": step.get("started_at"),
                    "since": iso(),
                }
                with updating(self.paths.uncertain, []) as uncertain:
                    if all(u.get("id") != entry["id"] for u in uncertain):
                        uncertain.append(entry)
                states[i] = "uncertain"
                found.append(entry)
                self.events.emit(
                    "action-uncertain",
                    decision_id=record["id"],
                    index=i,
                    kind=action.get("kind"),
                    target=entry["target"],
                    reason="the engine stopped after this action started: it may have been sent; "
                    "a human must check (loop-engine resolve)",
                )
            elif state == "done":
                self.executor.after(action, record, i, started_at=step.get("started_at"))
                states[i] = "done"
            elif state == "failed":
                states[i] = "failed"
            else:
                # never started, so certainly never sent: it goes back to the queue for a human
                states[i] = "queued"
                self.events.emit(
                    "action-abandoned",
                    decision_id=record["id"],
                    index=i,
                    kind=action.get("kind"),
                    reason="not started before the engine stopped; back in the queue",
                )
        for i, state in states.items():
            record["gates"][i]["state"] = state
        record.pop("steps", None)
        pending = q.read_pending(self.paths)
        if pending is not None and pending.get("id") == record.get("id"):
            for i, state in states.items():
                pending["gates"][i]["state"] = state
            if any(g.get("state") == "queued" for g in pending["gates"]):
                q.write_pending(self.paths, pending)
            else:
                q.archive(self.paths, pending, "interrupted")
                q.clear_pending(self.paths)
        elif pending is None and any(s == "queued" for s in states.values()):
            q.write_pending(self.paths, record)  # the never-sent rest waits for a human
        else:
            q.archive(self.paths, record, "interrupted")
        q.finish_execution(path)
        self.events.emit(
            "recovered", decision_id=record.get("id"), states={str(k): v for k, v in states.items()}
        )
        return found
