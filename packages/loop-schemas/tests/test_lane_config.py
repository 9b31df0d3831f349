from __future__ import annotations

from pathlib import Path

import pytest
from loop_schemas import EngineConfig, SchemaError, load_lane_config, parse_lane_config

CONFIG = """
lanes:
  web: { harness: pi, model: "" }
  infra: { harness: claude, model: "" }
  ops-top:
    harness: shell
    cmd: watch -n 10 curl -sf https://example.com/healthz
engine:
  approval_mode: auto
  brain: { harness: claude, timeout_s: 120 }
  mystery: 1
"""


def test_engine_defaults_match_contract() -> None:
    cfg = EngineConfig()
    assert (cfg.approval_mode, cfg.checkpoint_interval_s, cfg.poll_interval_s, cfg.min_cycle_interval_s) == (
        "manual",
        900,
        10,
        120,
    )
    assert (cfg.brain.timeout_s, cfg.brain.max_retries, cfg.brain.max_calls_per_hour) == (300, 1, 12)
    assert (cfg.ingest.mode, cfg.ingest.lane, cfg.ingest.timeout_s) == ("lane", "docs", 600)
    assert (cfg.destructive.max_dispatches_per_cycle, cfg.destructive.max_lanes) == (4, 12)
    assert cfg.pm.adapters == []


def test_load_with_host_overlay(tmp_path: Path) -> None:
    path = tmp_path / "lane-config.yaml"
    path.write_text(CONFIG)
    (tmp_path / "lane-config.box1.yaml").write_text(
        "lanes:\n  web: { harness: codex }\nengine:\n  brain: { harness: codex }\n"
    )
    loaded = load_lane_config(path, hostname="box1.example.com")
    assert loaded.config.lanes["web"].harness == "codex"
    assert loaded.config.lanes["infra"].harness == "claude"
    # engine top-level keys replace whole: brain.timeout_s falls back to its default
    assert loaded.engine.brain.harness == "codex" and loaded.engine.brain.timeout_s == 300
    assert loaded.engine.approval_mode == "auto"
    assert any("engine.mystery" in w for w in loaded.warnings)
    assert len(loaded.sources) == 2


