from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from loop_schemas import OrchestratorState, SchemaError, dump_state, load_state, parse_state, update_state

MINIMUM = {"schema_version": 2, "updated_at": "2026-04-15T11:22:33Z", "loops": {}}
FULL_LOOP = {
    "name": "Verify checkout flow",
    "status": "canary",
    "branch": "dev",
    "deployed_to": ["staging"],
    "canary_target": "test-target",
    "blast_radius": "checkout only",
    "reconciliation_stance": "now",
    "artifacts": {
        "spec": "docs/spec.md",
        "plan": None,
        "verify_record": None,
        "canary_record": None,
        "retro": None,
        "decision_record": "docs/adr/0001-queue.md",
    },
    "commits": ["abc123"],
    "updated_at": "2026-04-15T11:22:33Z",
    "updated_by": "coord",
}


def test_minimum_shape_parses() -> None:
    state = parse_state(json.dumps(MINIMUM))
    assert state.loops == {}


def test_extended_shape_with_lanes_and_tails() -> None:
    doc = {
        **MINIMUM,
        "loops": {"loop-6a": FULL_LOOP},
        "objective": "ship",
        "open_conflicts": [],
        "lanes": {"web": {"status": "working", "pane_tail": ["line 1", "line 2"]}},
    }
    state = parse_state(json.dumps(doc))
    assert state.loops["loop-6a"].artifacts is not None
    assert state.loops["loop-6a"].artifacts.decision_record == "docs/adr/0001-queue.md"
    assert isinstance(state.lanes, dict) and state.lanes["web"].pane_tail == ["line 1", "line 2"]


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({**MINIMUM, "schema_version": 1}, "schema_version"),
        ({**MINIMUM, "loops": {"a": {**FULL_LOOP, "status": "finished"}}}, "loops.a.status"),
        (
            {**MINIMUM, "loops": {"a": {**FULL_LOOP, "reconciliation_stance": "soon"}}},
            "reconciliation_stance",
        ),
        ({"schema_version": 2}, "loops"),
    ],
)
def test_invalid_states_name_the_field(doc: dict[str, object], needle: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_state(json.dumps(doc))
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_corrupt_json_is_one_line_error() -> None:
    with pytest.raises(SchemaError, match="not valid JSON"):
        parse_state('{"schema_version": 2, "loops": {')


def test_read_modify_write_keeps_unknown_keys(tmp_path: Path) -> None:
    doc = {
        **MINIMUM,
        "team_notes": {"x": [1, 2]},
        "loops": {"a": {**FULL_LOOP, "owner": "ana", "artifacts": {"spec": "s", "dashboard": "d"}}},
    }
    path = tmp_path / "orchestrator-state.json"
    path.write_text(json.dumps(doc))

    def change(state: OrchestratorState) -> None:
        state.loops["a"].status = "shipped"

    update_state(path, change)
    back = json.loads(path.read_text())
    assert back["team_notes"] == {"x": [1, 2]}
    assert back["loops"]["a"]["owner"] == "ana"
    assert back["loops"]["a"]["artifacts"]["dashboard"] == "d"
    assert back["loops"]["a"]["status"] == "shipped"
    # nothing the file did not have is invented
    assert "lanes" not in back and "objective" not in back


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator-state.json"
    path.write_text(json.dumps({**MINIMUM, "counter": 0}))

    def bump() -> None:
        for _ in range(20):

            def change(state: OrchestratorState) -> None:
                extra = state.model_extra or {}
                extra["counter"] = int(extra["counter"]) + 1

            update_state(path, change)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(path.read_text())["counter"] == 80


def test_load_state_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no state file"):
        load_state(tmp_path / "nope.json")


def test_dump_round_trip() -> None:
    doc = {**MINIMUM, "loops": {"a": FULL_LOOP}}
    assert json.loads(dump_state(parse_state(json.dumps(doc)))) == doc


def test_an_in_place_change_to_a_default_list_is_written(tmp_path: Path) -> None:
    # exclude_unset once dropped it: commits/deployed_to were never "set", so the append was lost
    path = tmp_path / "orchestrator-state.json"
    path.write_text(json.dumps({"schema_version": 2, "loops": {"x": {"status": "spec", "mine": [1]}}}))

    def change(state: OrchestratorState) -> None:
        state.loops["x"].commits.append("abc123")
        state.loops["x"].deployed_to.append("prod")

    update_state(path, change)
    entry = json.loads(path.read_text())["loops"]["x"]
    assert entry == {"status": "spec", "deployed_to": ["prod"], "commits": ["abc123"], "mine": [1]}
    # an untouched default is still not invented
    update_state(path, lambda state: None)
    assert "artifacts" not in json.loads(path.read_text())["loops"]["x"]
