#!/usr/bin/env python3
"""tasks.py: lint the tasks-as-files convention (stdlib only, python 3.8+).

A task is tasks/T<NNNN>-<slug>.md (done and dropped ones in tasks/archive/; README.md is exempt) with
frontmatter `id` (= the file name's id, unique across tasks/ and archive/), `title`, `status`
(open | in-progress | review | done | dropped), `depends_on` (an inline list of existing ids, no
cycles), `scope` (one line), optional `loop` and `jira`, and six `## ` body sections: Objective,
Context you need, Deliverables, Acceptance criteria, Verification, Out of scope (a trailing note after
the name is allowed, e.g. `## Verification (manual)`).

CLI:  tasks.py lint [--tasks-dir D] [--json]
      one `path: message` line per finding on stdout; exit 0 none, 1 findings, 2 usage.

The one set of task-lint rules and words: `loop-task-lint` runs this file, and loop-schemas carries a
byte-identical copy (loop_schemas/_shared/tasks.py, `make shared`) that `loop_schemas.lint_tasks` runs.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

if __package__:  # the copy inside loop_schemas._shared (loop_schemas.lint_tasks runs these rules)
    from . import frontmatter, fsread
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import frontmatter  # type: ignore[no-redef,import-not-found]
    import fsread  # type: ignore[no-redef,import-not-found]

CONTRACT_VERSION = 1
STATUSES = ("open", "in-progress", "review", "done", "dropped")
ACTIVE = ("open", "in-progress", "review")
ARCHIVED = ("done", "dropped")
SECTIONS = (
    "Objective",
    "Context you need",
    "Deliverables",
    "Acceptance criteria",
    "Verification",
    "Out of scope",
)
REQUIRED_KEYS = ("id", "title", "status", "depends_on", "scope")
EXEMPT = ("README.md",)
FILE_RE = re.compile(r"^(T\d{4})-([a-z0-9][a-z0-9-]*)\.md$")
ID_RE = re.compile(r"^T\d{4}$")
JIRA_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
# up to three spaces or tabs in (loop_schemas.task's rule: another blank, such as U+00A0, makes it text)
FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
DEPENDS_LINE_RE = re.compile(r"^depends_on\s*:(.*)$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def display_path(path: str) -> str:
    """A path as one printable line: control characters (a newline in a file name) are escaped."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return CONTROL_RE.sub(lambda m: "\\x%02x" % ord(m.group(0)), text)


class Finding:
    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def line(self) -> str:
        return f"{display_path(self.path)}: {self.message}"


class Task:
    __slots__ = ("archived", "depends_on", "file_id", "id", "path", "status")

    def __init__(self, path: str, file_id: str, archived: bool) -> None:
        self.path = path
        self.file_id = file_id
        self.id = file_id
        self.status: Optional[str] = None
        self.depends_on: List[str] = []
        self.archived = archived


def _section_names(body: str) -> List[str]:
    """The `## ` headings of the body, outside fenced code blocks."""
    names: List[str] = []
    fence = ""
    for raw_line in body.split("\n"):
        line = raw_line.rstrip("\r")
        m = FENCE_RE.match(line)
        if m:
            marker = m.group(1)
            if not fence:
                fence = marker[0] * len(marker)
            elif (
                marker[0] == fence[0]
                and len(marker) >= len(fence)
                and not line.strip()[len(marker) :].strip()
            ):
                fence = ""
            continue
        if fence:
            continue
        if line.startswith("## "):
            names.append(line[3:].strip())
    return names


def _has_section(headings: List[str], name: str) -> bool:
    want = name.lower()
    for heading in headings:
        h = heading.lower()
        if h == want:
            return True
        if h.startswith(want) and not h[len(want)].isalnum():
            return True
    return False


def _depends_is_inline(fm_lines: List[str]) -> bool:
    for line in fm_lines:
        m = DEPENDS_LINE_RE.match(line)
        if m:
            return m.group(1).strip().startswith("[")
    return False


