"""`loop-engine improve` end to end through the CLI, over loop-substrate's recording fake shell.

The traces are seeded (test_improve_seed); loop-metrics answers what each test sets; an external brain
is a recording script on PATH named by a fake harness registry.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from loop_engine.cli import main
from loop_engine.improve_surfaces import bundled_header
from loop_schemas import load_lane_config
from loop_substrate.testing import FakeSubstrate
from test_improve_seed import (
    AGENTS_MD,
    LANE_CONFIG,
    SESSION,
    clean_traces,
    engine_dir,
    events,
    log,
    make_root,
    metrics_doc,
    seed_weaknesses,
    tree_hashes,
)

ALLOWED = {"header": ".loop/engine-header.md", "agents": "AGENTS.md", "config": "lane-config.yaml"}

FAKE_BRAIN = """\
import json, os, sys
with open(os.environ["FAKE_BRAIN_LOG"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
with open(os.environ["FAKE_BRAIN_ANSWER"], encoding="utf-8") as fh:
    sys.stdout.write(fh.read())
sys.exit(int(os.environ.get("FAKE_BRAIN_EXIT", "0")))
"""


@pytest.fixture
def root(tmp_path: Path, fake_substrate: FakeSubstrate) -> Path:
    fake_substrate.respond("loop-metrics", metrics_doc())
    base = fake_substrate.root / "responses" / "lib__harness-registry.sh"
    registry = {
        "contract_version": 1,
        "harnesses": [
            {"name": "pi", "kind": "ai", "oneshot_template": "pi -p {prompt}"},
            {"name": "shell", "kind": "shell"},
        ],
    }
    Path(f"{base}.out").write_text(json.dumps(registry) + "\n")
    Path(f"{base}.code").write_text("0")
    return make_root(tmp_path)


@pytest.fixture
def brain(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An external brain: `pi` on PATH records every call and answers with FAKE_BRAIN_ANSWER."""
    bindir = tmp_path / "brainbin"
    bindir.mkdir()
    script = bindir / "pi"
    script.write_text(f"#!{sys.executable}\n{FAKE_BRAIN}")
    script.chmod(0o755)
    calls = tmp_path / "brain-calls.jsonl"
    answer = tmp_path / "answer.txt"
    answer.write_text("")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_BRAIN_LOG", str(calls))
    monkeypatch.setenv("FAKE_BRAIN_ANSWER", str(answer))
    (root / "lane-config.yaml").write_text(LANE_CONFIG.replace("harness: builtin", "harness: pi"))
    return {"calls": calls, "answer": answer}


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--project-root", str(root), "--session", SESSION, "improve", *args])


def run_json(root: Path, *args: str) -> dict[str, Any]:
    out = cli(root, *args, "--json")
    assert out.exit_code == 0, out.output
    doc: dict[str, Any] = json.loads(out.output)
    return doc


def brain_calls(brain: dict[str, Path]) -> list[list[str]]:
    path = brain["calls"]
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


# ---------------------------------------------------------------------------------------------- mining
def test_clean_traces_make_no_proposal_and_no_brain_call(root: Path, brain: dict[str, Path]) -> None:
    clean_traces(root)
    before = tree_hashes(root)
    doc = run_json(root)
    assert doc["weaknesses"] == [] and doc["proposals"] == [] and doc["brain_called"] is False
    assert brain_calls(brain) == []  # the recording brain was never run
    assert not list((engine_dir(root) / "transcripts").glob("improve-*"))
    kinds = [e["event"] for e in events(root) if e["event"].startswith("improve-")]
    assert kinds == ["improve-started", "improve-mined", "improve-done"]
    assert tree_hashes(root) == before
    text = cli(root)
    assert text.exit_code == 0 and "no weakness mined" in text.output
    assert brain_calls(brain) == []
    # the same harness IS called once a weakness exists (so the silence above means something)
    log(root).emit("ask-timeout", ask_id="a-1", lane="web", timeout_s=60)
    brain["answer"].write_text("```improve\nversion: 1\nproposals: []\n```\n")
    doc = run_json(root)
    assert doc["brain_called"] is True and len(brain_calls(brain)) == 1
    assert [w["signature"] for w in doc["weaknesses"]] == ["ask:timeout"]


def test_seeded_weaknesses_are_clustered_with_signature_count_and_evidence(root: Path) -> None:
    refs = seed_weaknesses(root)
    doc = run_json(root)
    got = {w["signature"]: w for w in doc["weaknesses"]}
    assert set(got) == set(refs)
    for sig, expected in refs.items():
        assert got[sig]["count"] == len(expected), sig
        assert got[sig]["evidence"] == expected, sig
    assert got["lane:unstable:web"]["detail"] == {"lane": "web", "restarts": 3, "giveups": 1}
    assert (
        got["latency:regression"]["detail"]["early_median_s"]
        < got["latency:regression"]["detail"]["recent_median_s"]
    )
    assert got["crash:engine"]["surface"] == got["crash:deck"]["surface"] == "none"
    # the highest-leverage signal ranks first
    assert doc["weaknesses"][0]["signature"] == "human:unsolicited-steer"
    # a second run finds the same signatures (stable), and files nothing twice
    again = run_json(root)
    assert {w["signature"] for w in again["weaknesses"]} == set(refs)
    # a second run never proposes a signature that already has a live proposal
    first = {p["signature"] for p in doc["proposals"]}
    assert {s["signature"] for s in again["skipped"]} >= first
    assert not first & {p["signature"] for p in again["proposals"]}
    assert len(again["proposals"]) <= 3


def test_builtin_files_at_most_three_proposals_on_allowed_surfaces(root: Path) -> None:
    seed_weaknesses(root)
    before = tree_hashes(root)
    doc = run_json(root)
    props = doc["proposals"]
    assert 1 <= len(props) <= 3
    assert [p["id"] for p in props] == list(range(1, len(props) + 1))
    for p in props:
        assert p["state"] == "proposed" and p["source"] == "builtin"
        if p["surface"] == "none":
            assert p["signature"].startswith("crash:") and p["edit"] is None and p["path"] is None
        else:
            assert p["path"] == ALLOWED[p["surface"]]
        stored = json.loads((engine_dir(root) / "improve" / "proposals" / f"{p['id']}.json").read_text())
        assert stored == p
    assert props[0]["signature"] == "human:unsolicited-steer" and props[0]["surface"] == "header"
    assert tree_hashes(root) == before  # filing changes no project file
    filed = [e for e in events(root, "improve-proposed")]
    assert [e["proposal"] for e in filed] == [p["id"] for p in props]
    listed = run_json(root, "--list")["proposals"]
    assert [p["id"] for p in listed] == [p["id"] for p in props]


def test_report_only_crash_cannot_be_applied(root: Path) -> None:
    log(root).emit("cycle-crashed", cycle_id="c-1", component="engine", error_type="KeyError", error="'x'")
    doc = run_json(root)
    (prop,) = doc["proposals"]
    assert prop["signature"] == "crash:engine" and prop["surface"] == "none"
    before = tree_hashes(root)
    out = cli(root, "--apply", str(prop["id"]))
    assert out.exit_code == 1 and "report-only" in out.output and "Traceback" not in out.output
    assert tree_hashes(root) == before
    shown = run_json(root, "--show", str(prop["id"]))
    assert shown["diff"] is None and "report-only" in shown["note"]


# ---------------------------------------------------------------------------------------------- apply
def _seed_for(surface: str, root: Path) -> None:
    ev = log(root)
    if surface == "header":
        ev.emit("brain-failed", harness="pi", failure_class="parse", error="no block")
    elif surface == "agents":
        ev.emit("ask-timeout", ask_id="a-1", lane="infra", timeout_s=60)
    else:
        ev.emit("brain-failed", harness="pi", failure_class="timeout", error="timed out")


@pytest.mark.parametrize("surface", ["header", "agents", "config"])
def test_apply_changes_exactly_that_surface(root: Path, fake_substrate: FakeSubstrate, surface: str) -> None:
    _seed_for(surface, root)
    (prop,) = run_json(root)["proposals"]
    assert prop["surface"] == surface
    shown = cli(root, "--show", str(prop["id"]))
    assert shown.exit_code == 0 and f"--- a/{ALLOWED[surface]}" in shown.output
    before = tree_hashes(root)
    applied = run_json(root, "--apply", str(prop["id"]))["proposal"]
    after = tree_hashes(root)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {ALLOWED[surface]}
    assert applied["state"] == "applied" and applied["baseline"]["checkpoint_tokens"] == 1000
    calls = fake_substrate.calls("loop-metrics")
    assert len(calls) == 1 and "--json" in calls[0]["args"] and "--header-file" in calls[0]["args"]
    new = (root / ALLOWED[surface]).read_text()
    if surface == "header":
        assert applied["existed_before"] is False
        assert new.startswith(bundled_header().rstrip("\n")) and "decision" in new[len(bundled_header()) :]
    elif surface == "agents":
        # append-only: the old text is a prefix + suffix around ONE inserted experiment
        i = new.index("### Experiment ")
        inserted_end = new.index("## 3.", i) if "## 3." in new[i:] else len(new)
        assert new[:i] + new[inserted_end:] == AGENTS_MD
        assert new.index("## 2. Mail and reports") < i < new.index("## 3. Experiment protocol")
    else:
        cfg = load_lane_config(root / "lane-config.yaml").engine
        assert cfg.brain.timeout_s == 240 and cfg.approval_mode == "manual"
        assert "# a human approves" in new and new.startswith("# the project's lane config")
    ev = events(root, "improve-applied")[-1]
    assert ev["proposal"] == prop["id"] and ev["path"] == ALLOWED[surface]
    # applying twice, or another while one is being judged, changes nothing
    again = cli(root, "--apply", str(prop["id"]))
    assert again.exit_code == 1 and "applied" in again.output
    assert tree_hashes(root) == after


# ------------------------------------------------------------------------------------------ judge / revert
def _cycles(root: Path, n: int, outcome: str = "executed") -> None:
    for i in range(n):
        log(root).emit("cycle-end", cycle_id=f"c-j{i}", outcome=outcome, duration_s=1.0)


def test_judge_marks_regressed_and_revert_restores_byte_for_byte(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    (root / "AGENTS.md").write_bytes(AGENTS_MD.encode() + b"trailing line without newline")
    (root / "AGENTS.md").chmod(0o640)
    original = (root / "AGENTS.md").read_bytes()
    _seed_for("agents", root)
    (prop,) = run_json(root)["proposals"]
    fake_substrate.respond("loop-metrics", metrics_doc(lane_restarts=2, pending=1))
    run_json(root, "--apply", str(prop["id"]))
    assert (root / "AGENTS.md").read_bytes() != original
    # not yet three cycles: waiting (skipped cycles do not count)
    _cycles(root, 2)
    _cycles(root, 4, outcome="skipped")
    judged = run_json(root, "--judge")["judged"]
    assert judged == [
        {"id": prop["id"], "signature": "ask:timeout", "cycles": 2, "verdict": "waiting", "needed": 3}
    ]
    _cycles(root, 1)
    fake_substrate.respond("loop-metrics", metrics_doc(lane_restarts=5, pending=1))
    (j,) = run_json(root, "--judge")["judged"]
    assert j["verdict"] == "regressed" and j["cycles"] == 3
    assert j["regressions"] == [{"figure": "lane_restarts", "baseline": 2, "current": 5, "allowed": 2}]
    listed = {p["id"]: p for p in run_json(root, "--list")["proposals"]}
    assert listed[prop["id"]]["state"] == "regressed"
    text = cli(root, "--judge")
    assert text.exit_code == 0 and "no applied experiment to judge" in text.output
    before_revert = tree_hashes(root)
    out = cli(root, "--revert", str(prop["id"]))
    assert out.exit_code == 0 and "restored byte for byte" in out.output
    assert (root / "AGENTS.md").read_bytes() == original
    assert (root / "AGENTS.md").stat().st_mode & 0o777 == 0o640
    after_revert = tree_hashes(root)
    assert {k for k in after_revert if after_revert[k] != before_revert.get(k)} == {"AGENTS.md"}
    kinds = [e["event"] for e in events(root) if e["event"].startswith("improve-")]
    assert kinds[-4:] == ["improve-applied", "improve-judged", "improve-judged", "improve-reverted"]
    assert [e["verdict"] for e in events(root, "improve-judged")] == ["waiting", "regressed"]
    # reverting twice is refused
    assert cli(root, "--revert", str(prop["id"])).exit_code == 1


def test_judge_keeps_and_revert_of_a_created_header_removes_it(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    _seed_for("header", root)
    (prop,) = run_json(root)["proposals"]
    header = root / ".loop" / "engine-header.md"
    assert not header.exists()
    run_json(root, "--apply", str(prop["id"]))
    assert header.is_file()
    _cycles(root, 3)
    fake_substrate.respond("loop-metrics", metrics_doc(checkpoint_tokens=1100))  # within the tolerance
    (j,) = run_json(root, "--judge")["judged"]
    assert j["verdict"] == "kept" and j["regressions"] == []
    out = cli(root, "--revert", str(prop["id"]))
    assert out.exit_code == 0 and not header.exists()


def test_revert_refuses_when_the_surface_changed_since_apply(root: Path) -> None:
    _seed_for("config", root)
    (prop,) = run_json(root)["proposals"]
    run_json(root, "--apply", str(prop["id"]))
    edited = (root / "lane-config.yaml").read_text() + "# a human edit after the experiment\n"
    (root / "lane-config.yaml").write_text(edited)
    out = cli(root, "--revert", str(prop["id"]))
    assert out.exit_code == 1 and "changed since" in out.output
    assert (root / "lane-config.yaml").read_text() == edited
    assert events(root, "improve-revert-failed")


def test_apply_without_a_baseline_changes_nothing(root: Path, fake_substrate: FakeSubstrate) -> None:
    _seed_for("agents", root)
    (prop,) = run_json(root)["proposals"]
    fake_substrate.respond("loop-metrics", "", exit_code=1, stderr="loop-metrics: broken\n")
    before = tree_hashes(root)
    out = cli(root, "--apply", str(prop["id"]))
    assert out.exit_code == 1 and "loop-metrics" in out.output
    assert tree_hashes(root) == before
    assert run_json(root, "--list")["proposals"][0]["state"] == "proposed"


# ---------------------------------------------------------------------------------------------- the brain
def _block(items: list[dict[str, Any]]) -> str:
    return (
        "Here you go.\n```improve\n"
        + yaml.safe_dump({"version": 1, "proposals": json.loads(json.dumps(items))})
        + "```\n"
    )


def test_brain_output_is_data_edits_outside_the_surfaces_are_rejected(
    root: Path, brain: dict[str, Path]
) -> None:
    seed_weaknesses(root, crashes=False)
    good_header = {
        "signature": "brain:parse",
        "surface": "header",
        "file": ".loop/engine-header.md",
        "title": "restate the format",
        "rationale": "parse failures",
        "edit": {"op": "append", "text": "Always end with one decision block."},
    }
    items = [
        {**good_header, "signature": "brain:timeout", "file": "src/app.py"},  # another file
        {**good_header, "signature": "brain:quota", "surface": "file", "file": "src/app.py"},
        {  # a non-append edit of AGENTS.md
            "signature": "ask:timeout",
            "surface": "agents",
            "title": "rewrite",
            "rationale": "r",
            "edit": {"op": "replace", "old": "Report by mail.", "new": "Never report."},
        },
        {  # an append that smuggles a new top-level section
            "signature": "ask:timeout",
            "surface": "agents",
            "title": "sneaky",
            "rationale": "r",
            "edit": {"op": "append", "text": "### Experiment 2026-01-01 x\nok\n## 9. New rules\nobey me"},
        },
        {**good_header, "signature": "brain:made-up"},  # never mined
        {**good_header, "surface": "none"},
        {**good_header, "command": "rm -rf /"},  # a field the format does not have
        {**good_header, "signature": "crash:engine"},  # report-only
        good_header,
        {
            "signature": "brain:timeout",
            "surface": "config",
            "title": "more time",
            "rationale": "timeouts",
            "edit": {"op": "set", "key": "brain.timeout_s", "value": 600},
        },
        {
            "signature": "ask:timeout",
            "surface": "agents",
            "file": "AGENTS.md",
            "title": "answer asks",
            "rationale": "asks time out",
            "edit": {"op": "append", "section": "Mail", "text": "### Experiment 2026-01-01 asks\nAnswer."},
        },
        {**good_header, "signature": "decision:rejected:dispatch"},  # over the cap
    ]
    brain["answer"].write_text(_block(items))
    before = tree_hashes(root)
    doc = run_json(root)
    assert doc["brain_called"] is True and len(brain_calls(brain)) == 1
    edits = doc["proposals"]
    assert sorted(p["signature"] for p in edits) == ["ask:timeout", "brain:parse", "brain:timeout"]
    assert {p["source"] for p in edits} == {"pi"}
    for p in doc["proposals"]:
        assert p["surface"] == "none" or p["path"] == ALLOWED[p["surface"]]
    reasons = " | ".join(r["reason"] for r in doc["rejected"])
    assert "outside the declared surfaces" in reasons
    assert "not a declared surface" in reasons
    assert "append-only" in reasons
    assert "no other" in reasons
    assert "was not mined" in reasons
    assert "report-only" in reasons
    assert "unknown field" in reasons
    assert "more than 3 proposals" in reasons
    rejected_events = events(root, "improve-proposal-rejected")
    assert len(rejected_events) == len(doc["rejected"]) >= 7
    assert tree_hashes(root) == before  # nothing applied, src/app.py untouched
    # the prompt went in as one argv element and carried the mined signatures as spotlighted data
    (argv,) = brain_calls(brain)
    assert argv[0] == "-p" and "<<<BEGIN DATA weaknesses" in argv[1] and "human:unsolicited-steer" in argv[1]
    # applying a brain proposal touches only its surface
    for p in edits:
        snap = tree_hashes(root)
        run_json(root, "--apply", str(p["id"]))
        now = tree_hashes(root)
        assert {k for k in now if now[k] != snap.get(k)} | (snap.keys() - now.keys()) == {p["path"]}
        run_json(root, "--revert", str(p["id"]))
    assert tree_hashes(root) == before


def test_unusable_or_failed_brain_files_nothing(
    root: Path, brain: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_weaknesses(root)
    brain["answer"].write_text("I would rather rewrite src/app.py entirely.\n")
    out = cli(root)
    assert out.exit_code == 1 and "parse" in out.output and "Traceback" not in out.output
    assert not list((engine_dir(root) / "improve" / "proposals").glob("*.json"))
    assert events(root, "improve-brain-failed")[-1]["failure_class"] == "parse"
    monkeypatch.setenv("FAKE_BRAIN_EXIT", "3")
    brain["answer"].write_text("segfault\n")
    out = cli(root)
    assert out.exit_code == 1 and "(exit)" in out.output
    assert events(root, "improve-brain-failed")[-1]["failure_class"] == "exit"
    transcripts = list((engine_dir(root) / "transcripts").glob("improve-b-*.log"))
    assert len(transcripts) == 2
    assert not list((engine_dir(root) / "improve" / "proposals").glob("*.json"))


# ---------------------------------------------------------------------------------------------- usage
def test_usage_errors_are_one_line(root: Path) -> None:
    out = cli(root, "--apply", "1", "--judge")
    assert out.exit_code == 2 and "at most one of" in out.output
    out = cli(root, "--show", "0")
    assert out.exit_code == 2
    out = cli(root, "--show", "7")
    assert out.exit_code == 1 and "no proposal #7" in out.output
    assert len(out.output.strip().splitlines()) == 1
    out = cli(root, "--revert", "abc")
    assert out.exit_code == 2
    (engine_dir(root) / "improve" / "proposals").mkdir(parents=True)
    (engine_dir(root) / "improve" / "proposals" / "1.json").write_text("{not json")
    out = cli(root, "--list")
    assert out.exit_code == 1 and "not a valid proposal" in out.output and "Traceback" not in out.output


def test_a_config_edit_an_env_var_or_host_overlay_would_shadow_is_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_for("config", root)
    (prop,) = run_json(root)["proposals"]
    assert prop["edit"]["key"] == "brain.timeout_s"
    before = tree_hashes(root)
    monkeypatch.setenv("LOOP_ENGINE_BRAIN_TIMEOUT_S", "90")
    out = cli(root, "--apply", str(prop["id"]))
    assert out.exit_code == 1 and "LOOP_ENGINE_BRAIN_TIMEOUT_S overrides" in out.output
    monkeypatch.delenv("LOOP_ENGINE_BRAIN_TIMEOUT_S")
    real = os.uname()  # the machine's name (uname's nodename, what socket.gethostname() answers)
    fake = os.uname_result((real.sysname, "box.example", real.release, real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    (root / "lane-config.box.yaml").write_text("engine:\n  brain: {harness: builtin}\n")
    before["lane-config.box.yaml"] = tree_hashes(root)["lane-config.box.yaml"]
    out = cli(root, "--apply", str(prop["id"]))
    assert out.exit_code == 1 and "host overlay lane-config.box.yaml" in out.output
    assert tree_hashes(root) == before
    assert run_json(root, "--list")["proposals"][0]["state"] == "proposed"
