"""The task files a sync reads and the few writes it is allowed: a new task from a remote issue, the
`jira:` key written back, the Done → archive move, and their ops-wiki/log.md lines. Every write is atomic.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from loop_schemas import (
    TASK_FILE_RE,
    SchemaError,
    Task,
    TaskStatus,
    append_line,
    atomic_write,
    describe_error,
    format_task,
    parse_task,
    read_project_file,
    read_project_text,
    set_frontmatter_key,
    slugify,
)
from loop_schemas.fsread import DOC_CAP, WIKI_CAP
from loop_schemas.pm import RemoteIssue, TaskSnapshot

ACTIVE = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.REVIEW)
ARCHIVED = (TaskStatus.DONE, TaskStatus.DROPPED)
EXEMPT = ("README.md",)


class TaskWriteError(Exception):
    """A task file could not be written as planned (it changed, or already exists)."""


@dataclass
class TaskFile:
    path: Path
    text: str
    task: Task

    @property
    def id(self) -> str:
        return self.task.frontmatter.id

    @property
    def status(self) -> TaskStatus:
        return self.task.frontmatter.status

    @property
    def key(self) -> str | None:
        return self.task.frontmatter.jira

    @property
    def archived(self) -> bool:
        return self.path.parent.name == "archive"


@dataclass
class TaskTree:
    tasks_dir: Path
    files: list[TaskFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    max_number: int = 0
    # every issue key a file names, usable or not (key -> the file): a key named by a skipped file is
    # still taken, so a pull never imports its issue a second time
    claimed: dict[str, str] = field(default_factory=dict)

    def by_id(self, task_id: str) -> list[TaskFile]:
        return [f for f in self.files if f.id == task_id]

    def by_key(self) -> dict[str, TaskFile]:
        out: dict[str, TaskFile] = {}
        for f in self.files:
            if f.key and f.key not in out:
                out[f.key] = f
        return out


def read_tree(tasks_dir: Path) -> TaskTree:
    """Every task file in tasks/ and tasks/archive/; unparsable ones become problems (never fatal)."""
    tree = TaskTree(tasks_dir)
    for directory in (tasks_dir, tasks_dir / "archive"):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix != ".md" or path.name in EXEMPT or not path.is_file():
                continue
            match = TASK_FILE_RE.match(path.name)
            if match:
                tree.max_number = max(tree.max_number, int(match.group(1)))
            rel = display(path, tasks_dir)
            try:
                text = read_project_text(path, DOC_CAP)
            except UnicodeDecodeError as exc:
                tree.problems.append(f"{describe_error(exc, rel)}; skipped")
                _claim(
                    tree, _named_key(read_project_file(path, DOC_CAP).decode("utf-8", errors="replace")), rel
                )
                continue
            except OSError as exc:
                tree.problems.append(f"{rel}: unreadable ({exc.strerror or describe_error(exc)}); skipped")
                continue
            try:
                task = parse_task(text, path)
            except SchemaError as exc:
                tree.problems.append(f"{rel}: {exc}; skipped")
                _claim(tree, _named_key(text), rel)
                continue
            number = int(task.frontmatter.id[1:])
            tree.max_number = max(tree.max_number, number)
            tree.files.append(TaskFile(path, text, task))
            _claim(tree, task.frontmatter.jira, rel)
    return tree


_JIRA_LINE_RE = re.compile(r"""^jira:[ \t]*["']?([^\s"'#]+)["']?[ \t]*(?:#.*)?$""")


def _named_key(text: str) -> str | None:
    """The `jira:` key a file's frontmatter names, read line by line (for a file that does not parse)."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        match = _JIRA_LINE_RE.match(line.rstrip())
        if match:
            return match.group(1)
    return None


def _claim(tree: TaskTree, key: str | None, rel: str) -> None:
    if key and key not in tree.claimed:
        tree.claimed[key] = rel


def display(path: Path, tasks_dir: Path) -> str:
    """A path relative to the project root (the tasks folder's parent) when it is inside it."""
    try:
        return str(path.relative_to(tasks_dir.parent))
    except ValueError:
        return str(path)


def snapshot(tf: TaskFile) -> TaskSnapshot:
    fm = tf.task.frontmatter
    return TaskSnapshot(
        id=fm.id,
        title=fm.title,
        status=fm.status,
        scope=fm.scope,
        description=tf.task.body.strip("\n"),
        jira=fm.jira,
        path=str(tf.path),
    )


def today() -> str:
    """Today in UTC: the date every other writer of ops-wiki/log.md lines uses."""
    return _dt.datetime.now(_dt.timezone.utc).date().isoformat()


def log_path(project_root: Path) -> Path:
    return project_root / "ops-wiki" / "log.md"


def log_created(project_root: Path, key: str, task_id: str) -> None:
    append_line(log_path(project_root), f"## [{today()}] sync | {key} created from {task_id}")


def log_done(project_root: Path, task_id: str) -> None:
    append_line(log_path(project_root), f"## [{today()}] task | {task_id} done")


def log_has_done(project_root: Path, task_id: str) -> bool:
    path = log_path(project_root)
    try:
        text = read_project_text(path, WIKI_CAP, errors="replace")
    except OSError:
        return False
    return (
        re.search(rf"^## \[\d{{4}}-\d{{2}}-\d{{2}}\] task \| {re.escape(task_id)} done\s*$", text, re.M)
        is not None
    )


# ------------------------------------------------------------------------------------------- writes


def _reread(tf: TaskFile) -> str:
    """The file's text exactly as stored (newline="": CRLF line ends survive a rewrite)."""
    try:
        text = read_project_file(tf.path, DOC_CAP).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskWriteError(f"cannot re-read {describe_error(exc, tf.path.name)}") from None
    return text


def _with_key(tf: TaskFile, text: str, key: str, value: object) -> str:
    """`text` with one frontmatter key set, every other byte kept (a leading BOM included)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    try:
        return bom + set_frontmatter_key(text[len(bom) :], key, value)
    except SchemaError as exc:
        raise TaskWriteError(f"{tf.path.name}: cannot set '{key}': {exc}") from None


def reread_key(tf: TaskFile) -> str | None:
    """The `jira:` key the task file names now (it may have changed since it was read)."""
    text = _reread(tf)
    try:
        return parse_task(text, tf.path).frontmatter.jira
    except SchemaError as exc:
        raise TaskWriteError(
            f"{tf.path.name}: changed since it was read and no longer parses: {exc}"
        ) from None


def write_key(tf: TaskFile, key: str) -> None:
    """Write `jira: <key>` into the task's frontmatter (the one sanctioned write), atomically.

    Refuses when the file meanwhile got a different key: a non-empty key always means an existing issue.
    """
    problem = key_problem(key)
    if problem:
        raise TaskWriteError(f"{tf.id}: the remote key {key[:60]!r} {problem}; not written")
    text = _reread(tf)
    try:
        current = parse_task(text, tf.path).frontmatter.jira
    except SchemaError as exc:
        raise TaskWriteError(
            f"{tf.path.name}: changed since it was read and no longer parses: {exc}"
        ) from None
    if current == key:
        return
    if current:
        raise TaskWriteError(f"{tf.id} already names {current}; not overwritten with {key}")
    atomic_write(tf.path, _with_key(tf, text, "jira", key))


def archive_done(tf: TaskFile, tasks_dir: Path) -> Path:
    """Set `status: done` and move the task to tasks/archive/ (copy atomically, then unlink)."""
    text = _reread(tf)
    try:
        now = parse_task(text, tf.path).frontmatter
    except SchemaError as exc:
        raise TaskWriteError(
            f"{tf.path.name}: changed since it was read and no longer parses: {exc}"
        ) from None
    if now.jira != tf.key or now.status not in ACTIVE:  # a hand edit between plan and apply: it wins
        raise TaskWriteError(
            f"{tf.path.name}: changed since it was read (now jira: {now.jira or '-'}, "
            f"status: {now.status.value}); not archived, run pull again"
        )
    new_text = _with_key(tf, text, "status", TaskStatus.DONE.value)
    target = tasks_dir / "archive" / tf.path.name
    if target.exists() and target.resolve() != tf.path.resolve():
        try:
            existing = parse_task(read_project_text(target, DOC_CAP), target)
        except (OSError, UnicodeDecodeError, SchemaError):
            raise TaskWriteError(
                f"{display(target, tasks_dir)} already exists and is not this task"
            ) from None
        if existing.frontmatter.id != tf.id:
            raise TaskWriteError(f"{display(target, tasks_dir)} already exists and is not this task")
    atomic_write(target, new_text)
    os.unlink(tf.path)
    return target


def new_task_text(task_id: str, issue: RemoteIssue, adapter: str) -> str:
    """A task file for a remote issue: frontmatter with the key, the six sections, passing lint."""
    title = " ".join(issue.title.split()) or issue.key
    where = issue.url or issue.key
    described = issue.description.strip()
    objective = described if described else title
    objective = _demote_headings(objective)
    kind = f" {issue.issue_type}" if issue.issue_type else ""
    parent = f" Parent: {issue.parent}." if issue.parent else ""
    frontmatter: dict[str, object] = {
        "id": task_id,
        "title": title,
        "status": issue.task_status.value,
        "depends_on": [],
        "scope": f"imported from {adapter} {issue.key}",
        "jira": issue.key,
    }
    body = (
        "## Objective\n\n"
        f"{objective}\n\n"
        "## Context you need\n\n"
        f"Imported by `loop-pm sync --adapter {adapter} pull` from{kind} {issue.key} ({where}),"
        f" remote status '{issue.status}'.{parent} This file is now the source of truth: edit it here,"
        " not in the PM tool.\n\n"
        "## Deliverables\n\n"
        f"- What {issue.key} asks for (refine this list before starting).\n\n"
        "## Acceptance criteria\n\n"
        f"- The intent of {issue.key} is met and reviewed (refine before starting).\n\n"
        "## Verification\n\n"
        "- Describe how a reviewer proves the acceptance criteria (commands, tests, pages).\n\n"
        "## Out of scope\n\n"
        f"- Anything {issue.key} does not ask for.\n"
    )
    return format_task(frontmatter, body)


def _demote_headings(text: str) -> str:
    """Remote text must not open its own `## ` sections inside Objective: push its headings down."""
    return re.sub(r"^(#{1,2})([ \t])", r"###\2", text, flags=re.M)


def task_path_for(tasks_dir: Path, task_id: str, title: str) -> Path:
    return tasks_dir / f"{task_id}-{slugify(title)}.md"


def create_task_file(path: Path, text: str) -> None:
    """Write a new task file; refuses when its id was taken meanwhile (a file made by hand or by another
    tool between the plan and now): two files with one id would both be skipped from then on."""
    if path.exists():
        raise TaskWriteError(f"{path.name} already exists")
    task_id = path.name.split("-", 1)[0]
    for folder in (path.parent, path.parent / "archive"):
        taken = sorted(folder.glob(f"{task_id}-*.md")) if folder.is_dir() else []
        if taken:
            raise TaskWriteError(
                f"{task_id} was taken meanwhile by {display(taken[0], path.parent)}; "
                "not created, run pull again"
            )
    atomic_write(path, text)


def key_problem(key: str) -> str | None:
    """Why a remote key cannot go into a task's `jira:` line (None when it can): it must be one token."""
    if not key or len(key) > 255:
        return "is empty or longer than 255 characters"
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        return "contains spaces or control characters"
    return None


def writes_back(text: str, path: Path, key: str) -> str | None:
    """Why a new task file's text would not read back as a task naming `key` (None when it does)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON "\udcff" escape: UTF-8 cannot hold it
        return "the remote text is not valid Unicode"
    try:
        task = parse_task(text, path)
    except SchemaError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if task.frontmatter.jira != key:
        return "its key does not read back unchanged"
    return None
