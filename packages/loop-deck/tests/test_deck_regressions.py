"""Regressions found driving the deck for real (80x24 terminal, --socket, the command palette)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from deck_fakes import (
    ENGINE,
    NOW,
    SESSION,
    RecordingRunner,
    StubSubstrate,
    build,
    settle,
    write_pending_decision,
)
from loop_deck.app import make_app
from loop_deck.commands import Command, CommandBuilder, run_command
from loop_deck.screens import ConfirmScreen, TextPromptScreen
from loop_deck.widgets import KeyedTable
from textual.command import CommandPalette
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets.data_table import RowKey

pytestmark = pytest.mark.anyio
SMALL = (80, 24)


def visible_lines(widget: Widget) -> list[str]:
    """The text the terminal shows for a widget (wrapped, clipped), one string per screen row."""
    strips = widget.render_lines(Region(0, 0, widget.outer_size.width, widget.outer_size.height))
    return [strip.text for strip in strips]


async def test_cli_error_stays_visible_at_80_columns(project: Path, fleet: StubSubstrate) -> None:
    # A long argv used to wrap over both lines of the command bar and push the result off it.
    write_pending_decision(project)
    runner = RecordingRunner(returncode=1, stdout="", stderr="loop-engine: no decision d-20261124-0001\n")
    app = build(project, fleet, runner)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("y", "y")
        await settle(app, pilot)
        assert len(runner.commands) == 1
        shown = visible_lines(app.query_one("#cmdlog", Widget))
        assert any(line.strip().startswith("exit 1: loop-engine: no decision") for line in shown), shown
        assert any(line.strip().startswith("$ ") for line in shown), shown


@pytest.mark.parametrize("size", [SMALL, (200, 60)])
async def test_dialogs_fit_the_terminal(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner, size: tuple[int, int]
) -> None:
    # `.dialog.wide { width: 100 }` cut the dialog's right side (and the command it runs) at 80 columns.
    write_pending_decision(project)
    app = build(project, fleet, runner)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        assert isinstance(app.screen, ConfirmScreen)
        dialog = app.screen.query_one(".dialog", Widget)
        assert dialog.region.x >= 0 and dialog.region.right <= size[0]
        assert app.screen.query_one("#will-run", Widget).region.right <= size[0]
        await pilot.press("n")
        await settle(app, pilot)
        assert runner.commands == []


def test_socket_reaches_every_cli_the_deck_runs() -> None:
    # The CLIs find the tmux server by LOOP_TMUX_SOCKET; a --socket given only to the deck must reach them.
    b = CommandBuilder(Path("/p"), "s1", socket="/tmp/x y/sock", engine_cmd="loop-engine")
    commands = [
        b.steer("web", "t"),
        b.dispatch("web", "t"),
        b.add_lane("w2", cmd="sleep 1"),
        b.drop_lane("w2"),
        b.checkpoint(engine_running=True),
        b.checkpoint(engine_running=False),
        b.pause(),
        b.resume(),
        b.approve("d-1"),
        b.reject("d-1", "no"),
        CommandBuilder(Path("/p"), "s1", socket="/tmp/x y/sock").checkpoint(engine_running=False),
    ]
    for command in commands:
        assert dict(command.env) == {"LOOP_TMUX_SOCKET": "/tmp/x y/sock"}, command.argv
        assert command.display.startswith("LOOP_TMUX_SOCKET='/tmp/x y/sock' ")
    assert CommandBuilder(Path("/p"), "s1", engine_cmd="loop-engine").pause().env == ()


def test_real_runner_sets_the_command_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_TMUX_SOCKET", "/somewhere/else")
    monkeypatch.setenv("LOOP_DECK_TEST_KEEP", "kept")
    probe = "import os; print(os.environ['LOOP_TMUX_SOCKET'], os.environ['LOOP_DECK_TEST_KEEP'])"
    result = run_command(Command((sys.executable, "-c", probe), env=(("LOOP_TMUX_SOCKET", "/mine"),)))
    assert result.ok and result.stdout.split() == ["/mine", "kept"]


async def test_deck_socket_option_reaches_the_dispatch(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = make_app(
        project,
        SESSION,
        socket="/tmp/deck-sock",
        substrate=fleet,
        runner=runner,
        engine_cmd=ENGINE,
        auto_refresh=False,
        clock=lambda: NOW,
        self_pane=None,
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        fleet_table = app.query_one("#fleet", KeyedTable)
        fleet_table.focus()
        fleet_table.move_cursor(row=fleet_table.keys.index("infra"))
        await pilot.pause()
        await pilot.press("s")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press(*"hi", "ctrl+s")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-2:] == ("infra", "-")
        assert dict(runner.commands[-1].env) == {"LOOP_TMUX_SOCKET": "/tmp/deck-sock"}


async def test_command_palette_offers_the_deck_actions_and_no_screenshot(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Screenshot" not in titles  # it writes an SVG file: the deck writes none
        for title in ("Steer lane", "Dispatch to lane", "Add lane", "Drop lane", "Run checkpoint"):
            assert title in titles
        assert "Pause / resume engine" in titles and "Approve decision" in titles and "Quit" in titles
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Run checkpoint")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)  # the same confirmation as the c key
        assert runner.commands == []
        await pilot.press("y")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-1] == "once"


async def test_palette_action_under_a_dialog_runs_nothing(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        pause = next(c for c in app.get_system_commands(app.screen) if c.title == "Pause / resume engine")
        await pause.callback()
        await settle(app, pilot)
        assert runner.commands == []  # the deck's action checks apply as for its key
        await pilot.press("n")


LANE_TAB_IN_A_FRESH_INTERPRETER = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from deck_fakes import RecordingRunner, build, default_fleet, write_project
from textual.widgets import Log

assert "libtmux" not in sys.modules


class ImportingFleet(type(default_fleet())):
    def capture(self, lane, lines=50):
        from loop_substrate import Substrate

        Substrate.prepare_capture()  # the real capture's import of libtmux, first done under the running app
        assert "libtmux" in sys.modules
        return "pane tail of " + lane


async def main():
    fleet = default_fleet()
    fleet.__class__ = ImportingFleet
    app = build(write_project(Path(sys.argv[2]) / "proj"), fleet, RecordingRunner())
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        table = app.query_one("#fleet")
        table.focus()
        table.move_cursor(row=table.keys.index("web"))
        await pilot.press("l")
        for _ in range(20):
            await app.workers.wait_for_complete()
            await pilot.pause()
            lines = list(app.query_one("#lane-tail", Log).lines)
            if lines:
                break
        print(lines)


asyncio.run(main())
"""


