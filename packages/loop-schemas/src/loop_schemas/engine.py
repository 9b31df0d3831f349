"""Files the engine keeps under .loop/sessions/<s>/engine/: the pending decision and events.jsonl."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loop_schemas._factories import empty_list
from loop_schemas.errors import SchemaError
from loop_schemas.lane_config import EngineConfig

# the pending decision's models live in loop_schemas.pending (a cycle that queues a decision loads them
# without the status, event and result models below); they are this module's names too
from loop_schemas.pending import ActionState, GateClass, GatedAction, PendingDecision

# The verify drive's events (loop_schemas.drive holds their models)
DRIVE_EVENTS = (
    "verify-started",
    "verify-skip",
    "verify-passed",
    "verify-failed",
    "verify-stale",
    "verify-timeout",
    "build-started",
    "build-skip",
    "build-unsandboxed",
    "build-done",
    "build-failed",
    "build-timeout",
    "build-usage",
    "fix-round-cap",
    "merge-done",
    "merge-refused",
    "run-orphan",
)

# The event names the engine writes; the union is open (extra event types are allowed).
KNOWN_EVENTS = (
    "cycle-start",
    "observed",
    "observe-stale",
    "observe-failed",
    "task-invalid",
    "task-review",
    "task-in-progress",
    "task-update-failed",
    "ingest-waiting",
    "ingest-nudge-started",
    "ingest-nudged",
    "ingest-headless-started",
    "ingest-headless-done",
    "ingest-failed",
    "ingest-quarantined",
    "ingest-quarantine-failed",
    "brain-call",
    "brain-answered",
    "brain-failed",
    "brain-usage",
    "governance",
    "model-unavailable-backoff-set",
    "model-unavailable-backoff-cleared",
    "quota-backoff-set",
    "quota-backoff-cleared",
    "cycle-skip",
    "proposal-queued",
    "decision",
    "decision-noop",
    "stop-suspected-idle-stall",
    "stop-suspected-mailbox-race",
    "stop-mailbox-recheck-failed",
    "decision-queued",
    "decision-dropped",
    "decision-blocked",
    "decision-approved",
    "decision-rejected",
    "action-blocked",
    "action-started",
    "action-done",
    "action",
    "mailbox-new",
    "action-failed",
    "action-uncertain",
    "action-abandoned",
    "action-resolved",
    "recovered",
    "recovery-corrupt",
    "ask",
    "ask-answered",
    "ask-timeout",
    "escalation",
    "checkpoint-not-filed",
    "checkpoint-overflow",
    "state-invalid",
    "loops-sync",
    "mail-sweep-failed",
    "pm-synced",
    "pm-sync-failed",
    "pm-unavailable",
    "pm-skip",
    "cycle-skipped",
    "cycle-end",
    "cycle-crashed",
    "session-unreachable",
    "session-back",
    "daemon-start",
    "daemon-stop",
    "daemon-stale",
    "brain-orphan",
    "paused",
    "resumed",
    "improve-started",
    "improve-mined",
    "improve-brain-call",
    "improve-brain-answered",
    "improve-brain-failed",
    "improve-brain-skipped",
    "improve-proposed",
    "improve-proposal-rejected",
    "improve-done",
    "improve-applied",
    "improve-apply-failed",
    "improve-judged",
    "improve-reverted",
    "improve-revert-failed",
    # lane handoffs (loop_schemas.handoff)
    "handoff-flush",
    "handoff-skip",
    "spec-skip",
    "handoff-recovery",
    "handoff-acked",
    "integration-lane-recommended",
    # the verify drive (loop_schemas.drive)
    *DRIVE_EVENTS,
)


class EngineEvent(BaseModel):
    """One line of events.jsonl. Every event has these fields; each event type adds its own."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    id: str
    timestamp: str
    session: str
    event: str


class EventParseError(SchemaError):
    """A line of events.jsonl that is not an event."""


def parse_event(line: str | bytes) -> EngineEvent:
    try:
        data = json.loads(line)
    except RecursionError:
        raise EventParseError("too deeply nested to read") from None
    except ValueError as exc:
        raise EventParseError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventParseError("an event must be a JSON object")
    try:
        return EngineEvent.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise EventParseError(f"{loc or 'event'}: {err.get('msg')}") from None


