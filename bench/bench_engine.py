"""bench_engine: one engine cycle minus the brain, at 16 lanes and 200 pending mails, on real tmux.

The fleet is 16 fake-agent windows on a private tmux server; the engine runs in-process with the REAL
loop_substrate.Substrate (so every loop-lane-status / list-lanes / registry / loop-checkpoint call is a
real subprocess) and an instant in-process brain that answers one dispatch, which the manual mode
queues (and the bench rejects between cycles, untimed). A fresh Engine per cycle, as the daemon does.
Figure: median wall time of `Engine.cycle()` minus the brain's own time, with processed/ holding 0, 5k
and 50k messages (goal: <= 250 ms, and flat).
Standalone: python bench/bench_engine.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_engine.paths import EnginePaths
from loop_substrate import Substrate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import FAKE_AGENT, fake_agent, wait_for

ROOT = Path(__file__).resolve().parents[1]
LANES = 16
PENDING = 200
CYCLES = 15
WARMUP = 3
GOAL_MS = 250.0
SESSION = "benche"
DECISION = (
    "```decision\nversion: 1\ncritique: bench\nactions:\n"
    "  - {kind: dispatch, lane: lane00, payload: 'do the thing', rationale: bench}\n```\n"
)


def _project(root: Path) -> None:
    msgs = root / ".loop" / "messages"
    (msgs / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n\nstate\n\n<!-- coord-decisions -->\n")
    (root / "ops-wiki" / "index.md").write_text("# index\n")
    (root / "tasks").mkdir()
    (root / ".loop" / "orchestrator-state.json").write_text(
        '{"schema_version": 2, "updated_at": "2026-01-01T00:00:00Z", "loops": {}}\n'
    )
    for i in range(PENDING):
        name = f"20260101-{i // 60:02d}{i % 60:02d}00-lane{i % LANES:02d}-to-coord.md"
        (msgs / name).write_text(f"---\nsubject: report {i}\n---\nbody {i}\n")


def _fill_processed(root: Path, count: int) -> None:
    processed = root / ".loop" / "messages" / "processed"
    have = sum(1 for _ in os.scandir(processed))
    for i in range(have, count):
        (
            processed / f"20250101-{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}-web-to-coord.{i + 2}.md"
        ).write_text("---\nsubject: old\n---\nold\n")


def _measure(root: Path, socket: str) -> tuple[float, float, list[float]]:
    paths = EnginePaths(root, SESSION)
    times: list[float] = []
    for n in range(CYCLES + WARMUP):
        engine = Engine(
            paths, Substrate(SESSION, root, socket=socket), EffectiveConfig(), brain_fn=lambda _p: DECISION
        )
        t0 = time.perf_counter()
        result = engine.cycle(approval="manual", trigger="bench")
        took = time.perf_counter() - t0 - result.brain_s
        if result.outcome != "queued":
            raise RuntimeError(f"bench cycle did not queue a decision: {result.outcome} {result.detail}")
        if n >= WARMUP:  # the daemon is warm: its registry fetch and mail-head cache are steady
            times.append(took * 1000)
        engine.reject(str(result.decision_id), "bench")
        (paths.engine_dir / "budget.json").unlink(missing_ok=True)
    return statistics.median(times), max(times), times


def run() -> list[dict[str, Any]]:
    if shutil.which("tmux") is None:
        return [
            {
                "name": "engine cycle minus brain",
                "value": None,
                "unit": "ms",
                "goal": "<= 250",
                "met": None,
                "detail": "tmux is not installed",
            }
        ]
    tmp = Path(tempfile.mkdtemp(prefix="be-"))
    socket = str(tmp / "sock")
    bindir = tmp / "bin"
    bindir.mkdir()
    for name in ("claude", "pi"):
        shim = bindir / name
        shim.write_text(
            f'#!/usr/bin/env bash\nexec python3 "{FAKE_AGENT}" --play {name} --log-dir "{tmp}" "$@"\n'
        )
        shim.chmod(0o755)
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(tmp),
            "FAKE_AGENT_WELCOME_S": "0",
            "FAKE_AGENT_BUSY_S": "0",
        }
    )
    env.pop("TMUX", None)
    saved = {k: os.environ.get(k) for k in ("LOOP_TMUX_SOCKET", "TMUX_TMPDIR", "PATH", "TMUX")}
    os.environ.update({k: env[k] for k in ("LOOP_TMUX_SOCKET", "TMUX_TMPDIR", "PATH")})
    os.environ.pop("TMUX", None)
    rows: list[dict[str, Any]] = []
    try:
        fake = fake_agent()
        panes = []
        for i in range(LANES):
            h = ("claude", "pi")[i % 2]
            panes.append(
                fake.spawn_window(
                    socket,
                    env,
                    SESSION,
                    f"lane{i:02d}",
                    h,
                    None,
                    {"@loop_lane": "1", "@loop_lane_harness": h},
                )
            )
        for pane in panes:
            wait_for(
                lambda pane=pane: (
                    subprocess.run(
                        ["tmux", "-S", socket, "capture-pane", "-p", "-t", pane],
                        capture_output=True,
                        text=True,
                        check=False,
                    ).stdout.strip()
                    != ""
                )
            )
        root = tmp / "proj"
        _project(root)
        medians = {}
        for count in (0, 5000, 50000):
            _fill_processed(root, count)
            med, worst, _ = _measure(root, socket)
            medians[count] = med
            rows.append(
                {
                    "name": f"engine cycle minus brain, {LANES} lanes, {PENDING} pending, processed {count}",
                    "value": round(med, 1),
                    "unit": "ms",
                    "goal": f"<= {GOAL_MS:g}",
                    "met": med <= GOAL_MS,
                    "detail": f"median of {CYCLES} cycles after {WARMUP} warm-up "
                    f"(worst {worst:.0f} ms), real tmux + substrate CLIs",
                }
            )
        ratio = medians[50000] / medians[0]
        rows.append(
            {
                "name": "engine cycle: processed 50k vs 0",
                "value": round(ratio, 2),
                "unit": "x",
                "goal": "<= 1.2 (flat)",
                "met": ratio <= 1.2,
                "detail": "same run, same fleet",
            }
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
