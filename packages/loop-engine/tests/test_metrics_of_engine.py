"""loop-metrics over THIS engine's own events: what the engine writes in real cycles (and its watch daemon)
becomes the documented figures -- autonomy, rejects, escalations, stops, dispatches per lane, steers,
brain calls -- with no event renamed by hand in between (events in, metrics out)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import yaml
from engine_fakes import Project, retry_until
from loop_engine import watch
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_schemas import EngineConfig
from loop_substrate import script_path


def _decide(*actions: dict[str, Any]) -> str:
    block = yaml.safe_dump({"version": 1, "critique": "test", "actions": list(actions)}, sort_keys=False)
    return f"```decision\n{block}```\n"


def _metrics(project: Project) -> dict[str, Any]:
    proc = subprocess.run(
        [
            "bash",
            str(script_path("loop-metrics")),
            "--project-root",
            str(project.root),
            "--session",
            "s",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict)
    return doc


def test_the_engines_own_events_make_the_documented_figures(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)  # nothing works: a stop is obeyed, not suspected

    def run(approval: str, *actions: dict[str, Any]) -> Any:
        return project.engine(brain_fn=lambda _p: _decide(*actions)).cycle(approval=approval)

    # 1. the engine decides alone: a safe dispatch to web runs in auto mode
    assert (
        run("auto", {"kind": "dispatch", "lane": "web", "payload": "go", "rationale": "r"}).outcome
        == "executed"
    )
    # 2. a raw command waits for a human, who rejects it
    queued = run(
        "auto", {"kind": "dispatch", "lane": "infra", "mode": "command", "payload": "ls", "rationale": "r"}
    )
    assert queued.outcome == "queued"
    project.engine().reject(queued.decision_id, "no")
    # 3. an escalation waits for a human, who approves it (it mails coord)
    asked = run("auto", {"kind": "escalate", "summary": "need a call", "rationale": "r"})
    assert asked.outcome == "queued"
    project.engine().approve(asked.decision_id)
    # 4. the brain says stop, and nothing contradicts it
    assert run("auto", {"kind": "stop", "rationale": "done"}).outcome == "noop"

    doc = _metrics(project)
    # approved: the engine's dispatch (alone) and the human's escalation; rejected: the command -> 1 / 3
    assert (doc["engine_decisions_7d"], doc["decisions_7d"], doc["autonomy_ratio"]) == (1, 3, 0.33)
    assert (doc["rejects_7d"], doc["escalations_7d"], doc["stops_7d"]) == (1, 1, 1)
    assert doc["interventions_7d"] == 2  # the escalation and the reject
    # the dispatch to web ran (an escalation names no lane)
    assert (doc["dispatches_per_lane_7d"], doc["distinct_lanes_used_7d"]) == ({"web": 1}, 1)
    assert doc["brain_calls_7d"] == 4  # one per cycle
    # the in-process brain reports no usage: cost is unknown, never 0
    assert doc["cost_usd_7d"] is None and doc["brain_tokens_7d"] is None


def test_the_watch_daemon_names_arriving_mail_so_steers_are_counted(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)
    project.mail("web", to="docs", subject="status: fine")  # not to coord: no steer
    cfg = EffectiveConfig(
        model=EngineConfig.model_validate(
            {"poll_interval_s": 0.05, "checkpoint_interval_s": 3600, "min_cycle_interval_s": 0}
        )
    )

    def factory(abort: Any) -> Engine:
        return Engine(
            project.paths,
            project.substrate,
            cfg,
            abort=abort,
            brain_fn=lambda _p: _decide({"kind": "stop", "rationale": "r"}),
        )

    daemon = watch.Daemon(project.paths, factory)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        retry_until(lambda: project.events("mailbox-new"), timeout=30)
        steer = _to_coord(project, "human", "please look at the flaky test")
        reply = _to_coord(project, "web", "re:a-1 done")
        retry_until(lambda: len(project.events("mailbox-new")) >= 3, timeout=30)
    finally:
        daemon.stopping.set()
        thread.join(timeout=10)
    names = [e["file"] for e in project.events("mailbox-new")]
    assert steer.name in names and reply.name in names
    assert _metrics(project)["unsolicited_steers_7d"] == 1  # the reply (subject re:) is no steer


def _to_coord(project: Project, sender: str, subject: str) -> Path:
    from loop_engine.events import utcnow

    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    path = project.root / ".loop" / "messages" / f"{stamp}-{sender}-to-coord.md"
    path.write_text(f"---\nfrom: {sender}\nto: coord\nsubject: {subject}\n---\nbody\n")
    return path
