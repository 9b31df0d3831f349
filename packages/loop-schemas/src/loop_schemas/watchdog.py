"""`.loop/sessions/<s>/lane-restarts.jsonl`: restart lines (no `event` key) and lifecycle lines."""

from __future__ import annotations

import datetime
import json
import re

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from loop_schemas.errors import SchemaError

TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$"
)
RESTART_TEXT_FIELDS = ("session", "lane", "target", "cmd")


def valid_timestamp(value: object) -> bool:
    """An ISO-8601 date and time (`2026-04-15T11:22:33.123Z`; offsets, a space, no seconds allowed) naming
    a real moment -- the rule shell/lib/metrics.py (loop-metrics) follows."""
    m = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups())
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


class RestartEvent(BaseModel):
    """The watchdog re-issued a lane's launch command. A line without `event` is a restart when its
    `timestamp` is valid (the original's sparse lines, e.g. `{"timestamp": ..., "lane": "web"}`, carry no
    session, target or cmd), or when it carries all of session, lane, target and cmd."""

    # the rule for JSON Schema readers too (a real calendar date is checked by the model only)
    model_config = ConfigDict(
        defer_build=True,
        extra="allow",
        json_schema_extra={
            "anyOf": [
                {"properties": {"timestamp": {"pattern": TIMESTAMP_RE.pattern}}},
                {
                    "required": list(RESTART_TEXT_FIELDS),
                    "properties": {k: {"type": "string"} for k in RESTART_TEXT_FIELDS},
                },
            ]
        },
    )

    timestamp: str
    session: str | None = None
    lane: str | None = None
    target: str | None = None
    cmd: str | None = None
    attempt: int | None = None

    @model_validator(mode="after")
    def _a_restart(self) -> RestartEvent:
        if not valid_timestamp(self.timestamp) and any(getattr(self, k) is None for k in RESTART_TEXT_FIELDS):
            raise ValueError("a restart line needs an ISO-8601 timestamp, or session, lane, target and cmd")
        return self


class WatchdogLifecycleEvent(BaseModel):
    """A watchdog lifecycle line (giving-up, started, stopped, backoff, ...): it always carries `event`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    timestamp: str
    session: str
    lane: str | None = None
    target: str | None = None
    event: str
    detail: str | None = None


class WatchdogLineError(SchemaError):
    """A lane-restarts.jsonl line that is neither shape."""


def parse_watchdog_line(line: str | bytes) -> RestartEvent | WatchdogLifecycleEvent:
    try:
        data = json.loads(line)
    except RecursionError:
        raise WatchdogLineError("too deeply nested to read") from None
    except ValueError as exc:
        raise WatchdogLineError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WatchdogLineError("a watchdog line must be a JSON object")
    model: type[RestartEvent] | type[WatchdogLifecycleEvent] = (
        WatchdogLifecycleEvent if "event" in data else RestartEvent
    )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise WatchdogLineError(f"{loc or 'line'}: {err.get('msg')}") from None
