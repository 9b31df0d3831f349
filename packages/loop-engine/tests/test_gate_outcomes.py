"""One blocked action is blocked alone, and a cycle says what became of every action it ran (issue 15,
items 6 and 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_fakes import Project
from loop_engine.cycle import EngineError
from loop_schemas import CycleResult, PendingDecision


def _answer(*actions: str) -> str:
    body = "".join(f"  - {a}\n" for a in actions)
    return f"```decision\nversion: 1\ncritique: c\nactions:\n{body}```\n"


FOUR = _answer(
    "{kind: dispatch, lane: web, payload: fix the login bug, rationale: r}",
    "{kind: steer, lane: infra, payload: 'how far are you', rationale: r}",
    "{kind: dispatch, lane: ops-top, payload: make test, rationale: r}",
    "{kind: dispatch, lane: coord, payload: take over, rationale: r}",
)


def test_a_coord_action_at_index_3_is_blocked_alone_and_the_rest_runs(project: Project) -> None:
    # regression: the whole answer was a parse error (two brain calls spent) and actions 0-2 were lost
    calls: list[str] = []

    def brain(prompt: str) -> str:
        calls.append(prompt)
        return FOUR

    result = project.engine(brain_fn=brain).cycle(approval="auto")
    assert len(calls) == 1 and project.events("brain-failed") == []
    assert [a["gate_class"] for a in result.actions] == ["safe", "safe", "destructive", "blocked"]
    assert result.outcome == "partial"
    assert [(s["lane"], s["text"]) for s in project.substrate.sent] == [
        ("web", "fix the login bug"),
        ("infra", "how far are you"),
    ]
    assert result.outcomes == [
        {"index": 0, "state": "done", "error": None},
        {"index": 1, "state": "done", "error": None},
    ]
    doc = json.loads(project.paths.pending.read_text())
    pending = PendingDecision.model_validate(doc)
    assert len(pending.gates) == len(pending.decision.actions) == 4  # exactly one gate per action
    assert [g.state for g in pending.gates] == ["done", "done", "queued", "blocked"]
    assert any("coord" in r for r in pending.gates[3].reasons)
    blocked = project.events("action-blocked")
    assert [e["index"] for e in blocked] == [3]

    out = project.engine().approve(pending.id)  # a human approves: the destructive one runs, coord never
    assert out["outcomes"] == [{"index": 2, "state": "done", "error": None}]
    assert [s["lane"] for s in project.substrate.sent] == ["web", "infra", "ops-top"]
    archived = json.loads((project.paths.decisions / f"{pending.id}.json").read_text())
    assert [g["state"] for g in archived["gates"]] == ["done", "done", "done", "blocked"]


def test_manual_queues_the_rest_and_approve_never_runs_the_blocked_one(project: Project) -> None:
    engine = project.engine(brain_fn=lambda prompt: FOUR)
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued" and result.outcomes == []
    pending = json.loads(project.paths.pending.read_text())
    assert [g["state"] for g in pending["gates"]] == ["queued", "queued", "queued", "blocked"]
    # a hand edit that "unblocks" it: approve re-gates by shape and still refuses
    pending["gates"][3].update(gate_class="safe", state="queued", reasons=[])
    project.paths.pending.write_text(json.dumps(pending))
    out = engine.approve(pending["id"])
    assert [o["index"] for o in out["outcomes"]] == [0, 1, 2]
    assert "coord" not in [s["lane"] for s in project.substrate.sent]


def test_a_decision_with_nothing_but_blocked_actions_runs_nothing_and_is_recorded(project: Project) -> None:
    answer = _answer(
        "{kind: dispatch, lane: coord, payload: hi, rationale: r}",
        "{kind: dispatch, lane: web, payload: \"loop-ad''r acc''ept 1 --yes\", rationale: r}",
        "{kind: stop, rationale: r}",
    )
    result = project.engine(brain_fn=lambda prompt: answer).cycle(approval="full")
    assert result.outcome == "blocked" and result.outcomes == []
    assert project.substrate.sent == [] and not project.paths.pending.exists()
    archived = json.loads((project.paths.decisions / f"{result.decision_id}.json").read_text())
    assert archived["resolution"] == "blocked"
    assert [g["state"] for g in archived["gates"]] == ["blocked", "blocked", "queued"]
    assert [e["index"] for e in project.events("action-blocked")] == [0, 1]
    assert project.events("decision-blocked")[0]["decision_id"] == result.decision_id
    CycleResult.model_validate(result.as_dict())


@pytest.mark.parametrize(
    "payload",
    [
        "loop-ad''r acc''ept 1 --yes",
        "sed -i 's/^status: Proposed/status: Accepted/' docs/adr/0001-x.md",
    ],
)
def test_item_3_texts_never_reach_an_agent_lane_in_auto(project: Project, payload: str) -> None:
    # regression: both were graded safe and pasted into the web lane in auto mode
    answer = _answer(
        "{kind: dispatch, lane: web, payload: " + json.dumps(payload) + ", rationale: r}",
        "{kind: dispatch, lane: infra, payload: plain work, rationale: r}",
    )
    result = project.engine(brain_fn=lambda prompt: answer).cycle(approval="auto")
    assert [a["gate_class"] for a in result.actions] == ["blocked", "safe"]
    assert [s["text"] for s in project.substrate.sent] == ["plain work"]


def test_a_failed_action_is_in_the_cycle_outcomes(project: Project) -> None:
    # regression: `once` said `executed: 1 run` for a steer that failed
    answer = _answer("{kind: steer, lane: ghost, payload: hi, rationale: r}")
    project.substrate.fail_lanes = {"ghost"}
    result = project.engine(brain_fn=lambda prompt: answer).cycle(approval="full")
    assert result.outcome == "executed"
    assert result.outcomes == [
        {"index": 0, "state": "failed", "error": "loop-dispatch: lane ghost not delivered"}
    ]
    assert result.failed == result.outcomes and "1 failed" in result.detail
    CycleResult.model_validate(result.as_dict())


def test_perform_refuses_a_blocked_shape_whoever_calls_it(project: Project) -> None:
    engine = project.engine()
    raw: dict[str, Any] = {"kind": "dispatch", "lane": "coord", "payload": "x", "rationale": "r"}
    with pytest.raises(EngineError, match="refusing a blocked action"):
        engine._perform(raw)
    assert project.substrate.sent == []
