"""Untrusted text is data: mail, the state file, CLI output and transcripts never style or drive the screen.

Found driving the deck in tmux: a mail subject `"\\e[2J\\e]0;pwned\\a"` cleared the terminal and renamed its
title (Textual writes an ESC inside a cell straight to the terminal), and an objective or CLI error holding
`[/nope]` crashed the deck with a MarkupError (the LOOPS title and the notifications read markup).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deck_fakes import SESSION, RecordingRunner, StubSubstrate, build, settle
from loop_deck.screens import MessageScreen
from loop_deck.widgets import KeyedTable, printable
from textual.geometry import Region
from textual.widget import Widget

pytestmark = pytest.mark.anyio
SIZE = (160, 40)
HOSTILE = (
    "\x1b[2J\x1b]0;pwned\x07 \x9b31m [bold red]BOLD[/bold red] [link=https://evil.example]x[/link] [/nope]"
)
SHOWN = "␛[2J␛]0;pwned␇ \\x9b31m [bold red]BOLD[/bold red] [link=https://evil.example]x[/link] [/nope]"


def shown(widget: Widget) -> str:
    """What the terminal receives for a widget: every screen row it renders, joined."""
    strips = widget.render_lines(Region(0, 0, widget.outer_size.width, widget.outer_size.height))
    return "\n".join(strip.text for strip in strips)


def no_control_bytes(text: str) -> bool:
    return not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in text)


def hostile_project(project: Path) -> None:
    state_file = project / ".loop" / "orchestrator-state.json"
    state = json.loads(state_file.read_text())
    state["objective"] = "[/nope] ship [bold]it[/] \x1b[31m"
    state_file.write_text(json.dumps(state))
    (project / ".loop" / "messages" / "20261124-120000-web-to-coord.md").write_text(
        '---\nsubject: "\\e[2J\\e]0;pwned\\a \\x9b31m [bold red]BOLD[/bold red] '
        '[link=https://evil.example]x[/link] [/nope]"\n---\nbody \x1b[5mblink [b]x[/b]\n'
    )
    transcripts = project / ".loop" / "sessions" / SESSION / "engine" / "transcripts"
    transcripts.mkdir(parents=True)
    (transcripts / "b-20261124-0001.log").write_text(f"brain said {HOSTILE}\n")


def test_printable_keeps_text_and_shows_every_control_character() -> None:
    assert printable(HOSTILE, multiline=False) == SHOWN
    assert printable("a\r\nb\tc\rd") == "a\nb\tc␍d"
    assert printable("a\nb", multiline=False) == "a␊b"
    assert printable("naïve ✓ 日本") == "naïve ✓ 日本"


async def test_hostile_mail_objective_and_transcript_are_shown_as_text(
    project: Path, fleet: StubSubstrate, runner: RecordingRunner
) -> None:
    hostile_project(project)
    fleet.tails["web"] = f"pane {HOSTILE}"
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        title = shown(app.query_one("#loops-title", Widget))
        assert "objective: [/nope] ship [bold]it[/] ␛[31m" in title, title
        await pilot.press("m")
        await settle(app, pilot)
        mailbox = app.query_one("#mailbox", KeyedTable)
        key = "n:20261124-120000-web-to-coord.md"
        assert mailbox.row(key)[-1] == HOSTILE  # the data is kept as written...
        cells = shown(mailbox)
        assert "␛[2J␛]0;pwned␇" in cells, cells  # ...and shown with its escapes made visible
        assert no_control_bytes(cells), repr(cells)
        mailbox.move_cursor(row=mailbox.keys.index(key))
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        body = shown(app.screen.query_one("#message-body", Widget))
        assert "body ␛[5mblink [b]x[/b]" in body, body
        assert no_control_bytes(body), repr(body)
        await pilot.press("escape", "b")
        await settle(app, pilot)
        brain = shown(app.query_one("#brain-log", Widget))
        assert "brain said ␛[2J" in brain, brain
        assert no_control_bytes(brain), repr(brain)
        fleet_table = app.query_one("#fleet", KeyedTable)
        fleet_table.move_cursor(row=fleet_table.keys.index("web"))
        await pilot.press("l")
        await settle(app, pilot)
        tail = shown(app.query_one("#lane-tail", Widget))
        assert "pane ␛[2J" in tail, tail
        assert no_control_bytes(tail), repr(tail)
    assert app.crash_log is None


async def test_cli_output_with_markup_is_a_plain_notification(project: Path, fleet: StubSubstrate) -> None:
    # loop-tmux echoes what was typed (a model, a role): `[/x]` in its stderr crashed the toast
    runner = RecordingRunner(returncode=2, stdout="", stderr="loop-tmux: unknown model '[/x] [b]m\x1b[2J'\n")
    app = build(project, fleet, runner)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert len(runner.commands) == 1
        messages = [n.message for n in app._notifications]
        assert "exit 2: loop-tmux: unknown model '[/x] [b]m␛[2J'" in messages, messages
    assert app.crash_log is None
