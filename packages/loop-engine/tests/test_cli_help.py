"""Every command's --help works without a session; a real command without one is a usage error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from loop_engine.cli import main

COMMANDS = (
    "once",
    "status",
    "approve",
    "reject",
    "resolve",
    "watch",
    "stop",
    "restart",
    "pause",
    "resume",
    "cycle-now",
    "events",
    "config",
    "improve",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_needs_no_session(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TMUX", "TMUX_PANE", "LOOP_SESSION"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and command in result.output


def test_a_command_without_session_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TMUX", "TMUX_PANE", "LOOP_SESSION"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 2 and "--session is required" in result.output
