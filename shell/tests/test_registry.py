"""lib/harness-registry.sh: the twelve harnesses, its CLI verbs, --json, and the sourced functions."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1]
REGISTRY = "lib/harness-registry.sh"
NAMES = [
    "pi",
    "claude",
    "opencode",
    "codex",
    "cursor-agent",
    "hermes",
    "droid",
    "forge",
    "amp",
    "openclaw",
    "mprocs",
    "shell",
]
FIELDS = [
    "name",
    "binary",
    "kind",
    "launch_cmd",
    "auto_approve_flag",
    "model_flag",
    "oneshot_template",
    "idle_pattern",
    "busy_pattern",
    "approval_pattern",
    "welcome_pattern",
    "error_pattern",
    "process_names",
    "paste_delay",
    "clear_cmd",
    "clear_input_keys",
    "input_pattern",
    "verified",
    "notes",
    "working_marker",
    "idle_marker",
    "expected_process",
    "paste_enter_delay",
    "skill_dir",
    "non_interactive_flag",
    "capability_tags",
    "cost_tier",
    "autonomy_class",
    "auth_requirement",
    "health_probe",
    "drift_pins",
    "model_failover",
    "isolation",
]
# `fields <h>`: the original's eighteen first, in its order, then this registry's own.
ORIGINAL_FIELDS = [
    "launch_cmd",
    "model_flag",
    "expected_process",
    "auto_approve_flag",
    "paste_enter_delay",
    "skill_dir",
    "non_interactive_flag",
    "oneshot_template",
    "capability_tags",
    "cost_tier",
    "autonomy_class",
    "auth_requirement",
    "health_probe",
    "drift_pins",
    "model_failover",
    "isolation",
    "working_marker",
    "idle_marker",
]
PATTERNS = [
    "idle_pattern",
    "busy_pattern",
    "approval_pattern",
    "welcome_pattern",
    "error_pattern",
    "input_pattern",
    "working_marker",
    "idle_marker",
]


def _reg(shell_env, *args: str):
    return shell_env.run(REGISTRY, *args)


def _sourced(shell_env, script: str) -> subprocess.CompletedProcess[str]:
    """Run a bash snippet after sourcing the registry (under set -euo pipefail, like a caller)."""
    code = f'set -euo pipefail\n. "{SHELL / REGISTRY}"\n{script}'
    return subprocess.run(
        ["bash", "-c", code], capture_output=True, text=True, env=shell_env.env, timeout=30, check=False
    )


def _registry_json(shell_env) -> dict:
    proc = _reg(shell_env, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_list_is_the_twelve_in_contract_order(shell_env) -> None:
    proc = _reg(shell_env, "list")
    assert (proc.returncode, proc.stdout.splitlines()) == (0, NAMES)


def test_json_dump_has_every_field_typed_and_agrees_with_field(shell_env) -> None:
    doc = _registry_json(shell_env)  # the bare (stdlib-only) python3 is first on PATH here
    assert doc["contract_version"] == 1
    assert [h["name"] for h in doc["harnesses"]] == [*NAMES, "demo"]  # demo: an addition, not in `list`
    assert _reg(shell_env, "list", "--json").stdout == _reg(shell_env, "--json").stdout
    for entry in doc["harnesses"]:
        assert list(entry) == FIELDS, entry["name"]
        assert isinstance(entry["process_names"], list) and entry["process_names"]
        assert isinstance(entry["paste_delay"], float) and 0 < entry["paste_delay"] <= 2.0
        assert isinstance(entry["verified"], bool) and entry["kind"] in ("ai", "tool", "shell")
        for field in FIELDS:
            got = _reg(shell_env, "field", entry["name"], field)
            assert got.returncode == 0, (entry["name"], field, got.stderr)
            want = entry[field]
            if isinstance(want, list):
                want = " ".join(want)
            elif isinstance(want, bool):
                want = "true" if want else "false"
            elif isinstance(want, float):
                want = got.stdout.strip() if float(got.stdout) == want else want
            assert got.stdout == f"{want}\n", (entry["name"], field)
    kinds = {h["name"]: h["kind"] for h in doc["harnesses"]}
    assert kinds["mprocs"] == "tool" and kinds["shell"] == "shell"
    assert {n for n, k in kinds.items() if k == "ai"} == {*NAMES[:10], "demo"}


def test_flags_of_the_real_clis(shell_env) -> None:
    reg = {h["name"]: h for h in _registry_json(shell_env)["harnesses"]}
    assert reg["claude"]["auto_approve_flag"] == "--dangerously-skip-permissions"
    assert reg["claude"]["model_flag"] == "--model" and reg["claude"]["clear_cmd"] == "/clear"
    assert reg["codex"]["auto_approve_flag"] == "--dangerously-bypass-approvals-and-sandbox"
    assert reg["amp"]["auto_approve_flag"] == "--dangerously-allow-all" and reg["amp"]["model_flag"] == ""
    assert reg["droid"]["auto_approve_flag"] == "--skip-permissions-unsafe"
    assert reg["cursor-agent"]["auto_approve_flag"] == "--force"
    assert reg["hermes"]["auto_approve_flag"] == "--yolo"
    assert reg["openclaw"]["launch_cmd"] == "openclaw tui"
    # The one-shot templates (headless prompt calls), each with exactly one {prompt} word.
    templates = {
        "pi": "pi -p {prompt}",
        "claude": "claude -p {prompt}",
        "opencode": "opencode run {prompt}",
        "codex": "codex exec {prompt}",
        "cursor-agent": "cursor-agent -p {prompt}",
        "hermes": "hermes chat --oneshot -q {prompt}",
        "droid": "droid exec {prompt}",
        "forge": "forge -p {prompt}",
        "amp": "amp -x {prompt}",
        "openclaw": "openclaw agent --agent main --message {prompt}",
    }
    for name, template in templates.items():
        assert reg[name]["oneshot_template"] == template
        proc = _reg(shell_env, "oneshot", name)
        assert (proc.returncode, proc.stdout) == (0, template + "\n")
        words = shlex.split(proc.stdout)
        assert words.count("{prompt}") == 1 and words[0] == reg[name]["binary"]


def test_harness_without_oneshot_prints_nothing_and_exits_1(shell_env) -> None:
    for name in ("mprocs", "shell"):
        proc = _reg(shell_env, "oneshot", name)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "")


def test_patterns_compile_as_python_re_and_posix_ere(shell_env) -> None:
    for entry in _registry_json(shell_env)["harnesses"]:
        for field in PATTERNS:
            pattern = entry[field]
            if not pattern:
                continue
            re.compile(pattern)
            grep = subprocess.run(
                ["grep", "-E", "-q", "-e", pattern], input="", capture_output=True, text=True, check=False
            )
            assert grep.returncode == 1, (entry["name"], field, grep.stderr)  # 1 = no match, 2 = bad ERE
    reg = {h["name"]: h for h in _registry_json(shell_env)["harnesses"]}
    assert re.search(reg["claude"]["busy_pattern"], "✻ Thinking… (3s · esc to interrupt)")
    assert re.search(reg["claude"]["approval_pattern"], "│ Do you want to proceed?")
    assert re.search(reg["codex"]["idle_pattern"], "  100% context left · ? for shortcuts")
    assert not re.search(reg["claude"]["idle_pattern"], "✻ Thinking… (3s · esc to interrupt)")


def test_fields_probe_and_errors(shell_env, fake_harnesses) -> None:
    fields = _reg(shell_env, "fields", "codex")
    assert fields.returncode == 0
    names = [line[:22].rstrip() for line in fields.stdout.splitlines()]
    assert names == ORIGINAL_FIELDS + [f for f in FIELDS if f not in ORIGINAL_FIELDS]
    assert f"{'oneshot_template':<22} codex exec {{prompt}}" in fields.stdout.splitlines()
    assert f"{'health_probe':<22} " in fields.stdout.splitlines()  # an empty value: the padded name, a blank
    probe = _reg(shell_env, "probe", "claude", "opus")
    assert probe.returncode == 0, probe.stderr
    assert f"binary: claude -> {fake_harnesses / 'claude'}" in probe.stdout
    assert "launch: claude --model opus" in probe.stdout
    helped = _reg(shell_env, "--help")
    assert helped.returncode == 0 and "oneshot" in helped.stdout and "harness_resolve_launch" in helped.stdout
    only_bash = fake_harnesses.parent / "only-bash"
    only_bash.mkdir()
    (only_bash / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    shell_env.env["PATH"] = f"{fake_harnesses}:{only_bash}"
    missing = _reg(shell_env, "probe", "mprocs")  # PATH: the fake harnesses and bash only
    assert missing.returncode == 1 and "not found on PATH" in missing.stdout
    for args, code in (
        (("field", "claude", "nosuch"), 1),
        (("field", "nosuch", "kind"), 1),
        (("fields", "nosuch"), 1),
        (("oneshot", "nosuch"), 1),
        (("probe", "nosuch"), 1),
        ((), 2),
        (("bogus",), 2),
        (("field", "claude"), 2),
        (("list", "extra"), 2),
        (("--json", "extra"), 2),
    ):
        proc = _reg(shell_env, *args)
        assert proc.returncode == code, args
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, args


def test_sourced_functions(shell_env, fake_harnesses) -> None:
    proc = _sourced(
        shell_env,
        """
