"""bench_startup: every Python CLI's start-up (--help, --version, `loop-engine status`) and the idle watch
daemon's memory.

run() -> list[dict] rows for bench/run.py. Each CLI is its console script in this venv, a fresh process
per run (median of RUNS after one warm-up that also writes the bytecode caches); goal <= 150 ms each.
The same run measures the floor (`python -c pass`) so a loaded machine shows as such. The daemon row
starts `loop-engine watch --foreground` on a private tmux server (one plain window, no lanes, the
built-in brain), lets it finish its start cycle and sit idle, and reads VmRSS (goal <= 30 MiB).
BENCH_STARTUP_BEFORE=DIR (a checkout of an earlier commit, e.g. from `git archive`) measures that tree
too, side by side: each command alternates run by run between this tree and that one (its packages'
sources first on PYTHONPATH, the same venv's console scripts, interpreter and dependencies), and the
daemon alternates DAEMON_RUNS of each; each row is one tree's median, this tree's rows say the ratio.
Each tree runs in a project of its own (`status` keeps a verdict cache in .loop/ keyed by the code).
Standalone: python bench/bench_startup.py
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import wait_for

BIN = Path(sys.executable).parent
RUNS = 11
GOAL_MS = 150.0
GOAL_RSS_MIB = 30.0
IDLE_S = 15.0
SESSION = "benchs"
DAEMON_RUNS = 3
PACKAGES = ("loop-schemas", "loop-substrate", "loop-engine")


def _project(root: Path) -> None:
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n\n<!-- coord-decisions -->\n")
    (root / "ops-wiki" / "index.md").write_text("# index\n")
    (root / "tasks").mkdir()
    (root / ".loop" / "orchestrator-state.json").write_text(
        '{"schema_version": 2, "updated_at": "2026-01-01T00:00:00Z", "loops": {}}\n'
    )
    (root / "lane-config.yaml").write_text("engine:\n  brain:\n    harness: builtin\n")


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed CLI runs from its bytecode caches
    env["LOOP_TMUX_SOCKET"] = str(tmp / "sock")
    env["TMUX_TMPDIR"] = str(tmp)
    return env


def _median_ms(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    return _medians_ms([(argv, env, cwd)])[0]


def _medians_ms(runs: list[tuple[list[str], dict[str, str], Path]]) -> list[tuple[float, float, int]]:
    """(median, min, the warm-up's exit) of each (argv, env, cwd), their runs interleaved so that the
    machine's load falls on each alike."""
    firsts = [
        subprocess.run(argv, capture_output=True, env=env, cwd=cwd, timeout=60, check=False)
        for argv, env, cwd in runs
    ]
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(RUNS):
        for (argv, env, cwd), found in zip(runs, times, strict=True):
            t0 = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=env, cwd=cwd, timeout=60, check=False)
            found.append((time.perf_counter() - t0) * 1000)
    return [
        (statistics.median(found), min(found), first.returncode)
        for found, first in zip(times, firsts, strict=True)
    ]


def _tree_env(env: dict[str, str], tree: Path, packages: tuple[str, ...] | None = None) -> dict[str, str]:
    """`env` with an earlier tree's package sources first on PYTHONPATH (all of them by default)."""
    names = packages or tuple(sorted(p.name for p in (tree / "packages").iterdir() if (p / "src").is_dir()))
    return {**env, "PYTHONPATH": os.pathsep.join(str(tree / "packages" / p / "src") for p in names)}


def _commands(root: Path) -> list[tuple[str, list[str]]]:
    engine = [str(BIN / "loop-engine"), "--project-root", str(root), "--session", SESSION]
    out: list[tuple[str, list[str]]] = [
        ("loop-engine --help", [str(BIN / "loop-engine"), "--help"]),
        ("loop-engine --version", [str(BIN / "loop-engine"), "--version"]),
        ("loop-engine status", [*engine, "status"]),
        ("loop-engine status --json", [*engine, "status", "--json"]),
        ("loop-engine improve --help", [*engine, "improve", "--help"]),
    ]
    for cli in ("loop-deck", "loop-pm", "loop-pm-jira", "loop-demo"):
        out.append((f"{cli} --help", [str(BIN / cli), "--help"]))
        out.append((f"{cli} --version", [str(BIN / cli), "--version"]))
    out.append(("python -m loop_schemas --help", [sys.executable, "-m", "loop_schemas", "--help"]))
    out.append(("loop-tmux --help (python wrapper + bash)", [str(BIN / "loop-tmux"), "--help"]))
    out.append(("loop-digest --version (python wrapper + bash)", [str(BIN / "loop-digest"), "--version"]))
    return out


