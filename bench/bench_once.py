"""bench_once: `loop-engine once` as a fresh process on the cycle fixture, with 0 and 50,000 processed mails.

The cycle fixture: a git project with ops-wiki/, 4 task files, a state file with a few loops, 200 pending
mails and 0 or 50,000 processed ones; a tmux session (private socket) booted with `loop-tmux --preset
monitor` plus 16 dynamic lanes running the fake agent at its idle prompt (24 panes); the brain is a
one-shot CLI (the `claude` shim: `claude -p PROMPT` prints a valid decision at once, `claude` alone
plays the fake TUI); ingest is headless (the same shim answers it); approval manual. Each run is a fresh
`python -m loop_engine once`; the decision it queues is rejected between runs (untimed).

Figures: the median wall time of `once` at 0 and 50,000 processed (goal <= 450 ms) and their ratio
(goal <= 1.1, flat). BENCH_ONCE_BEFORE=DIR (a checkout of an earlier commit, e.g. from `git archive`)
measures that tree's code too, interleaved run by run with this one, so both sides see the same load;
each tree has a project of its own beside the one fleet (the engine's read caches name the code).
Standalone: python bench/bench_once.py
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import FAKE_AGENT, wait_for

ROOT = Path(__file__).resolve().parents[1]
SESSION = "bencho"
LANES = 16
PENDING = 200
PROCESSED = (0, 50000)
RUNS = 11
WARMUP = 2
GOAL_MS = 450.0
GOAL_FLAT = 1.1
PACKAGES = ("loop-schemas", "loop-substrate", "loop-engine")
DECISION = (
    "```decision\nversion: 1\ncritique: bench\nactions:\n"
    "  - {kind: dispatch, lane: lane00, payload: 'do the thing', rationale: bench}\n```\n"
)
CONFIG = """engine:
  approval_mode: manual
  brain: {harness: claude, max_calls_per_hour: 100000}
  ingest: {mode: headless}
"""
TASK = """---
id: T{n:04d}
title: task {n}
status: open
depends_on: []
scope: one thing
---

## Objective
Do task {n}.

## Context you need
None.

## Deliverables
A thing.

## Acceptance criteria
It works.

## Verification
Run it.

