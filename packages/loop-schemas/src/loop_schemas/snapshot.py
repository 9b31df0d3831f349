"""engine/snapshot.json: the engine's last good observation, kept for the cycle whose look fails.

The original's keys (`contract_version, generated_at, lanes: {lane: {status, target, kind}}, loops,
mailbox_pending, processed_count, restarts_tail, checkpoint_tokens`) are all here; a lane entry also
carries (an addition) what a stale cycle needs to gate as a fresh one would (harness, agent, base, …).
Both engines may have written the file, so unknown keys are kept (extra="allow"). It is a cache:
a reader takes a missing or damaged file as "no snapshot" (see `parse_snapshot`).
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loop_schemas._factories import empty_list
from loop_schemas.errors import SchemaError

RESTARTS_TAIL_MAX = 10


class SnapshotLane(BaseModel):
    """One lane as the last good observation saw it."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    status: str
    target: str | None = None
    kind: str | None = None  # lane-status's kind: fixed | dynamic
    # additions: the rest of what the engine's observation knew of the lane
    detail: str | None = None
    harness: str | None = None
    agent: bool = False
    base: bool = False
    role: str | None = None
    lane_kind: str | None = None  # @loop_lane_kind: standing | worker
    tag_harness: str | None = None
    sandboxed: bool = False


class Snapshot(BaseModel):
    """engine/snapshot.json, written (atomically, not fsync'd: a cache) after each good observation."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    generated_at: str
    lanes: dict[str, SnapshotLane]
    loops: dict[str, Any] = Field(default_factory=dict)
    mailbox_pending: list[str] = Field(default_factory=empty_list)
    processed_count: int = Field(default=0, ge=0)
    restarts_tail: list[dict[str, Any]] = Field(default_factory=empty_list, max_length=RESTARTS_TAIL_MAX)
    checkpoint_tokens: int | None = Field(default=None, ge=0)
    # an addition: the registry's AI harness names, for the gate of a stale cycle
    ai_harnesses: list[str] = Field(default_factory=empty_list)


def parse_snapshot(text: str) -> Snapshot:
    """The snapshot in `text`; SchemaError (one line) when it is not JSON or not a snapshot."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SchemaError(f"snapshot.json is not JSON: {exc}") from None
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(top)"
        raise SchemaError(f"snapshot.json: {loc}: {err.get('msg')}") from None
