"""loop-metrics' figures of the original (contract-later section 5): fixture event logs in, exact figures
out -- the text block (keys, order, padding, notes), --json (loop_schemas.Metrics, the daily series),
the --log tokens, and --all (the table, the fleet aggregate and its partial totals)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import metrics
import pytest

NOW = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.timezone.utc)


def _ev(ts: str, event: str, **fields: Any) -> str:
    return json.dumps({"ts": ts, "seq": 1, "event": event, **fields})


def _mail(box: Path, name: str, subject: str) -> None:
    box.mkdir(parents=True, exist_ok=True)
    (box / name).write_text(f"---\nsubject: {json.dumps(subject)}\n---\nbody\n")


def build_project(root: Path, session: str = "s1") -> Path:
    """The full fixture: every source of section 5 with known figures (see the expected block)."""
    engine = root / ".loop" / "sessions" / session / "engine"
    engine.mkdir(parents=True)
    box = root / ".loop" / "messages"
    lines = [
        _ev("2026-11-29T11:00:00Z", "decision-approved", decided_by="engine"),  # 8 days old: outside
        _ev("2026-12-06T10:00:00Z", "decision-approved", decided_by="engine"),
        _ev("2026-12-06T10:05:00Z", "decision-approved", decided_by="human"),
        _ev("2026-12-07T09:00:00Z", "decision-approved", decided_by="engine"),
        _ev("2026-12-07T09:10:00Z", "decision-rejected"),
        _ev("2026-12-05T08:00:00Z", "escalate"),
        _ev("2026-12-05T08:00:00Z", "action", kind="dispatch", lane="web"),
        _ev("2026-12-06T08:00:00Z", "action", kind="dispatch", lane="web"),
        _ev("2026-12-06T08:00:00Z", "action", kind="stop", lane="api"),
        _ev("2026-12-06T08:00:00Z", "action", kind="dispatch", lane="my lane"),
        _ev("2026-12-06T08:00:00Z", "ingest-timeout"),
        _ev("2026-12-06T08:00:00Z", "ingest-done"),
        _ev("2026-12-07T08:00:00Z", "ingest-done"),
        _ev("2026-12-06T08:00:00Z", "lint-dispatch", ok=True),
        _ev("2026-12-06T08:00:00Z", "lint-dispatch"),
        _ev("2026-12-06T08:00:00Z", "lint-dispatch", ok=False),
        _ev("2026-12-06T08:00:00Z", "lint-dispatch", ok="yes"),
        _ev("2026-12-06T09:00:00Z", "brain-call"),
        _ev("2026-12-06T09:30:00Z", "brain-call"),
        _ev("2026-12-07T09:00:00Z", "brain-call"),
        _ev(
            "2026-12-06T09:01:00Z",
            "brain-usage",
            harness="claude",
            cost_source="provider",
            cost_usd=0.25,
            attempt=1,
            attempt_status="success",
            total_tokens=1000,
        ),
        _ev(  # a failed attempt: neither its tokens nor its cost count
            "2026-12-06T09:29:00Z",
            "brain-usage",
            cost_source="provider",
            cost_usd=9.0,
            attempt=1,
            attempt_status="failed",
            total_tokens=99,
        ),
        _ev(  # no status counts; no total: the parts are summed
            "2026-12-06T09:31:00Z",
            "brain-usage",
            cost_source="computed",
            cost_usd=0.125,
            input_tokens=300,
            output_tokens=200,
            cache_read_input_tokens=100,
        ),
        _ev(
            "2026-12-07T09:01:00Z",
            "brain-usage",
            cost_source="provider",
            cost_usd=0.5,
            attempt_status="success",
            total_tokens=2000,
        ),
        _ev(
            "2026-12-06T07:00:00Z",
            "build-usage",
            window="T0001",
            branch="b",
            usage_source="codex-json",
            cost_source="computed",
            cost_usd=1.5,
            total_tokens=5000,
        ),
        _ev("2026-12-06T10:00:01Z", "mailbox-new", file="20261206-100000-web-to-coord.md"),
        _ev("2026-12-06T10:00:02Z", "mailbox-new", file="20261206-100000-web-to-coord.md"),  # again: once
        _ev("2026-12-06T11:00:01Z", "mailbox-new", file="20261206-110000-api-to-coord.md"),  # a reply
        _ev("2026-12-06T12:00:01Z", "mailbox-new", file="20261206-120000-coord-to-web.md"),  # not to coord
        _ev("2026-12-06T12:00:01Z", "mailbox-new", file="20261206-120000-coord-to-coord.md"),  # from coord
        _ev("2026-12-06T12:00:01Z", "mailbox-new", file="20261129-100000-web-to-coord.md"),  # stamped too old
        _ev("2026-12-07T08:00:01Z", "mailbox-new", file="20261207-080000-ops-to-coord.md"),  # missing
        _ev("2026-12-07T08:10:01Z", "mailbox-new", file="20261207-081000-db-to-coord.md"),  # in failed/
        "{not json",
    ]
    (engine / "events.jsonl").write_text("\n".join(lines) + "\n")
    _mail(box / "processed", "20261206-100000-web-to-coord.md", "blocked on the api")
    _mail(box / "processed", "20261206-110000-api-to-coord.md", "Re: your dispatch")
    _mail(box / "processed", "20261206-120000-coord-to-coord.md", "a note to self")
    _mail(box / "processed", "20261129-100000-web-to-coord.md", "old news")
    _mail(box / "failed", "20261207-081000-db-to-coord.md", "need a schema")
    _mail(box, "20261207-090000-web-to-coord.md", "pending one")
    (root / ".loop" / "sessions" / session / "lane-restarts.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"timestamp": "2026-12-07T10:00:00Z", "lane": "web"}),
                json.dumps({"timestamp": "2026-12-03T10:00:00Z", "lane": "web"}),
                json.dumps({"timestamp": "2026-11-03T10:00:00Z", "lane": "web"}),
                json.dumps({"timestamp": "2026-12-07T11:00:00Z", "event": "giving-up", "lane": "web"}),
                json.dumps({"timestamp": "2026-12-01T11:00:00Z", "event": "giving-up", "lane": "web"}),
            ]
        )
        + "\n"
    )
    wiki = root / "ops-wiki"
    wiki.mkdir(exist_ok=True)
    (wiki / "log.md").write_text(
        "# log\n"
        "## [2026-12-05] task | T0001 done\n"
        "## [2026-12-06] task | T0002 done: the api\n"
        "## [2026-12-06] task | T0004 started\n"
        "## [2026-11-20] task | T0003 done\n"
        "## [2026-12-06] checkpoint | dispatched to coord\n"
        "## [2026-11-06] checkpoint | dispatched to coord\n"
        "## [2026-11-01] experiment | a\n"
        "## [2026-12-01] experiment | b\n"
        "## [2026-02-30] task | T0009 done\n"
    )
    (engine / "snapshot.json").write_text(
        json.dumps(
            {
                "contract_version": 1,
                "generated_at": "2026-12-07T11:59:00Z",
                "lanes": {
                    "web": {"status": "idle", "target": "%1", "kind": "worker"},
                    "api": {"status": "working", "target": "%2", "kind": "worker"},
                    "db": {"status": "idle", "target": "%3", "kind": "worker"},
                    "coord": {"status": "idle", "target": "%0", "kind": "standing"},
                },
                "loops": {},
                "mailbox_pending": [],
                "processed_count": 0,
                "restarts_tail": [],
                "checkpoint_tokens": 4321,
            }
        )
    )
    tasks = root / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "T0001-x.md").write_text("---\nid: T0001\ntitle: x\nstatus: open\nloop: web\n---\nbody\n")
    (tasks / "T0002-y.md").write_text("---\nid: T0002\ntitle: y\nstatus: done\nloop: db\n---\nbody\n")
    return root


EXPECTED_BLOCK = """\
loop-metrics — 2026-12-07 (session: s1)
  checkpoint_tokens: 4321
  pending_messages:  1
  restarts_24h:      1
  giveups_24h:       1
  autonomy_ratio:                  0.50 (2/4)
  interventions_per_shipped_unit: 2.00 (4 interventions / 2 shipped)
  escalations_7d:                  1
  rejects_7d:                      1
  stops_7d:                        1
  ingest_timeouts_7d:              1
  lane_restarts_7d:                2
  unsolicited_steers_7d:           2
  brain_calls_7d:                  3
  brain_tokens_7d:                 3600
  cost_usd_7d:                     0.875000
  build_tokens_7d:                 5000
  build_cost_usd_7d:               1.500000
  cost_per_shipped_unit:           0.437500
  cost_per_decision:               0.218750
  dispatches_per_lane_7d:          {"api":1,"my_lane":1,"web":2}
  distinct_lanes_used_7d:          3
  ingests_7d:        2
  lints_7d:          2
  checkpoints_7d:    1
  experiments:       2
  dispatches:        n/a (not derivable from substrate surfaces; out of scope)