class DaemonStatus(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    running: bool
    pid: int | None
    started_at: str | None
    paused: bool
    stale: bool
    warning: str | None
    code: Literal["current", "stale"] | None = None
    """Whether the running daemon runs the installed engine code (content-based: daemon-build.json's
    code_sha256); null when no daemon runs. `stale` is `code == "stale"`."""
    heartbeat_age_s: int | None = None
    """Whole seconds since the running daemon last touched daemon.pid (every poll); null when none runs."""


class ActionView(BaseModel):
    """One action of the pending decision as the human gate shows it (`status --json`: `actions`; built by
    loop_schemas.decision_view.action_views, which says how the task and the preview are found)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    index: int = Field(ge=0)
    kind: str
    lane: str | None
    """The lane a dispatch or steer goes to, or the window add_lane / drop_lane names; null otherwise."""
    gate_class: GateClass
    state: ActionState
    reasons: list[str] = Field(default_factory=empty_list)
    """Why the gate classed it so (one line each)."""
    task: str | None
    """The id of the task the action serves, or null."""
    task_title: str | None
    rationale: str
    preview: list[str] = Field(default_factory=empty_list)
    """The first meaningful lines of what will be sent (see the module's rule); empty for stop/drop_lane."""


class EngineStatus(BaseModel):
    """`loop-engine status --json`: the pending decision, the daemon, the budget and back-off."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    session: str
    project_root: str
    generated_at: str
    approval_mode: Literal["manual", "auto", "full"]
    brain_harness: str
    pending: PendingDecision | None
    daemon: DaemonStatus
    budget: dict[str, int]
    backoff: dict[str, Any] | None
    asks: dict[str, int]
    uncertain: list[Any]
    warnings: list[str]
    actions: list[ActionView] = Field(default_factory=empty_list)
    """The pending decision's actions as the gate shows them (task, title, rationale, preview); [] when
    nothing is pending."""


class CycleAction(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    index: int
    kind: str
    target: str | None
    gate_class: GateClass


class ActionOutcome(BaseModel):
    """What became of one action that ran: `error` is the one-line reason of a failure, else null."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    index: int = Field(ge=0)
    state: Literal["done", "failed"]
    error: str | None


class CycleResult(BaseModel):
    """`loop-engine once --json`: what one cycle did. `outcomes` says what became of each action the
    cycle ran (as `approve --json` does); `blocked`: every action of the decision was blocked."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    cycle_id: str
    outcome: Literal[
        "queued",
        "executed",
        "partial",
        "noop",
        "skipped",
        "brain-failed",
        "dropped",
        "blocked",
        "observe-failed",
        "stop-suspected-idle-stall",
        "stop-suspected-mailbox-race",
    ]
    decision_id: str | None
    detail: str | None
    brain_called: bool
    actions: list[CycleAction]
    outcomes: list[ActionOutcome] = Field(default_factory=empty_list)
    reason: str | None = None
    """Why nothing ran: a noop's stop rationale(s), a blocked decision's gate reasons; else null."""
    warnings: list[str] = Field(default_factory=empty_list)
    """What the operator must know that did not stop the cycle (e.g. a state file it cannot use)."""
    stale: bool = False
    """The cycle ran on the last snapshot: its own look at the fleet failed or timed out."""


class ApproveResult(BaseModel):
    """`loop-engine approve ID --json`: the outcome of every action run, and whether it was filed below
    the checkpoint marker."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    decision_id: str
    outcomes: list[ActionOutcome]
    filed: bool


class EventList(BaseModel):
    """`loop-engine events --json`: the event log, oldest first."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    session: str
    events: list[EngineEvent]


class EngineConfigReport(BaseModel):
    """`loop-engine config --json`: the effective `engine:` config and where it came from."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    source: str | None
    sources: list[str]
    env_overrides: dict[str, str]
    warnings: list[str]
    engine: EngineConfig


__all__ = [
    "DRIVE_EVENTS",
    "KNOWN_EVENTS",
    "ActionOutcome",
    "ActionState",
    "ActionView",
    "ApproveResult",
    "CycleAction",
    "CycleResult",
    "DaemonStatus",
    "EngineConfigReport",
    "EngineEvent",
    "EngineStatus",
    "EventList",
    "EventParseError",
    "GateClass",
    "GatedAction",
    "PendingDecision",
    "parse_event",
]
