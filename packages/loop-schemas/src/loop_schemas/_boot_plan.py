"""`loop-tmux --print-cmds --json`: exported by loop_schemas.lanes, whose __getattr__ imports this module on
first use (a cycle reads the lanes and their status, never a boot plan)."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import Literal

from pydantic import BaseModel, ConfigDict


class PlannedLane(BaseModel):
    """One lane of `loop-tmux --print-cmds --json`: where it runs and what it launches."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    window: str
    cwd: str | None
    cmd: str | None
    harness: str | None
    model: str | None
    role: str | None
    repo: str | None
    auto_approve: bool
    launch: str | None
    source: Literal["preset", "flag", "lane-config", "empty"]
    sandbox: bool | None = None  # the lane runs under bubblewrap (lane-config `sandbox: true`, --sandbox-all)


class BootPlan(BaseModel):
    """`loop-tmux --print-cmds --json`: the resolved boot, computed without touching tmux."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    session: str
    preset: str
    project_root: str
    infra_root: str
    state_dir: str
    lane_config: str | None
    lanes: dict[str, PlannedLane]
