"""One CLI style: every installed command, shell and Python, answers `--help` with `Usage: <its installed
name>`, `--version` with `<name>, version <v>` (exit 0), and a bad flag with exit 2 and no traceback.

The names are every console script of the workspace's distributions (loop-substrate's execs the bundled
shell script of the same name), so a new CLI is in this table the moment it is installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _installed_names() -> list[str]:
    names = set()
    for dist in distributions():
        if not (dist.metadata["Name"] or "").startswith("loop-"):
            continue
        names.update(ep.name for ep in dist.entry_points if ep.group == "console_scripts")
    return sorted(names)


NAMES = _installed_names()


def _run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "LOOP_TMUX_SOCKET")}
    return subprocess.run(
        [str(BIN / name), *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_the_table_holds_every_kind_of_cli() -> None:
    for name in (
        "loop-engine",
        "loop-deck",
        "loop-demo",
        "loop-pm",
        "loop-pm-jira",
        "loop-task",
        "loop-lane-hook",
    ):
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_help(name: str) -> None:
    proc = _run(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Usage: {name} "), proc.stdout.splitlines()[:1]


@pytest.mark.parametrize("name", NAMES)
def test_version(name: str) -> None:
    proc = _run(name, "--version")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(rf"{re.escape(name)}, version [0-9][0-9A-Za-z.+-]*\n", proc.stdout), proc.stdout


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_flag_is_a_usage_error(name: str) -> None:
    proc = _run(name, "--no-such-flag")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.strip() and "Traceback" not in proc.stderr
    assert name in proc.stderr  # the error names the command by its installed name
