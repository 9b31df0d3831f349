"""Tasks as files: which tasks are ready, and the two status moves the engine makes.

A task is ready when it is `open` and every `depends_on` id is `done` or `review` (done tasks live in
tasks/archive/). Dispatched → `in-progress`; the lane's completion report by mail → `review`. The engine
never sets `done` and never moves a file; it rewrites only the `status:` line, atomically, under a lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loop_schemas import (
    SchemaError,
    atomic_write,
    file_lock,
    parse_task,
    read_project_text,
    set_frontmatter_key,
)
from loop_schemas.fsread import DOC_CAP

from loop_engine.lazyre import Lazy, served

TASK_FILE_RE = re.compile(r"^T\d{4}-[^/]*\.md$")
_task_id_re = Lazy(r"\bT\d{4}\b")
_frontmatter_id_re = Lazy(r"\A---[ \t]*\n(?:.*\n)*?id:[ \t]*['\"]?(T\d{4})['\"]?[ \t]*\n")


@dataclass(frozen=True)
class TaskView:
    """One task file as the engine reads it."""

    id: str
    title: str
    status: str
    depends_on: tuple[str, ...]
    path: Path
    text: str
    archived: bool
    loop: str | None = None  # the frontmatter's `loop:` (loops_sync)


class TaskError(Exception):
    """A task file the engine cannot read or update."""


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def load_tasks(tasks_dir: Path) -> tuple[list[TaskView], list[str]]:
    """Every task in tasks/ and tasks/archive/, and one problem line per file that does not parse."""
    tasks: list[TaskView] = []
    problems: list[str] = []
    for folder, archived in ((tasks_dir, False), (tasks_dir / "archive", True)):
        try:
            names = sorted(p for p in folder.iterdir() if p.is_file() and TASK_FILE_RE.match(p.name))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for path in names:
            try:
                text = read_project_text(path, DOC_CAP)
                task = parse_task(text, path)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
                continue
            except (UnicodeDecodeError, SchemaError) as exc:
                problems.append(_first_line(exc) if isinstance(exc, SchemaError) else f"{path}: {exc}")
                continue
            fm = task.frontmatter
            tasks.append(
                TaskView(
                    id=fm.id,
                    title=fm.title,
                    status=fm.status.value,
                    depends_on=tuple(fm.depends_on),
                    path=path,
                    text=text,
                    archived=archived,
                    loop=fm.loop,
                )
            )
    return tasks, problems


def ready_tasks(tasks: list[TaskView]) -> list[TaskView]:
    """Open tasks in tasks/ whose every dependency is done or in review, in id order."""
    status = {t.id: t.status for t in tasks}
    out = []
    for task in tasks:
        if task.archived or task.status != "open":
            continue
        if all(status.get(dep) in ("done", "review") for dep in task.depends_on):
            out.append(task)
    return sorted(out, key=lambda t: t.id)


def task_of_payload(payload: str) -> str | None:
    """The task id a dispatch payload carries as a whole task file (its frontmatter `id:`), if any."""
    m = _frontmatter_id_re().search(payload)
    return m.group(1) if m else None


def set_status(path: Path, new_status: str, *, only_from: tuple[str, ...]) -> bool:
    """Rewrite the task's status if it is currently one of `only_from`; False when it was not.

    Read-modify-write under the project's task lock (`.loop/tasks.lock`, so no lock file lands in
    tasks/), written atomically; never sets done.
    """
    if new_status in ("done", "dropped"):
        raise TaskError(f"the engine never sets a task {new_status}")
    root = path.parent.parent if path.parent.name == "archive" else path.parent
    with file_lock(root.parent / ".loop" / "tasks"):
        try:
            text = read_project_text(path, DOC_CAP)
        except OSError as exc:
            raise TaskError(f"{path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise TaskError(f"{path}: {exc}") from None
        try:
            current = parse_task(text).frontmatter.status.value
        except SchemaError as exc:
            raise TaskError(_first_line(exc)) from None
        if current not in only_from:
            return False
        atomic_write(path, set_frontmatter_key(text, "status", new_status))
    return True


def mentions(text: str | None) -> set[str]:
    return set(_task_id_re().findall(text or ""))


# compiled on first use (loop_engine.lazyre): a plain cycle never reads them
_PUBLIC_PATTERNS = {
    "TASK_ID_RE": _task_id_re,
    "FRONTMATTER_ID_RE": _frontmatter_id_re,
}


def __getattr__(name: str) -> re.Pattern[str]:
    return served(__name__, _PUBLIC_PATTERNS, name)
