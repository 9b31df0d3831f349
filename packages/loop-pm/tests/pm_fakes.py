"""An in-memory remote + adapter satisfying loop_schemas.pm, and task-file builders, for loop-pm tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loop_schemas import TaskStatus, format_task, slugify
from loop_schemas.pm import (
    AdapterAuthError,
    AdapterError,
    Availability,
    CreatedIssue,
    FetchResult,
    RemoteIssue,
    SyncOption,
    TaskSnapshot,
    UpdateResult,
    comparable_text,
    task_id_from_labels,
    task_label,
)

SECTIONS = (
    "Objective",
    "Context you need",
    "Deliverables",
    "Acceptance criteria",
    "Verification",
    "Out of scope",
)


def task_text(
    task_id: str,
    title: str,
    status: str = "open",
    jira: str | None = None,
    depends_on: Sequence[str] = (),
    extra: str = "",
) -> str:
    body = "\n".join(f"## {name}\n\n{title}: {name.lower()}.{extra}\n" for name in SECTIONS)
    fm: dict[str, object] = {
        "id": task_id,
        "title": title,
        "status": status,
        "depends_on": list(depends_on),
        "scope": "one line of scope",
        "jira": jira,
    }
    return format_task(fm, body)


def write_task(
    tasks_dir: Path,
    task_id: str,
    title: str,
    status: str = "open",
    jira: str | None = None,
    slug: str | None = None,
) -> Path:
    folder = tasks_dir / "archive" if status in ("done", "dropped") else tasks_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task_id}-{slug or slugify(title)}.md"
    path.write_text(task_text(task_id, title, status, jira), encoding="utf-8")
    return path


@dataclass
class Remote:
    """The remote tool's state: issues by key, plus a log of every call."""

    issues: dict[str, RemoteIssue] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    counter: int = 0
    fail_create: dict[str, Exception] = field(default_factory=dict)
    fail_update: dict[str, Exception] = field(default_factory=dict)
    fail_fetch: Exception | None = None
    on_fetch: Callable[[], None] | None = None
    """Runs inside fetch: what a human or another tool does while the remote is being read."""
    on_create: Callable[[str], None] | None = None
    """Runs as a create arrives (with the task id), before it is applied or refused."""

    def add(
        self,
        title: str,
        status: TaskStatus = TaskStatus.OPEN,
        description: str = "",
        labels: Sequence[str] = (),
        name: str | None = None,
        key: str | None = None,
        unchecked: bool = False,
    ) -> RemoteIssue:
        """`unchecked`: build the issue without validation, as an adapter that skips the model's checks
        (RemoteIssue.model_construct) could, to send a key the model would refuse."""
        self.counter += 1
        key = key or f"MEM-{self.counter}"
        build = RemoteIssue.model_construct if unchecked else RemoteIssue
        issue = build(
            key=key,
            title=title,
            status=name or status.value,
            task_status=status,
            description=description,
            labels=list(labels),
            task_id=task_id_from_labels(labels),
        )
        self.issues[key] = issue
        return issue

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in ("create", "update")]


class MemoryConnection:
    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.closed = False

    def fetch(self, linked_keys: Sequence[str]) -> FetchResult:
        self.remote.calls.append(("fetch", ",".join(linked_keys)))
        if self.remote.fail_fetch is not None:
            raise self.remote.fail_fetch
        if self.remote.on_fetch is not None:
            self.remote.on_fetch()
        scope = [
            i
            for i in self.remote.issues.values()
            if i.task_status not in (TaskStatus.DONE, TaskStatus.DROPPED)
        ]
        keys = {i.key for i in scope}
        missing: list[str] = []
        for key in linked_keys:
            if key in keys:
                continue
            if key in self.remote.issues:
                scope.append(self.remote.issues[key])
                keys.add(key)
            else:
                missing.append(key)
        return FetchResult(issues=[i.model_copy() for i in scope], missing=missing)

    def find_marked(self, task_ids: Sequence[str]) -> dict[str, RemoteIssue]:
        self.remote.calls.append(("find_marked", ",".join(task_ids)))
        return {i.task_id: i.model_copy() for i in self.remote.issues.values() if i.task_id in task_ids}

    def diff(self, remote: RemoteIssue, task: TaskSnapshot) -> list[str]:
        out = []
        if remote.title != task.title:
            out.append("title")
        if comparable_text(remote.description) != comparable_text(task.description):
            out.append("description")
        if remote.task_status != task.status:
            out.append("status")
        return out

    def create(self, task: TaskSnapshot) -> CreatedIssue:
        self.remote.calls.append(("create", task.id))
        if self.remote.on_create is not None:
            self.remote.on_create(task.id)
        if task.id in self.remote.fail_create:
            raise self.remote.fail_create[task.id]
        issue = self.remote.add(task.title, task.status, task.description, [task_label(task.id)])
        return CreatedIssue(key=issue.key)

    def update(self, remote: RemoteIssue, task: TaskSnapshot, changes: Sequence[str]) -> UpdateResult:
        self.remote.calls.append(("update", remote.key))
        if remote.key in self.remote.fail_update:
            raise self.remote.fail_update[remote.key]
        issue = self.remote.issues[remote.key]
        update: dict[str, object] = {}
        if "title" in changes:
            update["title"] = task.title
        if "description" in changes:
            update["description"] = task.description
        if "status" in changes:
            update["task_status"] = task.status
            update["status"] = task.status.value
        self.remote.issues[remote.key] = issue.model_copy(update=update)
        return UpdateResult(changed=list(changes))

    def close(self) -> None:
        self.closed = True


class MemoryAdapter:
    def __init__(self, remote: Remote | None = None, available: bool = True) -> None:
        self.remote = remote or Remote()
        self._available = available
        self.connections: list[MemoryConnection] = []
        self.options: list[Mapping[str, str]] = []

    def availability(self) -> Availability:
        if self._available:
            return Availability(available=True)
        return Availability(available=False, reason="MEM_TOKEN is not set")

    def sync_options(self) -> Sequence[SyncOption]:
        return [SyncOption(name="project", metavar="KEY"), SyncOption(name="sprint", directions=["push"])]

    def connect(self, options: Mapping[str, str]) -> MemoryConnection:
        self.options.append(dict(options))
        if options.get("project") == "DENIED":
            raise AdapterAuthError("the remote rejected the credentials (HTTP 401)")
        if options.get("project") == "EXPLODE":  # an adapter breaking its contract (AdapterError only)
            raise RuntimeError("boom in connect")
        conn = MemoryConnection(self.remote)
        self.connections.append(conn)
        return conn


__all__ = ["AdapterError", "MemoryAdapter", "MemoryConnection", "Remote", "task_text", "write_task"]


SHARED = Remote()


class SharedAdapter(MemoryAdapter):
    """Zero-argument adapter over the module-level SHARED remote (what an entry point loads)."""

    def __init__(self) -> None:
        super().__init__(SHARED)


class UnavailableAdapter(MemoryAdapter):
    def __init__(self) -> None:
        super().__init__(SHARED, available=False)


class ExplodingAdapter(MemoryAdapter):
    def __init__(self) -> None:
        raise RuntimeError("boom at init")


SECRET = "mem/S3cret+token=="


class SecretAdapter(MemoryAdapter):
    """The SHARED remote, through an adapter that declares its credential (loop_schemas.pm.HoldsSecrets)."""

    def __init__(self) -> None:
        super().__init__(SHARED)

    def secret_values(self) -> Sequence[str]:
        return [SECRET]
