"""`loop-lane-status --json` and `loop-tmux list-lanes --json`."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from loop_schemas._moved import moved_names

# the boot plan is loop_schemas._boot_plan's (a cycle reads the lanes and their status, never a boot plan,
# and does not build its models); this module's names too, imported on first use (PEP 562)
if TYPE_CHECKING:
    from loop_schemas._boot_plan import BootPlan, PlannedLane

LaneState = Literal["working", "awaiting-approval", "idle", "errored", "unknown"]
LANE_STATES: tuple[LaneState, ...] = ("working", "awaiting-approval", "idle", "errored", "unknown")
FIXED_LANES = ("coord", "web", "infra", "validate-left", "validate-right", "ops-top", "ops-bottom", "docs")
BASE_WINDOWS = ("coord", "web", "infra", "validate", "ops", "docs")


class LaneStatus(BaseModel):
    """One lane's status. `status` is one of five frozen words; finer states go in `detail`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    lane: str | None = None  # the report's key; added inside each entry by newer scripts
    status: LaneState
    target: str
    kind: Literal["fixed", "dynamic"]
    detail: str | None = None
    harness: str | None = None
    source: Literal["screen", "hook", "process"] | None = None
    # an AI lane (launched as an AI harness, or running an agent's own process; never because it runs
    # python3): the substrate's one answer, shared by --boot-check, the watchdog and loop-adr's human
    # gate. None from scripts older than the field.
    ai: bool | None = None


class LaneStatusReport(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    session: str
    generated_at: str
    lanes: dict[str, LaneStatus]


class Lane(BaseModel):
    """One window of a session as list-lanes reports it (metadata from @loop_lane_* options)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    window: str
    window_id: str | None = None
    harness: str | None
    model: str | None
    role: str | None
    cmd: str | None
    base: bool
    kind: Literal["standing", "worker"] | None
    repo: str | None = None
    isolation: Literal["shared", "worktree"] | None = None
    branch: str | None = None
    # a sandboxed lane (add-lane --sandbox, lane-config `sandbox: true`, boot --sandbox-all): its agent
    # runs under bubblewrap; None from scripts older than the field
    sandbox: bool | None = None


class LaneList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    session: str
    generated_at: str
    lanes: list[Lane]


__all__ = [
    "BASE_WINDOWS",
    "FIXED_LANES",
    "LANE_STATES",
    "BootPlan",
    "Lane",
    "LaneList",
    "LaneState",
    "LaneStatus",
    "LaneStatusReport",
    "PlannedLane",
]

__getattr__ = moved_names(__name__, "loop_schemas._boot_plan", __all__)
