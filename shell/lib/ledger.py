#!/usr/bin/env python3
"""ledger.py: the loop ledger's branch record for worktree lanes (stdlib only, python 3.8+).

`loop-tmux add-lane --worktree` records the lane's branch in the project's ledger,
.loop/orchestrator-state.json, as `loops.<window>.branch = "loop/<session>/<window>"`:

- a missing ledger is created as {"schema_version": 2, "loops": {}} first;
- every other key (top level, other loops, the row's other fields) is kept as it was;
- the read-modify-write holds an exclusive flock on `<ledger>.lock`, the lock loop-schemas'
  `update_state` (the engine's writer of this file) takes, so two lanes provisioning at once and an
  engine cycle never lose each other's change; the file is replaced atomically (atomic.py), in the
  JSON layout `update_state` writes (indent 2, UTF-8, a final newline).

A ledger that is not a JSON object of schema_version 2 is never rewritten: one line on stderr, exit 1.
Dropping the lane keeps the row and the branch (the engine reads "worktree lane" as "has a ledger branch").

CLI: ledger.py set-branch --state-file F --window W --branch B
     ledger.py branch --state-file F --window W     prints the branch (nothing when none), exit 0
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import atomic
import fsread

MAX_LEDGER_BYTES = 8 * 1024 * 1024


class LedgerError(Exception):
    """The ledger cannot be read or written; the message is one line."""


def _read(path: str) -> Optional[Dict[str, Any]]:
    """The ledger as a dict, or None when there is no file."""
    try:
        raw = fsread.read_file(path, MAX_LEDGER_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(f"{path}: unreadable: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise LedgerError(f"{path}: not valid JSON; left as it is") from None
    if not isinstance(doc, dict):
        raise LedgerError(f"{path}: not a JSON object; left as it is")
    if doc.get("schema_version") != 2:
        raise LedgerError(f"{path}: schema_version is not 2; left as it is")
    loops = doc.get("loops")
    if not isinstance(loops, dict):
        raise LedgerError(f"{path}: `loops` is not an object; left as it is")
    return doc


def _lock(path: str) -> int:
    lock = path + ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
    except ImportError:  # pragma: no cover - not on POSIX
        pass
    return fd


def set_branch(path: str, window: str, branch: str) -> Dict[str, Any]:
    """Merge loops.<window>.branch = branch into the ledger at `path` (created when missing)."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd = _lock(path)
    try:
        doc = _read(path)
        if doc is None:
            doc = {"schema_version": 2, "loops": {}}
        row = doc["loops"].get(window)
        if not isinstance(row, dict):
            row = {}
        if row.get("branch") == branch and window in doc["loops"]:
            return doc  # already recorded: nothing to write
        row["branch"] = branch
        doc["loops"][window] = row
        atomic.atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return doc
    finally:
        os.close(fd)


def branch_of(path: str, window: str) -> str:
    doc = _read(path)
    row = (doc or {}).get("loops", {}).get(window)
    value = row.get("branch") if isinstance(row, dict) else None
    return value if isinstance(value, str) else ""


def _opts(argv: List[str], names: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name not in names:
            raise ValueError(f"unknown argument {arg!r}")
        if not eq:
            if i + 1 >= len(argv):
                raise ValueError(f"{name} needs a value")
            i += 1
            value = argv[i]
        out[name] = value
        i += 1
    missing = [n for n in names if n not in out]
    if missing:
        raise ValueError(f"{missing[0]} is required")
    return out


def main(argv: List[str]) -> int:
    if len(argv) == 1 and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0
    verb = argv[0] if argv else ""
    try:
        if verb == "set-branch":
            o = _opts(argv[1:], ["--state-file", "--window", "--branch"])
        elif verb == "branch":
            o = _opts(argv[1:], ["--state-file", "--window"])
        else:
            raise ValueError("a verb is required: set-branch or branch")
    except ValueError as exc:
        sys.stderr.write(f"ledger.py: {exc}\n")
        return 2
    try:
        if verb == "set-branch":
            set_branch(o["--state-file"], o["--window"], o["--branch"])
        else:
            sys.stdout.write(branch_of(o["--state-file"], o["--window"]) + "\n")
    except LedgerError as exc:
        sys.stderr.write(f"ledger.py: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"ledger.py: {o['--state-file']}: cannot write: {exc.strerror or exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
