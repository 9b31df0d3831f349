"""bench_digest: `loop-digest --json` on a big project: 500 loops, 2k pending + 8k processed mails.

run() -> list[dict] rows for bench/run.py. Builds the project in a temp dir (a git repo with an
upstream and unpushed commits, 20 ADRs), runs the real shell/loop-digest.sh with the stdlib python3
on PATH and reports the median wall time of 15 runs (after 2 warm-ups, which also fill the mailbox's
read cache .loop/cache/mail-index.json), and the same with the cache removed before every run (cold).
Standalone:
python bench/bench_digest.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIGEST = ROOT / "shell" / "loop-digest.sh"
LOOPS = 500
PENDING = 2000
PROCESSED = 8000
RUNS = 15
GOAL_MS = 80.0
STATUSES = ("spec", "plan", "implement", "verify", "canary", "shipped", "reverted", "blocked")


def _git(cwd: Path, *args: str) -> None:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="b",
        GIT_AUTHOR_EMAIL="b@x",
        GIT_COMMITTER_NAME="b",
        GIT_COMMITTER_EMAIL="b@x",
    )
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, env=env)


def _message(box: Path, n: int, subject: str) -> None:
    day, sec = divmod(n, 86400)
    hh, rest = divmod(sec, 3600)
    mm, ss = divmod(rest, 60)
    name = f"202604{1 + day % 28:02d}-{hh:02d}{mm:02d}{ss:02d}-web-to-coord.md"
    (box / name).write_text(
        f'---\nsubject: "{subject} {n}"\nfrom: web\nto: coord\n---\n' + "body line\n" * 20
    )


def build(root: Path) -> None:
    loops = {
        f"loop-{i:03d}": {
            "name": f"Loop number {i} doing something useful",
            "status": STATUSES[i % len(STATUSES)],
            "branch": f"feature/{i}",
            "deployed_to": ["staging"],
            "canary_target": "canary-1",
            "blast_radius": "one service",
            "reconciliation_stance": "later",
            "artifacts": {
                "spec": f"docs/spec-{i}.md",
                "plan": None,
                "verify_record": None,
                "canary_record": None,
                "retro": None,
                "decision_record": None,
            },
            "commits": [f"{i:07x}"] * 5,
            "updated_at": "2026-04-15T11:22:33Z",
            "updated_by": "docs",
        }
        for i in range(LOOPS)
    }
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / ".loop" / "orchestrator-state.json").write_text(
        json.dumps({"schema_version": 2, "updated_at": "2026-04-15T11:22:33Z", "loops": loops}, indent=2)
    )
    box = root / ".loop" / "messages"
    for n in range(PENDING):
        _message(box, n, "pending")
    for n in range(PENDING, PENDING + PROCESSED):
        _message(box / "processed", n, "done")
    adr_dir = root / "docs" / "adr"
    adr_dir.mkdir(parents=True)
    for n in range(1, 21):
        (adr_dir / f"{n:04d}-decision-{n}.md").write_text(
            f"---\nstatus: Proposed\ndate: 2026-04-15\nverify_record:\nrollback:\n---\n\n# Decision {n}\n"
        )
    remote = root.parent / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("x\n")
    _git(root, "add", "README.md")
    _git(root, "commit", "-q", "-m", "one")
    _git(root, "remote", "add", "origin", str(remote))
    _git(root, "push", "-q", "-u", "origin", "main")
    for n in range(3):
        _git(root, "commit", "-q", "--allow-empty", "-m", f"local {n}")


def run() -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bd-"))
    try:
        root = tmp / "project"
        root.mkdir()
        build(root)
        # The substrate's python3 is a stdlib-only venv first on PATH (as in shell/tests), not a
        # version-manager shim that would add its own start-up time to every run.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
        env = dict(os.environ, PATH=f"{tmp / 'venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the helpers run from their bytecode caches, as installed
        argv = ["bash", str(DIGEST), "--json", "--project-root", str(root)]
        first = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        doc = json.loads(first.stdout)
        assert len(doc["state"]["loops"]) == LOOPS
        assert len(doc["mailbox"]["pending"]) == PENDING
        assert doc["mailbox"]["processed_count"] == PROCESSED
        assert doc["unpushed"][0]["count"] == 3
        times = []
        for _ in range(RUNS + 1):
            t0 = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, env=env)
            times.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(times[1:])
        cache = root / ".loop" / "cache" / "mail-index.json"
        ctimes = []
        for _ in range(RUNS):
            cache.unlink(missing_ok=True)
            t0 = time.perf_counter()
            cold = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
            ctimes.append((time.perf_counter() - t0) * 1000)
        if json.loads(cold.stdout)["mailbox"] != doc["mailbox"]:
            raise RuntimeError("the cold digest's mailbox differs from the warm one")
        once = ["bash", str(DIGEST), "--once", "--project-root", str(root)]
        otimes = []
        for _ in range(RUNS + 1):
            t0 = time.perf_counter()
            subprocess.run(once, capture_output=True, check=True, env=env)
            otimes.append((time.perf_counter() - t0) * 1000)
        # The same machine's floor in the same run: bash starting the stdlib python3 and exiting.
        # On a loaded machine every figure above rises with it; this row lets a reader see that.
        floor = ["bash", "-c", 'exec python3 -S -c "pass"']
        ftimes = []
        for _ in range(RUNS + 1):
            t0 = time.perf_counter()
            subprocess.run(floor, capture_output=True, check=True, env=env)
            ftimes.append((time.perf_counter() - t0) * 1000)
        return [
            {
                "name": "loop-digest --json, 500 loops, 2k pending + 8k processed",
                "value": round(median, 1),
                "unit": "ms",
                "goal": f"<= {GOAL_MS:.0f} ms median",
                "met": median <= GOAL_MS,
                "detail": f"median of {RUNS} runs (min {min(times[1:]):.1f}, max {max(times[1:]):.1f}); "
                f"{len(first.stdout)} bytes of JSON",
            },
            {
                "name": "loop-digest --json, same data, cold mail cache (removed before each run)",
                "value": round(statistics.median(ctimes), 1),
                "unit": "ms",
                "goal": "n/a (the first run after the mailbox changed wholesale)",
                "met": None,
                "detail": f"median of {RUNS} runs (min {min(ctimes):.1f}, max {max(ctimes):.1f})",
            },
            {
                "name": "loop-digest --once (text), same data",
                "value": round(statistics.median(otimes[1:]), 1),
                "unit": "ms",
                "goal": "n/a (one redraw of the coord pane)",
                "met": None,
                "detail": f"median of {RUNS} runs",
            },
            {
                "name": "reference: bash + python3 -S start-up on this machine, same run",
                "value": round(statistics.median(ftimes[1:]), 1),
                "unit": "ms",
                "goal": "n/a (load reference)",
                "met": None,
                "detail": f"median of {RUNS} runs; os.getloadavg() = {os.getloadavg()[0]:.2f}",
            },
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(row)
