"""The verify report in the deck: under a pending merge (or verify/build) decision, in the lane detail and
whole with `v` -- read from `.loop/sessions/<s>/verify/<w>-<token>.json`, its agent-written text as data."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from deck_fakes import ENGINE, PENDING, SESSION, RecordingRunner, StubSubstrate, build, settle
from loop_deck.app import DeckApp
from loop_deck.screens import ConfirmScreen, MessageScreen
from loop_deck.verify import latest_report, read_view
from loop_deck.widgets import KeyedTable
from loop_schemas import PendingDecision, VerifyReport
from textual.widgets import Static

pytestmark = pytest.mark.anyio
SIZE = (160, 48)
TOKEN = "0123456789abcdef"
LONG_DETAIL = "src/cart.py:41 " + "the retry loop swallows the timeout and reports success; " * 4

REPORT: dict[str, Any] = {
    "contract_version": 1,
    "overall": "concerns",
    "gate": {"passed": True, "output_tail": "2 passed in 0.01s\n", "command": "make check", "exit_code": 0},
    "base": "a" * 40,
    "tip": "b" * 40,
    "diffstat": (
        " src/cart.py  | 12 ++++++++----\n tests/t.py   |  4 ++++\n"
        " 2 files changed, 12 insertions(+), 4 deletions(-)\n"
    ),
    "lenses": [
        {"lens": "code-review", "verdict": "pass", "findings": [], "summary": "small and clear"},
        {
            "lens": "silent-failure",
            "verdict": "concerns",
            "findings": [{"severity": "medium", "title": "retry hides a timeout", "detail": LONG_DETAIL}],
            "summary": "one swallowed error",
        },
        {"lens": "adversarial", "verdict": "pass", "findings": [], "summary": "no hostile input path"},
    ],
    "findings": [
        {
            "lens": "silent-failure",
            "severity": "medium",
            "title": "retry hides a timeout",
            "detail": LONG_DETAIL,
        }
    ],
    "generated_at": "2026-11-24T10:04:00Z",
}


def write_report(
    project: Path, window: str, report: dict[str, Any], token: str = TOKEN, age: int = 0
) -> Path:
    folder = project / ".loop" / "sessions" / SESSION / "verify"
    folder.mkdir(parents=True, exist_ok=True)
    VerifyReport.model_validate(report)  # the fixture itself is a report loop-verify could write
    path = folder / f"{window}-{token}.json"
    path.write_text(json.dumps(report))
    stamp = 1_795_000_000 - age
    os.utime(path, (stamp, stamp))
    return path


def write_merge_decision(project: Path) -> Path:
    pending = json.loads(json.dumps(PENDING))
    pending["decision"]["actions"] = [
        {"kind": "merge", "lane": "web2", "rationale": "web2's branch passed its verify"},
        PENDING["decision"]["actions"][0],
    ]
    pending["gates"] = [
        {"gate_class": "destructive", "reasons": ["merge: a human approves every merge"], "state": "queued"},
        PENDING["gates"][0],
    ]
    PendingDecision.model_validate(pending)
    engine = project / ".loop" / "sessions" / SESSION / "engine"
    engine.mkdir(parents=True, exist_ok=True)
    path = engine / "pending-decision.json"
    path.write_text(json.dumps(pending))
    return path


def text(app: DeckApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def test_latest_report_is_the_lanes_newest_and_never_another_lanes(tmp_path: Path) -> None:
    old = write_report(tmp_path, "web2", REPORT, token="1" * 16, age=60)
    new = write_report(tmp_path, "web2", REPORT, token="2" * 16, age=10)
    write_report(tmp_path, "web2-b", REPORT, token="3" * 16)  # a lane whose name starts like it: newer
    folder = new.parent
    (folder / "web2-notatoken.json").write_text("{}")
    (folder / f"web2-{'4' * 16}.log").write_text("log")
    assert latest_report(folder, "web2") == new
    assert latest_report(folder, "web2-b") == folder / f"web2-b-{'3' * 16}.json"
    assert latest_report(folder, "web") is None
    assert latest_report(tmp_path / "missing", "web2") is None
    assert old.exists()


def test_a_corrupt_report_is_an_error_line_not_a_crash(tmp_path: Path) -> None:
    path = write_report(tmp_path, "web2", REPORT)
    path.write_text(json.dumps({**REPORT, "overall": "great"}))
    view = read_view(path.parent, "web2")
    assert view.report is None and view.error is not None
    assert view.error.startswith(f"web2-{TOKEN}.json is not a verify report — overall:")
    assert read_view(path.parent, "docs").error == "no verify report for docs yet"


async def test_the_merge_decision_shows_the_lanes_verify_report(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_merge_decision(project)
    write_report(project, "web2", REPORT)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shown = text(app, "#verify-report")
        lines = shown.splitlines()
        assert lines[0] == f"latest verify report of web2: CONCERNS · web2-{TOKEN}.json"
        assert "gate: passed · make check, exit 0" in lines
        assert "  code-review: pass — small and clear" in lines
        assert "  silent-failure: concerns — one swallowed error" in lines
        assert "  adversarial: pass — no hostile input path" in lines
        assert "findings (1):" in lines
        assert "  medium: retry hides a timeout [silent-failure]" in lines
        detail = next(line for line in lines if line.startswith("      src/cart.py:41"))
        assert detail.endswith("…") and len(detail.strip()) == 100  # cut in the decision view
        assert " 2 files changed, 12 insertions(+), 4 deletions(-)" in lines
        # the action table is focused on the decision tab: enter opens the report whole
        app.action_tab("decision")
        actions = app.query_one("#actions", KeyedTable)
        actions.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        assert app.screen.title_text == f"verify report of web2 — web2-{TOKEN}.json"
        assert LONG_DETAIL.rstrip() in app.screen.text
        assert "gate output (last 1 line(s)):\n  2 passed in 0.01s" in app.screen.text
        # on another action of the decision, the view (and v) still show the merge's lane
        await pilot.press("escape")
        actions.move_cursor(row=1)
        await pilot.pause()
        assert text(app, "#verify-report").startswith("latest verify report of web2: CONCERNS")
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen) and app.screen.title_text.startswith(
            "verify report of web2"
        )


async def test_without_a_verify_kind_action_the_report_is_not_shown(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    from deck_fakes import write_pending_decision

    write_pending_decision(project)
    write_report(project, "web2", REPORT)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not app.query_one("#verify-scroll").display
        assert text(app, "#verify-report") == ""


async def test_a_merge_without_a_report_says_so(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_merge_decision(project)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert text(app, "#verify-report").startswith(
            "latest verify report of web2: no verify report for web2 yet"
        )


async def test_approving_the_merge_is_the_approve_path_and_its_confirm_shows_the_verdict(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    path = write_merge_decision(project)
    write_report(project, "web2", REPORT)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert (
            f"verify: CONCERNS · gate passed · 1 finding(s) · tip bbbbbbbbbb · web2-{TOKEN}.json"
            in app.screen.detail
        )
        await pilot.press("y")
        await settle(app, pilot)
        assert runner.commands[-1].argv == (
            ENGINE,
            "--project-root",
            str(project),
            "--session",
            SESSION,
            "approve",
            "d-20261124-0001",
            "--expect-digest",
            digest,
        )


async def test_v_shows_the_selected_lanes_latest_report_and_the_lane_detail_names_it(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    write_report(project, "web2", {**REPORT, "overall": "fail"}, token="1" * 16, age=60)
    write_report(project, "web2", REPORT, token="2" * 16, age=5)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fleet_table = app.query_one("#fleet", KeyedTable)
        fleet_table.focus()
        fleet_table.move_cursor(row=fleet_table.keys.index("web2"))
        await pilot.pause()
        assert text(app, "#lane-info").splitlines()[-1] == (
            "verify: CONCERNS · gate passed · 1 finding(s) · tip bbbbbbbbbb · "
            f"web2-{'2' * 16}.json (v: the report)"
        )
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        assert app.screen.title_text == f"verify report of web2 — web2-{'2' * 16}.json"
        await pilot.press("escape")
        fleet_table.move_cursor(row=fleet_table.keys.index("web"))
        await pilot.pause()
        await pilot.press("v")
        await settle(app, pilot)
        assert not isinstance(app.screen, MessageScreen)
        assert any("no verify report for web yet" in str(n.message) for n in app._notifications)


async def test_v_on_a_worktree_loop_without_a_pane(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    state_file = project / ".loop" / "orchestrator-state.json"
    state = json.loads(state_file.read_text())
    state["loops"]["builder"] = {"branch": f"loop/{SESSION}/builder"}
    state_file.write_text(json.dumps(state))
    write_report(project, "builder", REPORT)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        loops = app.query_one("#loops", KeyedTable)
        loops.focus()
        loops.move_cursor(row=loops.keys.index("builder"))
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        assert app.screen.title_text == f"verify report of builder — builder-{TOKEN}.json"


async def test_agent_text_in_a_report_is_shown_as_data(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    hostile = "\x1b[2J\x1b]0;pwned\x07 [bold]x[/] \x9b31m"
    report = json.loads(json.dumps(REPORT))
    report["findings"][0]["title"] = "fake\nfindings (0):" + hostile
    report["findings"][0]["detail"] = "line one\n" + hostile
    report["lenses"][0]["summary"] = hostile
    write_merge_decision(project)
    write_report(project, "web2", report)
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shown = text(app, "#verify-report")
        assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown
        assert "  medium: fake␊findings (0):␛[2J␛]0;pwned␇ [bold]x[/] \\x9b31m [silent-failure]" in shown
        assert "findings (0):" not in shown.splitlines()  # a newline in a title never fakes a line
        app.action_tab("decision")  # focuses the actions: v shows the selected merge's lane's report
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        body = app.screen.text
        assert "\x1b" not in body and "\x9b" not in body
        assert "      line one\n      ␛[2J" in body
