"""The PM adapter protocol: what loop-pm asks of an adapter, and the models both sides exchange.

A third-party adapter depends on loop-schemas alone. It ships a distribution with an entry point in the
group `loop_orchestrator.pm_adapters` (name = the adapter's name, value = an object or a zero-argument
class satisfying `PmAdapter`), and optionally a click group in `loop_orchestrator.pm_commands` for its own
verbs (`loop-pm <name> …`). loop-pm owns every file write (task files, tasks/archive/, ops-wiki/log.md);
the adapter only talks to the remote tool.

Adapter errors are one line and never carry a secret (control characters in them shown visibly).
An adapter that holds credentials should also define `secret_values()` (see `HoldsSecrets`): loop-pm
then redacts every form of those values (`loop_schemas.redact`) from all it prints and writes.

A task is linked to a remote issue only by the key in its `jira:` field (written back by loop-pm's own
push, or by a human). A marker label (`loop-task-<id>`) on an issue is a claim anyone can make: loop-pm
reports it as a `PossibleLink` and never follows it, except to finish a create its own push journalled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from loop_schemas._contract import require_every_field
from loop_schemas._factories import empty_list
from loop_schemas._pm_groups import ADAPTER_GROUP, COMMAND_GROUP
from loop_schemas.plain import printable
from loop_schemas.task import TaskStatus

TASK_LABEL_PREFIX = "loop-task-"
Direction = Literal["pull", "push"]
_BOTH: tuple[Direction, ...] = ("pull", "push")
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9-]*$")

# --------------------------------------------------------------------------------------------- errors


class AdapterError(Exception):
    """A remote operation failed. `str()` is one line with no secret in it."""

    def __init__(self, message: str) -> None:
        lines = (message or "adapter error").strip().splitlines() or ["adapter error"]
        super().__init__(printable(lines[0], multiline=False))


class AdapterConfigError(AdapterError):
    """The adapter's configuration (environment, options) is missing or invalid; nothing was sent."""


class AdapterAuthError(AdapterError):
    """The remote rejected the credentials or the permission (HTTP 401/403)."""


class AdapterConnectionError(AdapterError):
    """The remote could not be reached, or kept failing after the retries."""


class RemoteNotFoundError(AdapterError):
    """The named remote object (issue, sprint, board) does not exist or is not visible."""


FATAL_ERRORS: tuple[type[AdapterError], ...] = (AdapterConfigError, AdapterAuthError, AdapterConnectionError)
"""Errors after which a sync stops at once: every further remote call would fail the same way."""

# --------------------------------------------------------------------------------------------- models


class Availability(BaseModel):
    """Whether an adapter can run here now (configuration only; no network call), and why not."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    available: bool
    reason: str | None = None


class SyncOption(BaseModel):
    """An option an adapter's sync accepts (`loop-pm sync --adapter A push --<name> VALUE`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str
    help: str = ""
    metavar: str = "VALUE"
    directions: list[Direction] = Field(default_factory=lambda: list(_BOTH))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _OPTION_NAME.match(value):
            raise ValueError("option names are lowercase words joined by '-' (no leading dashes)")
        return value


class RemoteIssue(BaseModel):
    """One remote issue as loop-pm sees it; the adapter maps the remote status onto a task status."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    key: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
    title: str
    status: str
    """The remote status name, as the tool shows it (e.g. 'In Review')."""
    task_status: TaskStatus
    """The task status this remote state corresponds to (Done → done)."""
    description: str = ""
    """Plain text (Markdown-ish) rendering of the remote description."""
    url: str | None = None
    issue_type: str | None = None
    parent: str | None = None
    labels: list[str] = Field(default_factory=empty_list)
    task_id: str | None = None
    """The task id the remote issue carries as a marker (set by an earlier push), if any."""


class TaskSnapshot(BaseModel):
    """What an adapter needs of a task to create or update its remote issue."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str
    title: str
    status: TaskStatus
    scope: str
    description: str
    """The task's body as Markdown (the six sections), what the remote description mirrors."""
    jira: str | None = None
    path: str | None = None


class FetchResult(BaseModel):
    """The remote side of a sync: issues in the adapter's scope plus every linked key asked for."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    issues: list[RemoteIssue] = Field(default_factory=empty_list)
    missing: list[str] = Field(default_factory=empty_list)
    """Linked keys that do not exist (or are not visible) on the remote."""
    warnings: list[str] = Field(default_factory=empty_list)


class CreatedIssue(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    key: str
    url: str | None = None
    warnings: list[str] = Field(default_factory=empty_list)


class UpdateResult(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    changed: list[str] = Field(default_factory=empty_list)
    """What was changed remotely (e.g. 'summary', 'status: In Review')."""
    warnings: list[str] = Field(default_factory=empty_list)


ActionKind = Literal["create-task", "archive-task", "link-task", "create-issue", "update-issue"]
ActionState = Literal["planned", "done", "failed", "skipped"]


class SyncAction(BaseModel):
    """One step of a sync plan, and (after the run) what became of it."""

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=require_every_field)

    direction: Direction
    kind: ActionKind
    task_id: str | None = None
    key: str | None = None
    path: str | None = None
    title: str | None = None
    changes: list[str] = Field(default_factory=empty_list)
    detail: str = ""
    state: ActionState = "planned"
    error: str | None = None


class PossibleLink(BaseModel):
    """A remote issue that carries a task's marker label while the task names no issue: reported, never
    followed (no key written, no status change, no archive). A human links it by writing the key into
    the task's `jira:` field, or removes the label."""

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=require_every_field)

    direction: Direction
    task_id: str
    key: str
    label: str
    detail: str = ""


