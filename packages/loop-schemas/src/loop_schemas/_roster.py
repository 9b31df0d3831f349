"""`harness-registry.sh roster --json` and `health <h> --json`: exported by loop_schemas.registry, whose
__getattr__ imports this module on first use (a cycle reads the roster only under a harness policy)."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import Literal

from pydantic import BaseModel, ConfigDict

from loop_schemas.registry import AuthRequirement, AutonomyClass, CostTier, DriftPins, HealthWord


class RosterEntry(BaseModel):
    """One harness in `harness-registry.sh roster --json`. A value the registry leaves empty reads ""."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    name: str
    present: bool
    """The binary is on PATH, or the harness needs none (shell: always true)."""
    capability_tags: str = ""
    cost_tier: CostTier | Literal[""] = ""
    autonomy_class: AutonomyClass | Literal[""] = ""
    auth_requirement: AuthRequirement | Literal[""] = ""
    health_probe: str = ""
    drift_pins: DriftPins | Literal[""] = ""
    oneshot_template: str = ""
    model_failover: str = ""
    isolation: str = ""
    kind: Literal["ai", "shell", "tool"] | None = None

    @property
    def tags(self) -> list[str]:
        """capability_tags split on commas (blanks dropped)."""
        return [t.strip() for t in self.capability_tags.split(",") if t.strip()]


class HarnessRoster(BaseModel):
    """`harness-registry.sh roster --json`: the twelve harnesses in `list` order."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    harnesses: list[RosterEntry]

    def get(self, name: str) -> RosterEntry | None:
        return next((h for h in self.harnesses if h.name == name), None)


class HarnessHealth(BaseModel):
    """`harness-registry.sh health <h> --json` (exit 0 only for ok)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    harness: str
    health: HealthWord
