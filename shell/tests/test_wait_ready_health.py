"""add-lane --wait-ready on a timeout asks the registry for the harness's health (issue 20): a word other
than ok says the lane errored, with health=<word>. Real tmux server; the probe is set in a copy of
shell/ whose registry file its owner edited."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.tmux


def _shell_copy(tmp_path: Path, settings: str) -> Path:
    root = tmp_path / "shell-copy"
    shutil.copytree(SHELL, root, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    path = root / "lib" / "harness-registry.sh"
    text = path.read_text(encoding="utf-8")
    anchor = "  # Only a harness with a real auto-approve flag can run unattended.\n"
    assert anchor in text
    path.write_text(text.replace(anchor, f'  [ "$1" != claude ] || {{ {settings}; }}\n' + anchor), "utf-8")
    return root


def _add_never_ready(script: Path, shell_env, window: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), "add-lane", "--session", "wr", "--window", window, "--harness", "claude",
         "--wait-ready", "--ready-timeout", "2"],
        capture_output=True, text=True, timeout=120, check=False, cwd=shell_env.cwd,
        env={**shell_env.env, "LOOP_TMUX_LAUNCH_CHECK_S": "0"},
    )  # fmt: skip


def test_a_timeout_names_the_harness_health(tmux_server, shell_env, fake_harnesses, tmp_path) -> None:
    shell_env.env["FAKE_AGENT_WELCOME_S"] = "120"  # every fake claude of this server boots for 2 minutes
    boot = shell_env.run("loop-tmux.sh", "--session", "wr", "--no-attach", "--preset", "validation-only")
    assert boot.returncode == 0, boot.stderr
    # claude is on PATH and has no probe: health ok, the timeout is only a timeout
    plain = _add_never_ready(SHELL / "loop-tmux.sh", shell_env, "w1")
    assert plain.returncode == 1
    assert "not idle after 2s" in plain.stderr and "health=ok" in plain.stderr, plain.stderr
    assert "errored" not in plain.stderr
    # the owner's probe fails: claude needs an account, so it reads unauthenticated
    root = _shell_copy(tmp_path, "health_probe='exit 1'")
    proc = _add_never_ready(root / "loop-tmux.sh", shell_env, "w2")
    assert proc.returncode == 1, proc.stderr
    assert "errored" in proc.stderr and "health=unauthenticated" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert tmux_server.tmux("has-session", "-t", "=wr:w2").returncode == 0  # the window stays