def test_the_lane_tab_captures_even_when_libtmux_is_first_imported_under_the_app(tmp_path: Path) -> None:
    # regression: the real capture imports libtmux lazily; libtmux reads sys.stdout.encoding at import and
    # Textual's print capture has none, so the `l` tab only ever showed "(cannot capture web: '_PrintCapture'
    # object has no attribute 'encoding')"
    import subprocess

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            LANE_TAB_IN_A_FRESH_INTERPRETER,
            str(Path(__file__).parent),
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "['pane tail of web']", proc.stdout


@pytest.mark.parametrize("action", ["steer", "dispatch", "add_lane", "reject"])
async def test_a_key_typed_right_after_q_does_not_crash_the_deck_on_its_way_out(
    project: Path, fleet: StubSubstrate, action: str
) -> None:
    # regression: "qs" typed in one burst opened the steer dialog on the closing app; its on_mount found
    # no widgets (NoMatches), the deck wrote a crash log and exited 1 instead of quitting cleanly
    write_pending_decision(project)
    runner = RecordingRunner()
    app = build(project, fleet, runner)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        table = app.query_one("#fleet", KeyedTable)
        table.focus()
        table.move_cursor(row=table.keys.index("web"))
        await pilot.pause()
        await app.run_action("quit")
        await app.run_action(action)
        await pilot.pause()
    assert app.return_code == 0
    assert app.crash_log is None
    assert not (project / ".loop" / "sessions" / SESSION / "deck-crash.log").exists()
    assert runner.commands == []


@pytest.mark.parametrize("message", ["RowHighlighted", "RowSelected"])
async def test_a_table_message_that_arrives_after_its_table_left_does_not_crash_the_deck(
    project: Path, fleet: StubSubstrate, message: str
) -> None:
    # regression (a fresh-clone CI run): the ADR table posted RowHighlighted when its rows arrived and the
    # deck handled it after the table had left the screen (the deck closing); the handler looked the table
    # up by id, found nothing (NoMatches) and the deck crashed instead of quitting
    app = build(project, fleet, RecordingRunner())
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        for table_id in ("adr-table", "fleet", "actions", "mailbox"):
            table = app.query_one(f"#{table_id}", KeyedTable)
            await table.remove()
            event = getattr(KeyedTable, message)(table, 0, RowKey("gone"))
            app.post_message(event)
            await pilot.pause()
        await app.run_action("quit")
    assert app.return_code == 0
    assert app.crash_log is None
