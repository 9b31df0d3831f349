"""The automatic /clear of a fresh claude dispatch on the real Claude Code: a dispatch that exits 0
delivered its prompt (the stub model saw it), on a lane fresh from boot and on one in use, every time.
The paste after /clear must wait until Claude has taken the /clear, not merely until the old idle
screen is seen again."""

from __future__ import annotations

import threading
import time

import pytest
from real_agents import RealSession

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

ROUNDS = 6


def test_claude_fresh_dispatch_after_clear_always_reaches_the_model(real: RealSession) -> None:
    lane = "w-claude"
    real.add_lane(lane, "claude")
    real.wait_status(lane, "idle", "ready", timeout=120)
    frames: list[tuple[float, str]] = []
    stop = threading.Event()

    def record() -> None:
        pane = real.pane(lane)
        while not stop.is_set():
            frames.append((time.monotonic(), real.tmux("capture-pane", "-p", "-t", pane).stdout))
            time.sleep(0.05)

    rec = threading.Thread(target=record, daemon=True)
    rec.start()
    try:
        for n in range(ROUNDS):
            text = f"fresh prompt number {n}"
            t0 = time.monotonic()
            proc = real.dispatch(lane, "--mode", "text", "--", text, check=False)
            if proc.returncode != 0:
                continue  # not delivered and said so: allowed; exit 0 must mean delivered
            real.wait_prompt(text, timeout=20)
            real.wait_status(lane, "idle", "ready", timeout=60)
            print(f"round {n}: {time.monotonic() - t0:.1f}s")
    finally:
        stop.set()
        rec.join()
        with open("/tmp/clr/frames.txt", "w") as fh:
            last = None
            for t, f in frames:
                if f != last:
                    fh.write(f"=== {t:.2f}\n{f}\n")
                last = f
