"""An escalation reaches the human: besides its event, it is a mail from the engine to coord, written by
loop-mail (issue 15, item 12). Before, `escalate` wrote only an event nobody is shown."""

from __future__ import annotations

from engine_fakes import Project
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
    result = engine.cycle(approval="auto")
    assert result.outcome == "executed", result
    (mail,) = [m for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"]
    assert mail.recipient == "coord"
    assert mail.subject == "escalation: Which database: Postgres or SQLite?"
    text = mail.path.read_text()
    assert "web and infra each assumed another one." in text and "only a human can choose" in text
    (event,) = project.events("escalation")
    assert event["summary"].startswith("Which database")


def test_a_manual_escalation_is_mailed_when_a_human_approves_it(project: Project) -> None:
    engine = project.engine(brain={"harness": "claude"}, brain_fn=lambda prompt: DECISION)
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    assert not [m for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"]
    engine.approve(str(result.decision_id))
    assert [m.subject for m in pending_mail(project.root / ".loop" / "messages") if m.sender == "engine"] == [
        "escalation: Which database: Postgres or SQLite?"
    ]
