"""`lane-config-resolver.sh print-resolved --json`: exported by loop_schemas.lane_config, whose __getattr__
imports this module on first use (the engine reads a lane-config, never the resolver's answer)."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import Literal

from pydantic import BaseModel, ConfigDict

from loop_schemas.lane_config import LaneKind


class ResolvedLane(BaseModel):
    """One lane as `lane-config-resolver.sh print-resolved --json` resolves it (unset values are null)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    harness: str | None
    model: str | None
    cmd: str | None
    repo: str | None
    role: str | None
    auto_approve: bool
    launch: str | None
    kind: LaneKind | None = None
    sandbox: bool | None = None  # None from resolvers older than the field


class ResolvedLaneConfig(BaseModel):
    """`lane-config-resolver.sh print-resolved --json`: the lanes of a lane-config after overlay and paths."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    lane_config: str
    host_overlay: str | None
    project_root: str | None
    lanes: dict[str, ResolvedLane]
