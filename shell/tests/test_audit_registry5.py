"""Audit (session 4): the registry and the watchdog scripts find their own directory whatever the caller's
shell state: an exported CDPATH, a relative path, a cd after sourcing."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

SHELL = Path(__file__).resolve().parents[1]
DEMO_AGENT = SHELL / "lib" / "demo_agent.py"


def _run_relative(shell_env, *argv: str) -> subprocess.CompletedProcess[str]:
    """bash <relative path under shell/> …, from shell/'s parent, with an exported CDPATH that has '.'
    (as some users' dotfiles export it): `cd lib` then goes through CDPATH and prints the directory."""
    env = {**shell_env.env, "CDPATH": ".:" + str(shell_env.home)}
    return subprocess.run(
        ["bash", *argv], capture_output=True, text=True, cwd=str(SHELL.parent), env=env, timeout=60,
        check=False,
    )  # fmt: skip


def test_an_exported_cdpath_does_not_break_the_registry_or_the_watchdog_scripts(shell_env, tmp_path) -> None:
    rel = SHELL.name
    proc = _run_relative(shell_env, f"{rel}/lib/harness-registry.sh", "--json")
    assert proc.returncode == 0, proc.stderr
    names = [h["name"] for h in json.loads(proc.stdout)["harnesses"]]
    assert names[:12] == ["pi", "claude", "opencode", "codex", "cursor-agent", "hermes", "droid", "forge",
                          "amp", "openclaw", "mprocs", "shell"]  # fmt: skip
    launch = _run_relative(shell_env, f"{rel}/lib/harness-registry.sh", "field", "demo", "launch_cmd")
    assert launch.returncode == 0, launch.stderr
    assert launch.stdout == f"python3 {shlex.quote(str(DEMO_AGENT))}\n"
    state = str(tmp_path / "st")
    health = f"{rel}/lib/lane-health.sh"
    status = _run_relative(shell_env, health, "status", "--session", "s", "--state-dir", state)
    assert (status.returncode, status.stdout, status.stderr) == (1, "not running\n", "")
    resolver = _run_relative(shell_env, f"{rel}/lib/lane-config-resolver.sh", "--help")
    assert resolver.returncode == 0, resolver.stderr
    assert resolver.stdout.startswith("Usage: lane-config-resolver.sh")


def test_sourced_by_a_relative_path_then_cd_elsewhere_still_names_the_bundled_demo_agent(shell_env) -> None:
    code = "set -euo pipefail\n. lib/harness-registry.sh\ncd /\n"
    code += "harness_field demo launch_cmd\nharness_resolve_launch demo\n"
    proc = subprocess.run(
        ["bash", "-c", code], capture_output=True, text=True, cwd=str(SHELL), env=shell_env.env, timeout=30,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"python3 {shlex.quote(str(DEMO_AGENT))}"] * 2
