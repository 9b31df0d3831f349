"""improve's non-regression gate against the REAL loop-metrics (the bundled bash substrate, no fakes).

The engine runs as a subprocess (`python -m loop_engine`); the watchdog's restart log is seeded so the
miner finds an unstable lane, and it grows during the experiment so the gate must see a regression.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SESSION = "imp1"
AGENTS = "# Rules\n\n## 1. Lanes\n\nLanes work.\n\n## 2. Mail\n\nMail the coordinator.\n"


def engine(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "LOOP_SHELL_DIR")}
    return subprocess.run(
        [sys.executable, "-m", "loop_engine", "--project-root", str(root), "--session", SESSION, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def as_json(root: Path, *args: str) -> dict[str, Any]:
    proc = engine(root, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def restart(lane: str, n: int) -> str:
    return json.dumps(
        {
            "timestamp": f"2026-01-01T00:00:{n:02d}Z",
            "session": SESSION,
            "lane": lane,
            "target": "%3",
            "cmd": "pi",
        }
    )


def test_apply_judge_revert_with_the_real_loop_metrics(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    session = root / ".loop" / "sessions" / SESSION
    session.mkdir(parents=True)
    (root / ".loop" / "messages").mkdir()
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\n")
    (root / "AGENTS.md").write_text(AGENTS)
    restarts = session / "lane-restarts.jsonl"
    restarts.write_text("".join(restart("web", i) + "\n" for i in range(3)))

    doc = as_json(root, "improve")
    (prop,) = doc["proposals"]
    assert prop["signature"] == "lane:unstable:web" and prop["surface"] == "agents"
    assert prop["path"] == "AGENTS.md"

    applied = as_json(root, "improve", "--apply", str(prop["id"]))["proposal"]
    baseline = applied["baseline"]
    assert baseline["lane_restarts"] == 3 and baseline["session"] == SESSION
    assert isinstance(baseline["checkpoint_tokens"], int) and baseline["checkpoint_tokens"] > 0
    assert "### Experiment " in (root / "AGENTS.md").read_text()

    judged = as_json(root, "improve", "--judge")["judged"]
    assert judged[0]["verdict"] == "waiting"

    # three cycles pass, and the lane keeps flapping
    from loop_engine.events import EventLog

    events = EventLog(session / "engine" / "events.jsonl", SESSION)
    for i in range(3):
        events.emit("cycle-end", cycle_id=f"c-{i}", outcome="noop", duration_s=0.1)
    with restarts.open("a") as fh:
        fh.write(restart("web", 10) + "\n" + restart("web", 11) + "\n")

    (verdict,) = as_json(root, "improve", "--judge")["judged"]
    assert verdict["verdict"] == "regressed"
    assert {"figure": "lane_restarts", "baseline": 3, "current": 5, "allowed": 3} in verdict["regressions"]

    proc = engine(root, "improve", "--revert", str(prop["id"]))
    assert proc.returncode == 0, proc.stderr
    assert (root / "AGENTS.md").read_text() == AGENTS
    listed = as_json(root, "improve", "--list")["proposals"]
    assert [p["state"] for p in listed] == ["reverted"]
    kinds = [json.loads(x)["event"] for x in (session / "engine" / "events.jsonl").read_text().splitlines()]
    assert [k for k in kinds if k.startswith("improve-")] == [
        "improve-started",
        "improve-mined",
        "improve-proposed",
        "improve-done",
        "improve-applied",
        "improve-judged",
        "improve-judged",
        "improve-reverted",
    ]
