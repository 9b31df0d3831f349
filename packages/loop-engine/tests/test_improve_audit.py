"""Regressions found by an outside audit of `loop-engine improve` (each failed before its fix)."""

from __future__ import annotations

import json
from pathlib import Path

from loop_substrate.testing import FakeSubstrate
from test_improve import brain, cli, root, run_json  # noqa: F401  (fixtures)
from test_improve_seed import AGENTS_MD, SESSION, log, metrics_doc


def test_odd_typed_decision_kinds_never_crash_the_miner(root: Path) -> None:  # noqa: F811
    ev = log(root)
    ev.emit("decision-rejected", decision_id="d-1", reason="no", kinds=5)  # not a list
    ev.emit("decision-rejected", decision_id="d-2", reason="no", kinds="dispatch")  # one kind, bare
    ev.emit("decision-rejected", decision_id="d-3", reason="no", kinds=[{"a": 1}, None, 7])
    out = cli(root, "--json")
    assert out.exit_code == 0, out.output
    weak = {w["signature"]: w["count"] for w in json.loads(out.output)["weaknesses"]}
    # a bare string is one kind, never split into its characters; junk falls back to `decision`
    assert weak == {"decision:rejected:dispatch": 1, "decision:rejected:decision": 2}


def test_builtin_rejected_decision_rule_reads_as_prose(root: Path) -> None:  # noqa: F811
    log(root).emit("decision-rejected", decision_id="d-1", reason="wrong lane", kinds=["dispatch"])
    (prop,) = run_json(root)["proposals"]
    assert prop["surface"] == "header"
    assert prop["edit"]["text"].startswith("## Rejected `dispatch` decisions\n")
    assert "RejectedError" not in json.dumps(prop)


def test_a_crash_line_without_timestamp_is_filed_once_not_every_run(root: Path) -> None:  # noqa: F811
    deck = root / ".loop" / "sessions" / SESSION / "deck-crash.log"
    deck.parent.mkdir(parents=True, exist_ok=True)
    deck.write_text(json.dumps({"component": "deck", "error": "ValueError: x"}) + "\n")
    first = run_json(root)
    assert [p["signature"] for p in first["proposals"]] == ["crash:deck"]
    second = run_json(root)
    assert second["proposals"] == []
    assert second["skipped"][0]["signature"] == "crash:deck"
    # the mined weakness still reports what was mined (not the evidence left after the filter)
    assert [(w["signature"], w["count"]) for w in second["weaknesses"]] == [("crash:deck", 1)]
    mined = [e for e in log(root).read() if e["event"] == "improve-mined"][-1]
    assert mined["clusters"] == [{"signature": "crash:deck", "count": 1}]
    # the crash recurring (a new line) is new evidence: a new report
    with deck.open("a") as fh:
        fh.write(json.dumps({"component": "deck", "error": "ValueError: y"}) + "\n")
    third = run_json(root)
    assert [p["signature"] for p in third["proposals"]] == ["crash:deck"]
    assert len(run_json(root, "--list")["proposals"]) == 2


def test_apply_and_revert_keep_a_symlinked_agents_md_a_link(root: Path) -> None:  # noqa: F811
    real = root / "CLAUDE.md"
    (root / "AGENTS.md").rename(real)
    (root / "AGENTS.md").symlink_to("CLAUDE.md")
    log(root).emit("ask-timeout", ask_id="a-1", lane="infra", timeout_s=60)
    (prop,) = run_json(root)["proposals"]
    assert prop["surface"] == "agents"
    run_json(root, "--apply", str(prop["id"]))
    link = root / "AGENTS.md"
    assert link.is_symlink() and link.readlink() == Path("CLAUDE.md")
    assert "### Experiment " in real.read_text() and real.read_text() != AGENTS_MD
    reverted = run_json(root, "--revert", str(prop["id"]))["proposal"]
    assert reverted["state"] == "reverted"
    assert link.is_symlink() and link.readlink() == Path("CLAUDE.md")
    assert real.read_bytes() == AGENTS_MD.encode()


def test_crash_reports_never_crowd_out_a_higher_ranked_human_steer(root: Path) -> None:  # noqa: F811
    ev = log(root)
    for component in ("engine", "brain", "ingest"):
        ev.emit("cycle-crashed", cycle_id=f"c-{component}", component=component, error_type="X", error="x")
    mailbox = root / ".loop" / "messages"
    mailbox.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (mailbox / f"2026112{i}-100000-human-to-coord.md").write_text("---\nsubject: why is web idle?\n---\n")
    out = run_json(root)
    ranked = [w["signature"] for w in out["weaknesses"]]
    assert ranked[0] == "human:unsolicited-steer", ranked  # the highest-leverage signal ranks first
    filed = [p["signature"] for p in out["proposals"]]
    assert "human:unsolicited-steer" in filed and len(filed) <= 3, filed


# ------------------------------------------------------------------ session 4 audit (improve meets the gate)
def _foreign(root: Path, kind: str, **fields: object) -> None:  # noqa: F811
    """A line another session's engine wrote into this session's events.jsonl (a copied project, say)."""
    from loop_engine.events import EventLog

    EventLog(log(root).path, "other-session").emit(kind, **fields)