def check_text(path: str, text: str, file_id: str, archived: bool) -> Tuple[Task, List[Finding]]:
    """Lint one task file's text. Never raises: every problem is a Finding."""
    task = Task(path, file_id, archived)
    out: List[Finding] = []

    def bad(message: str) -> None:
        out.append(Finding(path, message))

    try:
        fm_lines, body = frontmatter.split(text)
        data = frontmatter.parse_lines(fm_lines)
    except frontmatter.FrontmatterError as exc:
        bad(f"frontmatter: {exc}")
        return task, out

    for key in REQUIRED_KEYS:
        if key not in data:
            bad(f"missing frontmatter key '{key}'")

    fid = data.get("id")
    if fid is not None:
        if not isinstance(fid, str) or not ID_RE.match(fid):
            bad(f"id must look like T0001 (got {_show(fid)})")
        else:
            task.id = fid
            if fid != file_id:
                bad(f"id {fid} does not match the file name's id {file_id}")

    title = data.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip() or _breaks(title)):
        bad("title must be a non-empty line")

    status = data.get("status")
    if status is not None:
        if isinstance(status, str) and status in STATUSES:
            task.status = status
            if archived and status in ACTIVE:
                bad(f"status '{status}' belongs in tasks/, not tasks/archive/ (move it back or close it)")
            elif not archived and status in ARCHIVED:
                bad(f"status '{status}' belongs in tasks/archive/ (move the file there)")
        else:
            bad(f"status must be one of {' | '.join(STATUSES)} (got {_show(status)})")

    if "depends_on" in data:
        deps = data["depends_on"]
        if not isinstance(deps, list) or not _depends_is_inline(fm_lines):
            bad("depends_on must be an inline list, e.g. depends_on: [] or depends_on: [T0001, T0002]")
        else:
            seen = set()
            for dep in deps:
                if not ID_RE.match(dep):
                    bad(f"depends_on: {_show(dep)} is not a task id (T0001)")
                elif dep in seen:
                    bad(f"depends_on lists {dep} twice")
                else:
                    seen.add(dep)
                    task.depends_on.append(dep)

    scope = data.get("scope")
    if scope is not None:
        if not isinstance(scope, str) or not scope.strip():
            bad("scope must be one non-empty line")
        elif _breaks(scope):
            bad("scope must be one line")

    for key in ("loop", "jira"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            bad(f"{key} must be a single value, not a list")
    jira = data.get("jira")
    if isinstance(jira, str) and jira and not JIRA_KEY_RE.match(jira):
        bad(f"jira: {_show(jira)} is not an issue key like PROJ-123 (leave it blank until the issue exists)")

    headings = _section_names(body)
    for name in SECTIONS:
        if not _has_section(headings, name):
            bad(f"missing section '## {name}'")
    return task, out


def _breaks(text: str) -> bool:
    """A line break in a one-line value ("\\n" written in double quotes): loop_schemas refuses it too."""
    return "\n" in text or "\r" in text


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return json.dumps(value, ensure_ascii=False)


def _list_dir(folder: str) -> Optional[List[str]]:
    try:
        return sorted(os.listdir(folder))
    except FileNotFoundError:
        return None


def _cycles(tasks: Dict[str, Task]) -> List[List[str]]:
    """Every elementary cycle found by a DFS over depends_on edges (each reported once)."""
    color: Dict[str, int] = {}
    found: List[List[str]] = []
    seen_keys = set()
    for start in sorted(tasks):
        if color.get(start):
            continue
        # iterative DFS: stack of (node, iterator index)
        stack: List[Tuple[str, int]] = [(start, 0)]
        path: List[str] = [start]
        color[start] = 1
        while stack:
            node, idx = stack[-1]
            deps = [d for d in tasks[node].depends_on if d in tasks]
            if idx < len(deps):
                stack[-1] = (node, idx + 1)
                nxt = deps[idx]
                state = color.get(nxt, 0)
                if state == 0:
                    color[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
                elif state == 1:
                    cycle = path[path.index(nxt) :]
                    low = cycle.index(min(cycle))
                    norm = tuple(cycle[low:] + cycle[:low])
                    if norm not in seen_keys:
                        seen_keys.add(norm)
                        found.append([*list(norm), norm[0]])
            else:
                color[node] = 2
                stack.pop()
                path.pop()
    return found


def lint(tasks_dir: str) -> Tuple[List[Finding], int]:
    """(findings, number of task files). Raises FileNotFoundError when tasks_dir is missing."""
    findings: List[Finding] = []
    tasks: List[Task] = []
    top = _list_dir(tasks_dir)
    if top is None or not os.path.isdir(tasks_dir):
        raise FileNotFoundError(tasks_dir)
    archive_dir = os.path.join(tasks_dir, "archive")
    folders = [(tasks_dir, top, False)]
    arch = _list_dir(archive_dir) if os.path.isdir(archive_dir) else None
    if arch is not None:
        folders.append((archive_dir, arch, True))
    for folder, names, archived in folders:
        for name in names:
            path = os.path.join(folder, name)
            # like loop_schemas.task_paths: every *.md except README.md; other files are not tasks
            if name.startswith(".") or name in EXEMPT or not name.endswith(".md") or not os.path.isfile(path):
                continue
            m = FILE_RE.match(name)
            if not m:
                findings.append(
                    Finding(
                        path,
                        "not a task file name: expected T<NNNN>-<slug>.md "
                        "(slug: lowercase letters, digits, hyphens)",
                    )
                )
                continue
            try:
                raw = fsread.read_file(path, fsread.DOC_CAP)
            except OSError as exc:
                findings.append(Finding(path, f"cannot read: {exc.strerror}"))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                findings.append(Finding(path, "not valid UTF-8"))
                continue
            task, found = check_text(path, text, m.group(1), archived)
            findings.extend(found)
            tasks.append(task)

    by_id: Dict[str, Task] = {}
    dupes: Dict[str, List[Task]] = {}
    for task in tasks:
        dupes.setdefault(task.id, []).append(task)
        by_id.setdefault(task.id, task)
    for tid, group in sorted(dupes.items()):
        if len(group) > 1:
            for task in group:
                others = ", ".join(os.path.relpath(t.path, tasks_dir) for t in group if t is not task)
                findings.append(Finding(task.path, f"duplicate id {tid} (also {others})"))
    for task in tasks:
        for dep in task.depends_on:
            if dep == task.id:
                continue  # reported as a cycle
            if dep not in by_id:
                findings.append(
                    Finding(task.path, f"depends_on: {dep} does not exist in tasks/ or tasks/archive/")
                )
    for cycle in _cycles(by_id):
        findings.append(Finding(by_id[cycle[0]].path, "dependency cycle: " + " -> ".join(cycle)))
    return findings, len(tasks)


def main(argv: List[str]) -> int:
    # argparse loads here: the engine imports this module for lint() and the task rules, never main()
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            sys.stderr.write(f"loop-task-lint: {message}\n")
            sys.exit(2)

    parser = _Parser(
        prog="tasks.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="verb", parser_class=_Parser)
    p_lint = sub.add_parser("lint")
    p_lint.add_argument("--tasks-dir", default="tasks")
    p_lint.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.verb != "lint":
        parser.print_usage(sys.stderr)
        return 2
    try:
        findings, count = lint(args.tasks_dir)
    except FileNotFoundError:
        sys.stderr.write(f"loop-task-lint: {args.tasks_dir}: no such directory\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"loop-task-lint: {exc.filename or args.tasks_dir}: {exc.strerror}\n")
        return 1
    except Exception as exc:  # never a traceback: one line, non-zero
        sys.stderr.write(f"loop-task-lint: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    if args.json:
        doc = {
            "contract_version": CONTRACT_VERSION,
            "tasks_dir": os.path.abspath(args.tasks_dir),
            "ok": not findings,
            "task_count": count,
            "findings": [{"path": display_path(f.path), "message": f.message} for f in findings],
        }
        json.dump(doc, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for f in findings:
            sys.stdout.write(f.line() + "\n")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
