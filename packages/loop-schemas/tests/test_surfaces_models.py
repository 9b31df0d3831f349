"""The JSON surfaces the shell prints and the engine's files: strict models, clean errors."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loop_schemas import (
    Digest,
    EngineEvent,
    LaneList,
    LaneStatusReport,
    Metrics,
    PendingDecision,
    RestartEvent,
    SchemaError,
    WatchdogLifecycleEvent,
    format_metrics_line,
    parse_event,
    parse_metrics_line,
    parse_watchdog_line,
)


def test_lane_status_report_accepts_the_five_words_only() -> None:
    doc = {
        "contract_version": 1,
        "session": "s",
        "generated_at": "2026-11-24T10:00:00Z",
        "lanes": {
            "web": {
                "lane": "web",
                "status": "idle",
                "target": "%1",
                "kind": "fixed",
                "detail": None,
                "harness": "claude",
                "source": "screen",
            }
        },
    }
    assert LaneStatusReport.model_validate(doc).lanes["web"].status == "idle"
    doc["lanes"]["web"]["status"] = "booting"  # type: ignore[index]
    with pytest.raises(ValueError, match="status"):
        LaneStatusReport.model_validate(doc)


def test_dropping_a_field_fails_validation() -> None:
    lane = {
        "window": "web2",
        "window_id": "@4",
        "harness": "pi",
        "model": None,
        "role": "r",
        "cmd": None,
        "base": False,
        "kind": "worker",
        "repo": None,
        "isolation": "shared",
        "branch": None,
    }
    doc = {"contract_version": 1, "session": "s", "generated_at": "t", "lanes": [lane]}
    LaneList.model_validate(doc)
    del lane["role"]
    with pytest.raises(ValueError, match="role"):
        LaneList.model_validate(doc)


def test_digest_mail_uses_from_and_to_on_the_wire() -> None:
    doc = {
        "contract_version": 1,
        "generated_at": "t",
        "state": None,
        "state_error": "no state file",
        "mailbox": {
            "pending": [
                {
                    "file": "f.md",
                    "from": "web",
                    "to": "coord",
                    "subject": None,
                    "mtime": "2026-11-24T10:00:00Z",
                }
            ],
            "processed_count": 3,
        },
        "unpushed": [{"repo": "app", "path": "/x", "branch": "dev", "upstream": None, "count": None}],
        "adrs": [{"id": 1, "status": "Proposed", "title": "Queue", "path": "docs/adr/0001-q.md"}],
    }
    digest = Digest.model_validate(doc)
    assert digest.mailbox.pending[0].sender == "web"
    assert json.loads(digest.model_dump_json())["mailbox"]["pending"][0]["from"] == "web"


def test_watchdog_lines_split_on_the_event_key() -> None:
    restart = parse_watchdog_line('{"timestamp":"t","session":"s","lane":"web","target":"%1","cmd":"claude"}')
    assert isinstance(restart, RestartEvent)
    life = parse_watchdog_line(
        '{"timestamp":"t","session":"s","lane":"web","target":"%1","event":"giving-up"}'
    )
    assert isinstance(life, WatchdogLifecycleEvent)
    for bad in ("", "[]", "{", '{"event":"giving-up"}', '{"timestamp":"t"}'):
        with pytest.raises(SchemaError):
            parse_watchdog_line(bad)
    # the original's sparse restart lines: a valid timestamp and no event, without session/target/cmd
    sparse = parse_watchdog_line('{"timestamp":"2026-04-15T11:22:33Z","lane":"web"}')
    assert isinstance(sparse, RestartEvent) and sparse.lane == "web" and sparse.cmd is None
    assert isinstance(parse_watchdog_line('{"timestamp":"2026-04-15T11:22:33.5+02:00"}'), RestartEvent)
    for bad in ('{"timestamp":"2026-02-30T11:22:33Z","lane":"web"}', '{"timestamp":"t","lane":"web"}'):
        with pytest.raises(SchemaError):
            parse_watchdog_line(bad)


def test_metrics_line_round_trips() -> None:
    m = Metrics(
        contract_version=1,
        generated_at="t",
        session="s",
        checkpoint_bytes=4000,
        checkpoint_tokens=1000,
        pending=2,
        lane_restarts=1,
        lane_giveups=0,
        ingests=3,
        lints=None,
        checkpoints=5,
    )
    line = format_metrics_line(m, date(2026, 11, 24))
    assert line == (
        "## [2026-11-24] metrics | checkpoint_tokens=1000 pending=2 restarts=1 giveups=0 ingests=3 "
        "lints=n/a checkpoints=5"
    )
    day, values = parse_metrics_line(line)
    assert day == date(2026, 11, 24) and values["lints"] is None and values["checkpoint_tokens"] == 1000


def test_pending_decision_and_events() -> None:
    doc = {
        "contract_version": 1,
        "id": "d-20261124T100000000000-ab12",
        "session": "s",
        "created_at": "2026-11-24T10:00:00Z",
        "approval_mode": "manual",
        "decision": {"version": 1, "critique": "c", "actions": [{"kind": "stop", "rationale": "done"}]},
        "gates": [{"gate_class": "safe", "reasons": [], "state": "queued"}],
        "asks": {},
    }
    assert PendingDecision.model_validate(doc).gates[0].gate_class == "safe"
    two = {**doc, "gates": doc["gates"] * 2}  # type: ignore[operator]
    with pytest.raises(ValueError, match="2 gates for 1 actions"):  # each gate belongs to one action
        PendingDecision.model_validate(two)
    doc["gates"][0]["gate_class"] = "fine"  # type: ignore[index]
    with pytest.raises(ValueError):
        PendingDecision.model_validate(doc)
    event = parse_event(
        '{"contract_version":1,"id":"e-1","timestamp":"t","session":"s","event":"brain-call",'
        '"harness":"claude"}'
    )
    assert isinstance(event, EngineEvent) and event.model_extra == {"harness": "claude"}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_line_parsers_never_raise_anything_but_schema_errors(text: str) -> None:
    for parser in (parse_watchdog_line, parse_event, parse_metrics_line):
        try:
            parser(text)
        except SchemaError:
            pass


def test_sparse_ledgers_of_the_original_are_read() -> None:
    """A ledger holding only schema_version + loops; rows with only `branch`, or only status + name (the
    original's loops sync writes `in-progress` / `done`)."""
    from loop_schemas import parse_state

    state = parse_state(
        '{"schema_version": 2, "loops": {"a": {"branch": "loop/s/web"},'
        ' "b": {"status": "in-progress", "name": "Billing"}, "c": {"status": "done", "name": "c"}}}'
    )
    assert state.loops["a"].status is None and state.loops["a"].branch == "loop/s/web"
    assert (state.loops["b"].status, state.loops["b"].name) == ("in-progress", "Billing")
    assert state.loops["c"].status == "done"
    with pytest.raises(SchemaError):
        parse_state('{"schema_version": 2, "loops": {"a": {"status": "someday"}}}')


def test_metrics_line_parses_old_and_new_lines() -> None:
    """A v1 line (whole numbers, n/a) still parses; the lines written since add decimals, a compact
    dispatch map and `source=session-events-v2`; other text is refused."""
    old = (
        "## [2026-04-15] metrics | checkpoint_tokens=1000 pending=n/a restarts=1 giveups=0 ingests=3 "
        "lints=0 checkpoints=5"
    )
    assert parse_metrics_line(old)[1]["pending"] is None
    new = (
        "## [2026-12-07] metrics | checkpoint_tokens=1000 pending=1 restarts=3 giveups=2 ingests=0 lints=0 "
        "checkpoints=1 autonomy_ratio=0.50 cost_usd_7d=0.875000 cost_per_decision=n/a "
        'dispatches_per_lane_7d={"web":2} '
        "source=session-events-v2"
    )
    _day, values = parse_metrics_line(new)
    assert (
        values["autonomy_ratio"] == 0.5
        and values["cost_usd_7d"] == 0.875
        and values["cost_per_decision"] is None
    )
    assert values["dispatches_per_lane_7d"] == '{"web":2}' and values["source"] == "session-events-v2"
    for bad in ("cost_usd_7d=zero", "pending=1.", "pending=\u00b2", "autonomy_ratio=.5", "source="):
        with pytest.raises(SchemaError):
            parse_metrics_line(f"## [2026-12-07] metrics | {bad}")


def test_metrics_added_fields_are_optional_and_costs_never_negative() -> None:
    v1 = {
        "contract_version": 1,
        "generated_at": "t",
        "session": None,
        "checkpoint_bytes": None,
        "checkpoint_tokens": None,
        "pending": 0,
        "lane_restarts": None,
        "lane_giveups": None,
        "ingests": 0,
        "lints": 0,
        "checkpoints": 0,
    }
    assert Metrics.model_validate(v1).cost_usd_7d is None
    for bad in ({"cost_usd_7d": -0.5}, {"autonomy_ratio": 1.5}, {"daily": []}):
        with pytest.raises(ValueError):
            Metrics.model_validate({**v1, **bad})