def test_another_sessions_events_are_neither_mined_nor_counted_as_cycles(root: Path) -> None:  # noqa: F811
    for _ in range(5):
        _foreign(root, "brain-failed", harness="pi", failure_class="timeout", error="not ours")
    assert run_json(root)["weaknesses"] == []  # nothing of this session's own: no weakness, no proposal
    log(root).emit("ask-timeout", ask_id="a-1", lane="infra", timeout_s=60)
    out = run_json(root)
    assert [w["signature"] for w in out["weaknesses"]] == ["ask:timeout"]
    (prop,) = out["proposals"]
    run_json(root, "--apply", str(prop["id"]))
    for i in range(3):
        _foreign(root, "cycle-end", cycle_id=f"c-x{i}", outcome="executed", duration_s=1.0)
    (judged,) = run_json(root, "--judge")["judged"]
    assert judged["verdict"] == "waiting" and judged["cycles"] == 0  # other sessions' cycles judge nothing
    for i in range(3):
        log(root).emit("cycle-end", cycle_id=f"c-{i}", outcome="executed", duration_s=1.0)
    (judged,) = run_json(root, "--judge")["judged"]
    assert judged["verdict"] == "kept" and judged["cycles"] == 3


def test_a_crash_stamped_in_the_future_is_reported_once_not_every_run(root: Path) -> None:  # noqa: F811
    path = log(root).path
    path.parent.mkdir(parents=True, exist_ok=True)
    skewed = {
        "contract_version": 1,
        "id": "e-20990101T000000000000-abcd",
        "timestamp": "2099-01-01T00:00:00Z",  # a host with a skewed clock wrote it
        "session": SESSION,
        "event": "cycle-crashed",
        "component": "watch",
        "error_type": "OSError",
        "error": "boom",
    }
    with path.open("a") as fh:
        fh.write(json.dumps(skewed) + "\n")
    assert [p["signature"] for p in run_json(root)["proposals"]] == ["crash:watch"]
    second = run_json(root)
    assert second["proposals"] == [] and second["skipped"][0]["signature"] == "crash:watch"
    # a real recurrence (after the report was filed) is still a new report
    filed = root / ".loop" / "sessions" / SESSION / "engine" / "improve" / "proposals" / "1.json"
    doc = json.loads(filed.read_text())
    doc["created_at"] = "2020-01-01T00:00:00Z"  # iso() has one-second resolution: keep the order clear
    filed.write_text(json.dumps(doc))
    log(root).emit("cycle-crashed", cycle_id="c-2", component="watch", error_type="OSError", error="again")
    assert [p["signature"] for p in run_json(root)["proposals"]] == ["crash:watch"]
    assert len(run_json(root, "--list")["proposals"]) == 2


def test_the_gate_never_keeps_an_experiment_whose_figure_can_no_longer_be_measured(
    root: Path,  # noqa: F811
    fake_substrate: FakeSubstrate,
) -> None:
    log(root).emit("ask-timeout", ask_id="a-1", lane="infra", timeout_s=60)
    (prop,) = run_json(root)["proposals"]
    run_json(root, "--apply", str(prop["id"]))  # baseline: checkpoint_tokens=1000
    for i in range(3):
        log(root).emit("cycle-end", cycle_id=f"c-{i}", outcome="executed", duration_s=1.0)
    # the checkpoint prompt cannot be assembled any more (loop-metrics reports it n/a)
    fake_substrate.respond("loop-metrics", metrics_doc(checkpoint_tokens=None, checkpoint_bytes=None))
    (judged,) = run_json(root, "--judge")["judged"]
    assert judged["verdict"] == "regressed"
    assert judged["regressions"] == [
        {"figure": "checkpoint_tokens", "baseline": 1000, "current": None, "allowed": 1000}
    ]
    assert run_json(root, "--list")["proposals"][0]["state"] == "regressed"


def test_a_crash_in_the_same_second_as_its_report_is_not_lost(root: Path) -> None:  # noqa: F811
    log(root).emit("cycle-crashed", cycle_id="c-1", component="engine", error_type="KeyError", error="a")
    assert [p["signature"] for p in run_json(root)["proposals"]] == ["crash:engine"]
    # the crash recurs within the second the report was filed in (timestamps have 1 s resolution)
    again = log(root).emit(
        "cycle-crashed", cycle_id="c-2", component="engine", error_type="KeyError", error="b"
    )
    filed = root / ".loop" / "sessions" / SESSION / "engine" / "improve" / "proposals" / "1.json"
    doc = json.loads(filed.read_text())
    doc["created_at"] = again["timestamp"]
    filed.write_text(json.dumps(doc))
    (report,) = run_json(root)["proposals"]
    assert report["signature"] == "crash:engine" and report["evidence"] == [again["id"]]
    # and the crash the first report already carried, stamped that same second, is not new
    assert run_json(root)["proposals"] == []