def test_no_overlay_for_other_hosts(tmp_path: Path) -> None:
    path = tmp_path / "lane-config.yaml"
    path.write_text(CONFIG)
    (tmp_path / "lane-config.box1.yaml").write_text("lanes:\n  web: { harness: codex }\n")
    assert load_lane_config(path, hostname="other").config.lanes["web"].harness == "pi"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("lanes:\n  9frontend: { harness: pi }\n", "9frontend"),  # any lane name add-lane accepts is fine
        ("lanes:\n  web: { kind: boss }\n", "kind"),
        ("engine:\n  approval_mode: yolo\n", "approval_mode"),
        ("lanes: [web]\n", "lanes"),
        ("lanes:\n  web: { harness: pi\n", "YAML"),
        ("a: &x [1]\nb: *x\n", "aliases"),
    ],
)
def test_bad_configs(text: str, needle: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_lane_config(text)
    assert needle in str(info.value) or any(needle in str(p) for p in info.value.problems)


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e300", "1.0e+10"])
@pytest.mark.parametrize("key", ["poll_interval_s", "checkpoint_interval_s", "min_cycle_interval_s"])
def test_intervals_must_be_finite_and_bounded(tmp_path: Path, key: str, value: str) -> None:
    # `.inf` once validated (gt=0 holds) and the daemon died on Event.wait(inf): OverflowError
    path = tmp_path / "lane-config.yaml"
    path.write_text(f"engine:\n  {key}: {value}\n  brain: {{timeout_s: 30}}\n")
    with pytest.raises(SchemaError, match=key):
        load_lane_config(path, hostname="nohost")
    path.write_text(f"engine:\n  brain: {{timeout_s: {value}}}\n")
    with pytest.raises(SchemaError, match="timeout_s"):
        load_lane_config(path, hostname="nohost")
    path.write_text(f"engine:\n  {key}: 86400\n")
    assert getattr(load_lane_config(path, hostname="nohost").engine, key) == 86400


def test_warnings_stay_one_line(tmp_path: Path) -> None:
    path = tmp_path / "lane-config.yaml"
    path.write_text('engine:\n  "a\\r\\nb": 1\n"c\\nd": 2\nlanes:\n  web: {"e\\u2028f": 3}\n')
    warnings = load_lane_config(path, hostname="nohost").warnings
    assert len(warnings) == 3
    assert all(len(w.splitlines()) == 1 for w in warnings), warnings
    assert any("a\\r\\nb" in w for w in warnings)


def test_the_host_overlay_follows_lane_config_hostname_and_either_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule loop-tmux (shell/lib/lane_config.py) uses: LANE_CONFIG_HOSTNAME wins over the machine's
    name, and a `.yml` overlay serves a `.yaml` config."""
    path = tmp_path / "lane-config.yaml"
    path.write_text("lanes:\n  web: {harness: claude}\n")
    (tmp_path / "lane-config.box7.yml").write_text("lanes:\n  web: {harness: pi}\n")
    monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "box7.example.com")
    assert load_lane_config(path).config.lanes["web"].harness == "pi"
    monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "elsewhere")
    assert load_lane_config(path).config.lanes["web"].harness == "claude"


def test_later_engine_keys_have_their_defaults_and_merge_key_by_key() -> None:
    """The keys the original reads beyond v1 (CONTRACT "The engine configuration"): optional, merged key
    by key over their defaults, validated, never warned about as unknown."""
    cfg = EngineConfig()
    assert (cfg.ingest.timeout_s, cfg.ingest.harness, cfg.ingest.auto_approve) == (600, "", True)
    assert cfg.metrics.log_after_cycle is False
    assert (cfg.lint.enabled, cfg.lint.interval_h) == (False, 24)
    assert cfg.checkpoint.keep_decisions == 10
    assert (cfg.codex_pricing, cfg.target_lane_utilization, cfg.max_fix_rounds) == (None, 0.0, 2)
    text = (
        "engine:\n  ingest: {mode: headless, timeout_s: 120, harness: codex}\n  lint: {enabled: true}\n"
        "  metrics: {log_after_cycle: true}\n  checkpoint: {keep_decisions: 0}\n"
        "  codex_pricing: {input: 1.25, output: 10}\n  target_lane_utilization: 0.75\n"
        "  max_fix_rounds: 3\n  pm: {adapters: [{name: jira, project: X}, jira, {url: nameless}]}\n"
    )
    parsed = parse_lane_config(text).engine
    assert parsed is not None
    assert (parsed.ingest.timeout_s, parsed.ingest.harness, parsed.ingest.auto_approve) == (
        120,
        "codex",
        True,
    )
    assert (parsed.lint.enabled, parsed.lint.interval_h) == (True, 24)
    assert parsed.metrics.log_after_cycle is True and parsed.checkpoint.keep_decisions == 0
    assert parsed.codex_pricing is not None
    assert parsed.codex_pricing.model_dump() == {
        "input": 1.25,
        "cached": None,
        "output": 10,
        "long_context_threshold": 272000,
    }
    assert (parsed.target_lane_utilization, parsed.max_fix_rounds) == (0.75, 3)
    assert parsed.pm.adapter_names() == ["jira"]
    assert parsed.unknown_keys() == []
    typo = parse_lane_config("engine:\n  codex_pricing: {input_per_mtok: 1.25}\n").engine
    assert typo is not None and typo.unknown_keys() == ["engine.codex_pricing.input_per_mtok"]
    for bad in (
        "engine:\n  lint: {interval_h: 0}\n",
        "engine:\n  target_lane_utilization: 1.5\n",
        "engine:\n  max_fix_rounds: -1\n",
        "engine:\n  codex_pricing: {input: -1}\n",
        "engine:\n  codex_pricing: {output: .nan}\n",
        "engine:\n  codex_pricing: {cached: cheap}\n",
        "engine:\n  metrics: {log_after_cycle: maybe}\n",
        "engine:\n  pm: {adapters: [7]}\n",
    ):
        with pytest.raises(SchemaError):
            parse_lane_config(bad)
