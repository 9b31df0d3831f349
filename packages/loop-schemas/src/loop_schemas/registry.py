"""`harness-registry.sh list --json`: the per-harness invocation contract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    process_names: list[str] = Field(default_factory=list)
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

    @property
    def has_oneshot(self) -> bool:
        return "{prompt}" in self.oneshot_template


class HarnessRegistry(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    harnesses: list[Harness]
