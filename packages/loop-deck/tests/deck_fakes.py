"""Doubles for the deck's tests: a project on disk, a substrate stub, a recording runner, a fixed clock."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop_deck.app import DeckApp, make_app
from loop_deck.commands import Command, CommandResult
from loop_schemas import FleetMetrics, HarnessHealth, HarnessRoster, Lane, LaneStatus, PendingDecision

SESSION = "demo"
ENGINE = "/opt/loop/bin/loop-engine"
NOW = 1_795_000_000.0  # a fixed clock: snapshots and "last activity" never depend on the real time


def status(
    lane: str,
    state: str,
    target: str,
    *,
    kind: str = "fixed",
    harness: str | None = None,
    detail: str | None = None,
) -> LaneStatus:
    return LaneStatus(
        lane=lane,
        status=state,
        target=target,
        kind=kind,
        harness=harness,  # type: ignore[arg-type]
        detail=detail,
    )


def lane(
    window: str, harness: str | None, role: str | None, *, base: bool = True, model: str | None = None
) -> Lane:
    return Lane(
        window=window,
        harness=harness,
        model=model,
        role=role,
        cmd=None,
        base=base,
        kind="standing" if base else "worker",
    )


@dataclass
class StubSubstrate:
    """lane_status / list_lanes / capture from memory (the real Substrate runs CLIs; see fake_substrate)."""

    statuses: list[LaneStatus] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    tails: dict[str, str] = field(default_factory=dict)
    fail: str | None = None
    status_calls: int = 0
    list_calls: int = 0
    health_words: dict[str, str] = field(default_factory=dict)
    roster_calls: int = 0
    health_asked: list[str] = field(default_factory=list)
    metrics_calls: int = 0
    metrics_fail: str | None = None

    def lane_status(self, lane: str | None = None) -> list[LaneStatus]:
        self.status_calls += 1
        if self.fail:
            raise RuntimeError(self.fail)
        return list(self.statuses)

    def list_lanes(self) -> list[Lane]:
        self.list_calls += 1
        return list(self.lanes)

    def capture(self, lane: str, lines: int = 50) -> str:
        if lane not in self.tails:
            raise RuntimeError(f"no pane for {lane}")
        return self.tails[lane]

    def roster(self) -> HarnessRoster:
        self.roster_calls += 1
        return HarnessRoster.model_validate(ROSTER)

    def fleet_metrics(self) -> FleetMetrics:
        self.metrics_calls += 1
        if self.metrics_fail:
            raise RuntimeError(self.metrics_fail)
        return FleetMetrics.model_validate(FLEET_METRICS)

    def harness_health(self, harness: str) -> HarnessHealth:
        self.health_asked.append(harness)
        if harness not in self.health_words:
            raise RuntimeError("harness-registry.sh: unknown harness (exit 1)")
        return HarnessHealth(harness=harness, health=self.health_words[harness])  # type: ignore[arg-type]


def _roster_entry(
    name: str, present: bool, tags: str, cost: str, autonomy: str, auth: str, drift: str
) -> dict:
    return {
        "name": name,
        "present": present,
        "capability_tags": tags,
        "cost_tier": cost,
        "autonomy_class": autonomy,
        "auth_requirement": auth,
        "health_probe": "",
        "drift_pins": drift,
        "oneshot_template": f"{name} -p {{prompt}}" if autonomy != "none" else "",
    }


# `harness-registry.sh roster --json`, shortened to four harnesses
ROSTER = {
    "contract_version": 1,
    "harnesses": [
        _roster_entry("pi", True, "product,synthesis", "medium", "attended", "account", "med"),
        _roster_entry("claude", True, "brain,ingest,code,ops", "high", "unattended", "account", "low"),
        _roster_entry("codex", False, "code,brain", "high", "unattended", "account", "high"),
        _roster_entry("shell", True, "probe,watch", "none", "none", "none", "none"),
    ],
}


def _day(date: str, autonomy: float | None, cost: float | None, calls: int, decisions: int) -> dict:
    return {
        "date": date,
        "autonomy_ratio": autonomy,
        "cost_usd": cost,
        "brain_calls": calls,
        "decisions": decisions,
    }


def _session_metrics(session: str, cost: float | None, daily: list[dict], **figures: Any) -> dict:
    return {
        "contract_version": 1,
        "generated_at": "2026-11-18T20:00:00Z",
        "session": session,
        "checkpoint_bytes": 4000,
        "checkpoint_tokens": 1000,
        "pending": 0,
        "lane_restarts": 0,
        "lane_giveups": 0,
        "ingests": 0,
        "lints": 0,
        "checkpoints": 0,
        "cost_usd_7d": cost,
        "daily": daily,
        **figures,
    }


# `loop-metrics --all --json` of the project: this deck's loop (priced) and another one with an unpriced day
FLEET_METRICS = {
    "contract_version": 1,
    "generated_at": "2026-11-18T20:00:00Z",
    "roots": ["/tmp/proj"],
    "sessions": [
        _session_metrics(
            SESSION,
            1.25,
            [
                _day("2026-11-12", None, 0.0, 0, 0),
                _day("2026-11-13", 1.0, 0.1, 2, 1),
                _day("2026-11-14", 0.5, 0.2, 3, 2),
                _day("2026-11-15", 1.0, 0.15, 2, 2),
                _day("2026-11-16", 0.0, 0.3, 4, 1),
                _day("2026-11-17", 0.75, 0.25, 3, 4),
                _day("2026-11-18", 1.0, 0.25, 2, 2),
            ],
            autonomy_ratio=0.75,
            engine_decisions_7d=9,
            decisions_7d=12,
            interventions_7d=4,
            brain_calls_7d=16,
            shipped_7d=3,
        ),
        _session_metrics(
            "nightly",
            None,
            [
                _day("2026-11-12", None, 0.0, 0, 0),
                _day("2026-11-13", None, 0.0, 0, 0),
                _day("2026-11-14", None, 0.0, 0, 0),
                _day("2026-11-15", 1.0, 0.05, 1, 1),
                _day("2026-11-16", None, None, 1, 0),
                _day("2026-11-17", None, 0.0, 0, 0),
                _day("2026-11-18", 0.0, 0.02, 1, 1),
            ],
            autonomy_ratio=0.5,
            engine_decisions_7d=1,
            decisions_7d=2,
            interventions_7d=1,
            brain_calls_7d=3,
            shipped_7d=0,
        ),
    ],
    "aggregate": {
        "sessions": 2,
        "distinct_active_loops": 2,
        "engine_checkpoint_tokens": 0,
        "autonomy_ratio": 0.71,
        "engine_decisions_7d": 10,
        "decisions_7d": 14,
        "interventions_7d": 5,
        "shipped_7d": 3,
        "interventions_per_shipped_unit": 1.67,
        "escalations_7d": 1,
        "rejects_7d": 4,
        "stops_7d": 0,
        "ingest_timeouts_7d": 0,
        "lane_restarts_7d": 0,
        "unsolicited_steers_7d": 0,
        "brain_calls_7d": 19,
        "brain_tokens_7d": 190000,
        "cost_usd_7d": 1.25,
        "build_tokens_7d": 0,
        "build_cost_usd_7d": 0.0,
        "ingests_7d": 0,
        "lints_7d": 0,
        "checkpoints_7d": 0,
        "experiments": 0,
        "lanes_idle_with_backlog": 0,
        "partial": {"cost_usd_7d": 1},
    },
    "notes": [],
}


@dataclass
class RecordingRunner:
    commands: list[Command] = field(default_factory=list)
    returncode: int = 0
    stdout: str = "done\n"
    stderr: str = ""

    def __call__(self, command: Command) -> CommandResult:
        self.commands.append(command)
        return CommandResult(command, self.returncode, self.stdout, self.stderr)


def default_fleet() -> StubSubstrate:
    return StubSubstrate(
        statuses=[
            status("coord", "idle", "%0", harness="shell"),
            status("web", "working", "%1", harness="claude"),
            status("infra", "idle", "%2", harness="codex"),
            status("validate-left", "idle", "%3", harness="shell"),
            status("docs", "awaiting-approval", "%7", harness="pi"),
            status("web2", "errored", "%9", kind="dynamic", harness="claude", detail="exited-to-shell"),
        ],
        lanes=[
            lane("coord", None, "coordinator"),
            lane("web", "claude", "impl", model="opus"),
            lane("infra", "codex", "impl"),
            lane("validate", None, "watcher"),
            lane("docs", "pi", "synthesis"),
            lane("web2", "claude", "api work", base=False),
        ],
        tails={"web": "$ make test\n41 passed\n> working on T0002…", "infra": "codex> idle"},
    )


def write_project(root: Path) -> Path:
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "docs" / "adr").mkdir(parents=True)
    state = {
        "schema_version": 2,
        "updated_at": "2026-11-24T10:00:00Z",
        "objective": "ship checkout v2",
        "loops": {
            "loop-1": {
                "name": "Checkout flow",
                "status": "implement",
                "branch": "dev",
                "canary_target": "staging",
            },
            "loop-2": {"name": "Search", "status": "verify", "branch": "feat/search"},
        },
    }
    (root / ".loop" / "orchestrator-state.json").write_text(json.dumps(state))
    (root / ".loop" / "messages" / "20261124-100000-web-to-coord.md").write_text(
        '---\nsubject: "tests green on dev"\n---\nAll 41 pass.\n'
    )
    (root / ".loop" / "messages" / "20261124-101500-infra-to-coord.md").write_text(
        "---\nsubject: re:ask-7 staging token rotated\n---\nDone.\n"
    )
    (root / ".loop" / "messages" / "processed" / "20261124-090000-ops-top-to-coord.md").write_text(
        "---\nsubject: health ok\n---\n"
    )
    (root / ".loop" / "messages" / "not-a-message.md").write_text("ignored\n")
    (root / "docs" / "adr" / "0001-choose-queue.md").write_text(
        "---\nstatus: Proposed\ndate: 2026-11-20\nverify_record:\nrollback:\n---\n# 1. Choose the queue\n"
    )
    (root / "verify.md").write_text("proof\n")
    (root / "docs" / "adr" / "0002-auth-model.md").write_text(
        "---\nstatus: Proposed\ndate: 2026-11-21\nverify_record: verify.md\nrollback: https://x/rb\n---\n"
        "# Auth model\n"
    )
    (root / "docs" / "adr" / "0003-old-cache.md").write_text(
        "---\nstatus: Accepted\ndate: 2026-10-01\nverify_record: verify.md\nrollback: verify.md\n---\n"
        "# Old cache\n"
    )
    return root


PENDING = {
    "contract_version": 1,
    "id": "d-20261124-0001",
    "session": SESSION,
    "created_at": "2026-11-24T10:05:00Z",
    "approval_mode": "manual",
    "trigger": "mail",
    "decision": {
        "version": 1,
        "critique": "web finished T0001; infra is idle and T0002 is ready.",
        "actions": [
            {
                "kind": "dispatch",
                "lane": "infra",
                "payload": "Do T0002: wire the queue",
                "mode": "text",
                "rationale": "T0002 is ready and infra is idle",
            },
            {
                "kind": "dispatch",
                "lane": "web",
                "payload": "rm -rf build",
                "mode": "command",
                "rationale": "clean the build",
            },
            {
                "kind": "add_lane",
                "window": "web3",
                "harness": "claude",
                "role": "reviewer",
                "rationale": "a reviewer for T0001",
            },
        ],
    },
    "gates": [
        {"gate_class": "safe", "reasons": [], "state": "queued"},
        {"gate_class": "destructive", "reasons": ["mode: command runs a raw command"], "state": "queued"},
        {"gate_class": "safe", "reasons": [], "state": "queued"},
    ],
}


def write_pending_decision(root: Path, session: str = SESSION) -> Path:
    PendingDecision.model_validate(PENDING)  # the fixture itself must be a valid pending decision
    engine = root / ".loop" / "sessions" / session / "engine"
    engine.mkdir(parents=True, exist_ok=True)
    path = engine / "pending-decision.json"
    path.write_text(json.dumps(PENDING))
    return path


def write_fake_engine(bin_dir: Path, recorder_root: Path) -> Path:
    """A `loop-engine` on PATH that records its argv through the loop-substrate fake's recorder."""
    path = bin_dir / "loop-engine"
    path.write_text(
        f"#!/usr/bin/env bash\nexec {sys.executable} {recorder_root / 'recorder.py'} {recorder_root} "
        'loop-engine "$@"\n'
    )
    path.chmod(0o755)
    return path


