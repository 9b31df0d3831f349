"""Found driving the deck against a live session (session 4 audit): dialogs, hints, the cursor."""

from __future__ import annotations

from pathlib import Path

import pytest
from deck_fakes import NOW, SESSION, RecordingRunner, StubSubstrate, build, settle
from loop_deck.app import make_app, utf8_complete
from loop_deck.screens import AddLaneScreen
from loop_deck.widgets import KeyedTable
from textual.widgets import Input, Log

pytestmark = pytest.mark.anyio
SIZE = (120, 36)


@pytest.mark.parametrize("name", ["validate-left", "ops-bottom"])
async def test_add_lane_refuses_a_name_that_addresses_a_pane_of_a_base_window(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner, name: str
) -> None:
    # loop-tmux add-lane refuses these names with a usage error; the form let them through, closed, and
    # the typed harness, model and role were lost to an `exit 2` in the command bar
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, AddLaneScreen)
        screen.query_one("#window", Input).value = name
        screen.query_one("#harness").value = "pi"  # type: ignore[attr-defined]
        await pilot.click("#add")
        await settle(app, pilot)
        assert app.screen is screen and runner.commands == []
        assert any("names a pane of a base window" in n.message for n in app._notifications)


async def test_jump_outside_tmux_names_the_socket_to_attach_to(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with --socket the hint said `tmux attach -t =demo`, which reaches the default server, not the
    # session's: the attach command must name the same socket the deck reads
    monkeypatch.delenv("TMUX", raising=False)
    app = make_app(
        project,
        "demo",
        socket="/tmp/deck audit/sock",
        substrate=fleet,
        runner=runner,
        engine_cmd=None,
        auto_refresh=False,
        clock=lambda: NOW,
        self_pane=None,
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.query_one("#fleet", KeyedTable)
        table.move_cursor(row=table.keys.index("web"))
        await pilot.press("g")
        await settle(app, pilot)
        assert runner.commands[-1].argv[1:3] == ("-S", "/tmp/deck audit/sock")
        hints = [n.message for n in app._notifications if "outside tmux" in n.message]
        assert hints == ["outside tmux: attach with  tmux -S '/tmp/deck audit/sock' attach -t =demo"], hints


async def test_the_cursor_stays_on_its_lane_when_a_lane_above_it_goes_away(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    # a refresh that dropped a row above the cursor left the cursor on the same index: the selection
    # (and the lane detail, its tail, and what s / d / x act on) jumped to the next lane unasked
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.query_one("#fleet", KeyedTable)
        table.move_cursor(row=table.keys.index("docs"))
        await settle(app, pilot)
        fleet.statuses = [s for s in fleet.statuses if s.lane != "web"]  # web dropped meanwhile
        app.refresh_now()
        await settle(app, pilot)
        assert table.keys == ["coord", "infra", "validate-left", "docs", "web2"]
        assert table.selected_key() == "docs"
        assert app._selected_row() is not None and app._selected_row().lane == "docs"  # type: ignore[union-attr]
        await pilot.press("x")  # acts on the lane the user chose
        await pilot.press(*"docs", "enter")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-3:] == ("--window", "docs", "--force")


async def test_dialogs_scroll_to_the_focused_field_in_a_small_terminal(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    # at 40x12 the add-lane form and the typed confirmation were cut off below the terminal: the
    # harness, the add button and the field to type in could be focused but never seen
    app = build(project, fleet, runner)
    async with app.run_test(size=(40, 12)) as pilot:
        await settle(app, pilot)

        def visible(widget_id: str) -> bool:
            # wholly inside the dialog, and the dialog wholly on the screen (a toast may lie over it:
            # that is not the dialog cutting it off)
            widget = app.screen.query_one(widget_id)
            dialog = app.screen.query_one(".dialog")
            return (
                widget.region.area > 0
                and dialog.region.contains_region(widget.region)
                and app.screen.region.contains_region(dialog.region)
            )

        async def on_screen(widget_id: str) -> bool:
            # scrolling to the focused field happens on a later refresh: wait for it (a slow machine
            # may need more than a few frames), up to 5 s
            for _ in range(100):
                if visible(widget_id):
                    return True
                await pilot.pause(0.05)
            return False

        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#window", Input).value = "web9"
        app.screen.query_one("#harness").value = "pi"  # type: ignore[attr-defined]
        app.screen.query_one("#add").focus()
        await settle(app, pilot)
        assert await on_screen("#add")
        await pilot.press("enter")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-4:] == ("--window", "web9", "--harness", "pi")
        table = app.query_one("#fleet", KeyedTable)
        table.move_cursor(row=table.keys.index("infra"))
        await pilot.press("x")
        await settle(app, pilot)
        assert await on_screen("#typed")
        await pilot.press(*"infra", "enter")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-3:] == ("--window", "infra", "--force")


async def test_a_character_split_across_two_transcript_writes_shows_whole(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    # the brain's transcript grows while the deck reads it: a read that ended inside "é" (a buffered
    # flush cuts anywhere) decoded each half on its own and showed "caf��" in the brain panel
    transcripts = project / ".loop" / "sessions" / SESSION / "engine" / "transcripts"
    transcripts.mkdir(parents=True)
    log = transcripts / "b-20261124-0001.log"
    log.write_bytes(b"brain: caf" + "é".encode()[:1])
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        with log.open("ab") as fh:
            fh.write("é".encode()[1:] + " — 日本 ok\n".encode())
        app.refresh_now()
        await settle(app, pilot)
        text = "\n".join(app.query_one("#brain-log", Log).lines)
        assert "brain: café — 日本 ok" in text, text
        assert "\ufffd" not in text, text


def test_utf8_complete_holds_back_only_an_unfinished_character() -> None:
    assert utf8_complete(b"") == 0
    assert utf8_complete(b"abc") == 3
    for ch in ("é", "日", "😀"):
        data = b"x" + ch.encode()
        assert utf8_complete(data) == len(data)
        for cut in range(1, len(ch.encode())):
            assert utf8_complete(data[: 1 + cut]) == 1
    assert utf8_complete(b"x\x80\x80\x80\x80") == 5  # garbage is shown (replaced), never held forever


async def test_a_state_file_caught_mid_write_keeps_the_loops_on_screen(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    # a writer that truncates and rewrites the state file is read half-written now and then: the loops
    # table was blanked for that tick and refilled on the next (a flicker, the cursor lost to row 0)
    state = project / ".loop" / "orchestrator-state.json"
    good = state.read_text()
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        loops = app.query_one("#loops", KeyedTable)
        loops.move_cursor(row=1)
        state.write_text(good[: len(good) // 2])
        app.refresh_now()
        await settle(app, pilot)
        banner = str(app.query_one("#banner").render())
        assert "state file is corrupt" in banner and "showing the last good read" in banner, banner
        assert app.query_one("#banner").has_class("error")
        assert loops.keys == ["loop-1", "loop-2"] and loops.selected_key() == "loop-2"
        state.write_text(good.replace("Search", "Search v2"))
        app.refresh_now()
        await settle(app, pilot)
        assert loops.row("loop-2")[1] == "Search v2" and loops.selected_key() == "loop-2"
        assert not app.query_one("#banner").has_class("error")
