"""The decision queue: at most one decision in flight, in .loop/sessions/<s>/engine/pending-decision.json.

A decision's life: brain answer → gated → (parts run now, by the approval mode) → the rest waits in
pending-decision.json for `approve` / `reject` → it is archived in decisions/<id>.json. Execution goes
through executing/<id>.json, where each action is marked `started` BEFORE it is sent and `done` /
`failed` after; a decision found in executing/ at start-up was interrupted by a crash, and its
`started` actions are surfaced as uncertain for a human — never re-sent.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loop_schemas import atomic_write, file_lock, read_project_file, read_project_text
from loop_schemas.fsread import ENGINE_CAP, STATE_CAP, WIKI_CAP

from loop_engine.events import iso
from loop_engine.paths import EnginePaths
from loop_engine.store import StoreError, read_json, write_json

MARKER = "<!-- coord-decisions -->"
FILED_KEEP = 10  # engine.checkpoint.keep_decisions' default
ARCHIVE_NAME = "decisions-archive.md"  # beside checkpoint.md: ops-wiki/decisions-archive.md
ARCHIVE_HEAD = (
    "# Decisions archive\n\n"
    "Older `### ` entries from below ops-wiki/checkpoint.md's <!-- coord-decisions --> marker, appended "
    "oldest first when filing keeps only the newest `engine.checkpoint.keep_decisions`.\n"
)
# an entry below the marker: a `### ` line, with the engine's opening comment just above it when it has one
# (filing a decision reads it, a cycle that queues one does not: re compiles it on first use and caches it)
_ENTRY_START = r"^(?:<!-- engine-decision [^\n]* -->\n)?### "


class QueueError(Exception):
    """A user-facing problem with the decision queue (no such decision, one already pending...)."""


@contextlib.contextmanager
def locked(paths: EnginePaths) -> Iterator[None]:
    paths.engine_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(paths.queue_lock):
        yield


def read_pending(paths: EnginePaths) -> dict[str, Any] | None:
    """The pending decision, or None; QueueError (one line naming the file) when it is not one.

    A damaged file is never overwritten or acted on: every command refuses until a human moves it aside.
    """
    try:
        doc: dict[str, Any] = read_json(paths.pending, {})
    except StoreError as exc:
        raise QueueError(f"{exc}; move it aside to clear the queue") from exc
    if not doc:
        return None
    from loop_schemas.pending import PendingDecision  # the model, and pydantic, only when one is pending
    from pydantic import ValidationError

    try:
        PendingDecision.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
        raise QueueError(
            f"{paths.pending}: not a valid pending decision ({where}: {err.get('msg')}); "
            "move it aside to clear the queue"
        ) from None
    actions = doc["decision"].get("actions", [])
    if len(doc["gates"]) != len(actions):
        raise QueueError(
            f"{paths.pending}: not a valid pending decision ({len(doc['gates'])} gates for "
            f"{len(actions)} actions); move it aside to clear the queue"
        )
    return doc


def pending_digest(paths: EnginePaths) -> str | None:
    """sha256 of pending-decision.json's bytes: what a reviewer saw (None when there is no file)."""
    import hashlib  # only where a decision is pending: `status` of an idle engine never loads it

    try:
        return hashlib.sha256(read_project_file(paths.pending, ENGINE_CAP)).hexdigest()
    except FileNotFoundError:
        return None


def write_pending(paths: EnginePaths, doc: dict[str, Any]) -> None:
    """Replace pending-decision.json; the document must validate as a loop_schemas.PendingDecision."""
    from loop_schemas.pending import PendingDecision
    from pydantic import ValidationError

    try:
        PendingDecision.model_validate(doc)
    except ValidationError as exc:
        raise QueueError(f"refusing to write an invalid pending decision: {exc.errors()[0]}") from None
    write_json(paths.pending, doc)


def clear_pending(paths: EnginePaths) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.pending)
        _fsync_dir(paths.engine_dir)


def archive(paths: EnginePaths, doc: dict[str, Any], resolution: str, **extra: Any) -> Path:
    record = dict(doc)
    record.update(resolution=resolution, resolved_at=iso(), **extra)
    target = paths.decisions / f"{doc['id']}.json"
    write_json(target, record)
    return target


