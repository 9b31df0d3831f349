"""The push journal: a create is recorded before it is sent, and cleared once its key is in the task.

Anyone can put a task's marker label on an issue, so a label proves nothing. What lets a push that was
cut off between Jira's create and the key's write-back finish without a duplicate is this journal:
`.loop/pm-pending/<adapter>/<task id>` says "our push sent a create for this task". Only then does the
next push adopt the issue carrying the task's label (`link-task`); without it the label is reported as
a possible link and never followed.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from loop_schemas import atomic_write

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _entry(project_root: Path, adapter: str, task_id: str) -> Path | None:
    if not _NAME.fullmatch(adapter) or not _NAME.fullmatch(task_id):
        return None  # not a safe file name: no journal, so a label is never adopted for it
    return project_root / ".loop" / "pm-pending" / adapter / task_id


def pending(project_root: Path, adapter: str, task_id: str) -> bool:
    """Whether a push through `adapter` sent a create for `task_id` that never got its key written back."""
    path = _entry(project_root, adapter, task_id)
    return path is not None and path.is_file()


def record(project_root: Path, adapter: str, task_id: str, title: str) -> None:
    """Before the create is sent (durably: a crash right after the send still finds it)."""
    path = _entry(project_root, adapter, task_id)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    atomic_write(path, f"{now} create sent for {task_id}: {' '.join(title.split())[:200]}\n")


def clear(project_root: Path, adapter: str, task_id: str) -> None:
    path = _entry(project_root, adapter, task_id)
    if path is not None:
        path.unlink(missing_ok=True)
