"""`harness-registry.sh list --json`: the per-harness invocation contract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas._factories import empty_list

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
