#!/usr/bin/env python3
"""metrics.py: the coordinator-efficiency figures behind loop-metrics (stdlib only, python 3.8+).

Figures: the checkpoint prompt's size (assembled in-process, exactly as loop-checkpoint --print would,
without the ceiling), pending mail, lane restarts and give-ups from
.loop/sessions/<s>/lane-restarts.jsonl (a line without "event" is a restart; "event": "giving-up" is a
give-up), and the ingest / lint / checkpoint headings in ops-wiki/log.md. A missing input reads as 0;
a figure that cannot be measured at all (no session given, unreadable header) is null / n/a.

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


def restart_counts(path: str) -> Dict[str, int]:
    """{"restarts": n, "giveups": n} from a lane-restarts.jsonl; a missing file counts 0.
    Lines that are not JSON objects are skipped (a half-written last line, say), and so are objects
    without `event` that lack a restart's text fields (the improve miner reads the file the same way)."""
    restarts = giveups = 0
    try:
        fh = fsread.open_file(path)
    except FileNotFoundError:
        return {"restarts": 0, "giveups": 0}
    with fh:
        for raw in fsread.lines(fh):
            if raw is None:
                continue  # a line over fsread.LINE_CAP bytes: no restart record
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                continue
            if not isinstance(doc, dict):
                continue
            if "event" not in doc:
                # a restart line has these (loop_schemas.RestartEvent); other objects are not restarts
                if all(isinstance(doc.get(k), str) for k in RESTART_KEYS):
                    restarts += 1
            elif doc.get("event") == "giving-up":
                giveups += 1
    return {"restarts": restarts, "giveups": giveups}


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
        counts = restart_counts(
            os.path.join(project_root, ".loop", "sessions", session, "lane-restarts.jsonl")
        )
        restarts, giveups = counts["restarts"], counts["giveups"]
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
