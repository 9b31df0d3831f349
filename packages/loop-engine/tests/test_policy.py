"""Governed lanes: engine.harness_policy's gate rules (table-driven), the one roster call per cycle, the
harness rewrite, a lane's harness, the roster prompt block, retire proposals and the boot check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from engine_fakes import REGISTRY, SESSION, Project, lane_list, lane_report, respond_registry
from loop_engine import policy
from loop_engine.cli import main
from loop_engine.config import EffectiveConfig
from loop_engine.gate import GateVerdict
from loop_engine.observe import LaneView
from loop_schemas import ROSTER_HEADING, EngineConfig, HarnessPolicy
from loop_substrate.testing import FakeSubstrate as RecordingSubstrate


def entry(name: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "present": True,
        "capability_tags": ["code"],
        "cost_tier": "low",
        "autonomy_class": "attended",
        "auth_requirement": "account",
        "health_probe": "",
        "drift_pins": "low",
        "oneshot_template": "",
    }
    base.update(kw)
    return base


ROSTER: dict[str, Any] = {
    "contract_version": 1,
    "harnesses": [
        entry("pi", capability_tags=["product", "synthesis"], cost_tier="medium", drift_pins="med"),
        entry("claude", capability_tags=["brain", "ingest", "code", "ops"], cost_tier="high"),
        entry("opencode", capability_tags=["code", "bulk"], autonomy_class="unattended"),
        entry("codex", present=False, capability_tags=["code", "brain"], cost_tier="high"),
        entry("hermes", capability_tags=["code", "experiment"], cost_tier="medium", drift_pins="high"),
        entry("amp", health="unauthenticated", capability_tags=["search", "research"]),
        entry("mprocs", capability_tags=["dashboard"], cost_tier="none", autonomy_class="none"),
        entry("tmuxp", capability_tags=[], oneshot_template="tmuxp -p {prompt}"),
        entry("shell", capability_tags=["probe", "watch"], cost_tier="none", autonomy_class="none"),
    ],
}

# name: (status, tag harness, base, role, tagged kind)
FLEET: dict[str, tuple[str, str | None, bool, str | None, str | None]] = {
    "web": ("idle", "pi", True, None, None),
    "infra": ("working", "claude", True, "infra", None),
    "ops-top": ("idle", "shell", True, None, None),
    "board": ("idle", "mprocs", False, None, None),
    "agentish": ("idle", "tmuxp", False, None, None),
    "ghost": ("idle", "nosuch", False, None, None),
    "untagged": ("idle", None, False, None, None),
    "w1": ("idle", "opencode", False, "impl", None),
    "w2": ("working", "opencode", False, "impl", None),
    "docs": ("idle", "pi", True, None, "worker"),
    "tagged-standing": ("idle", "pi", False, None, "standing"),
}


def lanes(fleet: dict[str, tuple[str, str | None, bool, str | None, str | None]] = FLEET) -> list[LaneView]:
    return [
        LaneView(name=n, status=s, detail=None, harness=h, base=b, role=r, agent=True, tag_harness=h, kind=k)
        for n, (s, h, b, r, k) in fleet.items()
    ]


def view(config_lanes: dict[str, dict[str, Any]] | None = None, **pol: Any) -> policy.PolicyView:
    return policy.build_view(HarnessPolicy.model_validate(pol), lambda: ROSTER, lanes(), config_lanes or {})


def add(
    harness: str, role: str | None = None, auto_approve: bool = False, window: str = "new1"
) -> dict[str, Any]:
    return {
        "kind": "add_lane",
        "window": window,
        "harness": harness,
        "role": role,
        "auto_approve": auto_approve,
    }


def text(kind: str, lane: str) -> dict[str, Any]:
    return {"kind": kind, "lane": lane, "payload": "do the thing", "mode": "text"}


def drop(window: str) -> dict[str, Any]:
    return {"kind": "drop_lane", "window": window}


ROWS: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    # (id, policy, action, expected gate, a reason fragment ("" for safe))
    ("add-allowed", {"allow": ["opencode"]}, add("opencode"), "safe", ""),
    ("add-deny", {"deny": ["opencode"]}, add("opencode"), "blocked", "is denied"),
    (
        "add-deny-wins-over-allow",
        {"allow": ["opencode"], "deny": ["opencode"]},
        add("opencode"),
        "blocked",
        "denied",
    ),
    (
        "add-not-in-roster",
        {"allow": []},
        add("nosuch", role=None) | {"harness": "nosuch"},
        "blocked",
        "not in the roster",
    ),
    ("add-not-allowed", {"allow": ["pi"]}, add("opencode"), "blocked", "not allowed for role"),
    (
        "add-role-tags-no-default",
        {"role_tag_map": {"impl": ["code"]}},
        add("pi", role="impl"),
        "blocked",
        "not allowed for role 'impl'",
    ),
    (
        "add-role-default-also-disallowed",
        {"role_tag_map": {"impl": ["code"]}, "role_defaults": {"impl": "mprocs"}},
        add("pi", role="impl"),
        "blocked",
        "still",
    ),
    ("add-not-present", {"deny": ["x"]}, add("codex"), "destructive", "not installed"),
    ("add-bad-health", {"deny": ["x"]}, add("amp"), "destructive", "health is unauthenticated"),
    (
        "add-cost-over-ceiling",
        {"cost_ceiling": "medium"},
        add("claude"),
        "destructive",
        "over cost_ceiling medium",
    ),
    ("add-cost-at-ceiling", {"cost_ceiling": "medium"}, add("pi"), "safe", ""),
    (
        "add-autonomy-over-cap",
        {"autonomy_cap": "attended"},
        add("opencode"),
        "destructive",
        "over autonomy_cap",
    ),
    ("add-autonomy-at-cap", {"autonomy_cap": "attended"}, add("pi"), "safe", ""),
    (
        "add-drift-auto-highrisk",
        {"deny": ["x"]},
        add("hermes", role="infra", auto_approve=True),
        "destructive",
        "high-drift",
    ),
    ("add-drift-no-auto", {"deny": ["x"]}, add("hermes", role="infra"), "safe", ""),
    ("add-drift-low-risk-role", {"deny": ["x"]}, add("hermes", role="docs", auto_approve=True), "safe", ""),
    (
        "add-reuse-before-spawn",
        {"deny": ["x"]},
        add("opencode", role="impl"),
        "destructive",
        "reuse before spawn",
    ),
    (
        "add-within-concurrency",
        {"role_rules": {"impl": {"concurrency_allowance": 3}}},
        add("opencode", role="impl"),
        "safe",
        "",
    ),
    (
        "add-blocked-beats-destructive",
        {"deny": ["codex"], "cost_ceiling": "low"},
        add("codex"),
        "blocked",
        "denied",
    ),
    ("dispatch-unknown-lane", {"deny": ["x"]}, text("dispatch", "nolane"), "blocked", "is unknown"),
    ("dispatch-no-harness", {"deny": ["x"]}, text("dispatch", "untagged"), "blocked", "no known harness"),
    ("dispatch-harness-unknown", {"deny": ["x"]}, text("dispatch", "ghost"), "blocked", "not in the roster"),
    ("dispatch-shell", {"deny": ["x"]}, text("dispatch", "ops-top"), "destructive", "not an agent"),
    ("dispatch-not-agent", {"deny": ["x"]}, text("dispatch", "board"), "destructive", "not an agent"),
    ("dispatch-agent-by-oneshot", {"deny": ["x"]}, text("dispatch", "agentish"), "safe", ""),
    ("dispatch-agent", {"deny": ["x"]}, text("dispatch", "web"), "safe", ""),
    ("steer-unknown-lane", {"deny": ["x"]}, text("steer", "nolane"), "blocked", "is unknown"),
    ("steer-shell", {"deny": ["x"]}, text("steer", "ops-top"), "destructive", "not an agent"),
    ("steer-agent", {"deny": ["x"]}, text("steer", "infra"), "safe", ""),
    ("drop-standing-inferred", {"deny": ["x"]}, drop("web"), "blocked", "standing lane"),
    ("drop-worker-inferred", {"deny": ["x"]}, drop("w1"), "safe", ""),
    ("drop-tagged-worker", {"deny": ["x"]}, drop("docs"), "safe", ""),
    ("drop-tagged-standing", {"deny": ["x"]}, drop("tagged-standing"), "blocked", "standing lane"),
]


@pytest.mark.parametrize(("pol", "action", "want", "why"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_gate_rules(pol: dict[str, Any], action: dict[str, Any], want: str, why: str) -> None:
    v = view(**pol)
    actions = [dict(action)]
    policy.rewrite(actions, v)
    verdict = policy.gate(actions, v)[0]
    assert verdict.gate == want, verdict.reasons
    if why:
        assert any(why in r or (why == "still" and "not allowed" in r) for r in verdict.reasons), (
            verdict.reasons
        )
    else:
        assert verdict.reasons == ()


def test_add_lane_rewrite_to_the_roles_default() -> None:
    v = view(
        role_tag_map={"impl": ["code"]},
        role_defaults={"impl": "opencode"},
        role_rules={"impl": {"concurrency_allowance": 5}},
    )
    actions = [add("pi", role="impl", window="w9")]
    records = policy.rewrite(actions, v)
    assert records == [
        {
            "event": "harness-rewrite",
            "window": "w9",
            "role": "impl",
            "from_harness": "pi",
            "to_harness": "opencode",
        }
    ]
    assert actions[0]["harness"] == "opencode"
    assert policy.gate(actions, v)[0].gate == "safe"


def test_lane_config_kind_wins_and_lane_config_harness_when_untagged() -> None:
    v = view(config_lanes={"web": {"kind": "worker"}, "untagged": {"harness": "pi"}}, deny=["x"])
    assert policy.gate([drop("web")], v)[0].gate == "safe"
    assert policy.gate([text("dispatch", "untagged")], v)[0].gate == "safe"
    assert v.lanes["untagged"].harness == "pi" and v.lanes["web"].harness == "pi"  # the tag wins


def test_lane_config_harness_reads_the_host_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "lane-config.yaml"
    config.write_text("lanes:\n  web: {harness: pi}\n  infra: {harness: claude}\n")
    (tmp_path / "lane-config.box.yaml").write_text("lanes:\n  infra: {harness: opencode}\n")
    monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "box.example")
    lanes_ = policy.lane_config_lanes(config)
    assert lanes_["web"]["harness"] == "pi" and lanes_["infra"]["harness"] == "opencode"


def test_merge_only_moves_up() -> None:
    safe = GateVerdict("safe")
    assert policy.merge(GateVerdict("destructive", ("destructive: a",)), safe).gate == "destructive"
    assert policy.merge(safe, GateVerdict("blocked", ("blocked: b",))).reasons == ("blocked: b",)


def test_the_default_policy_is_inactive_and_any_key_activates() -> None:
    assert not HarnessPolicy().active
    assert not HarnessPolicy(high_risk_roles=["infra"]).active
    assert HarnessPolicy(cost_ceiling="low").active


def test_an_unreadable_roster_blocks_every_harness_pick() -> None:
    def broken() -> Any:
        raise RuntimeError("harness-registry.sh: exit 1")

    v = policy.build_view(HarnessPolicy(deny=["x"]), broken, lanes(), {})
    verdict = policy.gate([text("dispatch", "web")], v)[0]
    assert (
        verdict.gate == "blocked" and "could not be read: harness-registry.sh: exit 1" in verdict.reasons[0]
    )


# ---------------------------------------------------------------------------- through the engine
DECISION = """```decision
version: 1
critique: c
actions:
{actions}
```"""


def _engine_with(project: Project, brain_text: str, **engine_cfg: Any) -> tuple[Any, list[str]]:
    prompts: list[str] = []
    calls: list[int] = []

    def brain(prompt: str) -> str:
        prompts.append(prompt)
        return brain_text

    def roster() -> dict[str, Any]:
        calls.append(1)
        return ROSTER

    project.substrate.roster = roster  # type: ignore[attr-defined]
    engine = project.engine(brain_fn=brain, **engine_cfg)
    return (engine, calls), prompts


def test_the_default_policy_makes_no_roster_call_and_changes_no_gate(project: Project) -> None:
    answer = DECISION.format(actions="  - {kind: dispatch, lane: nolane, payload: hi, rationale: r}")
    (engine, calls), prompts = _engine_with(project, answer)
    result = engine.cycle(approval="manual")
    assert calls == []
    assert result.actions[0]["gate_class"] == "destructive"  # the shape gate's: a lane we cannot see
    assert ROSTER_HEADING not in prompts[0]


def test_one_roster_snapshot_per_cycle_the_rewrite_event_and_the_prompt_block(project: Project) -> None:
    answer = DECISION.format(
        actions="  - {kind: add_lane, window: impl1, harness: pi, role: impl, rationale: r}\n"
        "  - {kind: dispatch, lane: nolane, payload: hi, rationale: r}"
    )
    pol = {
        "role_tag_map": {"impl": ["code"]},
        "role_defaults": {"impl": "opencode"},
        "deny": ["hermes"],
    }
    (engine, calls), prompts = _engine_with(project, answer, harness_policy=pol)
    result = engine.cycle(approval="manual")
    assert len(calls) == 1  # one snapshot serves the prompt and the gate
    block = prompts[0].split(ROSTER_HEADING, 1)[1]
    listed = [
        line.split()[0] for line in block.splitlines()[1:] if line and not line.startswith(("-", "rubric"))
    ]
    # allowed + present + healthy: hermes denied, codex missing, amp unauthenticated
    assert "opencode" in listed and "pi" in listed
    assert not {"hermes", "codex", "amp"} & set(listed)
    assert "role impl needs a tag in [code]; its default harness is opencode" in block
    gov = project.events("governance")
    from loop_schemas.policy import HarnessRewriteEvent

    assert all(HarnessRewriteEvent.model_validate(e).governance.event == "harness-rewrite" for e in gov)
    assert [e["governance"] for e in gov] == [
        {
            "event": "harness-rewrite",
            "window": "impl1",
            "role": "impl",
            "from_harness": "pi",
            "to_harness": "opencode",
        }
    ]
    pending = json.loads(project.paths.pending.read_text())
    assert pending["decision"]["actions"][0]["harness"] == "opencode"
    assert [a["gate_class"] for a in result.actions] == ["safe", "blocked"]


def test_a_policy_blocks_dropping_a_standing_lane_in_full_mode(project: Project) -> None:
    answer = DECISION.format(actions="  - {kind: drop_lane, window: web, rationale: r}")
    (engine, _), _ = _engine_with(project, answer, harness_policy={"deny": ["hermes"]})
    result = engine.cycle(approval="full")
    assert result.outcome == "blocked" and project.substrate.dropped == []


# ---------------------------------------------------------------------------- retire proposals
def test_an_idle_worker_lane_gets_one_retire_proposal_a_human_approves(project: Project) -> None:
    project.substrate.set("w1", "idle", "opencode", False, role="impl")
    project.substrate.set("w2", "working", "opencode", False, role="impl")
    answer = DECISION.format(actions="  - {kind: stop, rationale: nothing to do}")
    pol = {"role_rules": {"impl": {"retire_after_idle_cycles": 2}, "web": {"retire_after_idle_cycles": 1}}}
    (engine, _), prompts = _engine_with(project, answer, harness_policy=pol)
    first = engine.cycle(approval="full")
    # one idle cycle: not yet (the stop itself is not obeyed while w2 works: the defensive stop)
    assert first.outcome == "stop-suspected-idle-stall"
    # nothing changed since that brain call (the daemon's skip): the proposal is no brain call, it comes
    second = engine.cycle(approval="full", skip_if_fingerprint=first.fingerprint)
    assert second.outcome == "queued" and len(prompts) == 1  # the proposal took the cycle
    pending = json.loads(project.paths.pending.read_text())
    assert pending["decision"]["actions"] == [
        {"kind": "drop_lane", "window": "w1", "rationale": pending["decision"]["actions"][0]["rationale"]}
    ]
    assert pending["gates"] == [
        {
            "gate_class": "destructive",
            "reasons": ["destructive: a retire proposal (retire_after_idle_cycles): a human approves it"],
            "state": "queued",
        }
    ]
    assert project.substrate.dropped == []  # full mode runs no proposal: it waits for a human
    assert [e["target"] for e in project.events("proposal-queued")] == ["w1"]
    engine.reject(pending["id"], "keep it")
    for _ in range(3):  # still idle: no second proposal for w1 until its status changes
        engine.cycle(approval="full")
    assert len(project.events("proposal-queued")) == 1
    project.substrate.set("w1", "working", "opencode", False, role="impl")
    engine.cycle(approval="full")
    project.substrate.set("w1", "idle", "opencode", False, role="impl")
    engine.cycle(approval="full")
    engine.cycle(approval="full")
    assert [e["target"] for e in project.events("proposal-queued")] == ["w1", "w1"]
    approve_id = json.loads(project.paths.pending.read_text())["id"]
    engine.approve(approve_id)
    assert project.substrate.dropped == [{"window": "w1", "force": False}]
    # web is a standing lane whose role rule says 1 cycle: never proposed
    assert all(e["target"] != "web" for e in project.events("proposal-queued"))


# ---------------------------------------------------------------------------- the boot check
@pytest.fixture
def cli_root(tmp_path: Path, fake_substrate: RecordingSubstrate) -> Path:
    root = tmp_path / "proj"
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\n")
    (root / "tasks" / "archive").mkdir(parents=True)
    lanes_ = {"coord": ("idle", None, "fixed"), "web": ("idle", "pi", "fixed")}
    fake_substrate.respond("loop-lane-status", lane_report(lanes_))
    fake_substrate.respond("loop-tmux", lane_list(lanes_))
    respond_registry(fake_substrate, REGISTRY)
    return root


@pytest.mark.parametrize(
    ("engine_yaml", "errors"),
    [
        (
            "brain: {harness: pi}\n  harness_policy: {brain_allow: [claude]}",
            ["error: the brain harness 'pi' is not in harness_policy.brain_allow (claude)"],
        ),
        (
            "brain: {harness: shell}",
            ["error: the brain harness 'shell' has no oneshot_template in the registry"],
        ),
        (
            "brain: {harness: shell}\n  ingest: {mode: headless}",
            [
                "error: the brain harness 'shell' has no oneshot_template in the registry",
                "error: the headless ingest harness 'shell' has no oneshot_template in the registry",
            ],
        ),
    ],
)
def test_boot_check_exits_2(cli_root: Path, engine_yaml: str, errors: list[str]) -> None:
    (cli_root / "lane-config.yaml").write_text(f"engine:\n  {engine_yaml}\n")
    for verb in (["once"], ["watch", "--foreground"]):
        out = CliRunner().invoke(main, ["--project-root", str(cli_root), "--session", SESSION, *verb])
        assert out.exit_code == 2, out.output
        assert [line for line in out.output.splitlines() if line.startswith("error:")] == errors


def test_boot_check_is_skipped_under_a_brain_command(cli_root: Path) -> None:
    cfg = EngineConfig.model_validate({"brain": {"harness": "shell"}, "ingest": {"mode": "headless"}})
    from loop_schemas import Harness

    reg = [Harness(name="shell", kind="shell")]
    assert policy.boot_problems(cfg, reg, {"LOOP_ENGINE_BRAIN_CMD": "x", "LOOP_ENGINE_INGEST_CMD": "y"}) == []
    assert len(policy.boot_problems(cfg, reg, {"LOOP_ENGINE_BRAIN_CMD": "x"})) == 1
    allowed = EngineConfig.model_validate(
        {"brain": {"harness": "claude"}, "harness_policy": {"brain_allow": ["claude"]}}
    )
    assert (
        policy.boot_problems(allowed, [Harness(name="claude", oneshot_template="claude -p {prompt}")], {})
        == []
    )


def test_effective_config_reads_harness_policy(tmp_path: Path) -> None:
    cfg = EffectiveConfig(
        model=EngineConfig.model_validate(
            {"harness_policy": {"role_rules": {"impl": {"retire_after_idle_cycles": 3}}}}
        )
    )
    assert cfg.model.harness_policy.role_rules["impl"].concurrency_allowance == 1
    assert cfg.model.brain.quota_backoff_minutes == 60


def test_roster_entries_read_the_substrates_roster_model() -> None:
    from loop_schemas import HarnessRoster

    doc = HarnessRoster.model_validate(
        {"contract_version": 1, "harnesses": [entry("pi", capability_tags="product,synthesis")]}
    )
    got = policy.roster_entries(doc)
    assert got["pi"].capability_tags == ("product", "synthesis") and got["pi"].present and got["pi"].agent


def test_status_names_the_backoffs_kind_and_held_pair(cli_root: Path) -> None:
    engine_dir = cli_root / ".loop" / "sessions" / SESSION / "engine"
    engine_dir.mkdir(parents=True)
    held = {"until": "2100-01-01T00:00:00Z", "reason": "r", "kind": "model-unavailable", "harness": "claude"}
    (engine_dir / "backoff.json").write_text(json.dumps({**held, "model": "opus-a"}))
    args = ["--project-root", str(cli_root), "--session", SESSION, "status", "--json"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    backoff = json.loads(out.output)["backoff"]
    assert backoff == {**held, "model": "opus-a"}
