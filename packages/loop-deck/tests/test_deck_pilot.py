"""The deck driven by Textual's pilot: widget state, and the exact argv of every action's CLI call."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from deck_fakes import ENGINE, SESSION, RecordingRunner, StubSubstrate, build, settle, write_pending_decision
from loop_deck.app import DeckApp
from loop_deck.screens import ConfirmScreen, RejectScreen, TextPromptScreen, TypedConfirmScreen
from loop_deck.widgets import KeyedTable
from loop_substrate import script_path
from textual.widgets import Input, Log, Static, TabbedContent, TextArea

pytestmark = pytest.mark.anyio
SIZE = (160, 48)


def table(app: DeckApp, name: str) -> KeyedTable:
    return app.query_one(f"#{name}", KeyedTable)


def text(app: DeckApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def select_lane(app: DeckApp, pilot: Any, lane: str) -> None:
    fleet = table(app, "fleet")
    fleet.focus()
    fleet.move_cursor(row=fleet.keys.index(lane))
    await pilot.pause()


def argv(runner: RecordingRunner) -> tuple[str, ...]:
    return runner.commands[-1].argv


async def test_fleet_loops_mail_adrs_and_decision_render(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_pending_decision(project)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert table(app, "fleet").keys == ["coord", "web", "infra", "validate-left", "docs", "web2"]
        assert table(app, "fleet").row("web") == ["web", "working", "now", "0", "claude", "impl"]
        assert table(app, "fleet").row("web2")[1] == "errored (exited-to-shell)"
        assert table(app, "loops").row("loop-1") == ["loop-1", "Checkout flow", "implement", "dev", "staging"]
        mail = table(app, "mailbox")
        assert mail.row("n:20261124-100000-web-to-coord.md")[1:] == [
            "11-24 10:00",
            "web",
            "coord",
            "tests green on dev",
        ]
        assert mail.row("p:20261124-090000-ops-top-to-coord.md")[0] == "done"
        adrs = table(app, "adr-table")
        assert adrs.row("1")[2].startswith("verify_record: missing")
        assert adrs.row("2")[2] == "passes"
        assert table(app, "actions").row("1")[1:5] == ["dispatch", "web", "destructive", "queued"]
        assert "critique: web finished T0001" in text(app, "#critique")
        banner = text(app, "#banner")
        assert "engine off — live dashboard" in banner and "2 pending mail" in banner
        assert "decision d-20261124-0001 waiting" in banner
        assert "objective: ship checkout v2" in str(app.query_one("#loops-title").render())


async def test_approve_and_reject_run_loop_engine_after_confirmation(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    path = write_pending_decision(project)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    app = build(project, fleet, runner)
    prefix = (ENGINE, "--project-root", str(project), "--session", SESSION)
    approve = (
        f"{ENGINE} --project-root {project} --session demo approve d-20261124-0001 --expect-digest {digest}"
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        assert isinstance(app.screen, ConfirmScreen)
        assert "#1 dispatch web [destructive, queued] [command] rm -rf build" in app.screen.detail
        assert app.screen.command == approve
        await pilot.press("x", "s", "n")  # other keys do nothing under a dialog; n is no
        await settle(app, pilot)
        assert runner.commands == []
        await pilot.press("y", "y")
        await settle(app, pilot)
        # the digest of the file the confirm showed: the engine runs nothing if it changed since
        assert argv(runner) == (*prefix, "approve", "d-20261124-0001", "--expect-digest", digest)
        assert text(app, "#cmdlog") == f"$ {approve}\nok: done"
        await pilot.press("N")
        assert isinstance(app.screen, RejectScreen)
        await pilot.press("escape")
        await pilot.press("N", *"not now", "enter")
        await settle(app, pilot)
        assert argv(runner) == (*prefix, "reject", "d-20261124-0001", "--reason", "not now")
        assert len(runner.commands) == 2


async def test_failed_command_shows_its_exit_and_stderr(project: Path, fleet: StubSubstrate) -> None:
    write_pending_decision(project)
    runner = RecordingRunner(returncode=1, stdout="", stderr="loop-engine: no decision d-20261124-0001\n")
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("y", "y")
        await settle(app, pilot)
        assert text(app, "#cmdlog").endswith("\nexit 1: loop-engine: no decision d-20261124-0001")
        assert app.query_one("#cmdlog").has_class("error")


async def test_steer_and_dispatch_send_text_on_stdin(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    dispatch = str(script_path("loop-dispatch"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await select_lane(app, pilot, "infra")
        await pilot.press("s")
        assert isinstance(app.screen, TextPromptScreen)
        payload = 'stop; echo "$(whoami)" `id`\nsecond line'
        app.screen.query_one("#text", TextArea).insert(payload)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert argv(runner) == (dispatch, "--session", SESSION, "--mode", "text", "--interrupt", "infra", "-")
        assert runner.commands[-1].stdin == payload
        await pilot.press("d")
        app.screen.query_one("#text", TextArea).insert("do T0002")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert argv(runner) == (dispatch, "--session", SESSION, "--mode", "text", "infra", "-")
        assert runner.commands[-1].stdin == "do T0002"
        await select_lane(app, pilot, "validate-left")
        await pilot.press("d")
        app.screen.query_one("#text", TextArea).insert("make test")
        app.screen.query_one("#command-mode").value = True  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert argv(runner)[3:] == ("--mode", "command", "validate-left", "-")
        await pilot.press("d", "escape")  # cancelled: nothing runs
        await settle(app, pilot)
        assert len(runner.commands) == 3


async def test_the_deck_never_types_into_its_own_pane(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner, engine=None, self_pane="%0")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert table(app, "fleet").row("coord")[0] == "coord (this deck)"
        await select_lane(app, pilot, "coord")
        await pilot.press("s", "d", "x", "c")
        await settle(app, pilot)
        assert runner.commands == [] and len(app.screen_stack) == 1


async def test_add_and_drop_lanes(project: Path, fleet: StubSubstrate, runner: RecordingRunner) -> None:
    app = build(project, fleet, runner)
    tmux = str(script_path("loop-tmux"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        screen = app.screen
        screen.query_one("#window", Input).value = "web2"  # taken
        screen.query_one("#harness").value = "pi"  # type: ignore[attr-defined]
        screen.query_one("#role", Input).value = "option auditor"
        await pilot.click("#add")
        await pilot.pause()
        assert app.screen is screen and runner.commands == []
        screen.query_one("#window", Input).value = "opt-app"
        screen.query_one("#window", Input).focus()
        await pilot.press("enter")  # enter in any field submits, like the button
        await settle(app, pilot)
        assert argv(runner) == (
            tmux,
            "add-lane",
            "--session",
            SESSION,
            "--window",
            "opt-app",
            "--harness",
            "pi",
            "--role",
            "option auditor",
        )
        await select_lane(app, pilot, "web2")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert argv(runner) == (tmux, "drop-lane", "--session", SESSION, "--window", "web2")
        count = len(runner.commands)
        await select_lane(app, pilot, "validate-left")
        await pilot.press("x")
        assert isinstance(app.screen, TypedConfirmScreen)
        await pilot.press(*"valid", "enter")  # the wrong name: nothing runs
        await settle(app, pilot)
        assert len(runner.commands) == count
        await pilot.press("x", *"validate", "enter")
        await settle(app, pilot)
        assert argv(runner) == (tmux, "drop-lane", "--session", SESSION, "--window", "validate", "--force")


async def test_adr_accept_needs_the_typed_confirmation(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        assert app.query_one("#right", TabbedContent).active == "adrs"
        adrs = table(app, "adr-table")
        adrs.move_cursor(row=adrs.keys.index("1"))
        await pilot.pause()
        assert "accept would be refused" in text(app, "#adr-detail")
        await pilot.press("a")
        assert "loop-adr will refuse it" in app.screen.detail  # type: ignore[attr-defined]
        await pilot.press(*"accept 2", "enter")  # not the ADR shown: nothing runs
        await settle(app, pilot)
        assert runner.commands == []
        adrs.move_cursor(row=adrs.keys.index("2"))
        await pilot.pause()
        await pilot.press("a", *"accept 2", "enter")
        await settle(app, pilot)
        assert argv(runner) == (
            str(script_path("loop-adr")),
            "--project-root",
            str(project),
            "accept",
            "2",
            "--yes",
        )


async def test_pause_resume_checkpoint_and_jump(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    prefix = (ENGINE, "--project-root", str(project), "--session", SESSION)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert argv(runner) == (*prefix, "pause")
        engine_dir = project / ".loop" / "sessions" / SESSION / "engine"
        engine_dir.mkdir(parents=True)
        (engine_dir / "paused").write_text("x")  # what loop-engine pause leaves behind
        app.refresh_now()
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert argv(runner) == (*prefix, "resume")
        await pilot.press("c")  # the engine is installed but not running: one cycle now
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert argv(runner) == (*prefix, "once")
        await select_lane(app, pilot, "web2")
        await pilot.press("g")
        await settle(app, pilot)
        assert argv(runner)[-2:] == ("-t", "%9")


async def test_without_the_engine_it_is_a_dashboard(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_pending_decision(project)
    app = build(project, fleet, runner, engine=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "engine not installed — live dashboard only" in text(app, "#banner")
        await pilot.press("p", "y", "N")
        await settle(app, pilot)
        assert runner.commands == [] and len(app.screen_stack) == 1
        await pilot.press("c", "y")  # a checkpoint still works: loop-checkpoint dispatches it to coord
        await settle(app, pilot)
        assert argv(runner) == (
            str(script_path("loop-checkpoint")),
            "--dispatch",
            "coord",
            "--project-root",
            str(project),
            "--session",
            SESSION,
        )


async def test_corrupt_state_is_reported_and_the_deck_keeps_running(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    state = project / ".loop" / "orchestrator-state.json"
    good = state.read_text()
    state.write_text("{not json")
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "state file is corrupt" in text(app, "#banner")
        assert app.query_one("#banner").has_class("error")
        assert table(app, "loops").keys == [] and len(table(app, "fleet").keys) == 6
        state.unlink()
        app.refresh_now()
        await settle(app, pilot)
        assert "no state file (.loop/orchestrator-state.json)" in text(app, "#banner")
        state.write_text(good)
        app.refresh_now()
        await settle(app, pilot)
        assert table(app, "loops").keys == ["loop-1", "loop-2"]
        assert not app.query_one("#banner").has_class("error")


async def test_unchanged_refresh_writes_no_cells(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fleet_table = table(app, "fleet")
        before = fleet_table.writes
        app.refresh_now()
        await settle(app, pilot)
        assert fleet_table.writes == before
        fleet.statuses[2] = fleet.statuses[2].model_copy(update={"status": "working"})
        app.refresh_now()
        await settle(app, pilot)
        assert fleet_table.row("infra")[1] == "working"
        assert fleet_table.writes == before + 2  # the status and the activity cells, nothing else


async def test_lane_tail_and_mail_viewer(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await select_lane(app, pilot, "web")
        await pilot.press("enter")  # the lane detail
        await settle(app, pilot)
        assert app.query_one("#right", TabbedContent).active == "lane"
        assert "harness claude · model opus · role impl" in text(app, "#lane-info")
        assert list(app.query_one("#lane-tail", Log).lines)[-1] == "> working on T0002…"
        fleet.tails["web"] = "> done"
        app.refresh_now()
        await settle(app, pilot)
        assert list(app.query_one("#lane-tail", Log).lines) == ["> done"]
        await select_lane(app, pilot, "docs")  # no pane text available: said so in the panel
        await settle(app, pilot)
        assert "cannot capture docs" in next(iter(app.query_one("#lane-tail", Log).lines))
        await pilot.press("m")
        mail = table(app, "mailbox")
        mail.move_cursor(row=mail.keys.index("n:20261124-101500-infra-to-coord.md"))
        await pilot.press("enter")
        assert "re:ask-7 staging token rotated" in str(app.screen.query_one("#message-body", Static).render())
        await pilot.press("escape")
        assert len(app.screen_stack) == 1


async def test_brain_panel_tails_the_transcript(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    transcripts = project / ".loop" / "sessions" / SESSION / "engine" / "transcripts"
    transcripts.mkdir(parents=True)
    live = transcripts / "b-1.log"
    live.write_text("harness: claude\n--- output ---\nfirst\n")
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        log = app.query_one("#brain-log", Log)
        assert list(log.lines)[-2:] == ["first", ""] or list(log.lines)[-1] == "first"
        assert next(iter(log.lines)) == "── b-1.log"
        with live.open("a") as fh:
            fh.write("second\n")
        app.refresh_now()
        await settle(app, pilot)
        assert "second" in list(log.lines)
        assert list(log.lines).count("first") == 1  # appended, not re-read


async def test_help_and_quit(project: Path, fleet: StubSubstrate, runner: RecordingRunner) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert "loop-engine approve ID" in str(app.screen.query_one("#help-text", Static).render())
        await pilot.press("escape", "q")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_crash_lands_in_deck_crash_log_and_prints_one_line(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    app = build(project, fleet, runner)
    with pytest.raises(ZeroDivisionError):
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.call_later(lambda: 1 / 0)
            await pilot.pause()
    log = project / ".loop" / "sessions" / SESSION / "deck-crash.log"
    record = json.loads(log.read_text().splitlines()[0])
    assert record["component"] == "deck" and record["session"] == SESSION
    assert record["error"] == "ZeroDivisionError: division by zero"
    assert "Traceback (most recent call last)" in record["traceback"]
    err = capsys.readouterr().err  # what Textual printed on the way out: one line, no traceback
    assert err.strip() == f"loop-deck: crashed: division by zero (details in {log})"


async def test_roster_view_shows_presence_and_asks_health_only_on_demand(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    from loop_deck.screens import RosterScreen

    fleet.health_words = {"pi": "ok", "claude": "unauthenticated", "shell": "ok"}
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert fleet.roster_calls == 0  # never on a refresh
        await pilot.press("H")
        await pilot.pause()
        assert isinstance(app.screen, RosterScreen)
        roster = app.screen.query_one("#roster", KeyedTable)
        assert roster.keys == ["pi", "claude", "codex", "shell"]
        cells = {r.name: r.cells() for r in app.screen.rows}
        assert cells["codex"][:3] == ("codex", "missing", "-")  # health not asked yet
        assert cells["claude"][3:] == ("brain,ingest,code,ops", "high", "unattended", "account", "low")
        assert fleet.health_asked == []
        roster.move_cursor(row=1)
        await pilot.press("h")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fleet.health_asked == ["claude"]
        assert {r.name: r.health for r in app.screen.rows}["claude"] == "unauthenticated · <1m ago"
        await pilot.press("H")  # every present harness: not codex
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fleet.health_asked == ["claude", "pi", "claude", "shell"]
        assert {r.name: r.health for r in app.screen.rows}["pi"] == "ok · <1m ago"
        await pilot.press("escape")
        await pilot.pause()
        for _ in range(3):  # refreshes ask nothing more
            app.refresh_now()
            await settle(app, pilot)
        assert (fleet.roster_calls, len(fleet.health_asked)) == (1, 4)
        await pilot.press("H")  # reopened: the words asked before are still shown
        await pilot.pause()
        assert {r.name: r.health for r in app.screen.rows}["claude"].startswith("unauthenticated")
    assert runner.commands == []  # a read: no CLI of the deck's actions ran


async def test_lane_detail_names_the_lane_kind(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await select_lane(app, pilot, "web2")
        await pilot.press("l")
        await pilot.pause()
        assert "(added lane, dynamic, worker)" in text(app, "#lane-info")
        await select_lane(app, pilot, "web")
        await pilot.press("l")
        await pilot.pause()
        assert "(base window, fixed, standing)" in text(app, "#lane-info")


async def test_cost_view_shows_autonomy_cost_and_a_7_day_sparkline(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    """`$`: one `loop-metrics --all --json` read; per session the autonomy ratio, the cost (n/a as n/a,
    never 0), interventions; the selected session's 7 days as a Sparkline of cost, v for autonomy."""
    from loop_deck.screens import CostScreen
    from textual.widgets import Sparkline

    def shown(app: DeckApp, selector: str) -> str:
        return str(app.screen.query_one(selector, Static).render())

    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert fleet.metrics_calls == 0  # never on a refresh
        await pilot.press("dollar_sign")
        await pilot.pause()
        assert isinstance(app.screen, CostScreen) and fleet.metrics_calls == 1
        rows = app.screen.query_one("#cost", KeyedTable)
        assert rows.keys == [SESSION, "nightly"]
        assert rows.row(SESSION) == [SESSION, "0.75 (9/12)", "1.250000", "4", "16", "3"]
        assert rows.row("nightly") == ["nightly", "0.50 (1/2)", "n/a", "1", "3", "0"]
        spark = app.screen.query_one("#cost-spark", Sparkline)
        assert list(spark.data or []) == [0.0, 0.1, 0.2, 0.15, 0.3, 0.25, 0.25]
        caption = shown(app, "#cost-caption")
        assert caption.startswith(f"{SESSION} · cost per day (USD), oldest first")
        assert "11-12 0.000000" in caption and "11-18 0.250000" in caption
        partial = shown(app, "#cost-partial")
        assert partial == "cost_usd_7d is a partial total: 1 session(s) n/a left out"
        rows.move_cursor(row=1)
        await pilot.pause()
        assert list(spark.data or []) == [0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.02]
        assert "11-16 n/a" in shown(app, "#cost-caption")  # an unknown day is labelled n/a, not 0
        await pilot.press("v")
        await pilot.pause()
        assert list(spark.data or []) == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
        assert shown(app, "#cost-caption").startswith("nightly · autonomy per day, oldest first")
        assert "11-15 1.00" in shown(app, "#cost-caption") and "11-12 n/a" in shown(app, "#cost-caption")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CostScreen)
        for _ in range(2):
            app.refresh_now()
            await settle(app, pilot)
        assert fleet.metrics_calls == 1
        fleet.metrics_fail = "loop-metrics: boom"
        await pilot.press("dollar_sign")
        await pilot.pause()
        assert not isinstance(app.screen, CostScreen)  # the error is a notification, the deck goes on
    assert runner.commands == []  # a read: no CLI of the deck's actions ran
