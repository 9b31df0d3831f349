"""`.loop/orchestrator-state.json`, schema v2: the minimum shape (loops) and the extended one (lanes).

Users and their tools add keys; every model here keeps unknown keys, and `dump_state` writes back
only what was read or set, so a read-modify-write never drops or invents a field.
"""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from loop_schemas._atomic import atomic_write, file_lock
from loop_schemas._factories import empty_list
from loop_schemas.errors import SchemaError, schema_error_from_validation
from loop_schemas.fsread import STATE_CAP, read_project_file

# v2's statuses, then the two the original's loops sync writes (`in-progress` while a task of the loop
# is open, `done` after): a ledger it wrote is read, not refused
LoopStatus = Literal[
    "spec", "plan", "implement", "verify", "canary", "shipped", "reverted", "blocked", "in-progress", "done"
]
LOOP_STATUSES: tuple[str, ...] = (
    "spec",
    "plan",
    "implement",
    "verify",
    "canary",
    "shipped",
    "reverted",
    "blocked",
    "in-progress",
    "done",
)
ReconciliationStance = Literal["now", "later", "out-of-scope"]
STATE_FILE = Path(".loop/orchestrator-state.json")
MAX_STATE_BYTES = STATE_CAP


class Artifacts(BaseModel):
    """Links to a loop's records; `decision_record` points at the ADR that decided it."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    spec: str | None = None
    plan: str | None = None
    verify_record: str | None = None
    canary_record: str | None = None
    retro: str | None = None
    decision_record: str | None = None


class LoopEntry(BaseModel):
    """One loop row. `status` may be absent: a worktree lane's row holds only the `branch` loop-tmux
    recorded when it provisioned the lane's worktree (`loops.<window>.branch`)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    name: str | None = None
    status: LoopStatus | None = None
    branch: str | None = None
    deployed_to: list[str] = Field(default_factory=empty_list)
    canary_target: str | None = None
    blast_radius: str | None = None
    reconciliation_stance: ReconciliationStance | None = None
    artifacts: Artifacts | None = None
    commits: list[str] = Field(default_factory=empty_list)
    updated_at: str | None = None
    updated_by: str | None = None


class StateLane(BaseModel):
    """The extended shape's per-lane entry: live status and the tail of the lane's pane."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    status: str | None = None
    harness: str | None = None
    target: str | None = None
    pane_tail: list[str] | str | None = None
    updated_at: str | None = None


class OrchestratorState(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    schema_version: Literal[2]
    updated_at: str | None = None
    loops: dict[str, LoopEntry]
    lanes: dict[str, StateLane] | list[StateLane] | None = None
    objective: str | None = None
    open_conflicts: list[Any] | None = None


def parse_state(text: str | bytes, where: str = "state") -> OrchestratorState:
    """Parse the state file's JSON; SchemaError (one line, every problem listed) when it is not v2."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SchemaError(f"{where}: not valid JSON: {exc}".splitlines()[0]) from None
    return state_from_dict(data, where)


def state_from_dict(data: object, where: str = "state") -> OrchestratorState:
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: the state must be a JSON object")
    try:
        return OrchestratorState.model_validate(data)
    except ValidationError as exc:
        raise schema_error_from_validation(exc, where) from None


def load_state(path: Path) -> OrchestratorState:
    try:
        raw = read_project_file(path, MAX_STATE_BYTES)
    except FileNotFoundError:
        raise SchemaError(f"{path}: no state file") from None
    except OSError as exc:
        raise SchemaError(f"{path}: unreadable: {exc.strerror}") from None
    return parse_state(raw, str(path))


def dump_state(state: OrchestratorState) -> str:
    """The state as JSON text: the keys it was read with (extras included), any that were set, and any
    whose value now differs from its default (a list default appended to in place is a change too)."""
    return json.dumps(_dump(state), indent=2, ensure_ascii=False) + "\n"


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        out: dict[str, Any] = {}
        for name, field in type(value).model_fields.items():
            current = getattr(value, name)
            if name in value.model_fields_set or current != field.get_default(call_default_factory=True):
                out[name] = _dump(current)
        for key, extra in (value.model_extra or {}).items():
            out[key] = _dump(extra)
        return out
    if isinstance(value, dict):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    return to_jsonable_python(value)  # a datetime or enum a change assigned, as model_dump(mode="json")


def update_state(
    path: Path, change: Callable[[OrchestratorState], OrchestratorState | None]
) -> OrchestratorState:
    """Read-modify-write under the state's lock, written atomically.

    `change` may mutate the state in place or return a new one.
    """
    with file_lock(path):
        state = load_state(path)
        result = change(state)
        if result is not None:
            state = result
        atomic_write(path, dump_state(state))
        return state
