"""lib/harness-registry.sh governance (issue 20): the ten governance fields with their shipped values,
empty-safe `field`, `fields` rows, `roster [--json]`, `health <h> [--json]` words and exit codes, and
the readiness markers' rules. Real bash, no fakes of the registry itself; a probe is set by editing a
copy of the registry file, as its owner would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from loop_schemas import HarnessHealth, HarnessRoster

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
GOVERNANCE = [
    "capability_tags",
    "cost_tier",
    "autonomy_class",
    "auth_requirement",
    "health_probe",
    "drift_pins",
    "model_failover",
    "isolation",
]
TAGS = {
    "pi": "product,synthesis",
    "claude": "brain,ingest,code,ops",
    "opencode": "code,bulk",
    "codex": "code,brain",
    "cursor-agent": "code",
    "droid": "code",
    "forge": "code",
    "hermes": "code,experiment",
    "amp": "search,research",
    "openclaw": "ops,fleet",
    "mprocs": "dashboard",
    "shell": "probe,watch",
}
COST = {"opencode": "low", "forge": "low", "claude": "high", "codex": "high", "amp": "high", "mprocs": "none"}
DRIFT = {"claude": "low", "codex": "high", "hermes": "high", "amp": "high", "mprocs": "none", "shell": "none"}


def _reg(shell_env, *args: str, env: dict[str, str] | None = None):
    return shell_env.run(REGISTRY, *args, env=env)


def _field(shell_env, name: str, field: str) -> str:
    proc = _reg(shell_env, "field", name, field)
    assert proc.returncode == 0, (name, field, proc.stderr)
    return proc.stdout.rstrip("\n")


def test_shipped_governance_values(shell_env) -> None:
    doc = json.loads(_reg(shell_env, "--json").stdout)
    got = {h["name"]: h for h in doc["harnesses"]}
    for name in NAMES:
        h = got[name]
        assert h["capability_tags"] == TAGS[name], name
        assert h["cost_tier"] == COST.get(name, "none" if name == "shell" else "medium"), name
        assert h["drift_pins"] == DRIFT.get(name, "med"), name
        assert h["auth_requirement"] == {"openclaw": "gateway", "mprocs": "none", "shell": "none"}.get(
            name, "account"
        ), name
        if name in ("mprocs", "shell"):
            assert h["autonomy_class"] == "none"
        else:  # unattended iff the harness has a real auto-approve flag
            assert h["autonomy_class"] == ("unattended" if h["auto_approve_flag"] else "attended"), name
        assert (h["health_probe"], h["model_failover"], h["isolation"]) == ("", "", "shared"), name
        # the same answers one field at a time, exit 0 even when empty
        for field in GOVERNANCE:
            assert _field(shell_env, name, field) == h[field], (name, field)
    assert _field(shell_env, "pi", "autonomy_class") == "attended"
    assert _field(shell_env, "claude", "non_interactive_flag") == "-p"
    assert _field(shell_env, "codex", "non_interactive_flag") == "exec"
    assert _field(shell_env, "shell", "non_interactive_flag") == ""
    assert _field(shell_env, "claude", "expected_process") == "claude"


def test_fields_rows_are_padded_to_22_and_probe_is_unchanged(shell_env) -> None:
    rows = _reg(shell_env, "fields", "claude").stdout.splitlines()
    assert rows[0] == f"{'launch_cmd':<22} claude"
    assert f"{'capability_tags':<22} brain,ingest,code,ops" in rows
    assert f"{'model_failover':<22} " in rows
    probe = _reg(shell_env, "probe", "shell").stdout
    assert not any(field in probe for field in GOVERNANCE)


def test_roster_json_and_plain(shell_env, fake_harnesses) -> None:
    proc = _reg(shell_env, "roster", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    roster = HarnessRoster.model_validate(doc)
    assert [h.name for h in roster.harnesses] == NAMES  # `list` order, demo not included
    first = doc["harnesses"][0]
    assert list(first)[:9] == [
        "name",
        "present",
        "capability_tags",
        "cost_tier",
        "autonomy_class",
        "auth_requirement",
        "health_probe",
        "drift_pins",
        "oneshot_template",
    ]
    by = {h.name: h for h in roster.harnesses}
    assert by["claude"].present is True  # the fake claude is on PATH
    assert by["mprocs"].present is False  # no mprocs binary here
    assert by["shell"].present is True  # needs no binary
    assert by["claude"].oneshot_template == "claude -p {prompt}"
    assert by["shell"].oneshot_template == "" and by["mprocs"].oneshot_template == ""
    assert by["claude"].tags == ["brain", "ingest", "code", "ops"]
    plain = _reg(shell_env, "roster")
    assert plain.returncode == 0
    lines = plain.stdout.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    assert "claude present brain,ingest,code,ops high unattended account low" in lines
    assert "mprocs missing dashboard none none none none" in lines
    assert all(len(line.split()) == 7 for line in lines)
    for args in (("roster", "--yaml"), ("roster", "--json", "x")):
        bad = _reg(shell_env, *args)
        assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1


def test_health_words_and_exit_codes(shell_env, fake_harnesses) -> None:
    ok = _reg(shell_env, "health", "shell")
    assert (ok.returncode, ok.stdout) == (0, "ok\n")
    assert _reg(shell_env, "health", "claude").stdout == "ok\n"  # present, no probe
    missing = _reg(shell_env, "health", "mprocs")
    assert (missing.returncode, missing.stdout) == (1, "missing\n")
    js = _reg(shell_env, "health", "mprocs", "--json")
    assert js.returncode == 1
    assert HarnessHealth.model_validate_json(js.stdout) == HarnessHealth(harness="mprocs", health="missing")
    assert json.loads(_reg(shell_env, "health", "--json", "shell").stdout) == {
        "contract_version": 1,
        "harness": "shell",
        "health": "ok",
    }
    for name in ("nosuch", "pi claude", "shell;touch pwned", "$(touch pwned)", "-x", "SHELL"):
        proc = _reg(shell_env, "health", name)
        assert proc.returncode in (1, 2) and proc.stdout == "", name
        if not name.startswith("-"):
            assert proc.returncode == 1 and "unknown harness" in proc.stderr, name
    assert not (shell_env.cwd / "pwned").exists()
    assert _reg(shell_env, "health").returncode == 2


def _registry_copy(tmp_path: Path, harness: str, settings: str) -> Path:
    """A copy of shell/lib whose registry sets `settings` (bash assignments) for `harness`, the way a
    user edits their registry file: after the harness blocks, before the derived defaults."""
    lib = tmp_path / "lib"
    shutil.copytree(SHELL / "lib", lib, ignore=shutil.ignore_patterns("__pycache__"))
    path = lib / "harness-registry.sh"
    text = path.read_text(encoding="utf-8")
    anchor = "  # Only a harness with a real auto-approve flag can run unattended.\n"
    assert anchor in text
    path.write_text(text.replace(anchor, f'  [ "$1" != {harness} ] || {{ {settings}; }}\n' + anchor), "utf-8")
    return path


def _health(shell_env, script: Path, name: str, env: dict[str, str] | None = None):
    full = dict(shell_env.env)
    full.update(env or {})
    return subprocess.run(
        ["bash", str(script), "health", name],
        capture_output=True,
        text=True,
        env=full,
        cwd=shell_env.cwd,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ("health_probe=true", "ok"),
        ("health_probe='exit 3'", "unhealthy"),  # shell needs no account
        ("health_probe=false; auth_requirement=account", "unauthenticated"),
        ("health_probe=false; auth_requirement=gateway", "unauthenticated"),
        ("health_probe='echo loud; echo louder >&2; true'", "ok"),  # quiet: the probe's output is dropped
    ],
)
def test_health_runs_the_probe(shell_env, tmp_path, settings: str, word: str) -> None:
    script = _registry_copy(tmp_path, "shell", settings)
    proc = _health(shell_env, script, "shell")
    assert (proc.stdout, proc.returncode) == (f"{word}\n", 0 if word == "ok" else 1), proc.stderr
    assert proc.stderr == ""


def test_a_hanging_probe_is_killed_and_reads_unhealthy(shell_env, tmp_path) -> None:
    marker = tmp_path / "probe-child-ran-on"
    # the probe's own child must die with it (the whole process group is killed)
    script = _registry_copy(
        tmp_path, "shell", f"health_probe='(sleep 4; touch {marker}) & sleep 30'; auth_requirement=account"
    )
    proc = _health(shell_env, script, "shell", {"LOOP_HEALTH_PROBE_TIMEOUT_S": "1"})
    assert (proc.stdout, proc.returncode) == ("unhealthy\n", 1)
    subprocess.run(["sleep", "4.5"], check=True)
    assert not marker.exists()


def test_markers_follow_the_table(shell_env) -> None:
    claude = _field(shell_env, "claude", "working_marker")
    codex = _field(shell_env, "codex", "working_marker")
    pi = _field(shell_env, "pi", "working_marker")
    for marker in (claude, codex):
        assert not re.search(marker, "  esc to interrupt")  # a bare hint is no sign of work
        assert not re.search(marker, "? for shortcuts · esc to interrupt")
        assert re.search(marker, "✻ Cogitating… (1m 36s · ↑ 2.3k tokens · esc to interrupt)")
        assert re.search(marker, "• Working (3s • esc to interrupt)")
        assert re.search(marker, "✻ Cooking… (12s · thinking)")
        # grep -E reads it the same way
        lines = "(1m 36s · esc to interrupt)\nesc to interrupt\n"
        grep = subprocess.run(
            ["grep", "-cE", marker], input=lines, capture_output=True, text=True, check=False
        )
        assert grep.stdout.strip() == "1"
    assert re.search(pi, "esc to interrupt") and re.search(pi, " ⠇ Working...")
    assert not re.search(pi, "0.0%/128k (auto)")
    idle = _field(shell_env, "claude", "idle_marker")
    assert re.search(idle, "  ⏵⏵ bypass permissions on (shift+tab to cycle)")
    assert re.search(idle, "  ⏵⏵ accept edits on (shift+tab to cycle)")
    for name in ("amp", "shell", "mprocs"):
        assert _field(shell_env, name, "working_marker") == ""
        assert _field(shell_env, name, "idle_marker") == ""


def test_lane_status_prefers_the_declared_markers_on_a_tagged_lane(shell_env) -> None:
    """The same screen, read for a lane tagged claude (markers) and for an untagged one (heuristics)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("lane_status_gov", SHELL / "lib" / "lane_status.py")
    assert spec and spec.loader
    ls = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lane_status_gov", ls)
    spec.loader.exec_module(ls)
    doc = json.loads(_reg(shell_env, "--json").stdout)
    registry = ls.Registry({h["name"]: h for h in doc["harnesses"]})
    hint_left = ["● Done.", "  (esc to interrupt was shown earlier)", "❯ ", "  ⏵⏵ bypass permissions on"]
    working = ["✻ Cogitating… (1m 36s · ↑ 2.3k tokens · esc to interrupt)", "❯ ", "  ? for shortcuts"]

    def read(rows: list[str], tagged: bool) -> tuple[str, str | None]:
        return ls.classify_screen(rows, registry.patterns("claude", tagged), registry.home, "")

    assert read(hint_left, tagged=True) == ("idle", "ready")  # working_marker: no timer, no work
    assert read(hint_left, tagged=False) == ("working", "busy")  # the heuristic: any "esc to interrupt"
    assert read(working, tagged=True) == ("working", "busy")
    assert read(["❯ ", "  ⏵⏵ accept edits on (shift+tab to cycle)"], tagged=True) == ("idle", "ready")
