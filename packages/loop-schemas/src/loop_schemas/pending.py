"""pending-decision.json: the one decision in flight, and the gate's verdict on each of its actions.

Its own module so that a cycle that queues a decision loads these two models and not the engine's status,
event and result models (loop_schemas.engine, which exports these names too).
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loop_schemas._factories import empty_list
from loop_schemas.decision import Decision

GateClass = Literal["safe", "destructive", "blocked"]
ActionState = Literal["queued", "running", "blocked", "done", "failed", "rejected", "uncertain"]


class GatedAction(BaseModel):
    """The gate's verdict on one action of a decision, by index."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    gate_class: GateClass
    reasons: list[str] = Field(default_factory=empty_list)
    state: ActionState = "queued"


class PendingDecision(BaseModel):
    """pending-decision.json: the one decision in flight, waiting for `loop-engine approve|reject`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    id: str = Field(pattern=r"^d-[A-Za-z0-9._-]+$")
    session: str
    created_at: str
    approval_mode: Literal["manual", "auto", "full"]
    decision: Decision
    gates: list[GatedAction]
    cycle_id: str | None = None
    trigger: str | None = None
    asks: dict[str, str] = Field(default_factory=dict)
    brain: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_gate_per_action(self) -> "PendingDecision":
        if len(self.gates) != len(self.decision.actions):
            raise ValueError(f"{len(self.gates)} gates for {len(self.decision.actions)} actions")
        return self
