"""Substrate.fleet_metrics(): `loop-metrics --all --json` through the bundled shell (real bash, no tmux),
validated by loop_schemas.FleetMetrics; a read that leaves the project tree as it was (the deck's cost
view reads with it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from loop_substrate import Substrate


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_fleet_metrics_reads_every_session_and_writes_nothing(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for session, cost in (("s1", 0.5), ("s2", None)):
        engine = tmp_path / ".loop" / "sessions" / session / "engine"
        engine.mkdir(parents=True)
        usage = (
            {"cost_source": "provider", "cost_usd": cost} if cost is not None else {"cost_source": "unpriced"}
        )
        lines = [
            {"ts": now, "event": "decision-approved", "decided_by": "engine"},
            {"ts": now, "event": "brain-call"},
            {"ts": now, "event": "brain-usage", "total_tokens": 10, **usage},
        ]
        (engine / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    before = _tree(tmp_path)
    fleet = Substrate("s1", tmp_path).fleet_metrics()
    assert [(m.session, m.cost_usd_7d, m.autonomy_ratio) for m in fleet.sessions] == [
        ("s1", 0.5, 1.0),
        ("s2", None, 1.0),
    ]
    assert fleet.aggregate.cost_usd_7d == 0.5 and fleet.aggregate.partial == {"cost_usd_7d": 1}
    daily = fleet.sessions[0].daily
    assert daily is not None and len(daily) == 7 and daily[-1].cost_usd == 0.5
    assert _tree(tmp_path) == before
