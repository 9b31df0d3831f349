"""approve checks every file it will write before it runs any action (issue 15, item 11). Before, a
non-UTF-8 ops-wiki/checkpoint.md let approve run the actions and archive the decision, then fail with
`Error: UnicodeDecodeError…` and never file it: a half-done approval."""

from __future__ import annotations

import hashlib
import json

import pytest
from engine_fakes import Project
from loop_engine.cycle import EngineError


def _queued(project: Project) -> tuple[str, str]:
    project.task("T0001", "a")
    engine = project.engine()
    result = engine.cycle(approval="manual")
    assert result.outcome == "queued"
    return str(result.decision_id), hashlib.sha256(project.paths.pending.read_bytes()).hexdigest()


def _nothing_ran(project: Project, decision_id: str, digest: str) -> None:
    assert project.substrate.sent == []
    assert (
        hashlib.sha256(project.paths.pending.read_bytes()).hexdigest() == digest
    )  # still pending, as it was
    assert not (project.paths.decisions / f"{decision_id}.json").exists()
    assert project.events("decision-approved") == [] and project.events("action-started") == []


def test_a_non_utf8_checkpoint_runs_nothing_and_the_decision_stays_pending(project: Project) -> None:
    """Fails on the old engine: the dispatch was sent and the decision archived before the error."""
    decision_id, digest = _queued(project)
    checkpoint = project.root / "ops-wiki" / "checkpoint.md"
    checkpoint.write_bytes(b"# Checkpoint \xff\xfe latin-1 caf\xe9\n\n<!-- coord-decisions -->\n")
    with pytest.raises(EngineError) as info:
        project.engine().approve(decision_id)
    message = str(info.value)
    assert message == (
        f"cannot approve {decision_id}: ops-wiki/checkpoint.md is not UTF-8 text (byte 13); "
        "nothing was run, it stays pending"
    )
    assert "\n" not in message and "Error" not in message
    _nothing_ran(project, decision_id, digest)
    # once the file is fixed the same decision is approved, run and filed
    checkpoint.write_text("# Checkpoint\n\n<!-- coord-decisions -->\n")
    out = project.engine().approve(decision_id)
    assert out["filed"] is True and [s["lane"] for s in project.substrate.sent] != []
    assert decision_id in checkpoint.read_text()


@pytest.mark.parametrize(
    ("breakage", "said"),
    [
        ("no-marker", "ops-wiki/checkpoint.md has no <!-- coord-decisions --> line"),
        ("no-checkpoint", "ops-wiki/checkpoint.md is missing"),
        ("archive-is-a-file", ".loop/sessions/s/engine/decisions is not a folder"),
        ("assignments-corrupt", "assignments.json: not valid JSON"),
        ("events-is-a-folder", ".loop/sessions/s/engine/events.jsonl cannot be appended to"),
    ],
)
def test_every_file_approve_writes_is_checked_before_anything_runs(
    project: Project, breakage: str, said: str
) -> None:
    decision_id, digest = _queued(project)
    checkpoint = project.root / "ops-wiki" / "checkpoint.md"
    engine = project.engine()  # built before the breakage (building one makes the engine's folders)
    if breakage == "no-marker":
        checkpoint.write_text("# Checkpoint\n\nno marker here\n")
    elif breakage == "no-checkpoint":
        checkpoint.unlink()
    elif breakage == "archive-is-a-file":
        project.paths.decisions.rmdir()
        project.paths.decisions.write_text("not a folder\n")
    elif breakage == "assignments-corrupt":
        project.paths.assignments.write_text("{not json")
    elif breakage == "events-is-a-folder":
        project.paths.events.rename(project.paths.events.with_suffix(".moved"))
        project.paths.events.mkdir()
    with pytest.raises(EngineError, match="nothing was run, it stays pending") as info:
        engine.approve(decision_id)
    assert said in str(info.value)
    assert project.substrate.sent == []
    assert hashlib.sha256(project.paths.pending.read_bytes()).hexdigest() == digest
    if breakage != "events-is-a-folder":
        assert project.events("decision-approved") == [] and project.events("action-started") == []


def test_a_checkpoint_that_goes_bad_after_an_auto_run_is_an_event_not_a_crash(project: Project) -> None:
    """Policy runs (auto) file too; a checkpoint that cannot take the record is said, never raised."""
    project.task("T0001", "a")
    (project.root / "ops-wiki" / "checkpoint.md").write_bytes(b"\xff\n<!-- coord-decisions -->\n")
    result = project.engine().cycle(approval="auto")
    assert result.outcome == "executed" and len(project.substrate.sent) == 1
    assert json.loads((project.paths.decisions / f"{result.decision_id}.json").read_text())["resolution"] == (
        "executed"
    )
