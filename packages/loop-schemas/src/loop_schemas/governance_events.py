"""The events governance writes (lines of events.jsonl), and the boot check's problem: their models.

Exported by loop_schemas.policy too; their own module so that a cycle, which writes these lines but never
validates them, does not build their models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Event(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    id: str
    timestamp: str
    session: str


class HarnessRewrite(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    event: Literal["harness-rewrite"]
    window: str
    role: str
    from_harness: str
    to_harness: str


class HarnessRewriteEvent(_Event):
    """`governance {event: harness-rewrite, window, role, from_harness, to_harness}`: the line's own
    `event` is `governance`, so the governance record is its `governance` object. An add_lane whose harness
    its role disallows was rewritten to the role's default before the gate saw it."""

    event: Literal["governance"]
    governance: HarnessRewrite


class BrainFailedEvent(_Event):
    """`brain-failed` / `brain-timeout`: a brain call gave no answer. failure_kind is the output's class
    (model-unavailable, quota, timeout, exit: tested in that order); failure_class is the engine's (the same,
    or `parse` for an answer with no valid decision block)."""

    event: Literal["brain-failed", "brain-timeout"]
    harness: str
    failure_class: str
    failure_kind: Literal["model-unavailable", "quota", "timeout", "exit"]
    stderr_excerpt: str = ""
    """The last 280 characters of the call's stderr, on one line."""


class BackoffSetEvent(_Event):
    """`model-unavailable-backoff-set` / `quota-backoff-set`: the brain (only) waits until `deadline`."""

    event: Literal["model-unavailable-backoff-set", "quota-backoff-set"]
    deadline: str
    harness: str
    model: str | None = None
    model_failover: str | None = None
    """The harness's declared failover model (registry `model_failover`), or null."""
    resets: str | None = None
    """quota: the reset time the harness printed (`resets <time>`), when it printed one."""


class BackoffClearedEvent(_Event):
    event: Literal["model-unavailable-backoff-cleared", "quota-backoff-cleared"]
    harness: str
    model: str | None = None
    reason: str


class CycleSkipEvent(_Event):
    """`cycle-skip`: the cycle observed (and PM synced) but did not call the brain, by a back-off."""

    event: Literal["cycle-skip"]
    reason: Literal["model-unavailable-backoff", "quota-backoff"]
    deadline: str
    harness: str


class PolicyBootProblem(BaseModel):
    """One problem the boot check found (printed as `error: <message>`; exit 2)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    role: Literal["brain", "ingest"]
    harness: str
    message: str


def policy_events() -> dict[str, type[BaseModel]]:
    """Event name -> the model of that event's line."""
    out: dict[str, type[BaseModel]] = {"governance": HarnessRewriteEvent, "cycle-skip": CycleSkipEvent}
    for name in ("brain-failed", "brain-timeout"):
        out[name] = BrainFailedEvent
    for name in ("model-unavailable-backoff-set", "quota-backoff-set"):
        out[name] = BackoffSetEvent
    for name in ("model-unavailable-backoff-cleared", "quota-backoff-cleared"):
        out[name] = BackoffClearedEvent
    return out
