"""Issue 18, the operator's view: the deck's identity by socket and pane, the task board, every loop at
once, 80 columns, and the polish items (each test here failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import pytest
from deck_fakes import NOW, RecordingRunner, StubSubstrate, settle
from loop_deck.app import DeckApp, make_app
from loop_deck.screens import TextPromptScreen
from loop_deck.widgets import KeyedTable

pytestmark = pytest.mark.anyio
SIZE = (160, 48)


def _deck(project: Path, fleet: StubSubstrate, runner: RecordingRunner, socket: str | None) -> DeckApp:
    return make_app(
        project,
        "demo",
        socket=socket,
        substrate=fleet,
        runner=runner,
        engine_cmd=None,
        auto_refresh=False,
        clock=lambda: NOW,
    )


async def test_a_deck_on_another_server_is_not_the_pane_with_its_id(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the deck runs in pane %1 of server /tmp/own/sock and watches a session on /tmp/other/sock, whose
    # pane %1 is the web lane: that lane is not this deck, d works on it, g says plainly what it did
    monkeypatch.setenv("TMUX", "/tmp/own/sock,4242,0")
    monkeypatch.setenv("TMUX_PANE", "%1")
    app = _deck(project, fleet, runner, "/tmp/other/sock")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fleet_table = app.query_one("#fleet", KeyedTable)
        assert fleet_table.row("web")[0] == "web"
        fleet_table.move_cursor(row=fleet_table.keys.index("web"))
        await pilot.press("d")
        assert isinstance(app.screen, TextPromptScreen)
        await pilot.press("escape")
        await pilot.press("g")
        await settle(app, pilot)
        ran = runner.commands[-1].argv
        assert "switch-client" not in ran  # "no current client" on the other server
        assert ran[1:4] == ("-S", "/tmp/other/sock", "select-window")
        notes = [n.message for n in app._notifications]
        assert any("another server (/tmp/own/sock)" in n and "attach -t =demo" in n for n in notes), notes


async def test_a_deck_on_the_watched_server_knows_its_own_pane(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", "/tmp/own/sock,4242,0")
    monkeypatch.setenv("TMUX_PANE", "%1")
    app = _deck(project, fleet, runner, "/tmp/own/sock")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fleet_table = app.query_one("#fleet", KeyedTable)
        assert fleet_table.row("web")[0] == "web (this deck)"
        fleet_table.move_cursor(row=fleet_table.keys.index("web"))
        await pilot.press("g")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-3:] == ("switch-client", "-t", "%1")
