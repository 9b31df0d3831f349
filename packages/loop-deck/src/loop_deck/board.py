"""The task board and the overview of every loop: read-only, through the loop-schemas readers.

Tasks come from `tasks/*.md` and `tasks/archive/*.md` (loop_schemas.load_tasks); the lane and age of an
in-progress task, and the report that moved a task to review, from the engine's `assignments.json`. The
overview scans `<root>/.loop/sessions/<s>/engine/` for each root: engine pid and pause file, the pending
decision, the engine's last lane look (`lanes-seen.json`), and the project's tasks in review.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop_schemas import (
    CONTRACT_VERSION,
    LoopOverview,
    LoopOverviewRow,
    PendingDecision,
    SchemaError,
    parse_mail_name,
    read_project_file,
)
from loop_schemas.fsread import ENGINE_CAP
from loop_schemas.task import TaskStatus, load_tasks
from pydantic import ValidationError

from loop_deck.core import ago
from loop_deck.snapshot import pid_alive, read_daemon_pid, read_subject

BOARD_ORDER = ("review", "in-progress", "open", "done", "dropped")


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    title: str
    status: str
    lane: str  # the lane an in-progress (or review) task was dispatched to, "" when unknown
    age: str  # since its dispatch
    waits_on: tuple[str, ...]  # dependencies not yet done
    jira: str
    archived: bool
    report: str  # the mail that reported it done ("" when none is known)


@dataclass(frozen=True)
class Board:
    tasks: tuple[TaskRow, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def review_queue(self) -> tuple[TaskRow, ...]:
        """Top-level tasks with status review, sorted by id (the human's sign-off queue)."""
        return tuple(sorted((t for t in self.tasks if t.status == "review" and not t.archived), key=_id))

    @property
    def finished(self) -> bool:
        """Every task is in review, done or dropped (and there is at least one)."""
        return bool(self.tasks) and all(t.status in ("review", "done", "dropped") for t in self.tasks)

    def counts(self) -> dict[str, int]:
        counted = Counter(t.status for t in self.tasks)
        return {s: counted[s] for s in BOARD_ORDER if counted[s]}


def _id(row: TaskRow) -> str:
    return row.task_id


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_project_file(path, ENGINE_CAP))
    except (OSError, ValueError):
        return None


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def find_report(mailbox: Path, task_id: str, lane: str) -> str:
    """The newest mail from `lane` naming the task in its subject (pending first, then processed):
    the completion report, when the engine's own record of it is missing."""
    best: tuple[str, str] | None = None
    for folder, prefix in ((mailbox, ""), (mailbox / "processed", "processed/")):
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".md") and e.is_file())
        except OSError:
            continue
        for name in names:
            try:
                parsed = parse_mail_name(name)
            except SchemaError:
                continue
            if lane and parsed.sender != lane:
                continue
            if task_id in read_subject(folder / name) and (best is None or name > best[0]):
                best = (name, prefix + name)
    return best[1] if best else ""


def read_board(project_root: Path, engine_dir: Path, now: float) -> Board:
    tasks_dir = project_root / "tasks"
    if not tasks_dir.is_dir():
        return Board()
    tasks, bad = load_tasks(tasks_dir)
    assignments = _read_json(engine_dir / "assignments.json")
    if not isinstance(assignments, dict):
        assignments = {}
    done = {t.id for t in tasks if t.status is TaskStatus.DONE}
    rows = []
    mailbox = project_root / ".loop" / "messages"
    for task in tasks:
        status = task.status.value
        record = assignments.get(task.id)
        record = record if isinstance(record, dict) else {}
        lane = str(record.get("lane") or "") if status in ("in-progress", "review") else ""
        since = _parse_time(record.get("dispatched_at")) if lane else None
        report = ""
        if status == "review":
            named = record.get("report")
            if isinstance(named, str) and named:
                folder = "" if (mailbox / named).is_file() else "processed/"
                report = folder + named
            else:
                report = find_report(mailbox, task.id, lane)
        rows.append(
            TaskRow(
                task_id=task.id,
                title=task.frontmatter.title,
                status=status,
                lane=lane,
                age=ago(now - since) if since is not None else "",
                waits_on=tuple(d for d in task.frontmatter.depends_on if d not in done),
                jira=task.frontmatter.jira or "",
                archived=task.path is not None and Path(task.path).parent.name == "archive",
                report=report,
            )
        )
    rank = {s: i for i, s in enumerate(BOARD_ORDER)}
    rows.sort(key=lambda r: (rank.get(r.status, 9), r.task_id))
    return Board(tuple(rows), tuple(f"{Path(f.path).name}: {f.message}" for f in bad))


# ---- every loop ---------------------------------------------------------------------------------------
def overview(roots: Sequence[Path]) -> LoopOverview:
    """One row per session with an engine folder under any root (roots and sessions de-duplicated)."""
    seen: set[Path] = set()
    rows: list[LoopOverviewRow] = []
    for root in roots:
        sessions_dir = root.resolve() / ".loop" / "sessions"
        try:
            names = sorted(e.name for e in os.scandir(sessions_dir) if e.is_dir())
        except OSError:
            continue
        for name in names:
            engine_dir = sessions_dir / name / "engine"
            if not engine_dir.is_dir() or engine_dir.resolve() in seen:
                continue
            seen.add(engine_dir.resolve())
            rows.append(session_row(root.resolve(), name))
    return LoopOverview(contract_version=CONTRACT_VERSION, roots=[str(r) for r in roots], sessions=rows)


def session_row(root: Path, session: str) -> LoopOverviewRow:
    engine_dir = root / ".loop" / "sessions" / session / "engine"
    pid = read_daemon_pid(engine_dir)
    if pid is None or not pid_alive(pid):
        engine = "stopped"
    elif (engine_dir / "paused").exists():
        engine = "paused"
    else:
        engine = "running"
    pending, awaiting = None, 0
    try:
        decision = PendingDecision.model_validate_json(
            read_project_file(engine_dir / "pending-decision.json", ENGINE_CAP)
        )
    except (OSError, ValidationError):
        pass
    else:
        pending = decision.id
        awaiting = sum(1 for g in decision.gates if g.state == "queued")
    seen = _read_json(engine_dir / "lanes-seen.json")
    lanes: dict[str, int] | None = None
    if isinstance(seen, dict) and isinstance(seen.get("lanes"), dict):
        lanes = dict(
            sorted(Counter(str(v[0]) for v in seen["lanes"].values() if isinstance(v, list) and v).items())
        )
    review = sum(
        1 for t in read_board(root, engine_dir, 0.0).tasks if t.status == "review" and not t.archived
    )
    return LoopOverviewRow(
        session=session,
        project_root=str(root),
        engine=engine,
        pending=pending,
        awaiting=awaiting,
        lanes=lanes,
        review=review,
    )


def overview_lines(view: LoopOverview) -> list[str]:
    """`SESSION ENGINE PEND LANE HEALTH` (contract-later section 7), one row per session."""
    if not view.sessions:
        return ["no loops found (nothing under any <root>/.loop/sessions/)"]
    cells = [("SESSION", "ENGINE", "PEND", "LANE HEALTH")]
    for row in view.sessions:
        pend = "-" if row.pending is None else "1" + ("*" if row.awaiting else "")
        health = " ".join(f"{s}:{n}" for s, n in row.lanes.items()) if row.lanes is not None else "unknown"
        cells.append((row.session, row.engine, pend, health))
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    return ["  ".join(c[i].ljust(widths[i]) for i in range(3)) + "  " + c[3] for c in cells]
