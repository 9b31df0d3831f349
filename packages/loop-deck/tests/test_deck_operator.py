"""Issue 18, the operator's view: the deck's identity by socket and pane, the task board, every loop at
once, 80 columns, and the polish items (each test here failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import pytest
from deck_fakes import NOW, RecordingRunner, StubSubstrate, settle
from loop_deck.app import DeckApp, make_app
from loop_deck.screens import TextPromptScreen
from loop_deck.widgets import KeyedTable
from textual.widgets import Log

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


async def test_rows_set_before_the_table_mounts_get_columns_as_wide_as_their_cells() -> None:
    # the first snapshot could reach the fleet table before its own Mount handler added the columns:
    # the first row then painted as `coor   workin  0  now` until the cursor moved
    from textual.app import App, ComposeResult

    class Holder(App[None]):
        def compose(self) -> ComposeResult:
            table = KeyedTable(("lane", "status", "restarts", "activity"), id="t")
            table.set_rows([("coord", ("coord", "working", "0", "now"))])  # not mounted yet
            yield table

    async with Holder().run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one("#t", KeyedTable)
        widths = {str(k.value): c.content_width for k, c in table.columns.items()}
        assert widths["lane"] >= len("coord") and widths["status"] >= len("working"), widths
        table.set_rows([("coord", ("coord", "awaiting-approval (ready)", "0", "now"))])
        await pilot.pause()
        assert table.columns[table.ordered_columns[1].key].content_width >= len("awaiting-approval (ready)")


async def test_a_frame_painted_right_after_set_rows_shows_the_cells_whole_and_stays_so() -> None:
    # DataTable measures its columns on its next idle, and keys its line caches by an update count that
    # this re-measure does not change: a frame painted between set_rows and that idle (the deck's first
    # snapshot lands on a layout already on screen; a busy machine paints in between) drew the rows at
    # their headers' widths, and those lines stayed cached after the columns grew (`coor  idle  —`
    # in the snapshot tests). The rows and their widths must arrive in one step.
    from textual.app import App, ComposeResult

    class Holder(App[None]):
        def compose(self) -> ComposeResult:
            yield KeyedTable(("lane", "status", "restarts"), id="t")

    def painted(table: KeyedTable) -> list[str]:
        """The header and the first two rows as a repaint draws them now."""
        return [table.render_line(y).text for y in range(3)]

    async with Holder().run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one("#t", KeyedTable)
        painted(table)  # the empty table is on screen
        table.set_rows([("coord", ("coord", "working", "0")), ("web2", ("web2", "idle", "0"))])
        assert "coord  working" in painted(table)[1]  # the frame right after: no half-drawn row
        await pilot.pause()
        shown = painted(table)
        assert "coord  working" in shown[1] and "web2   idle" in shown[2], shown
        grown = ("coord", "awaiting-approval (ready)", "0")
        table.set_rows([("coord", grown), ("web2", ("web2", "idle", "0"))])
        assert "coord  awaiting-approval (ready)  0" in painted(table)[1]  # a cell that grew
        await pilot.pause()
        shown = painted(table)
        assert "coord  awaiting-approval (ready)  0" in shown[1], shown
        assert "web2   idle                       0" in shown[2], shown


def _demo_frame(glyph: str) -> list[str]:
    # what the demo agent draws each 0.2 s (shell/lib/demo_agent.py Screen.draw), pushed into the pane's
    # history by its clear-screen
    return [
        "loop-orchestrator demo agent (lane web) -- a simulation: no AI runs here.",
        "It reports back to coord by mail after pretending to work.",
        "",
        "  > Do T0002: wire the queue",
        "",
        f"{glyph} demo agent working... (esc to interrupt)",
    ]


async def test_the_lane_tail_shows_a_redrawn_spinner_once(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    frames = [line for glyph in "|/-\\|/-\\" for line in _demo_frame(glyph)]
    fleet.tails["web"] = "\n".join(["$ demo-agent", *frames])
    app = _deck(project, fleet, runner, None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fleet_table = app.query_one("#fleet", KeyedTable)
        fleet_table.move_cursor(row=fleet_table.keys.index("web"))
        await pilot.press("l")
        await settle(app, pilot)
        shown = list(app.query_one("#lane-tail", Log).lines)
        assert shown.count("It reports back to coord by mail after pretending to work.") == 1, shown
        assert shown[-1] == "\\ demo agent working... (esc to interrupt)"  # the newest frame
        assert any("7 repeated frame(s)" in line for line in shown), shown
        assert shown[0] == "$ demo-agent"


async def test_at_80x24_the_keys_that_matter_statuses_and_action_rows_stay_visible(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    import json

    from deck_fakes import PENDING, build
    from textual.widgets._footer import FooterKey

    engine = project / ".loop" / "sessions" / "demo" / "engine"
    engine.mkdir(parents=True)
    long_critique = " ".join(["web finished T0001 and infra is idle while T0002 is ready;"] * 12)
    decision = {**PENDING, "decision": {**PENDING["decision"], "critique": long_critique}}  # type: ignore[dict-item]
    (engine / "pending-decision.json").write_text(json.dumps(decision))
    app = build(project, fleet, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        keys = {fk.key: fk.region for fk in app.query(FooterKey)}
        palette = keys.pop("ctrl+p")
        for key in ("y", "N", "question_mark", "q"):
            region = keys[key]
            assert app.screen.region.contains_region(region) and not region.overlaps(palette), (key, keys)
        table = app.query_one("#fleet", KeyedTable)
        status_right = sum(c.get_render_width(table) for c in table.ordered_columns[:2])
        assert status_right <= table.size.width, "a status is cut: `idle (ready` at 80 columns"
        actions = app.query_one("#actions", KeyedTable)
        assert actions.size.height >= 1 + 3, actions.size  # the header and every action row


async def test_the_task_and_preview_the_engine_adds_per_action_are_shown(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    # issue 18 item 1: per action the task it serves, its title and the first lines of what is sent, built
    # by loop_schemas.action_views (the views `loop-engine status` prints), shown where the deck shows the
    # decision (the action detail and the approve confirm). The payload is a task file: its front matter
    # names the task, the title comes from tasks/, the preview skips the front matter and the headings.
    import copy
    import json

    from deck_fakes import PENDING, build, write_task
    from loop_deck.screens import ConfirmScreen

    write_task(project, "T0002", "in-progress", "wire the queue")
    pending = copy.deepcopy(PENDING)
    pending["decision"]["actions"][0]["payload"] = (  # type: ignore[index]
        "---\nid: T0002\ntitle: an older title\nstatus: open\n---\n## Objective\n"
        "Wire the queue to the worker.\n\nKeep it small.\n"
    )
    engine = project / ".loop" / "sessions" / "demo" / "engine"
    engine.mkdir(parents=True)
    (engine / "pending-decision.json").write_text(json.dumps(pending))
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        detail = str(app.query_one("#action-detail").render())
        assert "serves T0002 — wire the queue" in detail and "> Wire the queue to the worker." in detail
        await pilot.press("y")
        assert isinstance(app.screen, ConfirmScreen)
        shown = app.screen.detail
        assert "    serves T0002 — wire the queue" in shown and "    > Keep it small." in shown
        assert "    why: clean the build" in shown  # every action's rationale, with or without a task
