"""bench_checkpoint: the checkpoint prompt's size must not grow with the session's age.

Two projects made by loop-init with the same wiki pages and the same 20 pending mails: a young session
(100 log lines, 50 processed mails) and an old one (10k log lines, 5k processed mails). Reports the
byte ratio old/young of `loop-checkpoint --print` (goal <= 1.1x) and the median time of one build.
run() -> list[dict] rows for bench/run.py. Standalone: python bench/bench_checkpoint.py
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

ROOT = Path(__file__).resolve().parents[1]
SHELL = ROOT / "shell"
PENDING = 20
RUNS = 11


def _name(n: int, sender: str) -> str:
    hh, rest = divmod(n % 86400, 3600)
    mm, ss = divmod(rest, 60)
    return f"202604{1 + n // 86400:02d}-{hh:02d}{mm:02d}{ss:02d}-{sender}-to-coord.md"


def build(root: Path, env: dict[str, str], log_lines: int, processed: int) -> None:
    root.mkdir()
    subprocess.run(
        ["bash", str(SHELL / "loop-init.sh"), "--project-root", str(root)],
        check=True,
        capture_output=True,
        env=env,
    )
    wiki = root / "ops-wiki"
    (wiki / "index.md").write_text(
        "# index\n" + "".join(f"- [loop {n}](loops/l{n}.md): implement\n" for n in range(30))
    )
    cp = wiki / "checkpoint.md"
    cp.write_text(cp.read_text().replace("Nothing in flight yet.", "In flight:\n" + "- a loop line\n" * 60))
    with open(wiki / "log.md", "a") as fh:
        for n in range(log_lines):
            fh.write(
                f"## [2026-04-15] ingest | message {n} folded into lanes/web.md and loops/l{n % 30}.md\n"
            )
    box = root / ".loop" / "messages"
    for n in range(PENDING):
        (box / _name(n, "web")).write_text(f'---\nsubject: "pending {n}"\n---\nbody\n')
    for n in range(processed):
        (box / "processed" / _name(100000 + n, "infra")).write_text(
            f'---\nsubject: "old {n}"\n---\n' + "x\n" * 40
        )


def _measure(root: Path, env: dict[str, str]) -> tuple[int, float]:
    argv = ["bash", str(SHELL / "scripts" / "loop-checkpoint.sh"), "--print", "--project-root", str(root)]
    size = len(subprocess.run(argv, check=True, capture_output=True, env=env).stdout)
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append((time.perf_counter() - t0) * 1000)
    return size, statistics.median(times)


def run() -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bc-"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
        env = dict(os.environ, PATH=f"{tmp / 'venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        young, old = tmp / "young", tmp / "old"
        build(young, env, 100, 50)
        build(old, env, 10000, 5000)
        y_size, y_ms = _measure(young, env)
        o_size, o_ms = _measure(old, env)
        ratio = o_size / y_size
        return [
            {
                "name": "checkpoint prompt size, 10k log lines + 5k processed vs 100 + 50",
                "value": round(ratio, 3),
                "unit": "x",
                "goal": "<= 1.1x",
                "met": ratio <= 1.1,
                "detail": f"{o_size} vs {y_size} bytes (~{o_size // 4} tokens); "
                f"{PENDING} pending mails in both",
            },
            {
                "name": "loop-checkpoint --print time, old vs young session",
                "value": round(o_ms, 1),
                "unit": "ms",
                "goal": "n/a (flat in session age)",
                "met": None,
                "detail": f"median of {RUNS}: old {o_ms:.1f} ms, young {y_ms:.1f} ms",
            },
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(row)