class SyncPlan(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    direction: Direction
    actions: list[SyncAction] = Field(default_factory=empty_list)
    warnings: list[str] = Field(default_factory=empty_list)
    possible_links: list[PossibleLink] = Field(default_factory=empty_list)


class SyncResult(BaseModel):
    """`loop-pm sync --json`: the plan (dry run) or what was done, per action."""

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=require_every_field)

    contract_version: Literal[1] = 1
    adapter: str
    direction: Literal["pull", "push", "both"]
    dry_run: bool
    ok: bool
    actions: list[SyncAction] = Field(default_factory=empty_list)
    warnings: list[str] = Field(default_factory=empty_list)
    error: str | None = None
    possible_links: list[PossibleLink] = Field(default_factory=empty_list)
    """Issues carrying a task's marker label that the task does not name (reported, not followed)."""


class AdapterInfo(BaseModel):
    """One row of `loop-pm list-adapters`."""

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=require_every_field)

    name: str
    entry_point: str
    distribution: str | None = None
    version: str | None = None
    available: bool
    reason: str | None = None
    loaded: bool
    commands: bool = False
    """Whether the adapter also ships verbs (`loop-pm <name> …`)."""


class AdapterList(BaseModel):
    """`loop-pm list-adapters --json`."""

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=require_every_field)

    contract_version: Literal[1] = 1
    adapters: list[AdapterInfo] = Field(default_factory=empty_list)


# ------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class PmConnection(Protocol):
    """A configured session with the remote tool (one sync run)."""

    def fetch(self, linked_keys: Sequence[str]) -> FetchResult:
        """Every issue in scope that is not Done, plus each of `linked_keys` whatever its status."""
        ...

    def find_marked(self, task_ids: Sequence[str]) -> dict[str, RemoteIssue]:
        """Issues already carrying one of these task ids as a marker (a push interrupted before the
        key was written back), by task id. Makes push safe to re-run."""
        ...

    def diff(self, remote: RemoteIssue, task: TaskSnapshot) -> list[str]:
        """Which of 'title', 'description', 'status' differ between the task and its remote issue
        (the adapter knows its own status mapping and description rendering). Pure: no remote call."""
        ...

    def create(self, task: TaskSnapshot) -> CreatedIssue:
        """Create the remote issue for a task, marked with its id, in the remote state of its status."""
        ...

    def update(self, remote: RemoteIssue, task: TaskSnapshot, changes: Sequence[str]) -> UpdateResult:
        """Make the remote issue match the task for each named change ('title', 'description',
        'status')."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class PmAdapter(Protocol):
    """What the entry point in `loop_orchestrator.pm_adapters` loads to (or a class building one)."""

    def availability(self) -> Availability:
        """Configuration check only (environment present and valid); never a network call."""
        ...

    def sync_options(self) -> Sequence[SyncOption]: ...

    def connect(self, options: Mapping[str, str]) -> PmConnection:
        """A connection for one sync. Raises AdapterConfigError for bad configuration."""
        ...


@runtime_checkable
class HoldsSecrets(Protocol):
    """Optional, on a PmAdapter: the credential values it uses (e.g. an API token, and `email:token`).
    Read from the configuration only (no network call); loop-pm redacts every form of them."""

    def secret_values(self) -> Sequence[str]: ...


def task_label(task_id: str) -> str:
    """The marker label a pushed issue carries, e.g. `loop-task-T0007`."""
    return f"{TASK_LABEL_PREFIX}{task_id}"


def task_id_from_labels(labels: Sequence[str]) -> str | None:
    for label in labels:
        if label.startswith(TASK_LABEL_PREFIX):
            rest = label[len(TASK_LABEL_PREFIX) :]
            if re.fullmatch(r"T\d{4}", rest):
                return rest
    return None


def comparable_text(text: str) -> str:
    """Text normalised for 'did it change' checks: trailing spaces and blank-line runs ignored."""
    # lines end at \n, \r\n or \r only (str.splitlines would also break at U+2028, \x0c…, which a
    # description keeps inside a line; rstrip() then drops them at a line's end like any trailing space)
    lines = [line.rstrip() for line in re.split(r"\r\n|\r|\n", text.strip())]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out)


__all__ = [
    "ADAPTER_GROUP",
    "COMMAND_GROUP",
    "FATAL_ERRORS",
    "TASK_LABEL_PREFIX",
    "ActionKind",
    "ActionState",
    "AdapterAuthError",
    "AdapterConfigError",
    "AdapterConnectionError",
    "AdapterError",
    "AdapterInfo",
    "AdapterList",
    "Availability",
    "CreatedIssue",
    "Direction",
    "FetchResult",
    "HoldsSecrets",
    "PmAdapter",
    "PmConnection",
    "PossibleLink",
    "RemoteIssue",
    "RemoteNotFoundError",
    "SyncAction",
    "SyncOption",
    "SyncPlan",
    "SyncResult",
    "TaskSnapshot",
    "UpdateResult",
    "comparable_text",
    "task_id_from_labels",
    "task_label",
]
