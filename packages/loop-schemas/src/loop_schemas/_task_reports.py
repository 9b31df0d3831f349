"""`loop-task-lint --json` and `loop-task done|drop|reopen --json`: exported by loop_schemas.task, whose
__getattr__ imports this module on first use (a cycle reads task files, never these reports)."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas.task import TaskStatus


class TaskLintItem(BaseModel):
    """One finding of `loop-task-lint --json`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    path: str
    message: str


class TaskLintReport(BaseModel):
    """`loop-task-lint --json`: `ok` is true exactly when there is no finding (the exit status is 0)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    tasks_dir: str
    ok: bool
    task_count: int = Field(ge=0)
    findings: list[TaskLintItem]


class TaskChange(BaseModel):
    """`loop-task done|drop|reopen ID --json`: one task's change, as a human made it.

    done and drop move the file to tasks/archive/, reopen moves it back to tasks/ with status open;
    `log_line` is the line appended to ops-wiki/log.md (null when the project has no ops-wiki/).
    """

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    verb: Literal["done", "drop", "reopen"]
    id: Annotated[str, Field(pattern=r"^T\d{4}$")]
    title: str
    from_status: TaskStatus
    status: Literal["done", "dropped", "open"]
    from_path: str
    path: str
    reason: str | None
    log_line: str | None
