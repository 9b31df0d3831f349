"""improve's parts one by one: the miner's rules, the surface edits, crash recovery, re-proposal rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from loop_engine.config import EffectiveConfig
from loop_engine.events import iso
from loop_engine.improve import ImproveError, Improver, compare, sha256
from loop_engine.improve_mine import mine
from loop_engine.improve_surfaces import EditError, apply_edit, insert_experiment, set_engine_key
from loop_engine.paths import EnginePaths
from loop_schemas import EngineConfig, parse_lane_config
from test_improve_seed import SESSION, events, log, mail, make_root, metrics_doc


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path)


def paths(root: Path) -> EnginePaths:
    return EnginePaths(root, SESSION)


def improver(root: Path, brain_fn: Any = None, **cfg: Any) -> Improver:
    config = EffectiveConfig(model=EngineConfig.model_validate(cfg))
    return Improver(paths(root), config, brain_fn=brain_fn, metrics=lambda header: metrics_doc())


def sigs(root: Path) -> dict[str, int]:
    return {c.signature: c.count for c in mine(paths(root))}


# ---------------------------------------------------------------------------------------------- the miner
def test_latency_regression_needs_a_rising_trend_of_successful_calls(root: Path) -> None:
    ev = log(root)
    for d in [20, 22, 19, 21, 20, 22, 21, 20]:
        ev.emit("brain-answered", harness="claude", duration_s=float(d))
    assert "latency:regression" not in sigs(root)  # flat
    for d in [60, 70, 80, 90, 100, 110, 120, 130]:
        ev.emit("brain-answered", harness="claude", duration_s=float(d))
    assert sigs(root)["latency:regression"] >= 4


def test_quota_failures_are_their_own_class_never_latency(root: Path) -> None:
    ev = log(root)
    for _ in range(8):
        ev.emit("brain-failed", harness="claude", failure_class="quota", error="usage limit", duration_s=0.2)
    for d in [5, 5, 5, 5]:
        ev.emit("brain-answered", harness="claude", duration_s=float(d))
    assert sigs(root) == {"brain:quota": 8}


def test_model_unavailable_failures_are_their_own_class(root: Path) -> None:
    ev = log(root)
    for _ in range(3):
        ev.emit(
            "brain-failed", harness="claude", failure_class="model-unavailable", error="model unavailable"
        )
    assert sigs(root) == {"brain:model-unavailable": 3}


def test_builtin_brain_timings_are_not_latency(root: Path) -> None:
    ev = log(root)
    for d in [0.001] * 6 + [0.5] * 6:
        ev.emit("brain-answered", harness="builtin", duration_s=d)
    assert sigs(root) == {}


def test_unsolicited_steer_counts_only_unasked_mail_to_coord(root: Path) -> None:
    mail(root, "web", "coord", "re:a-12 done", n=1)
    mail(root, "web", "coord", "RE: a-13", n=2, processed=True)
    mail(root, "coord", "web", "go", n=3)
    mail(root, "web", "coord", "done T0004: merged", n=4)
    mail(root, "human", "infra", "hi", n=5)
    assert sigs(root) == {}
    mail(root, "human", "coord", "start on the billing page", n=6)
    mail(root, "bob", "coord", None, n=7, processed=True)
    (found,) = mine(paths(root))
    assert found.signature == "human:unsolicited-steer" and found.count == 2
    assert [e.ref for e in found.evidence] == [
        "mail:20260101-000006-human-to-coord.md",
        "mail:20260101-000007-bob-to-coord.md",
    ]


def test_lane_instability_thresholds(root: Path) -> None:
    restarts = root / ".loop" / "sessions" / SESSION / "lane-restarts.jsonl"
    restarts.parent.mkdir(parents=True, exist_ok=True)
    line = {"timestamp": "2026-01-01T00:00:00Z", "session": SESSION, "target": "%1", "cmd": "pi"}
    restarts.write_text(
        json.dumps({**line, "lane": "web"})
        + "\n{torn\n"
        + json.dumps(
            {"timestamp": "2026-01-01T00:00:00Z", "session": SESSION, "lane": "infra", "event": "giving-up"}
        )
        + "\n"
    )
    assert sigs(root) == {"lane:unstable:infra": 1}
    with restarts.open("a") as fh:
        fh.write(json.dumps({**line, "lane": "web"}) + "\n")
    assert sigs(root) == {"lane:unstable:infra": 1, "lane:unstable:web": 2}


def test_signatures_are_sanitised_tokens(root: Path) -> None:
    log(root).emit("action-failed", kind="dispatch; rm -rf /", target="web")
    log(root).emit("cycle-crashed", component="../../etc", error="x")
    assert set(sigs(root)) == {"action:failed:dispatch_rm_-rf", "crash:.._.._etc"}


# ---------------------------------------------------------------------------------------------- surfaces
def test_set_engine_key_keeps_every_other_byte_and_checks_itself() -> None:
    text = "# top comment\nlanes:\n  web: {harness: pi}\nengine:\n    brain:\n        harness: pi   # mine\n"
    new = set_engine_key(text, "brain.timeout_s", 600)
    assert new == text + "        timeout_s: 600\n"
    assert parse_lane_config(new).engine is not None
    assert set_engine_key("", "brain.max_retries", 2) == "engine:\n  brain:\n    max_retries: 2\n"
    with pytest.raises(EditError):
        set_engine_key("engine: {brain: {timeout_s: 1}}\n", "brain.timeout_s", 600)
    with pytest.raises(EditError):
        set_engine_key("engine:\n  brain: {harness: pi}\n", "brain.timeout_s", 600)
    with pytest.raises(EditError):
        apply_edit("config", text, {"op": "set", "key": "approval_mode", "value": 1})
    with pytest.raises(EditError):
        apply_edit("config", text, {"op": "set", "key": "brain.timeout_s", "value": 10**9})
    with pytest.raises(EditError):
        apply_edit("config", text, {"op": "set", "key": "brain.max_retries", "value": 1.5})


def test_experiments_are_inserted_never_edited() -> None:
    text = "# R\n\n## 1. Lanes\n\na\n\n```\n## not a heading\n```\n\n## 2. Mail\n\nb"
    new = insert_experiment(text, "### Experiment 2026-01-01 x\nbody", "Lanes")
    cut = new.index("### Experiment")
    assert new[:cut] == text[:cut] and new.endswith(text[cut:])
    assert cut < new.index("## 2. Mail")
    with pytest.raises(EditError, match="no `## ` section"):
        insert_experiment(text, "### Experiment 2026-01-01 x", "Nope")
    with pytest.raises(EditError, match="matches"):
        insert_experiment("## A x\n## B x\n", "### Experiment 2026-01-01 x", "x")
    for bad in (
        {"op": "replace", "old": "a", "new": "b"},
        {"op": "prepend", "text": "### Experiment 2026-01-01 x"},
        {"op": "append", "text": "### Not an experiment"},
        {"op": "append", "text": "### Experiment 2026-01-01 x\n# Title\n"},
        {"op": "append", "text": "### Experiment 2026-01-01 x\n<<<END DATA x tag=1>>>"},
    ):
        with pytest.raises(EditError):
            apply_edit("agents", text, bad)


def test_header_replace_needs_one_exact_passage() -> None:
    assert apply_edit("header", "a b a", {"op": "replace", "old": "b", "new": "c"}) == "a c a"
    with pytest.raises(EditError, match="2 times"):
        apply_edit("header", "a b a", {"op": "replace", "old": "a", "new": "c"})
    with pytest.raises(EditError):
        apply_edit("header", "x", {"op": "append", "text": "y" * 5000})


def test_gate_tolerates_a_small_checkpoint_growth_only() -> None:
    base = metrics_doc(checkpoint_tokens=10000)
    assert compare(base, metrics_doc(checkpoint_tokens=11000, ingests=9)) == []
    assert [r["figure"] for r in compare(base, metrics_doc(checkpoint_tokens=11001))] == ["checkpoint_tokens"]
    assert [r["figure"] for r in compare(base, metrics_doc(checkpoint_tokens=10000, lane_giveups=1))] == [
        "lane_giveups"
    ]
    assert compare(metrics_doc(pending=None), metrics_doc(pending=5)) == []


# ---------------------------------------------------------------------------------------------- the Improver
def test_in_process_brain_gets_the_prompt_and_zero_weaknesses_skip_it(root: Path) -> None:
    prompts: list[str] = []

    def brain(prompt: str) -> str:
        prompts.append(prompt)
        return (
            "```improve\nversion: 1\nproposals:\n  - signature: ask:timeout\n    surface: header\n"
            "    title: t\n    rationale: r\n    edit: {op: append, text: Answer asks.}\n```\n"
        )

    imp = improver(root, brain_fn=brain)
    assert imp.run()["proposals"] == [] and prompts == []
    log(root).emit("ask-timeout", ask_id="a-1", lane="web", timeout_s=5)
    doc = imp.run()
    assert len(prompts) == 1 and "ask:timeout" in prompts[0]
    assert [p["signature"] for p in doc["proposals"]] == ["ask:timeout"]
    assert [e["event"] for e in events(root) if "brain" in e["event"]] == [
        "improve-brain-call",
        "improve-brain-answered",
    ]


def test_interrupted_apply_is_recovered_from_the_surface_bytes(root: Path) -> None:
    log(root).emit("ask-timeout", ask_id="a-1", lane="web", timeout_s=5)
    imp = improver(root)
    (doc,) = imp.run()["proposals"]
    p = imp.get(doc["id"])
    agents = root / "AGENTS.md"
    new = apply_edit("agents", agents.read_text(), p.edit or {}).encode()
    # crashed after recording `applying`, before the write: back to proposed
    p.state, p.after_sha256, p.before_sha256 = "applying", sha256(new), sha256(agents.read_bytes())
    imp._save(p)
    imp.judge()  # any verb recovers first
    assert [q.state for q in imp.proposals()] == ["proposed"]
    assert events(root, "improve-apply-failed")
    # crashed after the write: applied
    p.state = "applying"
    imp._save(p)
    agents.write_bytes(new)
    imp.judge()
    assert imp.get(p.id).state == "applied" and imp.get(p.id).applied_event


def test_crash_reports_recur_only_with_new_crashes(root: Path) -> None:
    log(root).emit("cycle-crashed", component="engine", error="boom")
    imp = improver(root)
    assert [p["signature"] for p in imp.run()["proposals"]] == ["crash:engine"]
    assert imp.run()["proposals"] == []
    (p,) = imp.proposals()
    p.created_at = "2020-01-01T00:00:00Z"  # the report is older than the next crash
    imp._save(p)
    log(root).emit("cycle-crashed", component="engine", error="boom again")
    again = imp.run()["proposals"]
    assert [x["signature"] for x in again] == ["crash:engine"] and again[0]["count"] == 2


def test_a_reverted_edit_is_not_proposed_again(root: Path) -> None:
    log(root).emit("ask-timeout", ask_id="a-1", lane="web", timeout_s=5)
    imp = improver(root)
    (doc,) = imp.run()["proposals"]
    imp.apply(doc["id"])
    imp.revert(doc["id"])
    assert imp.run()["proposals"] == []  # no evidence newer than the revert
    p = imp.get(doc["id"])
    p.reverted_at = "2020-01-01T00:00:00Z"
    imp._save(p)
    rerun = imp.run()
    assert rerun["proposals"] == [] and "reverted as #1" in rerun["rejected"][0]["reason"]


def test_only_one_experiment_runs_at_a_time(root: Path) -> None:
    log(root).emit("ask-timeout", ask_id="a-1", lane="web", timeout_s=5)
    log(root).emit("brain-failed", failure_class="parse", error="x", harness="pi")
    imp = improver(root)
    first, second = (p["id"] for p in imp.run()["proposals"])
    imp.apply(first)
    with pytest.raises(ImproveError, match="still being judged"):
        imp.apply(second)


def test_quota_failure_of_the_improve_brain_backs_off(root: Path) -> None:
    from loop_engine.brain import BrainError

    def brain(prompt: str) -> str:
        raise BrainError("quota", "usage limit reached|4102444800")

    log(root).emit("ask-timeout", ask_id="a-1", lane="web", timeout_s=5)
    with pytest.raises(ImproveError, match="quota"):
        improver(root, brain_fn=brain).run()
    backoff = json.loads((paths(root).backoff).read_text())
    assert backoff["until"] > iso()
    assert events(root, "improve-brain-failed")[-1]["failure_class"] == "quota"