before=$(set -o)
harness_known claude && harness_known shell && ! harness_known bogus && ! harness_known ''
[ "$(harness_field codex oneshot_template)" = "codex exec {prompt}" ]
harness_field claude nosuch || echo "rc=$?"
harness_binary_path claude
harness_binary_path no-such-harness || echo "unknown: $?"
for c in bash -bash /bin/zsh sh fish dash; do harness_is_bare_shell_process "$c" || echo "NOT $c"; done
for c in claude node python3 ''; do ! harness_is_bare_shell_process "$c" || echo "SHELL $c"; done
harness_resolve_launch claude 'it'"'"'s "opus"'
harness_resolve_launch_auto_approve codex gpt-5
harness_resolve_launch amp some-model
harness_resolve_launch shell
[ "$(set -o)" = "$before" ] && echo "options untouched"
""",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "rc=2"
    assert lines[1] == str(fake_harnesses / "claude") and lines[2] == "unknown: 1"
    assert not [line for line in lines if line.startswith(("NOT ", "SHELL "))]
    claude = shlex.split(lines[3])
    assert claude == ["claude", "--model", 'it\'s "opus"']
    assert lines[4] == "codex --dangerously-bypass-approvals-and-sandbox --model gpt-5"
    assert lines[5] == "amp" and "has no model flag" in proc.stderr  # amp chooses its own models
    assert lines[6] == "" and lines[7] == "options untouched"


@pytest.mark.parametrize("model", ["a\nb", "x;rm -rf /", "$(id)", "naïve ✓", "back\\slash"])
def test_model_is_one_shell_word(shell_env, model: str) -> None:
    proc = subprocess.run(
        ["bash", "-c", f'. "{SHELL / REGISTRY}"; harness_resolve_launch pi "$MODEL"'],
        capture_output=True,
        text=True,
        env={**shell_env.env, "MODEL": model},
        check=False,
    )
    assert proc.returncode == 0
    assert shlex.split(proc.stdout.rstrip("\n")) == ["pi", "--model", model]


def test_demo_harness_launches_the_bundled_demo_agent(shell_env) -> None:
    launch = _reg(shell_env, "launch", "demo").stdout.strip()
    words = shlex.split(launch)
    assert words[0] == "python3" and Path(words[1]).name == "demo_agent.py" and Path(words[1]).is_file()
    assert _reg(shell_env, "oneshot", "demo").returncode == 1
    assert "demo" not in _reg(shell_env, "list").stdout.split()
