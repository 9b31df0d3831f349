"""Where a session's engine keeps its files: everything under .loop/sessions/<s>/engine/ is the engine's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class EnginePaths:
    """The files of one session's engine, and the project files the engine reads or files into."""

    project_root: Path
    session: str

    def __post_init__(self) -> None:
        if not SESSION_RE.match(self.session) or ".." in self.session:
            raise ValueError(f"invalid session name {self.session!r}")

    @property
    def loop_dir(self) -> Path:
        return self.project_root / ".loop"

    @property
    def session_dir(self) -> Path:
        return self.loop_dir / "sessions" / self.session

    @property
    def engine_dir(self) -> Path:
        return self.session_dir / "engine"

    @property
    def pending(self) -> Path:
        return self.engine_dir / "pending-decision.json"

    @property
    def events(self) -> Path:
        return self.engine_dir / "events.jsonl"

    @property
    def transcripts(self) -> Path:
        return self.engine_dir / "transcripts"

    @property
    def decisions(self) -> Path:
        """Archive of resolved decisions, one JSON file each."""
        return self.engine_dir / "decisions"

    @property
    def executing(self) -> Path:
        """Decisions being executed right now; one left here after a crash is recovered, never re-run."""
        return self.engine_dir / "executing"

    @property
    def uncertain(self) -> Path:
        """Actions that may or may not have been sent before a crash, waiting for a human."""
        return self.engine_dir / "uncertain.json"

    @property
    def asks(self) -> Path:
        return self.engine_dir / "asks.json"

    @property
    def assignments(self) -> Path:
        return self.engine_dir / "assignments.json"

    @property
    def lanes_seen(self) -> Path:
        """The lane statuses last mirrored into the state file (written only when they change)."""
        return self.engine_dir / "lanes-seen.json"

    @property
    def snapshot(self) -> Path:
        """The last good observation (loop_engine.snapshot): a cache, never the truth."""
        return self.engine_dir / "snapshot.json"

    @property
    def mail_index(self) -> Path:
        """The mailbox's read cache, shared with loop-digest (see observe.pending_mail)."""
        return self.loop_dir / "cache" / "mail-index.json"

    @property
    def acked_names(self) -> Path:
        """The last listing of the mailbox's processed/ the cycle took (observe.acked_mail): a cache."""
        return self.engine_dir / "acked-names.json"

    @property
    def budget(self) -> Path:
        return self.engine_dir / "budget.json"

    @property
    def backoff(self) -> Path:
        return self.engine_dir / "backoff.json"

    @property
    def ingest_state(self) -> Path:
        return self.engine_dir / "ingest.json"

    @property
    def pid(self) -> Path:
        return self.engine_dir / "daemon.pid"

    @property
    def daemon_build(self) -> Path:
        """What code the running daemon was started from (watch.BuildRecord), written at its boot."""
        return self.engine_dir / "daemon-build.json"

    @property
    def daemon_lock(self) -> Path:
        return self.engine_dir / "daemon.lock"

    @property
    def children(self) -> Path:
        """One record per brain / headless-ingest child while it runs (reaped if its engine died)."""
        return self.engine_dir / "children"

    @property
    def daemon_log(self) -> Path:
        return self.engine_dir / "daemon.log"

    @property
    def cycle_lock(self) -> Path:
        return self.engine_dir / "cycle.lock"

    @property
    def queue_lock(self) -> Path:
        return self.engine_dir / "queue.lock"

    @property
    def paused(self) -> Path:
        return self.engine_dir / "paused"

    @property
    def cycle_now(self) -> Path:
        return self.engine_dir / "cycle-now"

    @property
    def header_override(self) -> Path:
        """A project's own engine header (the surface `improve` may edit); the packaged one otherwise."""
        return self.loop_dir / "engine-header.md"

    @property
    def mailbox(self) -> Path:
        return self.loop_dir / "messages"

    @property
    def state_file(self) -> Path:
        return self.loop_dir / "orchestrator-state.json"

    @property
    def tasks_dir(self) -> Path:
        return self.project_root / "tasks"

    @property
    def checkpoint(self) -> Path:
        return self.project_root / "ops-wiki" / "checkpoint.md"

    def project_problem(self) -> str | None:
        """None when project_root is a loop project, else one line saying it is not.

        A loop project is what `loop-init` makes: its mailbox `.loop/messages/`, its state file
        `.loop/orchestrator-state.json`, or its wiki's `ops-wiki/checkpoint.md` (tracked: a fresh clone of
        a loop project has it before `.loop/` exists). Any one of them counts; a bare `.loop/` does not
        (an engine outside a project used to leave one behind)."""
        if self.mailbox.is_dir() or self.state_file.is_file() or self.checkpoint.is_file():
            return None
        return (
            f"{self.project_root} is not a loop project (no .loop/messages/, .loop/orchestrator-state.json "
            "or ops-wiki/checkpoint.md): run loop-init there, or pass --project-root"
        )

    def ensure(self) -> None:
        for folder in (self.engine_dir, self.transcripts, self.decisions, self.executing):
            folder.mkdir(parents=True, exist_ok=True)