notes:
  - ops-wiki/log.md skipped 1 malformed dated line(s)
  - events.jsonl for session 's1' skipped 1 corrupt line(s)
  - lint-dispatch with non-boolean ok skipped
  - mailbox-new file '20261207-080000-ops-to-coord.md' not found — skipped unsolicited steer count
"""


def _collect(root: Path, session: str | None = "s1", **kw: Any) -> dict[str, Any]:
    return metrics.collect(str(root), session, now=NOW, **kw)


def test_text_block_of_the_full_fixture_is_exact(tmp_path):
    doc = _collect(build_project(tmp_path))
    assert metrics.human(doc, NOW.date()) == EXPECTED_BLOCK


def test_text_block_padding_offsets(tmp_path):
    """The value starts at offset 35 for autonomy_ratio … distinct_lanes_used_7d (34 for
    interventions_per_shipped_unit, whose key is too long), 21 for the others."""
    wide = set(metrics.WIDE_KEYS)
    for key, value in (("checkpoint_tokens", "1"), ("experiments", "2"), ("dispatches", "n/a")):
        assert metrics._row(key, value).index(value) == 21
    for key in wide - {"interventions_per_shipped_unit"}:
        assert metrics._row(key, "V").index("V") == 35, key
    assert metrics._row("interventions_per_shipped_unit", "V").index("V") == 34
    order = [k for k, _ in metrics.text_lines(_collect(tmp_path))]
    assert order == [
        "checkpoint_tokens",
        "pending_messages",
        "restarts_24h",
        "giveups_24h",
        "autonomy_ratio",
        "interventions_per_shipped_unit",
        "escalations_7d",
        "rejects_7d",
        "stops_7d",
        "ingest_timeouts_7d",
        "lane_restarts_7d",
        "unsolicited_steers_7d",
        "brain_calls_7d",
        "brain_tokens_7d",
        "cost_usd_7d",
        "build_tokens_7d",
        "build_cost_usd_7d",
        "cost_per_shipped_unit",
        "cost_per_decision",
        "dispatches_per_lane_7d",
        "distinct_lanes_used_7d",
        "ingests_7d",
        "lints_7d",
        "checkpoints_7d",
        "experiments",
        "dispatches",
    ]
    assert wide == set(order[order.index("autonomy_ratio") : order.index("distinct_lanes_used_7d") + 1])


def test_json_document_of_the_full_fixture(tmp_path):
    from loop_schemas import Metrics

    doc = _collect(build_project(tmp_path))
    model = Metrics.model_validate(json.loads(json.dumps(doc)))
    assert model.cost_usd_7d == 0.875 and model.build_cost_usd_7d == 1.5
    expected = {
        "engine_checkpoint_tokens": 4321,
        "engine_checkpoint_source": "snapshot",
        "pending": 1,
        "restarts_24h": 1,
        "giveups_24h": 1,
        "lane_restarts": 3,
        "lane_giveups": 2,
        "lane_restarts_7d": 2,
        "autonomy_ratio": 0.5,
        "engine_decisions_7d": 2,
        "decisions_7d": 4,
        "interventions_7d": 4,
        "shipped_7d": 2,
        "interventions_per_shipped_unit": 2.0,
        "escalations_7d": 1,
        "rejects_7d": 1,
        "stops_7d": 1,
        "ingest_timeouts_7d": 1,
        "unsolicited_steers_7d": 2,
        "brain_calls_7d": 3,
        "brain_tokens_7d": 3600,
        "cost_usd_7d": 0.875,
        "build_tokens_7d": 5000,
        "build_cost_usd_7d": 1.5,
        "cost_per_shipped_unit": 0.4375,
        "cost_per_decision": 0.21875,
        "dispatches_per_lane_7d": {"api": 1, "my_lane": 1, "web": 2},
        "distinct_lanes_used_7d": 3,
        "ingests_7d": 2,
        "lints_7d": 2,
        "checkpoints_7d": 1,
        "experiments": 2,
        "lanes_idle_with_backlog": 1,  # web: idle with an open task of loop web (db's task is done)
    }
    assert {k: doc[k] for k in expected} == expected
    assert doc["daily"] == [
        {"date": "2026-12-01", "autonomy_ratio": None, "cost_usd": 0.0, "brain_calls": 0, "decisions": 0},
        {"date": "2026-12-02", "autonomy_ratio": None, "cost_usd": 0.0, "brain_calls": 0, "decisions": 0},
        {"date": "2026-12-03", "autonomy_ratio": None, "cost_usd": 0.0, "brain_calls": 0, "decisions": 0},
        {"date": "2026-12-04", "autonomy_ratio": None, "cost_usd": 0.0, "brain_calls": 0, "decisions": 0},
        {"date": "2026-12-05", "autonomy_ratio": None, "cost_usd": 0.0, "brain_calls": 0, "decisions": 0},
        {"date": "2026-12-06", "autonomy_ratio": 0.5, "cost_usd": 0.375, "brain_calls": 2, "decisions": 2},
        {"date": "2026-12-07", "autonomy_ratio": 0.5, "cost_usd": 0.5, "brain_calls": 1, "decisions": 2},
    ]


def test_log_line_keeps_the_v1_prefix_and_parses(tmp_path):
    from loop_schemas.metrics import LINE_KEYS, parse_metrics_line

    doc = _collect(build_project(tmp_path))
    line = "## [2026-12-07] metrics | " + metrics.log_summary(doc)
    tokens = line.split(" | ", 1)[1].split()
    assert [t.split("=")[0] for t in tokens[:7]] == list(LINE_KEYS)
    assert tokens[-1] == "source=session-events-v2"
    assert "cost_usd_7d=0.875000" in tokens and "autonomy_ratio=0.50" in tokens
    assert 'dispatches_per_lane_7d={"api":1,"my_lane":1,"web":2}' in tokens
    _day, values = parse_metrics_line(line)
    assert values["cost_usd_7d"] == 0.875 and values["restarts"] == 3 and values["brain_tokens_7d"] == 3600
    assert values["interventions_per_shipped_unit"] == 2.0 and values["source"] == "session-events-v2"


# ---- brain and build cost: n/a, never 0, and each note -------------------------------------------


def _events_only(root: Path, *lines: str) -> dict[str, Any]:
    engine = root / ".loop" / "sessions" / "s1" / "engine"
    engine.mkdir(parents=True, exist_ok=True)
    (engine / "events.jsonl").write_text("\n".join(lines) + "\n")
    return _collect(root)


T = "2026-12-07T09:00:00Z"


def _block_line(doc: dict[str, Any], key: str) -> str:
    return next(line for line in metrics.human(doc, NOW.date()).splitlines() if line.startswith(f"  {key}:"))


def test_unpriced_brain_usage_makes_cost_na(tmp_path):
    doc = _events_only(
        tmp_path,
        _ev(T, "brain-call"),
        _ev(T, "brain-usage", cost_source="unpriced", total_tokens=10),
        _ev(T, "decision-approved", decided_by="engine"),
    )
    assert (doc["cost_usd_7d"], doc["cost_per_decision"], doc["brain_tokens_7d"]) == (None, None, 10)
    assert "1 brain-usage event(s) unpriced; cost metrics n/a" in doc["notes"]
    assert _block_line(doc, "cost_usd_7d").endswith(" n/a") and _block_line(
        doc, "cost_per_decision"
    ).endswith(" n/a")
    assert doc["daily"][-1]["cost_usd"] is None


def test_a_priced_event_without_cost_is_na_unless_unavailable(tmp_path):
    doc = _events_only(
        tmp_path, _ev(T, "brain-call"), _ev(T, "brain-usage", cost_source="provider", total_tokens=5)
    )
    assert doc["cost_usd_7d"] is None and "1 brain-usage event(s) unpriced; cost metrics n/a" in doc["notes"]


def test_brain_calls_without_usage(tmp_path):
    none = _events_only(tmp_path / "a", _ev(T, "brain-call"), _ev(T, "brain-call"))
    assert (none["cost_usd_7d"], none["brain_tokens_7d"]) == (None, None)
    assert "2 brain-call event(s) lack brain-usage; cost metrics n/a" in none["notes"]
    some = _events_only(
        tmp_path / "b",
        _ev(T, "brain-call"),
        _ev(T, "brain-call"),
        _ev(T, "brain-usage", cost_source="provider", cost_usd=0.1, total_tokens=7),
    )
    assert (some["cost_usd_7d"], some["brain_tokens_7d"]) == (0.1, 7)
    assert (
        "1 brain-call event(s) lack brain-usage; cost counts only the calls that reported usage"
        in some["notes"]
    )


def test_unavailable_usage_is_dropped_with_a_note(tmp_path):
    doc = _events_only(
        tmp_path,
        _ev(T, "brain-call"),
        _ev(T, "brain-call"),
        _ev(T, "brain-usage", cost_source="unavailable"),
        _ev(T, "brain-usage", cost_source="provider", cost_usd=0.2, total_tokens=3),
    )
    assert doc["cost_usd_7d"] == 0.2 and doc["brain_tokens_7d"] == 3
    assert "1 brain-usage event(s) with cost_source unavailable dropped" in doc["notes"]
    only = _events_only(
        tmp_path / "o", _ev(T, "brain-call"), _ev(T, "brain-usage", cost_source="unavailable")
    )
    assert only["cost_usd_7d"] is None  # calls happened and none carried a cost


def test_no_brain_calls_costs_zero_not_na(tmp_path):
    doc = _events_only(tmp_path, _ev(T, "decision-rejected"))
    assert doc["cost_usd_7d"] == 0.0 and _block_line(doc, "cost_usd_7d").endswith(" 0.000000")
    assert doc["cost_per_decision"] == 0.0 and doc["autonomy_ratio"] == 0.0


def test_unpriced_build_usage_names_codex_pricing(tmp_path):
    doc = _events_only(
        tmp_path,
        _ev(T, "build-usage", window="w", cost_source="unpriced", input_tokens=100, output_tokens=20),
        _ev(T, "build-usage", window="w", cost_source="computed", cost_usd=0.3, total_tokens=50),
    )
    assert (doc["build_tokens_7d"], doc["build_cost_usd_7d"]) == (170, None)
    assert "1 build-usage event(s) unpriced; build_cost_usd_7d n/a (set engine.codex_pricing)" in doc["notes"]
    assert _block_line(doc, "build_cost_usd_7d") == "  build_cost_usd_7d:               n/a"


# ---- checkpoint_tokens: snapshot.json, then the fallbacks ----------------------------------------


def _engine(root: Path) -> Path:
    engine = root / ".loop" / "sessions" / "s1" / "engine"
    engine.mkdir(parents=True, exist_ok=True)
    return engine


def test_checkpoint_tokens_fallbacks(tmp_path):
    engine = _engine(tmp_path)
    (engine / "snapshot.json").write_text(json.dumps({"checkpoint_tokens": -3}))
    (engine / "checkpoint.md").write_text("x" * 41)
    doc = _collect(tmp_path)
    assert (doc["engine_checkpoint_tokens"], doc["engine_checkpoint_source"]) == (10, "checkpoint.md")
    assert _block_line(doc, "checkpoint_tokens") == "  checkpoint_tokens: 10 (41 chars / 4)"
    assert "snapshot.json for session 's1' has invalid checkpoint_tokens; using fallback/0" in doc["notes"]
    (engine / "checkpoint.md").unlink()
    (engine / "snapshot.json").write_text("{damaged")
    brain = engine / "brain"
    brain.mkdir()
    (brain / "a.prompt.md").write_text("y" * 80)
    (brain / "b.prompt.md").write_text("y" * 8)
    os.utime(brain / "b.prompt.md", (1, 1))  # older, though it sorts last
    doc = _collect(tmp_path)
    assert _block_line(doc, "checkpoint_tokens") == "  checkpoint_tokens: 20 (80 chars / 4)"
    assert any(
        re.fullmatch(r"snapshot\.json for session 's1' unparseable: .+; metrics using fallback/0", n)
        for n in doc["notes"]
    )
    for p in brain.iterdir():
        p.unlink()
    (engine / "snapshot.json").write_text(json.dumps({"checkpoint_tokens": None}))
    doc = _collect(tmp_path)
    assert doc["engine_checkpoint_tokens"] == 0 and doc["engine_checkpoint_source"] == "none"
    assert "no session checkpoint surface for session 's1' — checkpoint_tokens read 0" in doc["notes"]
    (engine / "snapshot.json").write_text("[1, 2]")
    assert (
        "snapshot.json for session 's1' is not a JSON object; metrics using fallback/0"
        in _collect(tmp_path)["notes"]
    )


# ---- session resolution -------------------------------------------------------------------------


def test_session_resolution(tmp_path):
    sessions = tmp_path / ".loop" / "sessions"
    (sessions / "only").mkdir(parents=True)
    doc = _collect(tmp_path, None)
    assert (
        doc["session"] == "only"
        and doc["notes"][0] == "session defaulted to sole .loop/sessions/ entry 'only'"
    )
    (sessions / "other").mkdir()
    doc = _collect(tmp_path, None, tmux_session="other")
    assert (
        doc["session"] == "other" and doc["notes"][0] == "session defaulted to current tmux session 'other'"
    )
    doc = _collect(tmp_path, None, tmux_session="elsewhere")
    assert doc["session"] is None
    assert doc["notes"][0] == "2 sessions under .loop/sessions/ — pass --session; restart counts read 0"
    assert metrics.human(doc, NOW.date()).startswith("loop-metrics — 2026-12-07 (session: none)\n")


# ---- through the script: --json, --log, --all ---------------------------------------------------


def _relative_fixture(root: Path, session: str, cost: float | None) -> None:
    """A session whose events are stamped now (the script reads the clock)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    engine = root / ".loop" / "sessions" / session / "engine"
    engine.mkdir(parents=True)
    usage: dict[str, Any] = {"cost_source": "unpriced", "total_tokens": 100}
    if cost is not None:
        usage = {"cost_source": "provider", "cost_usd": cost, "total_tokens": 100}
    lines = [
        _ev(now, "decision-approved", decided_by="engine"),
        _ev(now, "decision-rejected"),
        _ev(now, "escalate"),
        _ev(now, "brain-call"),
        _ev(now, "brain-usage", **usage),
    ]
    (engine / "events.jsonl").write_text("\n".join(lines) + "\n")


