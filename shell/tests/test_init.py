"""loop-init.sh: scaffolds an operated project, idempotent, never overwriting; the result passes the
substrate's own checks (state schema, task lint, lane-config resolver, checkpoint marker)."""

from __future__ import annotations

import json
from pathlib import Path

SHELL = Path(__file__).resolve().parents[1]

EXPECTED = [
    ".loop/",
    ".loop/orchestrator-state.json",
    ".loop/messages/",
    ".loop/messages/processed/",
    "ops-wiki/",
    "ops-wiki/index.md",
    "ops-wiki/log.md",
    "ops-wiki/checkpoint.md",
    "ops-wiki/lanes/",
    "ops-wiki/loops/",
    "tasks/",
    "tasks/archive/",
    "tasks/README.md",
    "docs/",
    "docs/adr/",
    "AGENTS.md",
    "lane-config.yaml",
]


def test_init_creates_everything_and_says_so(shell_env):
    proc = shell_env.run("loop-init.sh")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"created {p}" for p in EXPECTED]
    root = shell_env.cwd
    for rel in EXPECTED:
        assert (root / rel).exists(), rel
    state = json.loads((root / ".loop" / "orchestrator-state.json").read_text())
    assert state["schema_version"] == 2 and state["loops"] == {}
    checkpoint = (root / "ops-wiki" / "checkpoint.md").read_text()
    assert checkpoint.count("<!-- coord-decisions -->") == 1
    assert [ln for ln in checkpoint.splitlines() if ln == "<!-- coord-decisions -->"]


def test_init_is_idempotent_and_never_overwrites(shell_env):
    root = shell_env.cwd
    (root / "AGENTS.md").write_text("our own rules\n")
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "log.md").write_text("## [2026-01-01] ingest | history\n")
    first = shell_env.run("loop-init.sh")
    assert "exists  AGENTS.md (left as it is)" in first.stdout
    assert "exists  ops-wiki/log.md (left as it is)" in first.stdout
    assert (root / "AGENTS.md").read_text() == "our own rules\n"
    assert (root / "ops-wiki" / "log.md").read_text() == "## [2026-01-01] ingest | history\n"
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    second = shell_env.run("loop-init.sh")
    assert second.returncode == 0
    assert "nothing to do" in second.stdout and "created" not in second.stdout
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot


def test_init_result_passes_the_substrate_checks(shell_env):
    from loop_schemas import parse_state
    from loop_schemas.lane_config import load_lane_config

    root = shell_env.cwd
    assert shell_env.run("loop-init.sh", "--project", "shop").returncode == 0
    parse_state((root / ".loop" / "orchestrator-state.json").read_text())
    loaded = load_lane_config(root / "lane-config.yaml")
    assert loaded.warnings == [] and loaded.engine.approval_mode == "manual"
    assert "shop" in (root / "ops-wiki" / "index.md").read_text()
    assert shell_env.run("scripts/loop-task-lint.sh").returncode == 0
    assert shell_env.run("scripts/loop-wiki-pending.sh", "--quiet").stdout == "0\n"
    assert shell_env.run("scripts/loop-checkpoint.sh", "--print").returncode == 0
    digest = json.loads(shell_env.run("loop-digest.sh", "--json").stdout)
    assert digest["state"] == json.loads((root / ".loop" / "orchestrator-state.json").read_text())
    assert digest["state_error"] is None
    agents = (root / "AGENTS.md").read_text()
    assert agents == (SHELL / "templates" / "AGENTS.md").read_text()  # the one template, copied whole
    for topic in (
        "Who writes what",
        "Mail",
        "Ingest",
        "coordinator contract",
        "Experiment protocol",
        "Tasks",
        "Decisions",
        "Safety",
        "<!-- coord-decisions -->",
        "loop-adr accept",
    ):
        assert topic in agents


