"""Governed lanes: `engine.harness_policy`, the engine's model pins, and the events governance writes.

`engine.harness_policy` (every key optional; the all-default policy is a no-op: the engine makes no
roster call and gates as it did without one):

| key (default) | meaning |
|---|---|
| allow ([]) / deny ([]) | empty allow = every harness allowed; deny wins |
| cost_ceiling ("") / autonomy_cap ("") | the highest cost_tier / autonomy_class allowed |
| role_tag_map ({}) | role -> tags: a role needs a harness with at least one of them |
| role_defaults ({}) | role -> the harness an add_lane with a disallowed harness is rewritten to |
| high_risk_roles (["infra"]) | roles the drift rule applies to |
| brain_allow ([]) | harnesses allowed as the brain or the headless ingest |
| role_rules ({}) | role -> {preferred_harness, fallback, spawn_when, retire_after_idle_cycles,
|                  | concurrency_allowance (1)} |
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas._factories import empty_list
from loop_schemas._moved import moved_names
from loop_schemas.registry import AUTONOMY_ORDER, COST_ORDER

# the events governance writes, and the boot check's problem, are loop_schemas.governance_events' (a cycle
# never builds their models); this module's names too, imported on first use (PEP 562)
if TYPE_CHECKING:
    from loop_schemas.governance_events import (
        BackoffClearedEvent,
        BackoffSetEvent,
        BrainFailedEvent,
        CycleSkipEvent,
        HarnessRewrite,
        HarnessRewriteEvent,
        PolicyBootProblem,
        policy_events,
    )

# a harness is an agent when it has a one-shot template or any of these capability tags
AGENT_TAGS = frozenset(
    {
        "brain",
        "code",
        "ingest",
        "ops",
        "research",
        "synthesis",
        "product",
        "experiment",
        "bulk",
        "fleet",
        "search",
    }
)
ROSTER_HEADING = "--- harness roster (allowed + present + healthy) ---"


class RoleRule(BaseModel):
    """One role's rules. concurrency_allowance is enforced (reuse before spawn); retire_after_idle_cycles
    makes the engine propose dropping a worker lane of that role idle for that many cycles (a human
    approves); preferred_harness, fallback and spawn_when are declared for the brain to read."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    preferred_harness: str | None = None
    fallback: str | None = None
    spawn_when: str | None = None
    retire_after_idle_cycles: Annotated[int, Field(ge=1)] | None = None
    concurrency_allowance: Annotated[int, Field(ge=1)] = 1


class HarnessPolicy(BaseModel):
    """`engine.harness_policy`: which harnesses the brain may pick, and which picks need a human."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    allow: list[str] = Field(default_factory=empty_list)
    deny: list[str] = Field(default_factory=empty_list)
    cost_ceiling: Literal["", "none", "low", "medium", "high"] = ""
    autonomy_cap: Literal["", "none", "attended", "unattended"] = ""
    role_tag_map: dict[str, list[str]] = Field(default_factory=dict)
    role_defaults: dict[str, str] = Field(default_factory=dict)
    high_risk_roles: list[str] = Field(default_factory=lambda: ["infra"])
    brain_allow: list[str] = Field(default_factory=empty_list)
    role_rules: dict[str, RoleRule] = Field(default_factory=dict)

    @property
    def active(self) -> bool:
        """False for the all-default policy (a no-op: no roster call, no policy rule): no key of its own,
        every field at its default. Compared field by field: a dump, or a default policy to compare with,
        would build this model's own validator and serializer, which a cycle needs nowhere else."""
        if self.model_extra:
            return True
        return any(
            getattr(self, name) != field.get_default(call_default_factory=True)
            for name, field in type(self).model_fields.items()
        )


class RepinRecord(BaseModel):
    """One entry of engine/model-pins.json: the model the engine uses for a harness, by whose authority."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    model: str
    from_model: str | None = None
    decision_id: str
    approved_by: Literal["human"]
    at: str


class ModelPins(BaseModel):
    """engine/model-pins.json: harness -> the model a human approved in place of the configured one."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    pins: dict[str, RepinRecord] = Field(default_factory=dict)


def is_agent(entry: dict[str, Any]) -> bool:
    """An agent has a one-shot template or any agent capability tag."""
    tags = entry.get("capability_tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    return bool(str(entry.get("oneshot_template") or "").strip()) or any(t in AGENT_TAGS for t in tags)


__all__ = [
    "AGENT_TAGS",
    "AUTONOMY_ORDER",
    "COST_ORDER",
    "ROSTER_HEADING",
    "BackoffClearedEvent",
    "BackoffSetEvent",
    "BrainFailedEvent",
    "CycleSkipEvent",
    "HarnessPolicy",
    "HarnessRewrite",
    "HarnessRewriteEvent",
    "ModelPins",
    "PolicyBootProblem",
    "RepinRecord",
    "RoleRule",
    "is_agent",
    "policy_events",
]

__getattr__ = moved_names(__name__, "loop_schemas.governance_events", __all__)
