"""bench_digest: `loop-digest --json` on a big project: 500 loops, 2k pending + 8k processed mails.

run() -> list[dict] rows for bench/run.py. Builds the project in a temp dir (a git repo with an
upstream and unpushed commits, 20 ADRs), runs the real shell/loop-digest.sh with the stdlib python3
on PATH and reports the median wall time of 15 runs (after 2 warm-ups, which also fill the mailbox's
read cache .loop/cache/mail-index.json), and the same with the cache removed before every run (cold).
BENCH_DIGEST_BEFORE=DIR (a checkout of an earlier commit, e.g. from `git archive`) measures that tree's
shell/loop-digest.sh too, on its own copy of the project, interleaved run by run with this one (both
see the same load), with the ratios.
Standalone:
python bench/bench_digest.py
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


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall ms, CPU ms of the process and its children, stdout) of one run."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
    took = (time.perf_counter() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000, proc.stdout


def _interleaved(
    argvs: dict[str, list[str]], env: dict[str, str], runs: int, before_each: Any = None
) -> dict[str, tuple[list[float], list[float]]]:
    """Each tree's (wall ms, CPU ms) over `runs` runs, the trees taking turns run by run (both see the
    same load); before_each(label) runs before each measured run when given."""
    out: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in argvs}
    for _ in range(runs):
        for label, argv in argvs.items():
            if before_each is not None:
                before_each(label)
            took, cpu, _ = _timed(argv, env)
            out[label][0].append(took)
            out[label][1].append(cpu)
    return out


def _stats(values: tuple[list[float], list[float]]) -> str:
    wall, cpu = values
    return (
        f"min {min(wall):.1f}, max {max(wall):.1f} ms; CPU median {statistics.median(cpu):.1f} ms "
        "(the process and its children)"
    )


def run() -> list[dict[str, Any]]:
    trees = {"this tree": ROOT}
    before = os.environ.get("BENCH_DIGEST_BEFORE")
    if before:  # a checkout of an earlier commit (e.g. a `git archive` of main), measured side by side
        trees = {"before": Path(before).resolve(), **trees}
    tmp = Path(tempfile.mkdtemp(prefix="bd-"))
    try:
        template = tmp / "project"
        template.mkdir()
        build(template)
        # one copy of the project per tree: each keeps its own mail cache (the trees' formats may differ)
        roots: dict[str, Path] = {}
        for n, label in enumerate(trees):
            roots[label] = tmp / f"project-{n}"
            shutil.copytree(template, roots[label], symlinks=True)
        # The substrate's python3 is a stdlib-only venv first on PATH (as in shell/tests), not a
        # version-manager shim that would add its own start-up time to every run.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
        env = dict(os.environ, PATH=f"{tmp / 'venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the helpers run from their bytecode caches, as installed
        load_before = os.getloadavg()[0]

        def argv(label: str, *args: str) -> list[str]:
            return [
                "bash",
                str(trees[label] / "shell" / "loop-digest.sh"),
                *args,
                "--project-root",
                str(roots[label]),
            ]

        docs = {}
        for label in trees:
            for _ in range(2):  # warm-up: fills the mail cache and the bytecode caches
                _, _, out = _timed(argv(label, "--json"), env)
            doc = json.loads(out)
            assert len(doc["state"]["loops"]) == LOOPS
            assert len(doc["mailbox"]["pending"]) == PENDING
            assert doc["mailbox"]["processed_count"] == PROCESSED
            assert doc["unpushed"][0]["count"] == 3
            docs[label] = (doc, len(out))
        warm = _interleaved({label: argv(label, "--json") for label in trees}, env, RUNS)

        def drop_cache(label: str) -> None:
            (roots[label] / ".loop" / "cache" / "mail-index.json").unlink(missing_ok=True)

        cold = _interleaved({label: argv(label, "--json") for label in trees}, env, RUNS, drop_cache)
        for label in trees:
            _, _, out = _timed(argv(label, "--json"), env)
            if json.loads(out)["mailbox"] != docs[label][0]["mailbox"]:
                raise RuntimeError(f"{label}: the cold digest's mailbox differs from the warm one")
        for label in trees:  # the text digest's cache, warm
            _timed(argv(label, "--once"), env)
        once = _interleaved({label: argv(label, "--once") for label in trees}, env, RUNS)
        # The same machine's floor in the same run: bash starting the stdlib python3 and exiting.
        # On a loaded machine every figure above rises with it; this row lets a reader see that.
        floor = _interleaved({"floor": ["bash", "-c", 'exec python3 -S -c "pass"']}, env, RUNS)["floor"]
        rows: list[dict[str, Any]] = []
        for label in trees:
            median = statistics.median(warm[label][0])
            rows.append(
                {
                    "name": f"loop-digest --json ({label}), 500 loops, 2k pending + 8k processed",
                    "value": round(median, 1),
                    "unit": "ms",
                    "goal": f"<= {GOAL_MS:.0f} ms median",
                    "met": median <= GOAL_MS,
                    "detail": f"median of {RUNS} runs ({_stats(warm[label])}); "
                    f"{docs[label][1]} bytes of JSON",
                }
            )
        for label in trees:
            rows.append(
                {
                    "name": f"loop-digest --json ({label}), same data, cold mail cache "
                    "(removed before each run)",
                    "value": round(statistics.median(cold[label][0]), 1),
                    "unit": "ms",
                    "goal": "n/a (the first run after the mailbox changed wholesale)",
                    "met": None,
                    "detail": f"median of {RUNS} runs ({_stats(cold[label])})",
                }
            )
        for label in trees:
            rows.append(
                {
                    "name": f"loop-digest --once (text) ({label}), same data",
                    "value": round(statistics.median(once[label][0]), 1),
                    "unit": "ms",
                    "goal": "n/a (one redraw of the coord pane)",
                    "met": None,
                    "detail": f"median of {RUNS} runs ({_stats(once[label])})",
                }
            )
        if before:
            for kind, figures in (("--json", warm), ("--json cold", cold), ("--once", once)):
                ratio = statistics.median(figures["this tree"][0]) / statistics.median(figures["before"][0])
                cpu = statistics.median(figures["this tree"][1]) / statistics.median(figures["before"][1])
                rows.append(
                    {
                        "name": f"loop-digest {kind}: this tree vs before",
                        "value": round(ratio, 2),
                        "unit": "x",
                        "goal": "n/a (< 1 is faster)",
                        "met": None,
                        "detail": f"wall medians, interleaved run by run; CPU medians {cpu:.2f}x",
                    }
                )
        rows.append(
            {
                "name": "reference: bash + python3 -S start-up on this machine, same run",
                "value": round(statistics.median(floor[0]), 1),
                "unit": "ms",
                "goal": "n/a (load reference)",
                "met": None,
                "detail": f"median of {RUNS} runs; os.getloadavg() = {load_before:.2f} before, "
                f"{os.getloadavg()[0]:.2f} after",
            }
        )
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(row)
