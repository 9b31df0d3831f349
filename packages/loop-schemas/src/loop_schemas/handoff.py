"""The events.jsonl lines of lane handoffs (contract-later §3; loop_engine/handoff.py writes them).

Each is an `EngineEvent` with its own fields; `HandoffEvent` is their union, told apart by `event`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, RootModel

from loop_schemas._factories import empty_list
from loop_schemas.engine import EngineEvent

HANDOFF_EVENTS = (
    "handoff-flush",
    "handoff-skip",
    "handoff-recovery",
    "handoff-acked",
    "integration-lane-recommended",
)


class HandoffFlushEvent(EngineEvent):
    """An idle agent lane's breadcrumb was appended to ops-wiki/lanes/<window>.md before its drop."""

    event: Literal["handoff-flush"]
    window: str
    harness: str


class HandoffSkipEvent(EngineEvent):
    """No breadcrumb before a drop: not an agent lane, not idle right then, or the flush failed."""

    event: Literal["handoff-skip"]
    window: str
    reason: Literal["non-agent", "not-verified-idle", "error"]
    error: str | None = None


class HandoffRecoveryEvent(EngineEvent):
    """An add_lane into a window with an open `## Handoff state` got the recovery brief first;
    worktree_carry: the predecessor's ledger branch (same tree and branch) was carried over."""

    event: Literal["handoff-recovery"]
    window: str
    worktree_carry: bool


class HandoffAckedEvent(EngineEvent):
    """The lane acked its handoff by mail (`subject: re:handoff:<window>`): the handoff is closed."""

    event: Literal["handoff-acked"]
    window: str
    mail: str


class IntegrationLaneRecommendedEvent(EngineEvent):
    """Three or more live code-writer lanes: an integration lane is recommended (nothing is spawned)."""

    event: Literal["integration-lane-recommended"]
    code_writers: int = Field(ge=3)
    window: str | None = None
    lanes: list[str] = Field(default_factory=empty_list)


class HandoffEvent(
    RootModel[
        Annotated[
            HandoffFlushEvent
            | HandoffSkipEvent
            | HandoffRecoveryEvent
            | HandoffAckedEvent
            | IntegrationLaneRecommendedEvent,
            Field(discriminator="event"),
        ]
    ]
):
    """Any one handoff event."""

    model_config = ConfigDict(defer_build=True)