## Out of scope
Everything else.
"""
LOOP = {
    "name": "loop {n}",
    "status": "canary",
    "branch": "dev",
    "deployed_to": ["staging"],
    "canary_target": "test-target",
    "blast_radius": "one page",
    "reconciliation_stance": "now",
    "artifacts": {"spec": "docs/spec.md"},
    "commits": ["abc123"],
    "updated_at": "2026-01-01T00:00:00Z",
    "updated_by": "coord",
}


class Fixture:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bo-"))
        self.cpu_ms = 0.0
        self.socket = str(self.tmp / "sock")
        self.root = self.tmp / "proj"
        bindir = self.tmp / "bin"
        bindir.mkdir()
        (self.tmp / "decision.txt").write_text(DECISION)
        for name in ("claude", "pi"):
            shim = bindir / name
            shim.write_text(
                "#!/usr/bin/env bash\n"
                'for a in "$@"; do if [ "$a" = "-p" ]; then cat "$BENCH_DECISION"; exit 0; fi; done\n'
                f'exec python3 "{FAKE_AGENT}" --play {name} --log-dir "{self.tmp}" "$@"\n'
            )
            shim.chmod(0o755)
        self.env = dict(os.environ)
        self.env.update(
            {
                "PATH": f"{bindir}{os.pathsep}{self.env.get('PATH', '')}",
                "LOOP_TMUX_SOCKET": self.socket,
                "TMUX_TMPDIR": str(self.tmp),
                "FAKE_AGENT_WELCOME_S": "0",
                "FAKE_AGENT_BUSY_S": "0",
                "BENCH_DECISION": str(self.tmp / "decision.txt"),
                "LOOP_TMUX_LAUNCH_CHECK_S": "0",
            }
        )
        # an installed tool runs from cached bytecode: kept here, away from the source trees
        self.env["PYTHONPYCACHEPREFIX"] = str(self.tmp / "pycache")
        for key in (
            "TMUX",
            "TMUX_PANE",
            "LOOP_LANE_CONFIG",
            "LOOP_SESSION",
            "LOOP_PROJECT_ROOT",
            "PYTHONDONTWRITEBYTECODE",
        ):
            self.env.pop(key, None)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, check=False)

        def removed() -> bool:  # a fake agent may log once more as its pane closes
            shutil.rmtree(self.tmp, ignore_errors=True)
            return not self.tmp.exists()

        wait_for(removed, timeout=10)

    def shell(self, script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(ROOT / "shell" / script), *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            check=False,
        )

    def project(self, root: Path | None = None) -> Path:
        """The project files at `root` (default: the fixture's own, which the tmux session is booted on)."""
        root = root or self.root
        msgs = root / ".loop" / "messages"
        (msgs / "processed").mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
        (root / "ops-wiki").mkdir()
        (root / "ops-wiki" / "checkpoint.md").write_text(
            "# checkpoint\n\nstate\n\n<!-- coord-decisions -->\n"
        )
        (root / "ops-wiki" / "index.md").write_text("# index\n")
        (root / "ops-wiki" / "log.md").write_text("# log\n")
        (root / "tasks").mkdir()
        for n in range(1, 5):
            (root / "tasks" / f"T{n:04d}-task-{n}.md").write_text(TASK.format(n=n))
        (root / "lane-config.yaml").write_text(CONFIG)
        loops = {f"loop-{n}": {**LOOP, "name": f"loop {n}"} for n in range(1, 5)}
        state = {"schema_version": 2, "updated_at": "2026-01-01T00:00:00Z", "loops": loops}
        (root / ".loop" / "orchestrator-state.json").write_text(json.dumps(state, indent=2) + "\n")
        for i in range(PENDING):
            name = f"20260101-{i // 60:02d}{i % 60:02d}00-lane{i % LANES:02d}-to-coord.md"
            (msgs / name).write_text(f"---\nsubject: report {i}\n---\nbody {i}\n")
        return root

    def fill_processed(self, count: int, root: Path | None = None) -> None:
        processed = (root or self.root) / ".loop" / "messages" / "processed"
        have = sum(1 for _ in os.scandir(processed))
        for i in range(have, count):
            stamp = f"20250101-{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}"
            (processed / f"{stamp}-web-to-coord.{i + 2}.md").write_text("---\nsubject: old\n---\nold\n")

    def boot(self) -> None:
        up = self.shell(
            "loop-tmux.sh",
            "up",
            "--preset",
            "monitor",
            "--session",
            SESSION,
            "--project-root",
            str(self.root),
            "--no-attach",
        )
        if up.returncode != 0:
            raise RuntimeError(f"loop-tmux up failed: {up.stderr.strip()[-300:]}")
        for i in range(LANES):
            h = ("claude", "pi")[i % 2]
            add = self.shell(
                "loop-tmux.sh", "add-lane", "--session", SESSION, "--window", f"lane{i:02d}", "--harness", h
            )
            if add.returncode != 0:
                raise RuntimeError(f"add-lane lane{i:02d} failed: {add.stderr.strip()[-300:]}")
        if not wait_for(self._all_idle, timeout=60):
            raise RuntimeError("the 16 lanes did not all reach their idle prompt")

    def _all_idle(self) -> bool:
        proc = self.shell("loop-lane-status.sh", "--json", "--all", SESSION)
        try:
            lanes = json.loads(proc.stdout)["lanes"]
        except (ValueError, KeyError):
            return False
        dynamic = [v for k, v in lanes.items() if k.startswith("lane")]
        return len(dynamic) == LANES and all(v["status"] == "idle" for v in dynamic)

    def panes(self) -> int:
        out = subprocess.run(
            ["tmux", "-S", self.socket, "list-panes", "-s", "-t", SESSION, "-F", "x"],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        ).stdout
        return len(out.split())

    def engine_env(self, tree: Path) -> dict[str, str]:
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(str(tree / "packages" / p / "src") for p in PACKAGES)
        return env

    def engine(self, tree: Path, root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        argv = [sys.executable, "-m", "loop_engine", "--project-root", str(root), "--session", SESSION]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            env=self.engine_env(tree),
            cwd=root,
            check=False,
        )
        took = (time.perf_counter() - t0) * 1000
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu_ms = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
        return took, proc

    def once(self, tree: Path, root: Path) -> tuple[float, float]:
        """(wall ms, CPU ms of the process and the helpers it ran: less sensitive to a loaded machine)."""
        took, proc = self.engine(tree, root, "once", "--json")
        cpu = self.cpu_ms
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise RuntimeError(f"once printed no JSON: {proc.stderr.strip()[-300:]}") from None
        if result.get("outcome") != "queued":
            raise RuntimeError(
                f"once did not queue a decision: {result.get('outcome')} {result.get('detail')}"
            )
        _, rej = self.engine(tree, root, "reject", str(result["decision_id"]), "--reason", "bench")
        if rej.returncode != 0:
            raise RuntimeError(f"reject failed: {rej.stderr.strip()[-300:]}")
        return took, cpu


def measure(trees: dict[str, Path]) -> list[dict[str, Any]]:
    """Medians of `once` per tree and processed count, the trees interleaved run by run. Each tree runs
    in a project of its own (one tmux fleet): the engine keeps read caches in .loop/ that name the code
    that wrote them, so two trees taking turns in one project would each find the other's entries and
    read every file cold, which a user running one installed engine never does."""
    fx = Fixture()
    rows: list[dict[str, Any]] = []
    try:
        roots = {label: fx.project(fx.tmp / f"proj{i}" if i else None) for i, label in enumerate(trees)}
        fx.boot()
        panes = fx.panes()
        medians: dict[tuple[str, int], float] = {}
        for count in PROCESSED:
            for root in roots.values():
                fx.fill_processed(count, root)
            # the 50k files just written are still being written back to disk: let that finish first,
            # or the kernel's writeback shares the 2 cores with the first runs of this count
            os.sync()
            times: dict[str, list[float]] = {label: [] for label in trees}
            cpus: dict[str, list[float]] = {label: [] for label in trees}
            for n in range(RUNS + WARMUP):
                for label, tree in trees.items():
                    took, cpu = fx.once(tree, roots[label])
                    if n >= WARMUP:
                        times[label].append(took)
                        cpus[label].append(cpu)
            for label, values in times.items():
                med = statistics.median(values)
                medians[(label, count)] = med
                rows.append(
                    {
                        "name": f"loop-engine once ({label}), {panes} panes, {PENDING} pending, "
                        f"processed {count}",
                        "value": round(med, 1),
                        "unit": "ms",
                        "goal": f"<= {GOAL_MS:g}",
                        "met": med <= GOAL_MS,
                        "detail": f"median of {RUNS} fresh processes after {WARMUP} warm-up "
                        f"(min {min(values):.0f}, max {max(values):.0f} ms; CPU median "
                        f"{statistics.median(cpus[label]):.0f} ms, the process and the helpers it ran)",
                    }
                )
        for label in trees:
            ratio = medians[(label, PROCESSED[-1])] / medians[(label, PROCESSED[0])]
            rows.append(
                {
                    "name": f"loop-engine once ({label}): processed {PROCESSED[-1]} vs {PROCESSED[0]}",
                    "value": round(ratio, 2),
                    "unit": "x",
                    "goal": f"<= {GOAL_FLAT:g} (flat)",
                    "met": ratio <= GOAL_FLAT,
                    "detail": "same run, same fleet",
                }
            )
    finally:
        fx.close()
    return rows


def run() -> list[dict[str, Any]]:
    if shutil.which("tmux") is None or shutil.which("git") is None:
        return [
            {
                "name": "loop-engine once",
                "value": None,
                "unit": "ms",
                "goal": f"<= {GOAL_MS:g}",
                "met": None,
                "detail": "tmux or git is not installed",
            }
        ]
    trees = {"this tree": ROOT}
    before = os.environ.get("BENCH_ONCE_BEFORE")
    if before:
        trees = {"before": Path(before).resolve(), **trees}
    return measure(trees)


if __name__ == "__main__":
    for row in run():
        print(row)
