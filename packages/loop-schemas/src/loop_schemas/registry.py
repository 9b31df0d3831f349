"""`harness-registry.sh list --json`: the per-harness invocation contract.

The roster's and the health probe's documents (`roster --json`, `health <h> --json`) are
loop_schemas._roster's, exported here too (PEP 562): a cycle reads the registry, and the roster only
under a harness policy, so its code does not make their models.
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas._factories import empty_list
from loop_schemas._moved import moved_names

if TYPE_CHECKING:
    from loop_schemas._roster import HarnessHealth, HarnessRoster, RosterEntry

HARNESS_ORDER = (
    "pi",
    "claude",
    "opencode",
    "codex",
    "cursor-agent",
    "hermes",
    "droid",
    "forge",
    "amp",
    "openclaw",
    "mprocs",
    "shell",
)


class Harness(BaseModel):
    """One harness's invocation contract. Fields a newer registry adds are kept (extra="allow")."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    name: str
    binary: str = ""
    kind: Literal["ai", "shell", "tool"] = "ai"
    launch_cmd: str = ""
    auto_approve_flag: str = ""
    model_flag: str = ""
    oneshot_template: str = ""
    idle_pattern: str = ""
    busy_pattern: str = ""
    approval_pattern: str = ""
    welcome_pattern: str = ""
    error_pattern: str = ""
    process_names: list[str] = Field(default_factory=empty_list)
    paste_delay: float = Field(default=2.0, ge=0)
    clear_cmd: str = ""
    clear_input_keys: str = ""
    """tmux key names that empty the input box after an interrupt put the old prompt back ("" = none)."""
    input_pattern: str = ""
    """Regex of the input box line; group 1 is the text in it ("" = unknown)."""
    verified: bool = False
    notes: str = ""
    working_marker: str = ""
    """ERE: on a lane tagged with its harness, loop-lane-status prefers it to busy_pattern (and also
    matches it against the pane title); "" = the heuristic."""
    idle_marker: str = ""
    """ERE: on a lane tagged with its harness, loop-lane-status uses it as the idle pattern;
    "" = idle_pattern."""

    expected_process: str = ""
    """ERE of the harness's process names (process_names joined by "|")."""
    paste_enter_delay: float = Field(default=2.0, ge=0)
    """The same seconds as paste_delay, under the original's name."""
    skill_dir: str = ""
    non_interactive_flag: str = ""
    """What oneshot_template puts between the binary and {prompt} ("-p", "exec", ...; "" = none)."""
    capability_tags: str = ""
    """Comma list (brain, code, ops, ...)."""
    cost_tier: str = ""
    autonomy_class: str = ""
    auth_requirement: str = ""
    health_probe: str = ""
    drift_pins: str = ""
    model_failover: str = ""
    isolation: str = ""

    @property
    def has_oneshot(self) -> bool:
        return "{prompt}" in self.oneshot_template


class HarnessRegistry(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    harnesses: list[Harness]


CostTier = Literal["low", "medium", "high", "none"]
AutonomyClass = Literal["none", "attended", "unattended"]
AuthRequirement = Literal["account", "gateway", "none"]
DriftPins = Literal["low", "med", "high", "none"]
HealthWord = Literal["ok", "missing", "unauthenticated", "unhealthy"]

COST_ORDER: tuple[str, ...] = ("none", "low", "medium", "high")
AUTONOMY_ORDER: tuple[str, ...] = ("none", "attended", "unattended")


__all__ = [
    "AUTONOMY_ORDER",
    "COST_ORDER",
    "HARNESS_ORDER",
    "AuthRequirement",
    "AutonomyClass",
    "CostTier",
    "DriftPins",
    "Harness",
    "HarnessHealth",
    "HarnessRegistry",
    "HarnessRoster",
    "HealthWord",
    "RosterEntry",
]

__getattr__ = moved_names(__name__, "loop_schemas._roster", __all__)
