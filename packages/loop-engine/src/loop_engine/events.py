"""events.jsonl: the engine's append-only record of every step, one whole JSON object per line.

Lines are written with one write() on an O_APPEND descriptor under an exclusive flock, so concurrent
writers (the daemon and a CLI approve) never interleave and a crash leaves at most a torn LAST line,
which readers skip. The improve miner reads these events, so each carries what it needs: brain call
timings and failure classes, rejected decisions with their reasons, action failures, ask timeouts.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loop_schemas import open_project_file, project_lines
from loop_schemas.fsread import open_project_append


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime | None = None) -> str:
    return (moment or utcnow()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """An ISO-8601 timestamp (a trailing Z allowed) as an aware UTC datetime; ValueError otherwise."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def new_id(prefix: str) -> str:
    """A sortable, unique id: prefix-YYYYmmddTHHMMSS.ffffff-<4 hex>."""
    import secrets  # (hmac, hashlib, random) only where an id is made: `status` never loads it

    now = utcnow()
    return f"{prefix}-{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond:06d}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class EventLog:
    """The session's events.jsonl, appended one JSON line per event."""

    path: Path
    session: str

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event and return it. Field values must be JSON-serialisable data."""
        record: dict[str, Any] = {
            "contract_version": 1,
            "id": new_id("e"),
            "timestamp": iso(),
            "session": self.session,
            "event": event,
        }
        record.update(fields)
        line = (json.dumps(record, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_project_append(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                _repair_torn_tail(fd)
                # no fsync: a killed process loses nothing written, and the torn tail a power loss may
                # leave is repaired by the next append (the log records decisions, it decides nothing)
                os.write(fd, line)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return record

    def read(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Every whole event, oldest first; `since` is an event id (events after it) or an ISO time."""
        after_id: str | None = None
        after_time: datetime | None = None
        if since:
            if since.startswith("e-"):
                after_id = since
            else:
                after_time = parse_iso(since)
        try:
            handle = open_project_file(self.path)
        except FileNotFoundError:
            return
        seen_id = after_id is None
        with handle:
            for raw in project_lines(handle):
                if raw is None:
                    continue  # a line over LINE_CAP bytes: not an event, never held in memory
                if not raw.endswith(b"\n"):
                    break  # a torn last line: not an event
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(record, dict) or not _is_event(record):
                    continue  # a line that is not an engine event (hand-edited, another tool's): skipped
                if not seen_id:
                    if record.get("id") == after_id:
                        seen_id = True
                    continue
                if after_time is not None:
                    try:
                        if parse_iso(str(record.get("timestamp", ""))) < after_time:
                            continue
                    except ValueError:
                        continue
                yield record


def _is_event(record: dict[str, Any]) -> bool:
    # the model (and pydantic) only where events are read back, not where one is stamped or written
    from loop_schemas import EngineEvent
    from pydantic import ValidationError

    try:
        EngineEvent.model_validate(record)
    except ValidationError:
        return False
    return True


def _repair_torn_tail(fd: int) -> None:
    """If a crashed writer left a last line without its newline, end it so the next line stays whole."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    tail = os.pread(fd, 1, size - 1)
    if tail != b"\n":
        os.write(fd, b"\n")