def test_init_resolves_with_the_bash_resolver(shell_env, yaml_only_pythonpath):
    root = shell_env.cwd
    shell_env.run("loop-init.sh")
    proc = shell_env.run(
        "lib/lane-config-resolver.sh",
        "validate",
        "--lane-config",
        str(root / "lane-config.yaml"),
        env={"PYTHONPATH": str(yaml_only_pythonpath)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_init_options(shell_env, tmp_path):
    root = shell_env.cwd
    dry = shell_env.run("loop-init.sh", "--dry-run")
    assert dry.returncode == 0 and "would create AGENTS.md" in dry.stdout
    assert list(root.iterdir()) == []
    proc = shell_env.run("loop-init.sh", "--no-agents", "--no-lane-config", "--json")
    doc = json.loads(proc.stdout)
    assert doc["contract_version"] == 1 and "AGENTS.md" not in doc["created"] and doc["existing"] == []
    assert not (root / "AGENTS.md").exists() and not (root / "lane-config.yaml").exists()
    other = tmp_path / "other"
    other.mkdir()
    assert shell_env.run("loop-init.sh", "--project-root", str(other), cwd=Path("/")).returncode == 0
    assert (other / "ops-wiki" / "checkpoint.md").is_file()


def test_init_errors(shell_env):
    root = shell_env.cwd
    (root / "tasks").write_text("a file where a folder belongs\n")
    proc = shell_env.run("loop-init.sh")
    assert proc.returncode == 1 and "tasks exists and is not a folder" in proc.stderr
    assert (root / "tasks").read_text() == "a file where a folder belongs\n"
    assert shell_env.run("loop-init.sh", "--bogus").returncode == 2
    assert shell_env.run("loop-init.sh", "--project", "a b").returncode == 2
    assert shell_env.run("loop-init.sh", "--project-root", "/nonexistent/x").returncode == 1
    assert shell_env.run("loop-init.sh", "--help").returncode == 0


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_examples_validate_and_resolve(shell_env, yaml_only_pythonpath):
    from loop_schemas.lane_config import load_lane_config

    names = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert names == ["lane-config.example.yaml", "madr-decision.lane-config.yaml"]
    for path in EXAMPLES.glob("*.yaml"):
        loaded = load_lane_config(path)
        assert loaded.warnings == [], (path.name, loaded.warnings)
        assert loaded.config.lanes, path.name
        proc = shell_env.run(
            "lib/lane-config-resolver.sh",
            "validate",
            "--lane-config",
            str(path),
            env={"PYTHONPATH": str(yaml_only_pythonpath)},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # the annotated example sets every engine key the contract lists
    full = load_lane_config(EXAMPLES / "lane-config.example.yaml")
    engine = full.engine.model_dump()
    assert set(engine) >= {
        "approval_mode",
        "checkpoint_interval_s",
        "poll_interval_s",
        "min_cycle_interval_s",
        "brain",
        "ingest",
        "destructive",
        "pm",
    }
    text = (EXAMPLES / "lane-config.example.yaml").read_text()
    for key in (
        "approval_mode:",
        "checkpoint_interval_s:",
        "poll_interval_s:",
        "min_cycle_interval_s:",
        "timeout_s:",
        "max_retries:",
        "max_calls_per_hour:",
        "extra_args:",
        "stream:",
        "mode:",
        "lane:",
        "max_dispatches_per_cycle:",
        "max_lanes:",
        "payload_patterns:",
        "adapters:",
        "auto_approve:",
        "repo:",
        "role:",
        "cmd:",
        "model:",
        "harness:",
    ):
        assert key in text, key


PROFILES = SHELL / "templates" / "profiles"


def _profile_engine(name: str):
    from loop_schemas import EngineConfig, parse_lane_config

    engine = parse_lane_config((PROFILES / f"{name}.engine.yaml").read_text()).engine
    assert isinstance(engine, EngineConfig)
    # every key is one the engine knows (harness_policy once the governed-lanes model is in)
    policy_known = "harness_policy" in EngineConfig.model_fields
    extra = {k for k in engine.unknown_keys() if not k.startswith("engine.harness_policy")}
    assert extra == set() and (policy_known or engine.unknown_keys() == ["engine.harness_policy"])
    return engine


def test_the_janitor_and_partner_profiles_validate_and_hold_the_table():
    assert sorted(p.name for p in PROFILES.iterdir()) == ["janitor.engine.yaml", "partner.engine.yaml"]
    j = _profile_engine("janitor")
    assert (j.approval_mode, j.poll_interval_s, j.min_cycle_interval_s, j.checkpoint_interval_s) == (
        "auto",
        10,
        300,
        3600,
    )
    assert (j.brain.harness, j.brain.model, j.brain.timeout_s, j.brain.max_calls_per_hour) == (
        "claude",
        "claude-sonnet-4-6",
        300,
        4,
    )
    assert (j.brain.max_retries, j.brain.stream, j.ingest.mode) == (1, False, "headless")
    assert (j.destructive.max_dispatches_per_cycle, j.destructive.max_lanes) == (2, 4)
    assert j.metrics.log_after_cycle is True and j.pm.adapter_names() == []
    p = _profile_engine("partner")
    assert (p.approval_mode, p.poll_interval_s, p.min_cycle_interval_s, p.checkpoint_interval_s) == (
        "manual",
        5,
        60,
        3600,
    )
    assert (p.brain.model, p.brain.timeout_s, p.brain.max_calls_per_hour, p.brain.stream) == (
        "claude-opus-4-8",
        600,
        12,
        True,
    )
    assert (p.ingest.mode, p.ingest.timeout_s) == ("headless", 600)
    assert p.metrics.log_after_cycle is True and p.pm.adapter_names() == ["jira"]
    import re

    for text in (
        "git push origin main",
        "rm -rf build",
        "git reset --hard",
        "git rebase -i",
        "git commit --amend",
        "git filter-branch",
    ):
        assert any(re.search(pat, text, re.IGNORECASE) for pat in p.destructive.payload_patterns), text


def test_init_offers_the_profiles(shell_env, yaml_only_pythonpath):
    from loop_schemas import InitReport, load_lane_config

    root = shell_env.cwd
    proc = shell_env.run("loop-init.sh", "--profile", "janitor", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = InitReport.model_validate(json.loads(proc.stdout))
    assert doc.profile == "janitor" and "lane-config.yaml" in doc.created
    loaded = load_lane_config(root / "lane-config.yaml")
    assert loaded.engine.approval_mode == "auto" and loaded.engine.brain.max_calls_per_hour == 4
    assert set(loaded.config.lanes) == {"web", "docs", "validate-left", "ops-top"}  # the starter's lanes
    resolved = shell_env.run(
        "lib/lane-config-resolver.sh",
        "validate",
        "--lane-config",
        str(root / "lane-config.yaml"),
        env={"PYTHONPATH": str(yaml_only_pythonpath)},
    )
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    again = shell_env.run("loop-init.sh", "--profile", "partner")
    assert again.returncode == 0 and "partner profile was not applied" in again.stderr
    assert load_lane_config(root / "lane-config.yaml").engine.approval_mode == "auto"
    bad = shell_env.run("loop-init.sh", "--profile", "wizard")
    assert bad.returncode == 2 and "janitor|partner" in bad.stderr
    assert shell_env.run("loop-init.sh", "--profile", "partner", "--no-lane-config").returncode == 2
