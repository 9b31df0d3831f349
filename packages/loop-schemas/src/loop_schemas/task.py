"""Task files `tasks/T<NNNN>-<slug>.md`: frontmatter, the six body sections, the DAG, status and location."""

# evaluated annotations, no `from __future__ import annotations`: pydantic would compile and eval each
# field's annotation text when it makes the class (loop-engine's tests/test_cycle_models.py)
import contextlib
import enum
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loop_schemas._frontmatter import format_scalar, parse_frontmatter
from loop_schemas._frontmatter import set_frontmatter_key as _set_key
from loop_schemas._moved import moved_names
from loop_schemas.errors import Problem, SchemaError, problems_from_validation
from loop_schemas.fsread import DOC_CAP, read_project_text

# the task linter's and loop-task's reports are loop_schemas._task_reports' (a cycle reads task files and
# never builds their models); this module's names too, imported on first use (PEP 562)
if TYPE_CHECKING:
    from loop_schemas._task_reports import TaskChange, TaskLintItem, TaskLintReport

TASK_ID_PATTERN = r"^T\d{4}$"
TASK_FILE_RE = re.compile(r"^T(\d{4})-([a-z0-9][a-z0-9-]*)\.md$")
REQUIRED_SECTIONS: tuple[str, ...] = (
    "Objective",
    "Context you need",
    "Deliverables",
    "Acceptance criteria",
    "Verification",
    "Out of scope",
)
EXEMPT_FILES = ("README.md",)
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")  # up to three spaces in: four make a code line


