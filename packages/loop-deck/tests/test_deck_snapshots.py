"""pytest-textual-snapshot: one SVG per screen, from fixed data, a fixed clock and a fixed size.

Update deliberately, then look at the SVGs before committing them:
`uv run --frozen pytest packages/loop-deck/tests/test_deck_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deck_fakes import RecordingRunner, StubSubstrate, build, write_pending_decision, write_project
from loop_deck.app import DeckApp
from loop_deck.commands import CommandBuilder
from loop_deck.widgets import KeyedTable
from textual.widgets import Input

SIZE = (150, 42)
Compare = Callable[..., bool]


def before(*keys: str, lane: str | None = None) -> Callable[[Any], Awaitable[None]]:
    async def run(pilot: Any) -> None:
        app: DeckApp = pilot.app
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        if lane is not None:
            fleet = app.query_one("#fleet", KeyedTable)
            fleet.move_cursor(row=fleet.keys.index(lane))
            await pilot.pause()
        if keys:
            await pilot.press(*keys)
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        # a blinking cursor is drawn or not depending on when the frame is taken (under load it was
        # caught off): hold every text cursor steady, so the picture depends on the screen alone
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run


@pytest.fixture
def project(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project at a fixed path, and substrate CLIs at fixed paths: dialogs show the exact command."""
    base = Path("/tmp/loop-deck-snapshots") / request.node.name
    shutil.rmtree(base, ignore_errors=True)
    monkeypatch.setattr(CommandBuilder, "cli", staticmethod(lambda name: f"/opt/loop/shell/{name}.sh"))
    yield write_project(base / "proj")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def deck(project: Path, fleet: StubSubstrate, runner: RecordingRunner) -> DeckApp:
    write_pending_decision(project)
    return build(project, fleet, runner)


def test_main_screen_with_a_pending_decision(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before())


def test_approve_confirmation(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("y"))


def test_mail_tab(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("m"))


def test_adr_ledger(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("r"))


def test_lane_detail_with_tail(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("enter", lane="web"))


def test_brain_transcript(snap_compare: Compare, project: Path, deck: DeckApp) -> None:
    transcripts = project / ".loop" / "sessions" / "demo" / "engine" / "transcripts"
    transcripts.mkdir(parents=True)
    (transcripts / "b-20261124-0001.log").write_text(
        "harness: claude\n--- output ---\nLooking at the fleet: web is busy, infra idle.\n"
    )
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("b"))


def test_help(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("question_mark"))


def test_add_lane_form(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("n"))


def test_drop_base_lane_typed_confirmation(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("x", lane="infra"))


def test_degraded_no_engine_corrupt_state_no_fleet(
    snap_compare: Compare, project: Path, runner: RecordingRunner
) -> None:
    (project / ".loop" / "orchestrator-state.json").write_text('{"schema_version": 2, "loops": [1]}')
    broken = StubSubstrate(fail="loop-lane-status: no session 'demo' on this tmux server (exit 1)")
    app = build(project, broken, runner, engine=None)
    assert snap_compare(app, terminal_size=SIZE, run_before=before())


def test_untrusted_text_shown_as_data(snap_compare: Compare, project: Path, deck: DeckApp) -> None:
    # a subject that would clear the terminal and retitle it, and markup in it and in the objective:
    # every byte is shown, escapes as ␛, markup as the brackets it is
    state_file = project / ".loop" / "orchestrator-state.json"
    state_file.write_text(
        state_file.read_text().replace("ship checkout v2", "[/nope] [bold red]ship[/] \\u001b[31m")
    )
    (project / ".loop" / "messages" / "20261124-120000-web-to-coord.md").write_text(
        '---\nsubject: "\\e[2J\\e]0;pwned\\a [bold red]BOLD[/bold red] [link=https://evil.example]x[/link]"\n---\n'
    )
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("m"))


# ---- 80x24 and 200x50 (issue 18 item 6): the keys that matter, whole statuses, the action rows -----------
SMALL = (80, 24)
LARGE = (200, 50)


@pytest.fixture
def board_deck(project: Path, fleet: StubSubstrate, runner: RecordingRunner) -> DeckApp:
    from test_deck_tasks import board_project

    write_pending_decision(project)
    return build(board_project(project), fleet, runner)


def test_main_screen_80x24(snap_compare: Compare, board_deck: DeckApp) -> None:
    assert snap_compare(board_deck, terminal_size=SMALL, run_before=before())


def test_task_board_80x24(snap_compare: Compare, board_deck: DeckApp) -> None:
    assert snap_compare(board_deck, terminal_size=SMALL, run_before=before("t"))


def test_approve_confirmation_80x24(snap_compare: Compare, board_deck: DeckApp) -> None:
    assert snap_compare(board_deck, terminal_size=SMALL, run_before=before("y"))


def test_main_screen_200x50(snap_compare: Compare, board_deck: DeckApp) -> None:
    assert snap_compare(board_deck, terminal_size=LARGE, run_before=before())


def test_task_board_200x50(snap_compare: Compare, board_deck: DeckApp) -> None:
    assert snap_compare(board_deck, terminal_size=LARGE, run_before=before("t"))


def test_harness_roster(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("H"))


def test_cost_and_autonomy(snap_compare: Compare, deck: DeckApp) -> None:
    assert snap_compare(deck, terminal_size=SIZE, run_before=before("dollar_sign"))


def test_merge_decision_with_its_verify_report(
    snap_compare: Compare, project: Path, fleet: StubSubstrate
) -> None:
    from test_deck_verify import REPORT, write_merge_decision, write_report

    write_merge_decision(project)
    write_report(project, "web2", REPORT)
    deck = build(project, fleet, RecordingRunner())
    assert snap_compare(deck, terminal_size=SIZE, run_before=before())
