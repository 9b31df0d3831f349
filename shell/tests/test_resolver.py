"""lib/lane-config-resolver.sh: lanes: of a lane-config YAML, host overlay, relative cmds, validate."""

from __future__ import annotations

import importlib.util
import json
import shlex
import socket
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SHELL = Path(__file__).resolve().parents[1]
RESOLVER = "lib/lane-config-resolver.sh"


def _load_lane_config():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("lane_config_under_test", SHELL / "lib" / "lane_config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lane_config_under_test", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def yaml_env(shell_env, yaml_only_pythonpath, tmp_path):
    """shell_env whose bare python3 can import PyYAML (and nothing else), a fixed host name."""
    shell_env.env["PYTHONPATH"] = str(yaml_only_pythonpath)
    shell_env.env["LANE_CONFIG_HOSTNAME"] = "testhost"
    return shell_env


def _resolve(env, *args: str, extra: dict[str, str] | None = None):
    return env.run(RESOLVER, *args, env=extra)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


BASE = """\
engine:
  approval_mode: manual
  brain: {harness: claude, model: opus}
lanes:
  coord: {harness: claude}
  web:
    harness: claude
    model: claude-opus-4
    auto_approve: true
    repo: app
    role: implementation
  infra: {harness: codex, model: gpt-5-codex}
  docs: {harness: opencode, model: ""}
  validate-left:
    harness: shell
    cmd: scripts/watch.sh --fast
  ops-top:
    harness: shell
    cmd: watch -n 10 curl -sf https://example.com/healthz
"""


def test_print_resolved_json_and_launches(yaml_env, tmp_path) -> None:
    cfg = _write(tmp_path / "lane-config.yaml", BASE)
    root = tmp_path / "my project"
    proc = _resolve(yaml_env, "print-resolved", "--json", "--lane-config", str(cfg),
                    extra={"LANE_CONFIG_PROJECT_ROOT": str(root)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contract_version"] == 1 and doc["lane_config"] == str(cfg) and doc["host_overlay"] is None
    assert doc["project_root"] == str(root)
    lanes = doc["lanes"]
    assert list(lanes) == ["coord", "web", "infra", "validate-left", "ops-top", "docs"]
    assert lanes["web"] == {
        "harness": "claude",
        "model": "claude-opus-4",
        "cmd": None,
        "repo": "app",
        "role": "implementation",
        "auto_approve": True,
        "launch": "claude --dangerously-skip-permissions --model claude-opus-4",
        "kind": None,
        "sandbox": False,
    }
    assert lanes["infra"]["launch"] == "codex --model gpt-5-codex" and lanes["infra"]["auto_approve"] is False
    assert lanes["docs"]["model"] is None and lanes["docs"]["launch"] == "opencode"  # "" = unset
    # A relative script resolves against the project root, as one shell word even with a space in it.
    assert shlex.split(lanes["validate-left"]["launch"]) == [str(root / "scripts/watch.sh"), "--fast"]
    assert lanes["ops-top"]["cmd"] == "watch -n 10 curl -sf https://example.com/healthz"
    assert "engine" not in proc.stdout and proc.stderr == ""  # the engine: section is not the shell's
    human = _resolve(yaml_env, "print-resolved", "--lane-config", str(cfg))
    assert human.returncode == 0 and "launch: claude --dangerously-skip-permissions" in human.stdout


def test_lane_launch_field_and_lanes(yaml_env, tmp_path) -> None:
    cfg = _write(tmp_path / "lane-config.yaml", BASE)

    def run(*args: str) -> tuple[int, str]:
        proc = _resolve(yaml_env, *args, "--lane-config", str(cfg))
        return proc.returncode, proc.stdout

    assert run("lane-launch", "web") == (0, "claude --dangerously-skip-permissions --model claude-opus-4\n")
    assert run("lane-launch", "infra") == (0, "codex --model gpt-5-codex\n")
    assert run("lane-launch", "infra", "auto-approve") == (
        0,
        "codex --dangerously-bypass-approvals-and-sandbox --model gpt-5-codex\n",
    )
    assert run("lane-launch", "infra", "oneshot") == (0, "codex exec {prompt}\n")
    assert run("lane-launch", "validate-left", "oneshot")[0] == 1  # the shell harness has no one-shot
    assert run("lane-field", "web", "role") == (0, "implementation\n")
    assert run("lane-field", "web", "auto_approve") == (0, "true\n")
    assert run("lane-field", "docs", "model") == (0, "")
    assert run("lanes") == (0, "coord\nweb\ninfra\nvalidate-left\nops-top\ndocs\n")
    assert run("lane-launch", "validate-right")[0] == 1  # a lane this file does not define
    assert run("lane-launch", "nosuch")[0] == 1  # any lane name: this one is just not in the file
    for args in (("lane-launch", "no such"), ("lane-launch", "web", "fast"), ("lane-field", "web", "colour")):
        proc = _resolve(yaml_env, *args, "--lane-config", str(cfg))
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 2, args  # the error + a hint


def test_host_overlay_merges_lane_by_lane(yaml_env, tmp_path) -> None:
    cfg = _write(tmp_path / "lane-config.yaml", BASE)
    _write(
        tmp_path / "lane-config.testhost.yaml",
        "lanes:\n  infra: {harness: pi}\n  ops-bottom:\n    cmd: tail -F log\n",
    )
    _write(tmp_path / "lane-config.otherhost.yaml", "lanes:\n  web: {harness: amp}\n")
    proc = _resolve(yaml_env, "print-resolved", "--json", "--lane-config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["host_overlay"] == str(tmp_path / "lane-config.testhost.yaml")
    lanes = doc["lanes"]
    assert lanes["infra"] == {  # the whole block is replaced: the base's model does not leak through
        "harness": "pi",
        "model": None,
        "cmd": None,
        "repo": None,
        "role": None,
        "auto_approve": False,
        "launch": "pi",
        "kind": None,
        "sandbox": False,
    }
    assert lanes["ops-bottom"]["launch"] == "tail -F log"
    assert lanes["web"]["harness"] == "claude"  # other hosts' overlays are not read
    # Without LANE_CONFIG_HOSTNAME the overlay is named after this machine's short host name.
    host = socket.gethostname().split(".", 1)[0]
    _write(tmp_path / f"lane-config.{host}.yaml", "lanes:\n  docs: {harness: forge}\n")
    del yaml_env.env["LANE_CONFIG_HOSTNAME"]
    proc = _resolve(yaml_env, "lane-launch", "docs", "--lane-config", str(cfg))
    assert (proc.returncode, proc.stdout) == (0, "forge\n")


def test_untrusted_text_comes_out_intact_in_json(yaml_env, tmp_path) -> None:
    role = 'line one\nline "two" \\ back\\slash\ttab — naïve ✓ 日本語 🚀 $(id) `id`'
    cmd = "printf '%s\\n' \"a b\" \\\n  && echo 'ünï' # \\n not a newline"
    doc = {"lanes": {"web": {"harness": "pi", "role": role, "repo": "ré\npo"}, "ops-top": {"cmd": cmd}}}
    cfg = _write(tmp_path / "lane-config.yaml", json.dumps(doc))  # JSON is YAML: exact strings
    proc = _resolve(yaml_env, "print-resolved", "--json", "--lane-config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    lanes = json.loads(proc.stdout)["lanes"]
    assert lanes["web"]["role"] == role and lanes["web"]["repo"] == "ré\npo"
    assert lanes["ops-top"]["cmd"] == cmd and lanes["ops-top"]["launch"] == cmd
    assert _resolve(yaml_env, "lane-field", "web", "role", "--lane-config", str(cfg)).stdout == role + "\n"
    human = _resolve(yaml_env, "print-resolved", "--lane-config", str(cfg))
    assert human.returncode == 0 and "role=line one\\nline" in human.stdout  # one line per lane


def test_validate_reports_one_line_per_problem(yaml_env, tmp_path) -> None:
    good = _write(tmp_path / "good.yaml", BASE)
    proc = _resolve(yaml_env, "validate", "--lane-config", str(good))
    assert proc.returncode == 0 and "ok" in proc.stdout
    bad = _write(
        tmp_path / "bad.yaml",
        "lanes:\n"
        "  9web: {harness: claude}\n"
        "  web: {harness: clause, model: 4, auto_approve: 'yes'}\n"
        "  infra: [codex]\n"
        "  docs: {harness: pi, role: {a: 1}}\n",
    )
    proc = _resolve(yaml_env, "validate", "--lane-config", str(bad))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 6, lines
    assert any("bad lane name '9web'" in line for line in lines)
    assert any("unknown harness 'clause'" in line for line in lines)
    assert any("web: model must be a string, not a number" in line for line in lines)
    assert any("auto_approve must be true or false, not a string" in line for line in lines)
    assert any("infra: must be a mapping" in line for line in lines)
    assert any("docs: role must be a string, not a mapping" in line for line in lines)
    # The same problems stop the other verbs (all of them on one line on stderr), except the unknown
    # lane, which they ignore with a warning.
    launch = _resolve(yaml_env, "lane-launch", "web", "--lane-config", str(bad))
    assert launch.returncode == 1 and "Traceback" not in launch.stderr and launch.stdout == ""
    assert len(launch.stderr.splitlines()) == 1, launch.stderr
    assert "; lane web: unknown harness 'clause'" in launch.stderr
    assert "model must be a string" in launch.stderr


def test_bad_input_is_one_clean_line(yaml_env, tmp_path) -> None:
    cases = {
        "broken.yaml": "lanes:\n  web: {harness: pi\n",
        "list.yaml": "- just\n- a list\n",
        "lanes-list.yaml": "lanes: [web, infra]\n",
        "tabs.yaml": "lanes:\n\tweb: x\n",
    }
    for name, text in cases.items():
        cfg = _write(tmp_path / name, text)
        for verb in ("print-resolved", "validate", "lanes"):
            proc = _resolve(yaml_env, verb, "--lane-config", str(cfg))
            assert proc.returncode == 1, (name, verb)
            assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, (name, verb)
            assert str(cfg) in proc.stderr
    missing = _resolve(yaml_env, "lanes", "--lane-config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    empty = _resolve(yaml_env, "lanes", "--lane-config", str(_write(tmp_path / "empty.yaml", "engine: {}\n")))
    assert (empty.returncode, empty.stdout) == (0, "")  # engine only: no lanes, no error
    for args in ((), ("lanes",), ("bogus", "--lane-config", "x"), ("lanes", "--lane-config")):
        proc = _resolve(yaml_env, *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, args
    helped = _resolve(yaml_env, "--help")
    assert helped.returncode == 0 and "print-resolved" in helped.stdout


def test_missing_pyyaml_is_an_actionable_error(shell_env, tmp_path) -> None:
    cfg = _write(tmp_path / "lane-config.yaml", BASE)
    for verb in ("print-resolved", "validate", "lanes"):
        proc = shell_env.run(RESOLVER, verb, "--lane-config", str(cfg))  # the bare python3: no PyYAML
        assert proc.returncode == 1, verb
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
        assert "PyYAML" in proc.stderr and "pip install pyyaml" in proc.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_gives_lanes_or_a_config_error(tmp_path, text: str) -> None:
    """The parser never raises anything but its one-line ConfigError, whatever the file holds."""
    mod = _load_lane_config()
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        cfg = mod.LaneConfig(str(path))
        unknown, errors, _warnings = cfg.problems({"pi": {"name": "pi", "launch_cmd": "pi"}})
        resolved = cfg.resolve({"pi": {"name": "pi", "launch_cmd": "pi"}}) if not errors else {}
    except mod.ConfigError as exc:
        assert str(exc).startswith("lane-config ")
        return
    assert isinstance(unknown, list) and isinstance(resolved, dict)
    assert set(resolved) <= set(mod.LANES)


# ---- kind: standing|worker, and any lane name (the original's test_lane_config_resolver) ----


def test_kind_is_a_field_and_any_lane_name_resolves(yaml_env, tmp_path) -> None:
    cfg = _write(
        tmp_path / "lane-config.yaml",
        "lanes:\n  web: {harness: claude, kind: standing}\n  w1: {harness: claude, kind: worker}\n"
        "  infra: {harness: shell}\n  research_2: {cmd: 'true', kind: ''}\n",
    )
    field = lambda lane: _resolve(yaml_env, "lane-field", lane, "kind", "--lane-config", str(cfg))  # noqa: E731
    assert (field("web").returncode, field("web").stdout) == (0, "standing\n")
    assert (field("w1").returncode, field("w1").stdout) == (0, "worker\n")
    assert (field("infra").returncode, field("infra").stdout) == (0, "")  # absent: nothing, exit 0
    assert (field("research_2").returncode, field("research_2").stdout) == (0, "")  # "" = unset
    proc = _resolve(yaml_env, "validate", "--lane-config", str(cfg))
    assert proc.returncode == 0 and "ok (4 lane(s))" in proc.stdout, proc.stdout + proc.stderr
    doc = json.loads(_resolve(yaml_env, "print-resolved", "--json", "--lane-config", str(cfg)).stdout)
    # base lanes in their fixed order, then the others as written
    assert list(doc["lanes"]) == ["web", "infra", "w1", "research_2"]
    assert [doc["lanes"][n]["kind"] for n in doc["lanes"]] == ["standing", None, "worker", None]
    assert _resolve(yaml_env, "lanes", "--lane-config", str(cfg)).stdout.split() == list(doc["lanes"])
    missing = _resolve(yaml_env, "lane-field", "w2", "kind", "--lane-config", str(cfg))
    assert missing.returncode == 1 and "not in" in missing.stderr
    bad = _resolve(yaml_env, "lane-field", "w 2", "kind", "--lane-config", str(cfg))
    assert bad.returncode == 2 and "bad lane name" in bad.stderr


def test_validate_rejects_any_other_kind(yaml_env, tmp_path) -> None:
    for value in ("bogus", "Standing", "5", "[worker]"):
        cfg = _write(
            tmp_path / "lane-config.yaml", f"lanes:\n  web:\n    harness: claude\n    kind: {value}\n"
        )
        proc = _resolve(yaml_env, "validate", "--lane-config", str(cfg))
        assert proc.returncode == 1, value
        assert "invalid kind" in proc.stderr or "kind must be a string" in proc.stderr, (value, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    # the model agrees (loop_schemas.LaneConfig)
    from loop_schemas import LaneConfig
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        LaneConfig.model_validate({"lanes": {"web": {"kind": "bogus"}}})
    with pytest.raises(ValidationError):
        LaneConfig.model_validate({"lanes": {"9web": {}}})
    ok = LaneConfig.model_validate({"lanes": {"w1": {"kind": "worker"}, "web": {"kind": None}}})
    assert ok.lanes["w1"].kind == "worker" and ok.lanes["web"].kind is None
