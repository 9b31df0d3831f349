"""The task board (issue 18 item 2): the tasks tab, the review queue and its reports, loop-task run by the
deck after a confirm, the end of a loop said plainly, a hint for an empty LOOPS table; and the session
switcher (item 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from deck_fakes import (
    NOW,
    PENDING,
    SESSION,
    RecordingRunner,
    StubSubstrate,
    build,
    settle,
    write_pending_decision,
    write_task,
)
from loop_deck.app import DeckApp
from loop_deck.commands import CommandBuilder
from loop_deck.screens import ConfirmScreen, MessageScreen, SessionsScreen
from loop_deck.widgets import KeyedTable
from textual.widgets import Static

pytestmark = pytest.mark.anyio
SIZE = (160, 48)
REPORT = "20261124-093000-web-to-coord.md"


def _iso(seconds_ago: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(NOW - seconds_ago, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def board_project(project: Path) -> Path:
    write_task(project, "T0001", "review", "checkout form", jira="SHOP-1")
    write_task(project, "T0002", "in-progress", "wire the queue")
    write_task(project, "T0003", "open", "search page", depends_on=["T0002", "T0004"])
    write_task(project, "T0004", "done", "old cache", archived=True)
    write_task(project, "T0005", "dropped", "dead end", archived=True)
    write_task(project, "T0006", "review", "docs pass")
    engine = project / ".loop" / "sessions" / SESSION / "engine"
    engine.mkdir(parents=True, exist_ok=True)
    assignments = {
        "T0001": {"lane": "web", "dispatched_at": _iso(5400), "state": "review", "report": REPORT},
        "T0002": {"lane": "infra", "dispatched_at": _iso(7200), "state": "in-progress"},
        "T0006": {"lane": "docs", "dispatched_at": _iso(600), "state": "review"},
    }
    (engine / "assignments.json").write_text(json.dumps(assignments))
    processed = project / ".loop" / "messages" / "processed"
    (processed / REPORT).write_text(
        '---\nsubject: "done T0001: checkout form"\ntask: T0001\n---\nForm shipped.\n'
    )
    # no engine record of T0006's report: the newest mail from its lane naming it is the report
    (project / ".loop" / "messages" / "20261124-110000-docs-to-coord.md").write_text(
        "---\nsubject: finished T0006 docs pass\n---\nDocs done.\n"
    )
    return project


def table(app: DeckApp, name: str) -> KeyedTable:
    return app.query_one(f"#{name}", KeyedTable)


def text(app: DeckApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_the_tasks_tab_shows_every_status_the_review_queue_and_what_each_waits_on(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(board_project(project), fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        queue = table(app, "review-queue")
        assert queue.keys == ["T0001", "T0006"]
        assert queue.row("T0001") == ["T0001", "checkout form", "SHOP-1", f"processed/{REPORT}"]
        assert queue.row("T0006")[3] == "20261124-110000-docs-to-coord.md"
        tasks = table(app, "tasks-table")
        assert tasks.keys == ["T0001", "T0006", "T0002", "T0003", "T0004", "T0005"]
        assert tasks.row("T0002") == ["T0002", "in-progress", "infra", "2h00m", "-", "wire the queue"]
        assert tasks.row("T0003")[1:5] == ["open", "-", "-", "T0002"]  # T0004 is done: it waits on T0002
        assert tasks.row("T0005")[1] == "dropped"
        head = text(app, "#tasks-head")
        assert "2 review · 1 in-progress · 1 open · 1 done · 1 dropped" in head
        assert "every task" not in head + text(app, "#banner")
        await pilot.press("enter")  # the report of the first task in the queue, one key away
        assert isinstance(app.screen, MessageScreen)
        assert "Form shipped." in str(app.screen.query_one("#message-body", Static).render())


async def test_done_reopen_and_drop_run_loop_task_after_a_confirm(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    app = build(board_project(project), fleet, runner)
    loop_task = CommandBuilder.cli("loop-task")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        await pilot.press("D")  # T0001, the first in the review queue
        assert isinstance(app.screen, ConfirmScreen)
        assert "loop-task" in str(app.screen.query_one("#will-run", Static).render())
        await pilot.press("n")
        assert runner.commands == []  # nothing runs without the confirm
        await pilot.press("D", "y")
        await settle(app, pilot)
        assert runner.commands[-1].argv == (loop_task, "--project-root", str(project), "done", "T0001")
        assert text(app, "#cmdlog").startswith(f"$ {loop_task} --project-root")  # the command it ran
        tasks = table(app, "tasks-table")
        tasks.focus()
        tasks.move_cursor(row=tasks.keys.index("T0004"))
        await pilot.pause()
        await pilot.press("O", "y")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-2:] == ("reopen", "T0004")
        await pilot.press("X")  # T0004 is done: drop is for open, in-progress and review tasks
        assert not isinstance(app.screen, ConfirmScreen)
        tasks.move_cursor(row=tasks.keys.index("T0003"))
        await pilot.pause()
        await pilot.press("X", "y")
        await settle(app, pilot)
        assert runner.commands[-1].argv[-2:] == ("drop", "T0003")
        assert len(runner.commands) == 3


async def test_when_every_task_is_in_review_or_done_the_deck_says_so(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_task(project, "T0001", "review", "checkout form")
    write_task(project, "T0002", "done", "queue", archived=True)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "every task is in review or done: the loop has nothing left to do" in text(app, "#banner")
        assert "1 task(s) await your sign-off" in text(app, "#tasks-head")


async def test_an_empty_loops_table_shows_a_hint(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    state = project / ".loop" / "orchestrator-state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "loops": {}}))
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not table(app, "loops").display
        hint = app.query_one("#loops-hint", Static)
        assert hint.display and "no loops: the state file lists no loops yet" in str(hint.render())


async def test_the_deck_switches_between_loop_sessions(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_pending_decision(project)  # session demo
    other = project / ".loop" / "sessions" / "beta" / "engine"
    other.mkdir(parents=True)
    (other / "pending-decision.json").write_text(json.dumps({**PENDING, "id": "d-beta", "session": "beta"}))
    (other / "lanes-seen.json").write_text(
        json.dumps({"lanes": {"coord": ["idle", None], "w": ["working", "pi"]}})
    )
    write_task(project, "T0001", "review")
    seen: list[Any] = []
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("S")
        assert isinstance(app.screen, SessionsScreen)
        rows = app.screen.query_one("#sessions", KeyedTable)
        assert rows.keys == ["beta", "demo"]
        assert rows.row("beta") == ["beta", "stopped", "d-beta (3 to approve)", "1 busy / 1 idle", "1"]
        assert rows.row("demo")[0] == "demo (this deck)"
        rows.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        seen.append(app.paths.session)
        assert app.snapshot is not None and app.snapshot.decision is not None
        assert app.snapshot.decision.decision_id == "d-beta"
        await pilot.press("y", "y")
        await settle(app, pilot)
        assert runner.commands[-1].argv[3:6] == ("--session", "beta", "approve")
    assert seen == ["beta"]
