"""The brain's budget room: calls per hour, and the back-off after a quota or model-unavailable failure.

Every call of the brain's harness (the cycle's brain call, a headless ingest, an improve run) spends
from one hourly budget (budget.json) and waits out one back-off (backoff.json, per (harness, model):
loop_engine.outage keeps it, with its events).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from loop_engine import outage
from loop_engine.brain import BrainError
from loop_engine.config import EffectiveConfig
from loop_engine.events import EventLog, iso, parse_iso, utcnow
from loop_engine.paths import EnginePaths
from loop_engine.store import read_json, updating


class BrainBudget:
    def __init__(self, paths: EnginePaths, config: EffectiveConfig, events: EventLog | None = None) -> None:
        self.paths = paths
        self.config = config
        self.events = events or EventLog(paths.events, paths.session)
        self.hold: dict[str, Any] | None = None  # the back-off that held the brain at the last blocked()

    def model(self, harness: str) -> str | None:
        """The model the brain runs on `harness`: a human's re-pin, else brain.model."""
        return outage.pinned_model(self.paths, harness, self.config.model.brain.model or None)

    def blocked(self) -> str | None:
        """Why the brain may not be called now (backing off, or the hour's budget spent), else None."""
        harness = self.config.brain_harness
        self.hold = outage.held(self.paths, self.events, harness=harness, model=self.model(harness))
        if self.hold is not None:
            until = self.hold.get("until")
            if self.hold["kind"] == "model-unavailable":
                return f"brain backing off: its model is unavailable until {until}"
            return f"brain backing off after a quota failure until {until}"
        limit = int(self.config.model.brain.max_calls_per_hour)
        calls = self.recent_calls()
        if len(calls) >= limit:
            return f"brain budget spent: {len(calls)} calls in the last hour (max_calls_per_hour {limit})"
        return None

    def deadline(self, exc: BrainError) -> str:
        """When a back-off for this failure would end, ISO."""
        return outage.deadline_for(exc, float(self.config.model.brain.quota_backoff_minutes))

    def back_off(self, exc: BrainError, *, failover: str = "", deadline: str | None = None) -> str:
        """Hold every call of the brain's harness until the quota resets, or for quota_backoff_minutes
        after a model-unavailable failure (events in loop_engine.outage); the deadline, ISO."""
        harness = self.config.brain_harness
        return outage.set_backoff(
            self.paths,
            self.events,
            exc,
            harness=harness,
            model=self.model(harness),
            minutes=float(self.config.model.brain.quota_backoff_minutes),
            failover=failover,
            deadline=deadline,
        )

    def recent_calls(self) -> list[str]:
        data: dict[str, Any] = read_json(self.paths.budget, {})
        cutoff = utcnow() - timedelta(hours=1)
        out = []
        for stamp in data.get("calls", []):
            try:
                if parse_iso(str(stamp)) > cutoff:
                    out.append(str(stamp))
            except ValueError:
                continue
        return out

    def spend(self) -> None:
        with updating(self.paths.budget, {}) as data:
            data["calls"] = [*self.recent_calls(), iso()]
