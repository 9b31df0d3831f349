"""`loop-deck --all [--roots a,b] [--json]`: every loop at once, without a terminal; and the line `q`
leaves behind."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from deck_fakes import write_pending_decision, write_task
from loop_deck import cli
from loop_deck.cli import main
from loop_schemas import LoopOverview


def _session(root: Path, name: str, *, lanes: dict[str, list[str]] | None = None) -> Path:
    engine = root / ".loop" / "sessions" / name / "engine"
    engine.mkdir(parents=True)
    if lanes is not None:
        (engine / "lanes-seen.json").write_text(json.dumps({"lanes": lanes}))
    return engine


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_all_prints_one_row_per_session_of_every_root(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _session(
        one,
        "alpha",
        lanes={"coord": ["idle", "shell"], "web": ["working", "claude"], "infra": ["idle", "pi"]},
    )
    write_pending_decision(one, "alpha")
    paused = _session(two, "beta")
    (paused / "paused").write_text("")
    (paused / "daemon.pid").write_text(f"{os.getpid()}\n")  # alive, but not an engine daemon: stopped
    write_task(one, "T0001", "review")
    write_task(one, "T0002", "open")
    before = _tree(tmp_path)
    result = CliRunner().invoke(main, ["--all", "--roots", f"{one},{two},{one}"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "SESSION  ENGINE   PEND  LANE HEALTH",
        "alpha    stopped  1*    idle:2 working:1",
        "beta     stopped  -     unknown",
    ]
    as_json = CliRunner().invoke(main, ["--all", "--roots", f"{one},{two}", "--json"])
    assert as_json.exit_code == 0
    view = LoopOverview.model_validate_json(as_json.output)
    alpha = view.sessions[0]
    assert (alpha.session, alpha.pending, alpha.awaiting, alpha.review) == ("alpha", "d-20261124-0001", 3, 1)
    assert _tree(tmp_path) == before  # nothing written


def test_all_without_loops_says_so_and_roots_default_to_the_project_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--all", "--project-root", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output == "no loops found (nothing under any <root>/.loop/sessions/)\n"
    _session(tmp_path, "gamma")
    result = CliRunner().invoke(main, ["--all", "--project-root", str(tmp_path)])
    assert result.output.splitlines()[1].split() == ["gamma", "stopped", "-", "unknown"]


def test_all_usage_errors(tmp_path: Path) -> None:
    bad = CliRunner().invoke(main, ["--all", "--roots", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "not a directory" in bad.output
    alone = CliRunner().invoke(main, ["--json"])
    assert alone.exit_code == 2 and "--json go with --all" in alone.output


def test_quitting_leaves_a_line_saying_how_to_start_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FakeApp:
        return_code = 0
        paths = None

        def run(self) -> None:  # the human pressed q
            return None

    def fake_make_app(*args: Any, **kwargs: Any) -> FakeApp:
        return FakeApp()

    import loop_deck.app

    monkeypatch.setattr(loop_deck.app, "make_app", fake_make_app)
    monkeypatch.setattr(cli, "has_terminal", lambda: True)
    result = CliRunner().invoke(
        main, ["--project-root", str(tmp_path), "--session", "demo", "--socket", "/tmp/s sock"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"loop-deck stopped; start it again with:  loop-deck --project-root {tmp_path.resolve()} "
        "--session demo --socket '/tmp/s sock'\n"
    )
