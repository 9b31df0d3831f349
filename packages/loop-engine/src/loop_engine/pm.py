"""PM sync: when `engine.pm.adapters` names adapters, run the `loop-pm` CLI (never imported) for each.

`pull` runs before the brain is asked (so a human's Done in the PM tool is seen), `push` after the
engine moved a task's status. With no adapters the engine never calls loop-pm and behaves identically.

An adapter the engine cannot sync through is skipped with `pm-skip {adapter, direction, reason:
unknown-adapter}`: a name that is no adapter name, or one `loop-pm list-adapters --json` does not list
(the listing is asked once and asked again only while a configured name is missing from it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence

from loop_engine.events import EventLog

PM_TIMEOUT_S = 120
ADAPTER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_INSTALLED: dict[str, frozenset[str]] = {}  # loop-pm executable -> the adapter names it lists


def installed_adapters(exe: str, wanted: Sequence[str]) -> frozenset[str] | None:
    """The adapter names `exe list-adapters --json` lists, or None when it cannot tell (then nothing is
    skipped as unknown: the sync itself says what is wrong)."""
    known = _INSTALLED.get(exe)
    if known is not None and all(name in known for name in wanted):
        return known
    try:
        proc = subprocess.run(
            [exe, "list-adapters", "--json"],
            capture_output=True,
            text=True,
            timeout=PM_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:  # an adapter that prints while it is imported puts text ahead of the document (its last line)
        doc = json.loads(lines[-1]) if lines else None
    except (ValueError, RecursionError):
        return None
    entries = doc.get("adapters") if isinstance(doc, dict) else None
    if proc.returncode != 0 or not isinstance(entries, list):
        return None
    known = frozenset(
        str(e["name"]) for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)
    )
    _INSTALLED[exe] = known
    return known


def sync(adapters: Sequence[str], direction: str, *, events: EventLog, cwd: str) -> None:
    if not adapters:
        return
    exe = shutil.which("loop-pm")
    if exe is None:
        events.emit(
            "pm-unavailable",
            adapters=list(adapters),
            direction=direction,
            error="loop-pm is not on PATH (install loop-pm and the adapter)",
        )
        return
    known = installed_adapters(exe, [a for a in adapters if ADAPTER_RE.match(a)])
    for adapter in adapters:
        if not ADAPTER_RE.match(adapter) or (known is not None and adapter not in known):
            events.emit("pm-skip", adapter=adapter, direction=direction, reason="unknown-adapter")
            continue
        argv = [exe, "sync", "--adapter", str(adapter), direction]
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=PM_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            events.emit(
                "pm-sync-failed",
                adapter=adapter,
                direction=direction,
                error=f"timed out after {PM_TIMEOUT_S}s",
            )
            continue
        except OSError as exc:
            events.emit("pm-sync-failed", adapter=adapter, direction=direction, error=str(exc))
            continue
        if proc.returncode != 0:
            last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1][:300]
            events.emit(
                "pm-sync-failed", adapter=adapter, direction=direction, exit_code=proc.returncode, error=last
            )
        else:
            events.emit("pm-synced", adapter=adapter, direction=direction)