def begin_execution(paths: EnginePaths, doc: dict[str, Any], indices: list[int]) -> Path:
    """Write executing/<id>.json with every chosen action `pending`, before anything is sent."""
    record = dict(doc)
    record["steps"] = [{"index": i, "state": "pending", "result": None, "error": None} for i in indices]
    path = paths.executing / f"{doc['id']}.json"
    write_json(path, record)
    return path


def mark_step(
    path: Path, index: int, state: str, *, result: Any = None, error: str | None = None, at: str | None = None
) -> None:
    """Record a step's state; `started` also keeps its time as `started_at` (when a dispatch went out)."""
    record: dict[str, Any] = read_json(path, {})
    when = at or iso()
    for step in record.get("steps", []):
        if step.get("index") == index:
            step.update(state=state, result=result, error=error, at=when)
            if state == "started":
                step["started_at"] = when
    write_json(path, record)


def finish_execution(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = read_json(path, {})
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        _fsync_dir(path.parent)
    return record


def interrupted(paths: EnginePaths) -> list[Path]:
    try:
        return sorted(p for p in paths.executing.iterdir() if p.suffix == ".json")
    except FileNotFoundError:
        return []


def _clean(text: str) -> str:
    return text.replace("<!--", "&lt;!--").replace("-->", "--&gt;")


def _shown(paths: EnginePaths, path: Path) -> str:
    try:
        return str(path.relative_to(paths.project_root))
    except ValueError:
        return str(path)


def _checkpoint_text(paths: EnginePaths) -> str:
    """ops-wiki/checkpoint.md's text; QueueError (one line) when it is missing, unreadable or not UTF-8."""
    path = paths.checkpoint
    shown = _shown(paths, path)
    try:
        return read_project_text(path, WIKI_CAP)
    except FileNotFoundError:
        raise QueueError(f"{shown} is missing") from None
    except UnicodeDecodeError as exc:
        raise QueueError(f"{shown} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise QueueError(f"{shown} cannot be read ({exc.strerror or exc})") from None
    except MemoryError:
        raise QueueError(f"{shown} is too large to read") from None


def checkpoint_problem(paths: EnginePaths) -> str | None:
    """Why a decision cannot be filed in ops-wiki/checkpoint.md now, or None when it can."""
    try:
        text = _checkpoint_text(paths)
    except QueueError as exc:
        return str(exc)
    if MARKER + "\n" not in text and not text.endswith(MARKER):
        return f"{_shown(paths, paths.checkpoint)} has no {MARKER} line"
    return None


def _writable_folder(paths: EnginePaths, folder: Path) -> str | None:
    """None when a file can be created in `folder` (made if missing); else why not, one line."""
    shown = _shown(paths, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"{shown} is not a folder"
    except OSError as exc:
        return f"{shown} cannot be created ({exc.strerror or exc})"
    if not folder.is_dir():
        return f"{shown} is not a folder"
    import tempfile  # only an approval's preflight gets here: `status` never loads it

    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{shown} is not writable ({exc.strerror or exc})"
    return None


def preflight(paths: EnginePaths, state_files: tuple[Path, ...] = ()) -> None:
    """Check every file an approval will write BEFORE any action runs; QueueError (one line) on the first
    that would fail: ops-wiki/checkpoint.md (readable, UTF-8, its marker present, its folder writable),
    the archive and executing folders, the engine's state files (valid JSON, their folder writable), the
    event log (appendable) and .loop/ (where the checkpoint lock lives). Nothing is written but probes."""
    problem = checkpoint_problem(paths)
    for folder in (
        paths.checkpoint.parent,
        paths.decisions,
        paths.executing,
        paths.engine_dir,
        paths.loop_dir,
    ):
        problem = problem or _writable_folder(paths, folder)
    for state in state_files:
        if problem:
            break
        try:
            read_json(state, [] if state == paths.uncertain else {})
        except StoreError as exc:
            problem = str(exc)
    if not problem:
        try:
            with paths.events.open("ab"):
                pass
        except OSError as exc:
            problem = f"{_shown(paths, paths.events)} cannot be appended to ({exc.strerror or exc})"
    if problem:
        raise QueueError(problem)


def split_entries(tail: str) -> tuple[str, list[str]]:
    """The text below the marker as (what precedes the first entry, the `### ` entries in file order):
    an entry runs from its `### ` line (with the engine's `<!-- engine-decision ... -->` line right above
    it, when there is one) to the next entry or the end. Joined back together they are `tail` exactly."""
    starts = [m.start() for m in re.finditer(_ENTRY_START, tail, re.MULTILINE)]
    if not starts:
        return tail, []
    bounds = [*starts, len(tail)]
    return tail[: starts[0]], [tail[a:b] for a, b in itertools.pairwise(bounds)]


def _append_archive(path: Path, entries: list[str]) -> bool:
    """Append `entries` to the archive, atomically and durably (the whole file is replaced by its old
    bytes plus the new ones, fsynced): a crash leaves the old archive or the new, never a torn one.
    False (nothing written) when the archive cannot be read or written: the entries then stay put."""
    try:
        old = read_project_text(path, STATE_CAP)
    except FileNotFoundError:
        old = ARCHIVE_HEAD
    except (OSError, UnicodeDecodeError):
        return False
    if old and not old.endswith("\n"):
        old += "\n"
    added = "".join(e if e.endswith("\n") else e + "\n" for e in entries)
    try:
        atomic_write(path, old + "\n" + added if old else added, durable=True)
    except OSError:
        return False
    return True


def file_decision(
    paths: EnginePaths,
    doc: dict[str, Any],
    outcomes: list[dict[str, Any]],
    approved_by: str,
    keep: int = FILED_KEEP,
) -> bool:
    """File an executed decision below the coord-decisions marker, above the newest entry (newest first).

    Retention (`engine.checkpoint.keep_decisions`, `keep`): the newest `keep` `### ` entries below the
    marker stay; the older ones are first appended to ops-wiki/decisions-archive.md (oldest first,
    atomic, durable), and only then is checkpoint.md rewritten without them, so a crash between the two
    leaves a decision in both files at worst, never in neither (an archive that cannot be written keeps
    them all in checkpoint.md). `keep` < 1: nothing is archived or dropped.

    False when ops-wiki/checkpoint.md is missing, unreadable, not UTF-8 or has no marker (nothing is
    written then; checkpoint_problem says why). Never raises for those: the actions already ran.
    """
    path = paths.checkpoint
    if checkpoint_problem(paths) is not None:
        return False
    decision = doc.get("decision", {})
    lines = [
        f"<!-- engine-decision {doc['id']} -->",
        f"### {doc['id']} · {iso()} · approved by {approved_by}",
        "",
        "Critique: " + _clean(" ".join(str(decision.get("critique", "")).split()))[:1000],
        "",
    ]
    actions = decision.get("actions", [])
    for out in outcomes:
        i = int(out["index"])
        action = actions[i] if i < len(actions) else {}
        target = action.get("lane") or action.get("window") or ""
        first = str(action.get("payload") or action.get("summary") or action.get("brief") or "").strip()
        first = first.splitlines()[0][:100] if first else ""
        lines.append(f"- {action.get('kind', '?')} {target}: {_clean(first)} → {out['state']}")
    lines.append("<!-- /engine-decision -->")
    block = "\n".join(lines) + "\n"
    # the lock lives in .loop/, never beside checkpoint.md: ops-wiki/ is the project's (tracked) wiki
    with file_lock(paths.loop_dir / "checkpoint-file"):
        try:
            text = _checkpoint_text(paths)
        except QueueError:
            return False  # changed since the check above
        at = text.find(MARKER + "\n")
        if at < 0:
            if not text.endswith(MARKER):
                return False
            text += "\n"
            at = text.find(MARKER + "\n")
        head_end = at + len(MARKER) + 1
        # the new entry goes above the newest one; text between the marker and the first entry stays put
        lead, entries = split_entries(text[head_end:])
        entries.insert(0, block)
        # archive first (oldest first): only entries the archive now holds leave checkpoint.md
        if 1 <= keep < len(entries) and _append_archive(path.parent / ARCHIVE_NAME, entries[keep:][::-1]):
            entries = entries[:keep]
        atomic_write(path, text[:head_end] + lead + "".join(entries))
    return True


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
