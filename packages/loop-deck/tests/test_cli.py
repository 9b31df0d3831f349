"""loop-deck's command line: help, usage errors (exit 2, one line), no terminal (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from loop_deck.cli import main


def test_help_lists_the_flags() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for flag in ("--project-root", "--session", "--socket", "--state-dir", "--adr-dir", "--interval"):
        assert flag in result.output


def test_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    runner = CliRunner()
    missing = runner.invoke(main, ["--project-root", str(tmp_path / "nope"), "--session", "s"])
    assert missing.exit_code == 1 and "not a directory" in missing.output  # a runtime failure, as everywhere
    no_session = runner.invoke(main, ["--project-root", str(tmp_path)])
    assert no_session.exit_code == 2 and "--session is required outside tmux" in no_session.output
    bad = runner.invoke(main, ["--project-root", str(tmp_path), "--session", "a;b"])
    assert bad.exit_code == 2 and "letters, digits" in bad.output
    slow = runner.invoke(main, ["--project-root", str(tmp_path), "--session", "s", "--interval", "0"])
    assert slow.exit_code == 2
    assert "Traceback" not in missing.output + no_session.output + bad.output + slow.output


def test_without_a_terminal_it_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--project-root", str(tmp_path), "--session", "s"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: loop-deck needs a terminal (run it in a tmux pane or a terminal)"
    assert not (tmp_path / ".loop").exists()


def test_a_session_with_a_trailing_newline_is_a_usage_error(tmp_path: Path) -> None:
    # regression: `^…$` with re.match accepted "s\n", which then reached every CLI as the session name
    result = CliRunner().invoke(main, ["--project-root", str(tmp_path), "--session", "s\n"])
    assert result.exit_code == 2 and "letters, digits" in result.output, result.output
