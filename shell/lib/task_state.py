#!/usr/bin/env python3
"""task_state.py: the human's task verbs behind `loop-task` (stdlib only, python 3.8+).

  done ID    an open, in-progress or review task in tasks/ gets `status: done` and moves to tasks/archive/
  drop ID    the same with `status: dropped`
  reopen ID  a done or dropped task in tasks/archive/ gets `status: open` and moves back to tasks/
             (open, not review: the human reopens a task because it needs more work, so the engine may
             dispatch it again; review is the state of work waiting for that human)

Each change is one read-modify-write under the project's task lock (<tasks-dir>/../.loop/tasks.lock,
the lock the engine's status writes take): the new text is written atomically over the file, which is
then hard-linked to its new folder (never over an existing file) and unlinked from the old one. A task
left half-moved by a crash (`status: done` still in tasks/) is finished by running the verb again. The
frontmatter goes through frontmatter.set_keys, the one writer. Then one line is appended to
<project>/ops-wiki/log.md: `## [YYYY-MM-DD] task | T0007 done` (`dropped`, `reopened`), with
` (reason: R)` when a reason is given.

CLI:  task_state.py VERB ID --tasks-dir D --project-root P [--reason R] [--json]
      exit 0 done; 1 not found, wrong state or unwritable; 2 usage.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import sys
from typing import Dict, Iterator, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint
import frontmatter
import fsread
from atomic import atomic_write, fsync_dir

import tasks

CONTRACT_VERSION = 1
VERBS = ("done", "drop", "reopen")
TARGET = {"done": "done", "drop": "dropped", "reopen": "open"}
LOGGED = {"done": "done", "drop": "dropped", "reopen": "reopened"}
IDENT_RE = re.compile(r"^(?:T|t)?(\d{1,4})$")


class TaskStateError(Exception):
    """One line for the operator; exit 1."""


class UsageError(Exception):
    """A usage error; exit 2."""


def normalise_id(ident: str) -> str:
    m = IDENT_RE.match(ident)
    if m is None:
        raise UsageError(f"not a task id: {tasks.display_path(ident)} (give T0007, 0007 or 7)")
    number = int(m.group(1))
    if number == 0:
        raise UsageError("task ids start at T0001")
    return f"T{number:04d}"


def _candidates(folder: str, task_id: str) -> List[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    out = []
    for name in sorted(names):
        m = tasks.FILE_RE.match(name)
        if m and m.group(1) == task_id and os.path.isfile(os.path.join(folder, name)):
            out.append(os.path.join(folder, name))
    return out


def locate(tasks_dir: str, task_id: str) -> Tuple[str, bool]:
    """(path, archived) of the one file holding `task_id`; TaskStateError when none or several."""
    if not os.path.isdir(tasks_dir):
        raise TaskStateError(f"{tasks_dir}: no such tasks folder")
    found = [(p, False) for p in _candidates(tasks_dir, task_id)]
    found += [(p, True) for p in _candidates(os.path.join(tasks_dir, "archive"), task_id)]
    if not found:
        raise TaskStateError(f"no task {task_id} in {tasks_dir} or its archive/")
    if len(found) > 1:
        where = ", ".join(tasks.display_path(p) for p, _ in found)
        raise TaskStateError(f"task {task_id} is in more than one file ({where}); fix it by hand")
    return found[0]


@contextlib.contextmanager
def task_lock(tasks_dir: str) -> Iterator[None]:
    """The engine's task lock: an flock on <tasks-dir>/../.loop/tasks.lock."""
    loop_dir = os.path.join(os.path.dirname(os.path.abspath(tasks_dir)), ".loop")
    os.makedirs(loop_dir, exist_ok=True)
    fd = os.open(os.path.join(loop_dir, "tasks.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read(path: str) -> str:
    raw = fsread.read_file(path, fsread.DOC_CAP)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TaskStateError(f"{tasks.display_path(path)}: not valid UTF-8") from None


def _status(path: str, text: str) -> str:
    try:
        data, _ = frontmatter.parse(text)
    except frontmatter.FrontmatterError as exc:
        raise TaskStateError(f"{tasks.display_path(path)}: frontmatter: {exc}") from None
    status = data.get("status")
    if not isinstance(status, str) or status not in tasks.STATUSES:
        raise TaskStateError(f"{tasks.display_path(path)}: status is not one of {', '.join(tasks.STATUSES)}")
    return status


def _title(text: str) -> str:
    try:
        data, _ = frontmatter.parse(text)
    except frontmatter.FrontmatterError:
        return ""
    title = data.get("title")
    return tasks.display_path(title) if isinstance(title, str) else ""


def _move(src: str, dst_dir: str) -> str:
    """Hard-link `src` into `dst_dir` (never over a file there) and unlink it; the new path."""
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, os.path.basename(src))
    try:
        os.link(src, dst)
    except FileExistsError:
        raise TaskStateError(f"{tasks.display_path(dst)} already exists; nothing moved") from None
    os.unlink(src)
    fsync_dir(dst_dir)
    fsync_dir(os.path.dirname(src))
    return dst


def change(verb: str, tasks_dir: str, task_id: str) -> Dict[str, object]:
    """Apply `verb` to the task; the report (see `loop-task --json`) without the log line."""
    target = TARGET[verb]
    with task_lock(tasks_dir):
        path, archived = locate(tasks_dir, task_id)
        text = _read(path)
        current = _status(path, text)
        if verb == "reopen":
            if current not in tasks.ARCHIVED and not (current == target and archived):
                raise TaskStateError(f"task {task_id} is {current}, not done or dropped: nothing to reopen")
            want_archived = False
        else:
            if current in tasks.ARCHIVED and archived:
                raise TaskStateError(
                    f"task {task_id} is already {current} (loop-task reopen {task_id} first)"
                )
            if current in tasks.ARCHIVED and current != target:
                raise TaskStateError(f"task {task_id} is {current} (loop-task reopen {task_id} first)")
            want_archived = True
        if current != target:
            try:
                new_text = frontmatter.set_keys(text, {"status": target})
            except frontmatter.FrontmatterError as exc:
                raise TaskStateError(f"{tasks.display_path(path)}: {exc}") from None
            atomic_write(path, new_text)
        new_path = path
        if archived != want_archived:
            dst_dir = os.path.join(tasks_dir, "archive") if want_archived else tasks_dir
            new_path = _move(path, dst_dir)
    return {
        "contract_version": CONTRACT_VERSION,
        "verb": verb,
        "id": task_id,
        "title": _title(text),
        "from_status": current,
        "status": target,
        "from_path": os.path.abspath(path),
        "path": os.path.abspath(new_path),
    }


def log_text(verb: str, task_id: str, reason: str) -> str:
    text = f"{task_id} {LOGGED[verb]}"
    return f"{text} (reason: {reason})" if reason.strip() else text


def run(
    verb: str, ident: str, tasks_dir: str, project_root: str, reason: str, today: Optional[_dt.date] = None
) -> Tuple[Dict[str, object], Optional[str]]:
    task_id = normalise_id(ident)
    report = change(verb, tasks_dir, task_id)
    warning = None
    try:
        line: Optional[str] = checkpoint.append_log(
            project_root, "task", log_text(verb, task_id, reason), today
        )
    except checkpoint.CheckpointError as exc:
        line, warning = None, f"the task moved, but nothing was logged: {exc}"
    report["reason"] = reason or None
    report["log_line"] = line.rstrip("\n") if line else None
    return report, warning


def _usage() -> int:
    sys.stderr.write(
        "usage: task_state.py done|drop|reopen ID --tasks-dir D --project-root P [--reason R] [--json]\n"
    )
    return 2


def main(argv: List[str]) -> int:
    prog = "loop-task"
    if len(argv) < 2 or argv[0] not in VERBS:
        return _usage()
    verb, ident = argv[0], argv[1]
    opts: Dict[str, str] = {"--tasks-dir": "tasks", "--project-root": ".", "--reason": ""}
    as_json = False
    it = iter(argv[2:])
    for arg in it:
        if arg == "--json":
            as_json = True
        elif arg in opts:
            value = next(it, None)
            if value is None:
                return _usage()
            opts[arg] = value
        else:
            return _usage()
    try:
        report, warning = run(verb, ident, opts["--tasks-dir"], opts["--project-root"], opts["--reason"])
    except UsageError as exc:
        sys.stderr.write(f"{prog}: {exc}\nTry '{prog} --help'.\n")
        return 2
    except TaskStateError as exc:
        sys.stderr.write(f"{prog}: {exc}\n")
        return 1
    except OSError as exc:
        where = tasks.display_path(exc.filename or opts["--tasks-dir"])
        sys.stderr.write(f"{prog}: {where}: {exc.strerror or exc}\n")
        return 1
    if warning:
        sys.stderr.write(f"{prog}: warning: {warning}\n")
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        title = f" ({report['title']})" if report["title"] else ""
        sys.stdout.write(
            f"{report['id']}{title}: {report['from_status']} -> {report['status']}, {report['path']}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
