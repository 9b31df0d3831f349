"""Observe degrade (issue 21, section 4): the cycle's look at the fleet runs under an adaptive timeout,
min(120, 30 + 5 x lanes) s; a look that fails or hangs is replaced by the last snapshot
(engine/snapshot.json, written after each good look), the cycle going on marked stale; with no usable
snapshot the cycle ends `observe-failed`. All through the real cycle, on a substrate whose lane-status
hangs or fails."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import FakeSubstrate, Project
from loop_engine import snapshot as snapshot_mod
from loop_engine.cycle import Engine, header_path
from loop_schemas import LaneStatus, Snapshot
from loop_substrate.testing import FakeSubstrate as FakeCli

STOP = (
    "```decision\nversion: 1\ncritique: all quiet\nactions:\n"
    "  - kind: stop\n    rationale: nothing to do\n```\n"
)


class Flaky(FakeSubstrate):
    """lane-status answers, hangs until released, or fails, as the test says."""

    mode: str = "ok"
    release: threading.Event

    def lane_status(self, lane: str | None = None) -> list[LaneStatus]:
        if self.mode == "hang":
            self.release.wait(30)
        if self.mode == "fail":
            raise RuntimeError("loop-lane-status: tmux server not answering")
        return super().lane_status(lane)


@pytest.fixture
def flaky(project: Project) -> Iterator[Flaky]:
    sub = Flaky()
    sub.release = threading.Event()
    sub.lanes = project.substrate.lanes
    sub.project_root = project.root
    sub.set("docs", "idle", "pi", True)  # an idle fleet: the brain's stop is obeyed (the defensive stop)
    project.substrate = sub
    yield sub
    sub.release.set()  # a hung look still running in its thread ends with the test


def engine(project: Project, prompts: list[str] | None = None, **kw: Any) -> Engine:
    from loop_engine.config import EffectiveConfig
    from loop_schemas import EngineConfig

    seen = prompts if prompts is not None else []

    def brain(prompt: str) -> str:
        seen.append(prompt)
        return STOP

    cfg = EffectiveConfig(model=EngineConfig.model_validate({"brain": {"harness": "claude"}}))
    return Engine(project.paths, project.substrate, cfg, brain_fn=brain, **kw)


def test_adaptive_timeout_is_30_plus_5_per_lane_up_to_120() -> None:
    assert [snapshot_mod.adaptive_timeout(n) for n in (0, 1, 5, 17, 18, 40)] == [30, 35, 55, 115, 120, 120]


def test_a_good_look_writes_the_snapshot(project: Project, flaky: Flaky) -> None:
    project.mail("web", subject="status")
    (project.root / ".loop" / "messages" / "processed" / "20260101-000000-web-to-coord.md").write_text("x")
    restarts = project.paths.session_dir / "lane-restarts.jsonl"
    restarts.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"timestamp": f"2026-01-01T00:00:{i:02d}Z", "lane": "web"}) for i in range(15)]
    restarts.write_text("\n".join([*lines[:7], "{damaged", *lines[7:]]) + "\n")
    project.paths.state_file.write_text(
        json.dumps({"schema_version": 2, "loops": {"auth": {"status": "in-progress"}}})
    )
    result = engine(project).cycle(approval="auto")
    assert result.outcome == "noop" and not result.stale
    snap = Snapshot.model_validate_json(project.paths.snapshot.read_text())
    raw = json.loads(project.paths.snapshot.read_text())
    assert raw["contract_version"] == 1 and raw["generated_at"]
    assert {k: raw["lanes"]["web"][k] for k in ("status", "target", "kind")} == {
        "status": "idle",
        "target": "%1",
        "kind": "fixed",
    }
    assert (snap.lanes["infra"].harness, snap.lanes["infra"].agent, snap.lanes["infra"].base) == (
        "claude",
        True,
        True,
    )
    assert not snap.lanes["ops-top"].agent
    assert len(snap.mailbox_pending) == 1 and snap.mailbox_pending[0].endswith("-web-to-coord.md")
    assert snap.processed_count == 1
    assert snap.restarts_tail == [json.loads(line) for line in lines[-10:]]
    assert snap.loops == {"auth": {"status": "in-progress"}}
    # the checkpoint prompt the brain got (loop-checkpoint's, under the engine header), bytes / 4
    checkpoint = project.substrate.checkpoint_prompt(header_path(project.paths))
    assert snap.checkpoint_tokens == len(checkpoint.encode()) // 4 > 0


def test_a_hanging_look_goes_on_with_the_last_snapshot_marked_stale(project: Project, flaky: Flaky) -> None:
    assert engine(project).cycle(approval="auto").outcome == "noop"
    mail = project.mail("web", subject="done T0001")
    flaky.set("web", "working")  # what a fresh look would have seen
    flaky.mode = "hang"
    prompts: list[str] = []
    result = engine(project, prompts, observe_timeout_s=0.2).cycle(approval="auto")
    flaky.release.set()
    assert result.stale and result.outcome not in ("observe-failed",)
    assert len(prompts) == 1  # the cycle went on to the brain
    assert "web idle" in prompts[0]  # as the snapshot saw it, not as the hung look would have
    (stale,) = project.events("observe-stale")
    assert stale["lanes"] == 5 and stale["mailbox_pending"] == 0
    assert isinstance(stale["age_s"], int) and stale["age_s"] >= 0
    assert stale["adaptive_timeout_s"] == 0  # the configured 0.2 s, rounded as the event says
    end = project.events("cycle-end")[-1]
    assert end["stale"] is True and end["outcome"] == result.outcome
    assert mail.exists()  # nothing acked by a stale look


def test_a_failing_look_reports_the_adaptive_timeout_of_the_last_lane_count(
    project: Project, flaky: Flaky
) -> None:
    assert engine(project).cycle(approval="auto").outcome == "noop"
    flaky.mode = "fail"
    result = engine(project).cycle(approval="auto")
    assert result.stale
    (stale,) = project.events("observe-stale")
    assert stale["adaptive_timeout_s"] == 55  # 5 lanes known: 30 + 5 x 5
    assert "not answering" in stale["error"]


def test_no_snapshot_ends_the_cycle_observe_failed(project: Project, flaky: Flaky) -> None:
    flaky.mode = "fail"
    prompts: list[str] = []
    result = engine(project, prompts).cycle(approval="auto")
    assert result.outcome == "observe-failed" and "not answering" in result.detail
    assert prompts == []  # never reached the brain
    (failed,) = project.events("observe-failed")
    assert "not answering" in failed["error"]
    assert project.events("cycle-end")[-1]["outcome"] == "observe-failed"
    assert not project.paths.snapshot.exists()


@pytest.mark.parametrize(
    "damage",
    ["{not json", json.dumps({"contract_version": 1, "lanes": "x"}), json.dumps([1]), "\udcff"],
)
def test_a_damaged_snapshot_is_no_snapshot(project: Project, flaky: Flaky, damage: str) -> None:
    project.paths.snapshot.parent.mkdir(parents=True, exist_ok=True)
    project.paths.snapshot.write_bytes(damage.encode("utf-8", errors="surrogateescape"))
    flaky.mode = "fail"
    assert engine(project).cycle(approval="auto").outcome == "observe-failed"
    flaky.mode = "ok"  # the next good look replaces it
    assert engine(project).cycle(approval="auto").outcome == "noop"
    assert Snapshot.model_validate_json(project.paths.snapshot.read_text()).lanes


def test_a_stale_cycle_drops_mail_acked_since_the_snapshot(project: Project, flaky: Flaky) -> None:
    kept = project.mail("web", subject="one")
    gone = project.mail("infra", subject="two")
    assert engine(project).cycle(approval="auto").outcome == "noop"
    gone.rename(project.root / ".loop" / "messages" / "processed" / gone.name)
    snap = snapshot_mod.read(project.paths)
    assert snap is not None
    obs = snapshot_mod.observation(project.paths, snap)
    assert obs.stale and [m.name for m in obs.mail] == [kept.name]
    assert obs.mail[0].subject == "one" and obs.lanes["web"].agent


def test_once_says_a_stale_cycle_and_fails_an_observe_failed_one(
    tmp_path: Path, fake_substrate: FakeCli
) -> None:
    """`loop-engine once`: an observation that fails with no snapshot exits 1 (`observe-failed: …`);
    with a snapshot, the cycle runs on it (exit 0), says so in a warning and `stale: true`."""
    from click.testing import CliRunner
    from engine_fakes import REGISTRY, SESSION, lane_list, lane_report, respond_registry
    from loop_engine.cli import main
    from loop_schemas import CycleResult

    root = tmp_path / "proj"
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\n")
    lanes = {"coord": ("idle", None, "fixed"), "web": ("idle", "pi", "fixed")}
    fake_substrate.respond("loop-tmux", lane_list(lanes))
    respond_registry(fake_substrate, REGISTRY)

    def once(*args: str) -> Any:
        return CliRunner().invoke(main, ["--project-root", str(root), "--session", SESSION, "once", *args])

    fake_substrate.respond("loop-lane-status", exit_code=1, stderr="no server running on /tmp/x\n")
    out = once()
    assert out.exit_code == 1
    assert out.stderr.startswith("observe-failed: ") and "no snapshot to fall back on" in out.stderr

    fake_substrate.respond("loop-lane-status", lane_report(lanes))
    assert once().exit_code == 0  # a good look: the snapshot is written
    fake_substrate.respond("loop-lane-status", exit_code=1, stderr="no server running on /tmp/x\n")
    out = once("--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    CycleResult.model_validate(doc)
    assert doc["stale"] is True and doc["outcome"] == "noop"
    assert "this cycle ran on the last snapshot" in out.stderr
