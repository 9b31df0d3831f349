"""Loops sync: each cycle the ledger's `loops` follow the tasks' `loop:` fields.

For every loop id named by a task's `loop:` (tasks/ and tasks/archive/; a task file that does not parse is
skipped, as load_tasks skips it), the ledger row `loops.<id>` gets:

- `status`: `in-progress` while any task of that loop is open, in-progress or review, else `done`;
- `name`, only when the row has none: the `# ` title of ops-wiki/loops/<id>.md without a leading
  `loop:`, else the id.

Every other field of a row, rows of loops no task names, and every other key of the ledger stay as they
were. The ledger (.loop/orchestrator-state.json) is rewritten only when a row changed, atomically and under
its lock (loop_schemas.file_lock, the lock every writer of the file takes), with event
`loops-sync {loops, derived, changed}`: the ledger's loop count after the sync, the number of loops the
tasks name, and the ids whose row changed. No ledger file: nothing is written; a ledger that is not a
valid v2 state: event `state-invalid`, nothing is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from loop_schemas import LoopEntry, OrchestratorState, SchemaError, atomic_write, file_lock, read_project_text
from loop_schemas.fsread import DOC_CAP
from loop_schemas.state import dump_state, load_state

from loop_engine.basics import one_line
from loop_engine.events import EventLog, iso
from loop_engine.lazyre import Lazy, served
from loop_engine.paths import EnginePaths
from loop_engine.tasks import TaskView

OPEN_STATUSES = ("open", "in-progress", "review")
Derived = Literal["in-progress", "done"]
_safe_id_re = Lazy(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def derive(tasks: list[TaskView]) -> dict[str, Derived]:
    """loop id -> `in-progress` or `done`, for every loop a task names."""
    derived: dict[str, Derived] = {}
    for task in tasks:
        if not task.loop:
            continue
        if task.status in OPEN_STATUSES:
            derived[task.loop] = "in-progress"
        else:
            derived.setdefault(task.loop, "done")
    return derived


def loop_title(wiki: Path, loop_id: str) -> str:
    """The `# ` title of ops-wiki/loops/<id>.md minus a leading `loop:`; the id when there is none."""
    if _safe_id_re().match(loop_id):
        try:
            text = read_project_text(wiki / "loops" / f"{loop_id}.md", DOC_CAP)
        except (OSError, UnicodeDecodeError):
            text = ""
        for line in text.splitlines():
            if line.startswith("# "):
                title = line[2:].strip()
                if title.lower().startswith("loop:"):
                    title = title[len("loop:") :].strip()
                if title:
                    return title
                break
    return loop_id


def _apply(state: OrchestratorState, derived: dict[str, Derived], wiki: Path) -> list[str]:
    """Set each derived loop's status (and a missing name) in `state`; the ids whose row changed."""
    changed: list[str] = []
    for loop_id, status in sorted(derived.items()):
        row = state.loops.get(loop_id)
        if row is None:
            row = state.loops[loop_id] = LoopEntry()
        before = (row.status, row.name)
        if row.status != status:
            row.status = status
        if not row.name:
            row.name = loop_title(wiki, loop_id)
        if (row.status, row.name) != before:
            changed.append(loop_id)
    return changed


def sync_loops(paths: EnginePaths, tasks: list[TaskView], events: EventLog, cycle_id: str) -> list[str]:
    """Refresh the ledger's loops from the tasks; the ids whose row changed (none: nothing written)."""
    derived = derive(tasks)
    path = paths.state_file
    if not derived or not path.is_file():
        return []
    wiki = paths.checkpoint.parent
    try:
        with file_lock(path):
            state = load_state(path)
            changed = _apply(state, derived, wiki)
            if changed:
                state.updated_at = iso()
                atomic_write(path, dump_state(state))
    except SchemaError as exc:
        events.emit("state-invalid", file=str(path), error=one_line(exc))
        return []
    if changed:
        events.emit(
            "loops-sync", cycle_id=cycle_id, loops=len(state.loops), derived=len(derived), changed=changed
        )
    return changed


# compiled on first use (loop_engine.lazyre): a plain cycle never reads them
_PUBLIC_PATTERNS = {
    "SAFE_ID_RE": _safe_id_re,
}


def __getattr__(name: str) -> re.Pattern[str]:
    return served(__name__, _PUBLIC_PATTERNS, name)
