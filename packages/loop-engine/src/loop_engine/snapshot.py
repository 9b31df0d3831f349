"""The last good observation (engine/snapshot.json), and the cycle's look at the fleet under a timeout.

A cycle's observation (the substrate fan-out and the mailbox) gets `min(120, 30 + 5 x lanes)` seconds,
`lanes` being the last known lane count. Each good observation is written to snapshot.json (atomic, not
fsync'd: it is a cache). When the next one fails or times out, the cycle goes on with the snapshot,
marked stale (`observe-stale`); with no usable snapshot the cycle ends (`observe-failed`). A damaged
snapshot is no snapshot, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from loop_schemas import (
    SchemaError,
    Snapshot,
    SnapshotLane,
    atomic_write,
    parse_mail_name,
    parse_snapshot,
    read_project_text,
)
from loop_schemas.fsread import ENGINE_CAP

from loop_engine.events import iso, parse_iso
from loop_engine.mailhead import read_mail_head
from loop_engine.observe import LaneView, MailItem, Observation, read_mailbox
from loop_engine.paths import EnginePaths

T = TypeVar("T")

TIMEOUT_FLOOR_S = 30
TIMEOUT_PER_LANE_S = 5
TIMEOUT_CEILING_S = 120
RESTARTS_TAIL = 10
RESTARTS_TAIL_BYTES = 64 * 1024


def adaptive_timeout(lanes: int) -> float:
    """Seconds one observation may take: min(120, 30 + 5 x lanes)."""
    return float(min(TIMEOUT_CEILING_S, TIMEOUT_FLOOR_S + TIMEOUT_PER_LANE_S * max(0, lanes)))


class ObserveTimeoutError(Exception):
    """The observation did not finish within its timeout."""


def within(fn: Callable[[], T], timeout_s: float) -> T:
    """`fn()`, waited for at most `timeout_s` seconds (ObserveTimeoutError after that; its own error as
    is). It runs in a daemon thread: one left hanging (each substrate call has its own timeout) never
    holds the daemon's exit, and its late answer is dropped."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="loop-engine-observe", daemon=True).start()
    if not done.wait(timeout_s):
        raise ObserveTimeoutError(f"the observation took longer than {timeout_s:g}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def read(paths: EnginePaths) -> Snapshot | None:
    """The last snapshot; None when there is none or it is damaged (a cache: damage is absence)."""
    try:
        return parse_snapshot(read_project_text(paths.snapshot, ENGINE_CAP))
    except (OSError, UnicodeDecodeError, SchemaError):
        return None


def age_s(snap: Snapshot) -> float | None:
    """Seconds since the snapshot was taken (None when its time is unreadable)."""
    try:
        taken = parse_iso(snap.generated_at)
    except ValueError:
        return None
    return max(0.0, (datetime.now(timezone.utc) - taken).total_seconds())


def write(paths: EnginePaths, obs: Observation, checkpoint_tokens: int | None) -> Snapshot:
    """Record a good observation as the snapshot (atomic, not fsync'd). A file that cannot be written
    leaves the cycle as it is: the next good observation writes it again."""
    snap = Snapshot(
        contract_version=1,
        generated_at=iso(),
        lanes={
            name: SnapshotLane(
                status=v.status,
                target=v.target,
                kind=v.status_kind,
                detail=v.detail,
                harness=v.harness,
                agent=v.agent,
                base=v.base,
                role=v.role,
                lane_kind=v.kind,
                tag_harness=v.tag_harness,
                sandboxed=v.sandboxed,
            )
            for name, v in sorted(obs.lanes.items())
        },
        loops=_loops(paths.state_file),
        mailbox_pending=[m.name for m in obs.mail],
        processed_count=obs.processed if obs.processed is not None else processed_count(paths),
        restarts_tail=restarts_tail(paths.session_dir / "lane-restarts.jsonl"),
        checkpoint_tokens=checkpoint_tokens,
        ai_harnesses=sorted(obs.ai_harnesses),
    )
    save(paths, snap)
    return snap


def save(paths: EnginePaths, snap: Snapshot) -> None:
    with contextlib.suppress(OSError):
        atomic_write(paths.snapshot, snap.model_dump_json(indent=2) + "\n", durable=False)


def observation(paths: EnginePaths, snap: Snapshot) -> Observation:
    """The snapshot as a (stale) observation: its lanes as they were, and those of its pending messages
    that are still pending (an acked one is gone from the mailbox)."""
    lanes = {
        name: LaneView(
            name=name,
            status=lane.status,
            detail=lane.detail,
            harness=lane.harness,
            base=lane.base,
            role=lane.role,
            agent=lane.agent,
            tag_harness=lane.tag_harness,
            kind=lane.lane_kind,
            sandboxed=lane.sandboxed,
            target=lane.target,
            status_kind=lane.kind,
        )
        for name, lane in snap.lanes.items()
    }
    mail: list[MailItem] = []
    for name in snap.mailbox_pending:
        path = paths.mailbox / name
        try:
            parsed = parse_mail_name(name)
        except SchemaError:
            continue
        if "/" in name or not path.is_file():
            continue
        subject, task = read_mail_head(path)
        mail.append(
            MailItem(
                name=name,
                path=path,
                sender=parsed.sender,
                recipient=parsed.recipient,
                subject=subject,
                task=task,
            )
        )
    return Observation(lanes=lanes, mail=mail, ai_harnesses=frozenset(snap.ai_harnesses), stale=True)


def processed_count(paths: EnginePaths) -> int:
    """How many acked messages processed/ holds, for an observation that did not count them, as the
    observation counts them: through the mailbox's index (the folder listed again only when it changed
    since the index last counted it, in any run: a cycle costs the same with 0 or 50k acked messages)."""
    return read_mailbox(paths.mailbox, paths.mail_index)[1] or 0


def restarts_tail(path: Path) -> list[dict[str, Any]]:
    """The last ten JSON-object lines of lane-restarts.jsonl (read from its end; damaged lines skipped)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - RESTARTS_TAIL_BYTES))
            raw = fh.read(RESTARTS_TAIL_BYTES)
    except OSError:
        return []
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if size > RESTARTS_TAIL_BYTES and lines:
        lines = lines[1:]  # the first may be cut
    out: list[dict[str, Any]] = []
    for line in reversed(lines):
        if len(out) == RESTARTS_TAIL:
            break
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, dict):
            out.append(entry)
    out.reverse()
    return out


def _loops(state_file: Path) -> dict[str, Any]:
    """The ledger's `loops` as it stands (an unreadable or damaged state file: none)."""
    try:
        data = json.loads(read_project_text(state_file, ENGINE_CAP))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    loops = data.get("loops") if isinstance(data, dict) else None
    return loops if isinstance(loops, dict) else {}


def note_checkpoint_tokens(paths: EnginePaths, tokens: int) -> None:
    """Record the size of the checkpoint prompt this cycle assembled in the snapshot it wrote."""
    snap = read(paths)
    if snap is not None and snap.checkpoint_tokens != tokens:
        save(paths, snap.model_copy(update={"checkpoint_tokens": tokens}))