class TaskStatus(str, enum.Enum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    REVIEW = "review"
    DONE = "done"
    DROPPED = "dropped"


class TaskFrontmatter(BaseModel):
    """A task's frontmatter. Keys a project adds are kept (extra="allow")."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    id: Annotated[str, Field(pattern=TASK_ID_PATTERN)]
    title: Annotated[str, Field(min_length=1)]
    status: TaskStatus
    depends_on: list[Annotated[str, Field(pattern=TASK_ID_PATTERN)]]
    scope: Annotated[str, Field(min_length=1)]
    loop: str | None = None
    jira: str | None = None

    @field_validator("title", "scope")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if "\n" in value.strip():
            raise ValueError("must be one line")
        return value

    @field_validator("jira")
    @classmethod
    def _one_key(cls, value: str | None) -> str | None:
        if value is not None and any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("must be one issue key (no spaces, line breaks or control characters)")
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if value is None:
            return []
        return value

    @field_validator("loop", "jira", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if value is None:
            return None
        text = str(value).strip()
        return text or None


class Task(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    frontmatter: TaskFrontmatter
    body: str
    sections: dict[str, str]
    path: str | None = None

    @property
    def id(self) -> str:
        return self.frontmatter.id

    @property
    def status(self) -> TaskStatus:
        return self.frontmatter.status


@dataclass(frozen=True)
class LintFinding:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _section_name(heading: str) -> str | None:
    """The required section a `## ` heading names (a trailing note after the name is allowed)."""
    for name in REQUIRED_SECTIONS:
        if heading == name:
            return name
        if heading.lower().startswith(name.lower()):
            rest = heading[len(name) :]
            if rest and not rest[0].isalnum():
                return name
    return None


def split_sections(body: str) -> dict[str, str]:
    """`## ` sections of the body by required name (other headings are kept under their own text)."""
    sections: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    fence = ""  # the open fence's marker; a fence closes on the same character, at least as long, bare
    for raw in body.split("\n"):  # not splitlines(): a U+2028 or form feed does not end a Markdown line
        line = raw.rstrip("\r")
        opener = _FENCE_LINE.match(line)
        in_fence = bool(fence)
        if opener and not fence:
            fence = opener.group(1)
            in_fence = True
        elif (
            opener
            and opener.group(1)[0] == fence[0]
            and len(opener.group(1)) >= len(fence)
            and not line.strip()[len(opener.group(1)) :].strip()  # a closing fence has no info string
        ):
            fence = ""
        match = None if in_fence else _HEADING.match(line)
        if match:
            if current is not None:
                sections[current] = "\n".join(buf).strip("\n")
            heading = match.group(1).strip()
            current = _section_name(heading) or heading
            buf = []
        elif current is not None:
            buf.append(line)
    if current is not None:
        sections[current] = "\n".join(buf).strip("\n")
    return sections


def parse_task(text: str, path: str | Path | None = None) -> Task:
    """A task file's model; SchemaError listing every problem (frontmatter fields, missing sections)."""
    where = str(path) if path is not None else "task"
    # the convention's own keys are text as written (`title: 42`, `jira: 0012`), as the shell's lint reads
    # them; keys a project adds keep their YAML types, when typed YAML can build them: a value it cannot
    # (`estimate: 2024-02-30`, no such day) stays the text the subset and loop-task-lint read
    as_text, body = parse_frontmatter(text, keep_text=True)
    data = dict(as_text)
    if not as_text.keys() <= _CONVENTION_KEYS:  # only a key the project added needs the typed reading
        with contextlib.suppress(SchemaError):  # a value typed YAML cannot build stays the text
            data, _ = parse_frontmatter(text)
        data.update({k: as_text[k] for k in _KEY_ORDER if k in as_text})
    problems: list[Problem] = []
    frontmatter: TaskFrontmatter | None = None
    try:
        frontmatter = TaskFrontmatter.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    sections = split_sections(body)
    for name in REQUIRED_SECTIONS:
        if name not in sections:
            problems.append(Problem("body", f"missing section '## {name}'"))
    if path is not None and frontmatter is not None:
        match = TASK_FILE_RE.match(Path(path).name)
        if match is None:
            problems.append(Problem("", "file name must be T<NNNN>-<slug>.md (lowercase slug)"))
        elif f"T{match.group(1)}" != frontmatter.id:
            problems.append(Problem("id", f"{frontmatter.id} does not match the file name"))
    if problems or frontmatter is None:
        raise SchemaError(f"{where}: {problems[0]}", problems)
    return Task(
        frontmatter=frontmatter, body=body, sections=sections, path=str(path) if path is not None else None
    )


_KEY_ORDER = ("id", "title", "status", "depends_on", "scope", "loop", "jira")
_CONVENTION_KEYS = frozenset(_KEY_ORDER)


def format_task(frontmatter: dict[str, object] | TaskFrontmatter, body: str) -> str:
    """A task file's text: frontmatter in the convention's style (inline lists, blank jira), then body."""
    if isinstance(frontmatter, TaskFrontmatter):
        data: dict[str, object] = frontmatter.model_dump()  # Python values: format_scalar spells them
    else:
        data = dict(frontmatter)
    keys = [k for k in _KEY_ORDER if k in data or k in ("depends_on", "jira")]
    keys += [k for k in data if k not in _KEY_ORDER]
    lines = ["---"]
    for key in keys:
        value = data.get(key)
        if key == "depends_on":
            value = list(value) if isinstance(value, (list, tuple)) else []
        lines.append(f"{format_scalar(key)}: {format_scalar(value)}".rstrip())  # a key `no` would read False
    lines.append("---")
    text = "\n".join(lines) + "\n"
    if body and not body.startswith("\n"):
        text += "\n"
    return text + body


def set_frontmatter_key(text: str, key: str, value: object) -> str:
    """Change (or add) one frontmatter key of a task file, every other byte untouched."""
    return _set_key(text, key, value)


def slugify(title: str, max_length: int = 48) -> str:
    """A file-name slug: lowercase ASCII letters, digits and single hyphens; 'task' when nothing is left."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    return slug or "task"


def task_paths(tasks_dir: Path) -> list[Path]:
    """Every task-like Markdown file in tasks/ and tasks/archive/ (README.md exempt), sorted."""
    out: list[Path] = []
    for directory in (tasks_dir, tasks_dir / "archive"):
        if directory.is_dir():
            out.extend(
                p
                for p in directory.iterdir()
                if p.suffix == ".md" and p.name not in EXEMPT_FILES and p.is_file()
            )
    return sorted(out)


def lint_tasks(tasks_dir: Path) -> list[LintFinding]:
    """Every violation of the task convention under tasks_dir (empty list: all pass; no folder: none).

    The rules and their words are the shell's: `loop-task-lint` runs shell/lib/tasks.py, and this is the
    byte-identical copy of it (loop_schemas._shared.tasks), so both report the same findings in the same
    order (a finding's path here is relative to the folder holding tasks_dir, e.g. tasks/T0001-a.md).
    """
    from loop_schemas._shared import tasks as shared_tasks  # the linter's rules: loaded where they run

    if not tasks_dir.is_dir():
        return []
    found, _ = shared_tasks.lint(str(tasks_dir))
    base = str(tasks_dir.parent)
    return [LintFinding(os.path.relpath(f.path, base), f.message) for f in found]


def load_tasks(tasks_dir: Path) -> tuple[list[Task], list[LintFinding]]:
    """The tasks that parse, and a finding per file that does not (no DAG checks)."""
    tasks: list[Task] = []
    bad: list[LintFinding] = []
    for path in task_paths(tasks_dir):
        try:
            tasks.append(parse_task(read_project_text(path, DOC_CAP), path))
        except OSError as exc:
            bad.append(LintFinding(str(path), f"unreadable: {exc.strerror or exc}".splitlines()[0]))
        except UnicodeDecodeError as exc:
            bad.append(LintFinding(str(path), f"unreadable: {exc}".splitlines()[0]))
        except SchemaError as exc:
            bad.append(LintFinding(str(path), str(exc.problems[0])))
    return tasks, bad


__all__ = [
    "EXEMPT_FILES",
    "REQUIRED_SECTIONS",
    "TASK_FILE_RE",
    "TASK_ID_PATTERN",
    "LintFinding",
    "Task",
    "TaskChange",
    "TaskFrontmatter",
    "TaskLintItem",
    "TaskLintReport",
    "TaskStatus",
    "format_task",
    "lint_tasks",
    "load_tasks",
    "parse_task",
    "set_frontmatter_key",
    "slugify",
    "split_sections",
    "task_paths",
]

__getattr__ = moved_names(__name__, "loop_schemas._task_reports", __all__)