def test_script_json_validates_and_log_appends_one_line(shell_env):
    from loop_schemas import Metrics
    from loop_schemas.metrics import parse_metrics_line

    root = shell_env.cwd
    assert shell_env.run("loop-init.sh").returncode == 0
    _relative_fixture(root, "s1", 0.25)
    proc = shell_env.run("scripts/loop-metrics.sh", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = Metrics.model_validate_json(proc.stdout)
    assert (doc.session, doc.cost_usd_7d, doc.autonomy_ratio, doc.interventions_7d) == ("s1", 0.25, 0.5, 2)
    assert doc.daily is not None and doc.daily[-1].cost_usd == 0.25 and doc.daily[-1].decisions == 2
    proc = shell_env.run("scripts/loop-metrics.sh", "--log")
    assert proc.returncode == 0 and "  cost_usd_7d:                     0.250000\n" in proc.stdout
    last = (root / "ops-wiki" / "log.md").read_text().splitlines()[-1]
    _day, values = parse_metrics_line(last)
    assert (
        values["cost_usd_7d"] == 0.25
        and values["escalations_7d"] == 1
        and values["source"] == "session-events-v2"
    )


def test_script_all_sums_partial_totals_and_notes(shell_env, tmp_path):
    from loop_schemas import FleetMetrics

    a, b = tmp_path / "a", tmp_path / "b"
    _relative_fixture(a, "s1", 0.25)
    _relative_fixture(a, "s2", None)  # unpriced: n/a
    _relative_fixture(b, "s3", 0.5)
    proc = shell_env.run(
        "scripts/loop-metrics.sh", "--all", "--project-root", str(a), "--project-root", str(b)
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    head, rule = out.splitlines()[1:3]
    assert head.split() == list(metrics.TABLE_HEAD) and set(rule.replace(" ", "")) == {"-"}
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:6]}
    assert rows["s1"][1:] == [str(a), "0", "0.50(1/2)", "2", "1", "1", "0", "0", "0", "100", "0.250000", "0"]
    assert rows["s2"][11] == "n/a" and rows["s3"][1] == str(b)
    assert "\nfleet aggregate:\n  sessions:                    3\n" in out
    assert "\n  autonomy_ratio:              0.50 (3/6)\n" in out
    assert "\n  brain_tokens_7d:             300\n" in out
    assert "\n  cost_usd_7d:                 0.750000\n" in out
    assert "\n  (cost_usd_7d is a partial total; 1 session(s) with n/a left out)\n" in out
    assert f"  - {a}:s2: 1 brain-usage event(s) unpriced; cost metrics n/a\n" in out
    fleet = FleetMetrics.model_validate_json(
        shell_env.run(
            "scripts/loop-metrics.sh", "--all", "--json", "--project-root", str(a), "--project-root", str(b)
        ).stdout
    )
    assert fleet.aggregate.cost_usd_7d == 0.75 and fleet.aggregate.partial == {"cost_usd_7d": 1}
    assert [s.session for s in fleet.sessions] == ["s1", "s2", "s3"] and fleet.aggregate.interventions_7d == 6


def test_all_total_is_na_only_when_every_row_is(shell_env, tmp_path):
    c = tmp_path / "c"
    _relative_fixture(c, "s1", None)
    _relative_fixture(c, "s2", None)
    out = shell_env.run("scripts/loop-metrics.sh", "--all", "--project-root", str(c)).stdout
    assert "\n  cost_usd_7d:                 n/a\n" in out and "partial total" not in out


@pytest.mark.parametrize("extra", [["--log"], ["--session", "s1"]])
def test_all_refuses_log_and_session(shell_env, extra):
    proc = shell_env.run("scripts/loop-metrics.sh", "--all", *extra)
    assert proc.returncode == 2 and "--all" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_all_with_no_sessions(shell_env, tmp_path):
    proc = shell_env.run("scripts/loop-metrics.sh", "--all", "--project-root", str(tmp_path))
    assert proc.returncode == 0
    assert "no sessions found under any <root>/.loop/sessions/\n" in proc.stdout