def _daemon_rss(root: Path, env: dict[str, str], tree: Path | None = None) -> tuple[float | None, str]:
    if shutil.which("tmux") is None:
        return None, "tmux is not installed"
    if tree is not None:  # an earlier tree's code on this venv's interpreter and dependencies
        env = _tree_env(env, tree, PACKAGES)
    sock = env["LOOP_TMUX_SOCKET"]
    subprocess.run(
        ["tmux", "-S", sock, "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "30"], env=env, check=True
    )
    log = open(root / "daemon.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loop_engine",
            "--project-root",
            str(root),
            "--session",
            SESSION,
            "watch",
            "--foreground",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        events = root / ".loop" / "sessions" / SESSION / "engine" / "events.jsonl"
        if not wait_for(lambda: events.exists() and b"cycle" in events.read_bytes(), timeout=60):
            return None, f"the daemon did not cycle: {(root / 'daemon.log').read_text()[-300:]}"
        time.sleep(IDLE_S)
        if proc.poll() is not None:
            return None, f"the daemon exited: {(root / 'daemon.log').read_text()[-300:]}"
        status = Path(f"/proc/{proc.pid}/status").read_text()
        fields = {
            line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line
        }
        rss = int(fields["VmRSS"].split()[0]) / 1024
        hwm = int(fields["VmHWM"].split()[0]) / 1024
        return rss, f"VmRSS after its start cycle and {IDLE_S:.0f} s idle (peak VmHWM {hwm:.1f} MiB)"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        subprocess.run(["tmux", "-S", sock, "kill-server"], env=env, capture_output=True, check=False)


def run() -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bs-"))
    try:
        env = _env(tmp)
        # each tree its own project: `status` keeps a verdict cache in .loop/ that names the code it ran
        trees: list[tuple[str, dict[str, str], Path]] = [("", env, tmp / "project")]
        before = os.environ.get("BENCH_STARTUP_BEFORE")
        if before:
            trees.append((" (before)", _tree_env(env, Path(before).resolve()), tmp / "project-before"))
        for _, _, root in trees:
            root.mkdir()
            _project(root)
        rows: list[dict[str, Any]] = []
        for index, (name, _) in enumerate(_commands(trees[0][2])):
            found = _medians_ms([(_commands(root)[index][1], tree_env, root) for _, tree_env, root in trees])
            ratio = f"; {found[0][0] / found[1][0]:.2f}x the earlier tree's" if len(found) > 1 else ""
            for (median, low, code), (label, _, _) in zip(found, trees, strict=True):
                rows.append(
                    {
                        "name": f"start-up: {name}{label}",
                        "value": round(median, 1),
                        "unit": "ms",
                        "goal": f"<= {GOAL_MS:.0f} ms median",
                        "met": median <= GOAL_MS and code == 0,
                        "detail": f"median of {RUNS} fresh processes (min {low:.1f}); exit {code}"
                        + ("" if label else ratio),
                    }
                )
        root = trees[0][2]
        floor, low, _ = _median_ms([sys.executable, "-c", "pass"], env, root)
        rows.append(
            {
                "name": "reference: python -c pass on this machine, same run",
                "value": round(floor, 1),
                "unit": "ms",
                "goal": "n/a (load reference)",
                "met": None,
                "detail": f"median of {RUNS} (min {low:.1f}); os.getloadavg() = {os.getloadavg()[0]:.2f}",
            }
        )
        rows.extend(_daemon_rows(tmp, env))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fresh_project(tmp: Path, n: int) -> Path:
    root = tmp / f"daemon-{n}"
    root.mkdir()
    _project(root)
    return root


def _daemon_rows(tmp: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """The idle daemon's RSS, this tree's and (BENCH_STARTUP_BEFORE) an earlier tree's, alternating."""
    before = os.environ.get("BENCH_STARTUP_BEFORE")
    if not before:
        rss, detail = _daemon_rss(_fresh_project(tmp, 0), env)
        return [_rss_row("idle watch daemon RSS", rss, detail)]
    trees: dict[str, Path | None] = {"before": Path(before).resolve(), "this tree": None}
    found: dict[str, list[float]] = {label: [] for label in trees}
    notes: dict[str, str] = {}
    n = 0
    for _ in range(DAEMON_RUNS):
        for label, tree in trees.items():
            n += 1
            # a tmux server of its own each time: a server still exiting never refuses the next one
            own = {**env, "LOOP_TMUX_SOCKET": str(tmp / f"sock-{n}")}
            rss, detail = _daemon_rss(_fresh_project(tmp, n), own, tree)
            if rss is None:
                notes[label] = detail
            else:
                found[label].append(rss)
    rows = []
    for label in trees:
        values = found[label]
        rss = statistics.median(values) if values else None
        detail = notes.get(label) or (
            f"median of {len(values)} daemons ({', '.join(f'{v:.1f}' for v in values)} MiB), alternating "
            f"with the other tree; VmRSS after its start cycle and {IDLE_S:.0f} s idle"
        )
        rows.append(_rss_row(f"idle watch daemon RSS ({label})", rss, detail))
    return rows


def _rss_row(name: str, rss: float | None, detail: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": None if rss is None else round(rss, 1),
        "unit": "MiB",
        "goal": f"<= {GOAL_RSS_MIB:.0f} MiB",
        "met": None if rss is None else rss <= GOAL_RSS_MIB,
        "detail": detail,
    }


if __name__ == "__main__":
    for row in run():
        print(row)
