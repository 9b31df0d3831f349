"""loop-engine takes its group options (--project-root, --session) after the command too, and a missing
--project-root directory is a runtime failure (exit 1), as in every loop CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from loop_engine.cli import hoist_group_options, main


def test_status_with_the_session_after_the_verb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("LOOP_SESSION", raising=False)
    before = CliRunner().invoke(
        main, ["--project-root", str(tmp_path), "--session", "myapp", "events", "--json"]
    )
    after = CliRunner().invoke(
        main, ["events", "--json", "--session", "myapp", "--project-root", str(tmp_path)]
    )
    assert "--session is required" not in after.output
    assert (after.exit_code, after.output) == (before.exit_code, before.output)
    eq = CliRunner().invoke(main, ["events", "--json", "--session=myapp", f"--project-root={tmp_path}"])
    assert (eq.exit_code, eq.output) == (before.exit_code, before.output)


def test_hoisting_stops_at_double_dash_and_keeps_everything_else() -> None:
    assert hoist_group_options(["status", "--session", "s", "--json"]) == [
        "--session",
        "s",
        "status",
        "--json",
    ]
    assert hoist_group_options(["steer", "web", "--", "--session", "x"]) == [
        "steer",
        "web",
        "--",
        "--session",
        "x",
    ]
    assert hoist_group_options(["--session", "s", "once"]) == ["--session", "s", "once"]


def test_a_missing_project_root_is_exit_1(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["status", "--session", "s", "--project-root", str(tmp_path / "nope")])
    assert out.exit_code == 1 and "not a directory" in out.output
