"""bench_deck: loop-deck start to first paint, and its idle CPU with 24 lanes refreshed at 1 Hz.

run() -> list[dict] rows for bench/run.py. A private tmux server holds 24 fake-agent lanes; the deck
runs in its own window of that server (a real terminal), read with capture-pane. CPU is the deck
process's utime+stime plus its reaped children's (every loop-lane-status / list-lanes call it runs),
from /proc. Standalone: python bench/bench_deck.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "shell" / "tests" / "fake_agent.py"
PANES = 24
PAINT_RUNS = 5
IDLE_SECONDS = 20.0
IDLE_ROUNDS = 2  # idle windows per tree, alternating between the trees
SESSION = "bench"
PACKAGES = ("loop-schemas", "loop-substrate", "loop-deck")


def _fake_agent() -> Any:
    spec = importlib.util.spec_from_file_location("fake_agent_bench_deck", FAKE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wait(pred: Any, timeout: float = 20.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def _deck_argv(tree: Path) -> list[str]:
    """`env PYTHONPATH=<tree's sources> python -m loop_deck`: the deck of one source tree."""
    sources = os.pathsep.join(str(tree / "packages" / p / "src") for p in PACKAGES)
    return ["env", f"PYTHONPATH={sources}", sys.executable, "-m", "loop_deck"]


def _cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


class Bench:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bd-"))
        self.socket = str(self.tmp / "sock")
        bindir = self.tmp / "bin"
        bindir.mkdir()
        (self.tmp / "received").mkdir()
        for name in ("claude", "codex", "pi", "opencode"):
            shim = bindir / name
            shim.write_text(
                f'#!/usr/bin/env bash\nexec python3 "{FAKE}" --play {name} '
                f'--log-dir "{self.tmp / "received"}" "$@"\n'
            )
            shim.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        self.env.update(
            {
                "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                "LOOP_TMUX_SOCKET": self.socket,
                "TMUX_TMPDIR": str(self.tmp),
                "LOOP_LANE_STATUS_CACHE_DIR": str(self.tmp / "cache"),
                "FAKE_AGENT_WELCOME_S": "0",
                "TERM": "xterm-256color",
                "LC_ALL": "C.UTF-8",
                # an installed tool runs from cached bytecode: kept here, away from the source trees
                "PYTHONPYCACHEPREFIX": str(self.tmp / "pycache"),
            }
        )
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.project = self.tmp / "proj"
        self._make_project()
        self.fake = _fake_agent()

    def _make_project(self) -> None:
        msgs = self.project / ".loop" / "messages"
        (msgs / "processed").mkdir(parents=True)
        state = {
            "schema_version": 2,
            "updated_at": "2026-11-25T10:00:00Z",
            "loops": {
                f"loop-{i}": {"name": f"loop {i}", "status": "implement", "branch": "dev"} for i in range(8)
            },
        }
        (self.project / ".loop" / "orchestrator-state.json").write_text(json.dumps(state))
        for i in range(40):
            (msgs / f"20261125-10{i // 60:02d}{i % 60:02d}-web-to-coord.md").write_text(
                f"---\nsubject: m{i}\n---\n"
            )
        for i in range(500):
            (
                msgs / "processed" / f"20261124-{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}-ops-to-coord.md"
            ).write_text("---\nsubject: old\n---\n")
        adr = self.project / "docs" / "adr"
        adr.mkdir(parents=True)
        for i in range(1, 11):
            (adr / f"{i:04d}-decision-{i}.md").write_text(f"---\nstatus: Proposed\n---\n# Decision {i}\n")

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, env=self.env, check=False
        )

    def close(self) -> None:
        self.tmux("kill-server")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fleet(self) -> None:
        harnesses = ("claude", "codex", "pi", "opencode")
        panes = []
        for i in range(PANES):
            h = harnesses[i % len(harnesses)]
            panes.append(
                self.fake.spawn_window(
                    self.socket,
                    self.env,
                    SESSION,
                    f"lane{i:02d}",
                    h,
                    None,
                    {"@loop_lane": "1", "@loop_lane_harness": h},
                )
            )
        for pane in panes:
            _wait(
                lambda pane=pane: (
                    len(self.tmux("capture-pane", "-p", "-t", pane).stdout.strip().splitlines()) > 2
                )
            )

    def start_deck(self, tree: Path, window: str) -> tuple[str, float]:
        cmd = "exec " + shlex.join(
            [*_deck_argv(tree), "--project-root", str(self.project), "--session", SESSION, "--interval", "1"]
        )
        t0 = time.perf_counter()
        pane = self.tmux(
            "new-window", "-d", "-t", f"={SESSION}:", "-n", window, "-P", "-F", "#{pane_id}", cmd
        ).stdout.strip()
        return pane, t0

    def screen(self, pane: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", pane).stdout

    def launch(self, tree: Path, window: str) -> tuple[float, float]:
        """(seconds to the layout, seconds to the full fleet table) of one launch of a tree's deck."""
        pane, t0 = self.start_deck(tree, window)
        self.tmux("resize-window", "-t", pane, "-x", "160", "-y", "45")
        if not _wait(lambda: "FLEET" in self.screen(pane), timeout=15, step=0.005):
            raise RuntimeError(f"the deck of {tree} did not paint: {self.screen(pane)!r}")
        layout = time.perf_counter() - t0
        if not _wait(lambda: f"FLEET — {PANES} lanes" in self.screen(pane), timeout=15, step=0.005):
            raise RuntimeError(f"the deck of {tree} did not show the fleet: {self.screen(pane)!r}")
        data = time.perf_counter() - t0
        self.tmux("kill-window", "-t", pane)
        return layout, data

    def paint(self, trees: dict[str, Path]) -> dict[str, tuple[list[float], list[float]]]:
        """Each tree's launches, interleaved run by run, after one untimed warm-up launch each (it writes
        the bytecode cache)."""
        out: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in trees}
        for n, tree in enumerate(trees.values()):
            self.launch(tree, f"warm{n}")
        for run in range(PAINT_RUNS):
            for n, (label, tree) in enumerate(trees.items()):
                layout, data = self.launch(tree, f"deck{run}-{n}")
                out[label][0].append(layout)
                out[label][1].append(data)
        return out

    def idle_cpu(self, tree: Path) -> tuple[float, int]:
        pane, _ = self.start_deck(tree, "deck-idle")
        self.tmux("resize-window", "-t", pane, "-x", "160", "-y", "45")
        _wait(lambda: f"FLEET — {PANES} lanes" in self.screen(pane), timeout=15)
        pid = int(self.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").stdout.strip())
        time.sleep(3.0)  # warm-up: first reads, the lane metadata, caches
        ticks = os.sysconf("SC_CLK_TCK")
        before, t0 = _cpu_ticks(pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        after, elapsed = _cpu_ticks(pid), time.monotonic() - t0
        shown = self.screen(pane).count("fake")  # keep the pane alive until the end of the window
        self.tmux("kill-window", "-t", pane)
        return 100.0 * (after - before) / ticks / elapsed, shown


def run() -> list[dict[str, Any]]:
    if shutil.which("tmux") is None or not Path("/proc/self/stat").exists():
        return [
            {
                "name": "deck benchmarks",
                "value": None,
                "unit": "",
                "goal": "",
                "met": None,
                "detail": "skipped: needs tmux and /proc",
            }
        ]
    trees = {"this tree": ROOT}
    before = os.environ.get("BENCH_DECK_BEFORE")
    if before:
        trees = {"before": Path(before).resolve(), **trees}
    bench = Bench()
    cpu: dict[str, list[float]] = {label: [] for label in trees}
    try:
        bench.fleet()
        paints = bench.paint(trees)
        for _ in range(IDLE_ROUNDS):
            for label, tree in trees.items():
                cpu[label].append(bench.idle_cpu(tree)[0])
    finally:
        bench.close()
    load = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    for label in trees:
        layout, data = paints[label]
        first, full = statistics.median(layout), statistics.median(data)
        idle = statistics.mean(cpu[label])
        suffix = f" ({label})" if len(trees) > 1 else ""
        rows += [
            {
                "name": f"deck: start to first paint (24 lanes){suffix}",
                "value": round(first, 3),
                "unit": "s",
                "goal": "<= 1 s",
                "met": first <= 1.0,
                "detail": (
                    f"median of {PAINT_RUNS} launches in a tmux pane, until capture-pane shows the layout "
                    f"(runs: {', '.join(f'{x:.2f}' for x in layout)}); until the fleet table shows all "
                    f"{PANES} lanes: median {full:.3f} s (runs: {', '.join(f'{x:.2f}' for x in data)}); "
                    f"load average {load:.2f}"
                ),
            },
            {
                "name": f"deck: idle CPU, 24 lanes refreshed at 1 Hz{suffix}",
                "value": round(idle, 2),
                "unit": "% of a core",
                "goal": "<= 3 %",
                "met": idle <= 3.0,
                "detail": (
                    f"mean of {IDLE_ROUNDS} windows of {IDLE_SECONDS:.0f} s after a 3 s warm-up "
                    f"({', '.join(f'{x:.2f}' for x in cpu[label])}); the deck process plus its children "
                    "(its loop-lane-status / list-lanes calls), from /proc; "
                    "40 pending + 500 processed mails, 10 ADRs, 8 loops"
                ),
            },
        ]
    if before:
        this, was = paints["this tree"], paints["before"]
        idle_ratio = statistics.mean(cpu["this tree"]) / max(statistics.mean(cpu["before"]), 1e-9)
        rows.append(
            {
                "name": "deck: this tree / before",
                "value": round(statistics.median(this[0]) / statistics.median(was[0]), 2),
                "unit": "x first paint",
                "goal": "",
                "met": None,
                "detail": (
                    f"full fleet table {statistics.median(this[1]) / statistics.median(was[1]):.2f}x, "
                    f"idle CPU {idle_ratio:.2f}x (same run, interleaved)"
                ),
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['value']} {row['unit']} (goal {row['goal']}) — {row['detail']}")
