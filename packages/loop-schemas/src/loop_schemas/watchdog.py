"""`.loop/sessions/<s>/lane-restarts.jsonl`: restart lines (no `event` key) and lifecycle lines."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, ValidationError

from loop_schemas.errors import SchemaError


class RestartEvent(BaseModel):
    """The watchdog re-issued a lane's launch command. A line without `event` is always a restart."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    timestamp: str
    session: str
    lane: str
    target: str
    cmd: str
    attempt: int | None = None


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
