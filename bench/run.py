"""make bench: run every bench/bench_*.py and write one table (markdown + JSON) of figures vs goals.

Each module defines run() -> list[dict] with keys name, value, unit, goal, met (bool | None), detail.
Figures vary run to run on a shared machine: each module measures its ratios side by side in one run.
Usage: python bench/run.py [--only SUBSTRING] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="run only modules whose name contains this")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"), help="where to write results")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    failures = 0
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        if args.only not in path.stem:
            continue
        print(f"== {path.stem}", flush=True)
        started = time.monotonic()
        try:
            figures = _load(path).run()
        except Exception:  # a broken benchmark is reported, and the others still run
            failures += 1
            traceback.print_exc()
            rows.append(
                {
                    "module": path.stem,
                    "name": "(benchmark failed)",
                    "value": None,
                    "unit": "",
                    "goal": "",
                    "met": False,
                    "detail": "see the traceback above",
                }
            )
            continue
        for fig in figures:
            rows.append({"module": path.stem, **fig})
            print(f"   {fig['name']}: {_fmt(fig['value'])} {fig['unit']} (goal {fig['goal']})", flush=True)
        print(f"   ({time.monotonic() - started:.1f}s)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    (out / "bench.json").write_text(json.dumps({**meta, "figures": rows}, indent=2) + "\n")
    lines = [
        f"# make bench — {meta['generated_at']}",
        "",
        f"{meta['machine']}, Python {meta['python']}",
        "",
        "| module | figure | value | goal | met | detail |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "NO", None: "n/a"}[r.get("met")]
        value = "" if r["value"] is None else f"{_fmt(r['value'])} {r['unit']}".strip()
        detail = str(r.get("detail", "")).replace("|", "\\|")
        lines.append(f"| {r['module']} | {r['name']} | {value} | {r['goal']} | {met} | {detail} |")
    (out / "bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {out / 'bench.md'} and {out / 'bench.json'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
