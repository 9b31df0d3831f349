#!/usr/bin/env python3
"""metrics.py: the coordinator-efficiency figures behind loop-metrics (stdlib only, python 3.8+).

Figures: the checkpoint prompt's size (assembled in-process, exactly as loop-checkpoint --print would,
without the ceiling), pending mail, lane restarts and give-ups from
.loop/sessions/<s>/lane-restarts.jsonl (a line without "event" is a restart -- is_restart; "event":
"giving-up" is a give-up; corrupt lines are skipped and noted on stderr), and the ingest / lint /
checkpoint headings in ops-wiki/log.md. A missing input reads as 0; a figure that cannot be measured
at all (no session given, unreadable header) is null / n/a.

CLI:  metrics.py [--project-root P] [--session S] [--header-file F] [--mailbox-dir D] [--json] [--log]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint
import fsread
import mail

CONTRACT_VERSION = 1
PROG = "loop-metrics"
LOG_HEADING_RE = re.compile(rb"^## \[\d{4}-\d{2}-\d{2}\] (ingest|lint|checkpoint) \|", re.MULTILINE)
SESSION_RE = re.compile(r"^[^/\x00]+$")
FIELDS = ("checkpoint_tokens", "pending", "lane_restarts", "lane_giveups", "ingests", "lints", "checkpoints")
LOG_NAMES = {
    "checkpoint_tokens": "checkpoint_tokens",
    "pending": "pending",
    "lane_restarts": "restarts",
    "lane_giveups": "giveups",
    "ingests": "ingests",
    "lints": "lints",
    "checkpoints": "checkpoints",
}


class MetricsError(Exception):
    """A one-line, user-facing error."""


RESTART_KEYS = ("timestamp", "session", "lane", "target", "cmd")
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$"
)


def valid_timestamp(value: Any) -> bool:
    """An ISO-8601 date and time (`2026-04-15T11:22:33.123Z`, offsets and no seconds allowed) naming a
    real moment -- the rule of loop_schemas.RestartEvent."""
    m = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups())
    try:
        _dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def is_restart(doc: Dict[str, Any]) -> bool:
    """A lane-restarts.jsonl object is a restart when it has no `event` and either a valid `timestamp`
    (the original's sparse lines, e.g. {"timestamp": ..., "lane": "web"}) or all of a restart's text
    fields (loop_schemas.RestartEvent's rule)."""
    if "event" in doc:
        return False
    return valid_timestamp(doc.get("timestamp")) or all(isinstance(doc.get(k), str) for k in RESTART_KEYS)


def restart_counts(path: str) -> Dict[str, int]:
    """{"restarts": n, "giveups": n, "corrupt": n} from a lane-restarts.jsonl; a missing file counts 0.
    A line that is no JSON object (a half-written last line, say), over-long, or an object without
    `event` that is no restart (is_restart) is corrupt: skipped and counted (the caller notes it); the
    improve miner and the deck read the file the same way."""
    restarts = giveups = corrupt = 0
    try:
        fh = fsread.open_file(path)
    except FileNotFoundError:
        return {"restarts": 0, "giveups": 0, "corrupt": 0}
    with fh:
        for raw in fsread.lines(fh):
            if raw is None:
                corrupt += 1  # a line over fsread.LINE_CAP bytes: no restart record
                continue
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                corrupt += 1
                continue
            if not isinstance(doc, dict):
                corrupt += 1
            elif is_restart(doc):
                restarts += 1
            elif "event" not in doc:
                corrupt += 1
            elif doc.get("event") == "giving-up":
                giveups += 1
    return {"restarts": restarts, "giveups": giveups, "corrupt": corrupt}


def log_counts(path: str) -> Dict[str, int]:
    """How many `## [date] ingest|lint|checkpoint | ...` headings ops-wiki/log.md holds (0 if missing)."""
    counts = {"ingest": 0, "lint": 0, "checkpoint": 0}
    try:
        data = fsread.read_file(path, fsread.WIKI_CAP)
    except FileNotFoundError:
        return counts
    for m in LOG_HEADING_RE.finditer(data):
        counts[m.group(1).decode("ascii")] += 1
    return counts


def collect(
    project_root: str,
    session: Optional[str],
    header_file: Optional[str] = None,
    mailbox: Optional[str] = None,
    now: Optional[_dt.datetime] = None,
) -> Dict[str, Any]:
    """The Metrics document (contract v1, loop_schemas.Metrics)."""
    if session is not None and (not SESSION_RE.match(session) or session in (".", "..")):
        raise MetricsError(f"invalid session name {session!r}")
    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    box = mailbox or os.path.join(project_root, ".loop", "messages")
    try:
        prompt = checkpoint.assemble(project_root, header_file, mailbox)
        cp_bytes: Optional[int] = len(prompt.encode("utf-8"))
        cp_tokens: Optional[int] = checkpoint.token_estimate(cp_bytes or 0)
    except checkpoint.CheckpointError:
        cp_bytes = cp_tokens = None
    restarts: Optional[int] = None
    giveups: Optional[int] = None
    if session:
        log_path = os.path.join(project_root, ".loop", "sessions", session, "lane-restarts.jsonl")
        counts = restart_counts(log_path)
        restarts, giveups = counts["restarts"], counts["giveups"]
        if counts["corrupt"]:
            sys.stderr.write(f"{PROG}: note: {log_path}: {counts['corrupt']} corrupt line(s) skipped\n")
    logs = log_counts(os.path.join(project_root, "ops-wiki", "log.md"))
    return {
        "contract_version": CONTRACT_VERSION,
        "generated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "session": session or None,
        "checkpoint_bytes": cp_bytes,
        "checkpoint_tokens": cp_tokens,
        "pending": mail.pending_count(box),
        "lane_restarts": restarts,
        "lane_giveups": giveups,
        "ingests": logs["ingest"],
        "lints": logs["lint"],
        "checkpoints": logs["checkpoint"],
    }


def _fmt(value: Any) -> str:
    return "n/a" if value is None else str(value)


def log_summary(doc: Dict[str, Any]) -> str:
    """`checkpoint_tokens=N pending=N restarts=N giveups=N ingests=N lints=N checkpoints=N`."""
    return " ".join(f"{LOG_NAMES[k]}={_fmt(doc[k])}" for k in FIELDS)


def human(doc: Dict[str, Any]) -> str:
    cp = "n/a"
    if doc["checkpoint_bytes"] is not None:
        cp = f"~{doc['checkpoint_tokens']} tokens ({doc['checkpoint_bytes']} bytes)"
    rows = [
        ("checkpoint prompt", cp),
        ("pending mail", _fmt(doc["pending"])),
        ("lane restarts", _fmt(doc["lane_restarts"])),
        ("lane give-ups", _fmt(doc["lane_giveups"])),
        ("ingests (log)", _fmt(doc["ingests"])),
        ("lints (log)", _fmt(doc["lints"])),
        ("checkpoints (log)", _fmt(doc["checkpoints"])),
    ]
    session = doc["session"] if doc["session"] else "n/a (no session)"
    lines = [f"loop metrics  session {session}  at {doc['generated_at']}"]
    lines += [f"  {name:<18} {value}" for name, value in rows]
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.exit(2)


def main(argv: List[str]) -> int:
    parser = _Parser(
        prog="metrics.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project-root", default=".")
    parser.add_argument("--session")
    parser.add_argument("--header-file")
    parser.add_argument("--mailbox-dir")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log", action="store_true")
    args = parser.parse_args(argv)
    try:
        doc = collect(args.project_root, args.session or None, args.header_file, args.mailbox_dir)
    except MetricsError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"{PROG}: {exc.filename or args.project_root}: {exc.strerror}\n")
        return 1
    if args.json:
        json.dump(doc, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(human(doc))
    if args.log:
        try:
            checkpoint.append_log(args.project_root, "metrics", log_summary(doc))
        except (checkpoint.CheckpointError, OSError) as exc:
            sys.stderr.write(f"{PROG}: cannot append to ops-wiki/log.md: {exc}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
