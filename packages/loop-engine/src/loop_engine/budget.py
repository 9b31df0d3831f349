"""The brain's budget room: calls per hour, and the back-off after a quota failure.

Every call of the brain's harness (the cycle's brain call, a headless ingest, an improve run) spends
from one hourly budget (budget.json) and waits out one back-off (backoff.json).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from loop_engine.basics import one_line
from loop_engine.brain import BrainError
from loop_engine.config import EffectiveConfig
from loop_engine.events import iso, parse_iso, utcnow
from loop_engine.paths import EnginePaths
from loop_engine.store import read_json, updating, write_json


class BrainBudget:
    def __init__(self, paths: EnginePaths, config: EffectiveConfig) -> None:
        self.paths = paths
        self.config = config

    def blocked(self) -> str | None:
        """Why the brain may not be called now (backing off, or the hour's budget spent), else None."""
        backoff: dict[str, Any] = read_json(self.paths.backoff, {})
        until = backoff.get("until")
        if until:
            try:
                if parse_iso(str(until)) > utcnow():
                    return f"brain backing off after a quota failure until {until}"
            except ValueError:
                pass
        limit = int(self.config.model.brain.max_calls_per_hour)
        calls = self.recent_calls()
        if len(calls) >= limit:
            return f"brain budget spent: {len(calls)} calls in the last hour (max_calls_per_hour {limit})"
        return None

    def back_off(self, exc: BrainError) -> str:
        """Hold every call of the brain's harness until the quota resets; the reset time, ISO."""
        reset = iso(exc.reset_at or (utcnow() + timedelta(hours=1)))
        write_json(self.paths.backoff, {"until": reset, "reason": one_line(exc), "since": iso()})
        return reset

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
