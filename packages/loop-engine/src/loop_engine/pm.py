"""PM sync: when `engine.pm.adapters` names adapters, run the `loop-pm` CLI (never imported) for each.

`pull` runs before the brain is asked (so a human's Done in the PM tool is seen), `push` after the
engine moved a task's status. With no adapters the engine never calls loop-pm and behaves identically.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from loop_engine.events import EventLog

PM_TIMEOUT_S = 120


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
    for adapter in adapters:
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