def build(
    project: Path,
    substrate: object,
    runner: object,
    *,
    engine: str | None = ENGINE,
    self_pane: str | None = None,
) -> DeckApp:
    return make_app(
        project,
        SESSION,
        substrate=substrate,
        runner=runner,
        engine_cmd=engine,  # type: ignore[arg-type]
        auto_refresh=False,
        clock=lambda: NOW,
        self_pane=self_pane,
    )


async def settle(app: DeckApp, pilot: Any) -> None:
    """Let the app's workers finish and the screen catch up (a finished command triggers a refresh, which is
    one more worker: hence three rounds)."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def write_task(
    root: Path, tid: str, status: str, title: str = "a task", *, archived: bool = False, **extra: object
) -> Path:
    """A task file with every required section; `extra` adds frontmatter keys (depends_on, jira, ...)."""
    folder = root / "tasks" / ("archive" if archived else "")
    folder.mkdir(parents=True, exist_ok=True)
    front = {"id": tid, "title": title, "status": status, "depends_on": [], "scope": "web", **extra}
    head = "".join(f"{k}: {json.dumps(v)}\n" for k, v in front.items())
    sections = "".join(
        f"## {s}\n{s.lower()}.\n\n"
        for s in (
            "Objective",
            "Context you need",
            "Deliverables",
            "Acceptance criteria",
            "Verification",
            "Out of scope",
        )
    )
    slug = "-".join(title.lower().split()) or "task"
    path = folder / f"{tid}-{slug}.md"
    path.write_text(f"---\n{head}---\n{sections}")
    return path
