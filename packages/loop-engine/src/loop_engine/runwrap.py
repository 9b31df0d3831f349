"""The wrapper of one detached verify / build run (loop_engine/runs.py starts it; stdlib only).

    python -m loop_engine.runwrap RESULT LOG CWD TIMEOUT_S -- ARGV...

Runs ARGV in CWD (its own process group, stdin closed, stdout and stderr appended to LOG), waits for it
and writes RESULT atomically: {"exit": <code or null>, "timed_out": bool, "ended_at", "error"?}. Past
TIMEOUT_S it stops the runner's group (SIGTERM, then SIGKILL) and records `timed_out`. The argv is passed
as it is: no shell ever reads it. The engine starts this wrapper in a session of its own, so a kill -9 of
the engine leaves the run going; the engine's in-progress marker keeps track of it (pid, start, token).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from types import FrameType

GRACE_S = 5.0


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: str, doc: dict[str, object]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run(result: str, log: str, cwd: str, timeout_s: float, argv: list[str]) -> int:
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            out.write(f"--- cannot run {argv[0]}: {exc.strerror or exc}\n".encode())
            _write(result, {"exit": 127, "timed_out": False, "ended_at": _now(), "error": str(exc)})
            return 0

        def on_term(signum: int, frame: FrameType | None) -> None:  # the engine stops the run
            _stop_group(proc)
            sys.exit(128 + signum)

        signal.signal(signal.SIGTERM, on_term)
        deadline = time.monotonic() + timeout_s
        timed_out = False
        while proc.poll() is None:
            if time.monotonic() > deadline:
                timed_out = True
                _stop_group(proc)
                break
            time.sleep(0.1)
    code = None if timed_out else proc.returncode
    _write(result, {"exit": code, "timed_out": timed_out, "ended_at": _now()})
    return 0


def main(args: list[str]) -> int:
    if len(args) < 6 or args[4] != "--":
        print("usage: python -m loop_engine.runwrap RESULT LOG CWD TIMEOUT_S -- ARGV...", file=sys.stderr)
        return 2
    try:
        timeout = float(args[3])
    except ValueError:
        print(f"runwrap: TIMEOUT_S {args[3]!r} is not a number", file=sys.stderr)
        return 2
    return run(args[0], args[1], args[2], timeout, args[5:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
