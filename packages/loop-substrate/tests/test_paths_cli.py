from __future__ import annotations

import subprocess
import sys

import pytest
from loop_substrate import SCRIPT_NAMES, SubstrateError, check_contract, script_path, shell_dir


def test_checkout_shell_dir_is_the_repository_shell() -> None:
    assert (shell_dir() / "CONTRACT_VERSION").read_text().strip() == "1"
    assert check_contract() == 1


def test_unknown_script_is_a_substrate_error() -> None:
    with pytest.raises(SubstrateError, match="not found"):
        script_path("loop-nope")


def test_entry_point_execs_the_script() -> None:
    existing = [n for n in SCRIPT_NAMES if _exists(n)]
    assert existing, "no substrate script found"
    for name in existing:
        code = f"from loop_substrate.cli import exec_script; exec_script({name!r}, ['--help'])"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (name, proc.stderr)
        assert "usage" in proc.stdout.lower(), name


def _exists(name: str) -> bool:
    try:
        script_path(name)
    except SubstrateError:
        return False
    return True


def test_missing_script_entry_point_fails_cleanly() -> None:
    code = "from loop_substrate.cli import exec_script; exec_script('loop-nope', [])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("loop-nope: not found in") and "Traceback" not in proc.stderr
