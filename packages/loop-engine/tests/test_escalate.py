"""An escalation reaches the human: besides its event, it is a mail from the engine to coord, written by
loop-mail (issue 15, item 12). Before, `escalate` wrote only an event nobody is shown."""

from __future__ import annotations

import json

import pytest
from engine_fakes import Project
from loop_engine.gate import runnable
from loop_engine.observe import pending_mail

DECISION = """```decision
version: 1
critique: the lanes disagree about the schema
actions:
  - kind: escalate
    summary: "Which database: Postgres or SQLite?\\nweb and infra each assumed another one."
    rationale: only a human can choose the database
```
"""


def test_an_escalation_is_mailed_to_coord_from_the_engine(project: Project) -> None:
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda prompt: DECISION)
    result = engine.cycle(approval="full")
    assert result.outcome == "queued", result  # never run by a cycle (see below), even in full mode
    engine.approve(str(result.decision_id))
    (mail,) = [m for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"]
    assert mail.recipient == "coord"
    assert mail.subject == "escalation: Which database: Postgres or SQLite?"
    text = mail.path.read_text()
    assert "web and infra each assumed another one." in text and "only a human can choose" in text
    (event,) = project.events("escalation")
    assert event["summary"].startswith("Which database")


@pytest.mark.parametrize("mode", ["manual", "auto", "full"])
def test_an_escalation_is_destructive_and_never_run_by_a_cycle_in_any_mode(
    project: Project, mode: str
) -> None:
    """Issue 21 (T0046): an escalation asks a human, so no approval mode runs it on the human's behalf,
    `full` included; it waits in pending-decision.json, gated destructive, until a human approves it."""
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda prompt: DECISION)
    result = engine.cycle(approval=mode)
    assert result.outcome == "queued", result
    assert [a["gate_class"] for a in result.actions] == ["destructive"]
    pending = json.loads(project.paths.pending.read_text())
    assert pending["gates"][0]["state"] == "queued"
    assert "only a human's approval runs it" in pending["gates"][0]["reasons"][0]
    assert not project.events("action-started") and not project.events("escalation")
    assert not [m for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"]


def test_an_escalation_beside_safe_actions_waits_while_they_run(project: Project) -> None:
    project.substrate.set("docs", "idle", "pi", True)
    mixed = DECISION.replace(
        "actions:\n",
        "actions:\n  - kind: dispatch\n    lane: web\n    payload: look at the schema\n"
        "    rationale: start on it\n",
    )
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda prompt: mixed)
    result = engine.cycle(approval="full")
    assert result.outcome == "partial", result
    assert [s["lane"] for s in project.substrate.sent] == ["web"]
    pending = json.loads(project.paths.pending.read_text())
    assert [g["state"] for g in pending["gates"]] == ["done", "queued"]


def test_runnable_never_runs_an_escalation() -> None:
    for gate_class in ("safe", "destructive"):
        for mode in ("manual", "auto", "full"):
            assert not runnable(gate_class, mode, "escalate")
            assert runnable(gate_class, "full", "dispatch")


def test_a_manual_escalation_is_mailed_when_a_human_approves_it(project: Project) -> None:
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda prompt: DECISION)
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    assert not [m for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"]
    engine.approve(str(result.decision_id))
    assert [m.subject for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"] == [
        "escalation: Which database: Postgres or SQLite?"
    ]
