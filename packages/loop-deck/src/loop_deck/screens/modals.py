"""Modal screens. Each returns its answer through dismiss(); None or False always means "cancelled"."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Select, Sparkline, TextArea

from loop_deck.cost import COST_COLUMNS, CostRow, Series, spark_caption, spark_data
from loop_deck.roster import ROSTER_COLUMNS, RosterRow
from loop_deck.widgets.plain import PlainStatic

WINDOW_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]+$")
# lane names of the two-pane base windows: loop-lane-status and loop-dispatch resolve them to a pane
PANE_LANES = frozenset({"validate-left", "validate-right", "ops-top", "ops-bottom"})


class ConfirmScreen(ModalScreen[bool]):
    """y confirms; n, N or escape cancels. Nothing else answers, so a stray key never confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,N,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str, detail: str = "", command: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.command = command

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield PlainStatic(self.question, id="question", classes="title")
            if self.detail:
                with VerticalScroll(classes="detail-box"):
                    yield PlainStatic(self.detail, id="detail")
            if self.command:
                yield PlainStatic(f"runs: {self.command}", id="will-run", classes="will-run")
            yield Label("[b]y[/b] yes    [b]n[/b] / escape: no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TypedConfirmScreen(ModalScreen[bool]):
    """Confirms only when exactly `expected` is typed (base-lane drops, ADR accepts); escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, expected: str, detail: str = "", command: str = "") -> None:
        super().__init__()
        self.question = question
        self.expected = expected
        self.detail = detail
        self.command = command

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield PlainStatic(self.question, classes="title")
            if self.detail:
                yield PlainStatic(self.detail, id="detail")
            if self.command:
                yield PlainStatic(f"runs: {self.command}", id="will-run", classes="will-run")
            yield PlainStatic(f"Type {self.expected!r} and press enter to confirm; escape cancels.")
            yield Input(id="typed", placeholder=self.expected)

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.notify(f"typed text does not match {self.expected!r}: nothing done", severity="warning")
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)


@dataclass(frozen=True)
class TextRequest:
    text: str
    mode: Literal["text", "command"] = "text"


class TextPromptScreen(ModalScreen["TextRequest | None"]):
    """Multi-line text for steer / dispatch. ctrl+s sends, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "send", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, title: str, *, allow_command_mode: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.allow_command_mode = allow_command_mode

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield PlainStatic(self.title_text, classes="title")
            yield TextArea(id="text", soft_wrap=True)
            if self.allow_command_mode:
                yield Checkbox("send as a shell command (--mode command)", id="command-mode")
            yield Label("[b]ctrl+s[/b] send    [b]escape[/b] cancel")

    def on_mount(self) -> None:
        self.query_one("#text", TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one("#text", TextArea).text
        if not text.strip():
            self.notify("nothing to send", severity="warning")
            return
        mode: Literal["text", "command"] = "text"
        if self.allow_command_mode and self.query_one("#command-mode", Checkbox).value:
            mode = "command"
        self.dismiss(TextRequest(text, mode))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RejectScreen(ModalScreen["str | None"]):
    """Reject the pending decision: an optional reason, enter confirms, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, decision_id: str, detail: str) -> None:
        super().__init__()
        self.decision_id = decision_id
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield PlainStatic(f"Reject decision {self.decision_id}? Nothing of it will run.", classes="title")
            with VerticalScroll(classes="detail-box"):
                yield PlainStatic(self.detail, id="detail")
            yield Label("Reason (recorded for the engine; optional). [b]enter[/b] rejects, escape cancels.")
            yield Input(id="reason", placeholder="why not")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class AddLaneRequest:
    window: str
    harness: str
    cmd: str
    model: str
    role: str
    worktree: bool
    auto_approve: bool


class AddLaneScreen(ModalScreen["AddLaneRequest | None"]):
    """The add-lane form: a window name and a harness (or a raw command), model, role, options."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, harnesses: list[str], taken: set[str]) -> None:
        super().__init__()
        self.harnesses = harnesses
        self.taken = taken

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield PlainStatic("Add a lane (runs loop-tmux add-lane)", classes="title")
            yield Input(placeholder="window name, e.g. web2", id="window")
            yield Select([(h, h) for h in self.harnesses], prompt="harness", id="harness", allow_blank=True)
            yield Input(placeholder="or a command instead of a harness (runs as typed in the pane)", id="cmd")
            yield Input(placeholder="model (optional)", id="model")
            yield Input(placeholder="role (optional)", id="role")
            with Horizontal(classes="options"):
                yield Checkbox("own git worktree", id="worktree")
                yield Checkbox("auto-approve", id="auto-approve")
            with Horizontal(classes="buttons"):
                yield Button("add", id="add", variant="primary")
                yield Button("cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#window", Input).focus()

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        window = self._value("window")
        selected = self.query_one("#harness", Select).value
        harness = selected if isinstance(selected, str) else ""
        cmd = self._value("cmd")
        if not WINDOW_RE.match(window):
            self.notify(
                "window: letters, digits, '_' or '-', starting with a letter (2+ chars)", severity="warning"
            )
            return
        if window in self.taken:
            self.notify(f"a lane named {window} already exists", severity="warning")
            return
        if window in PANE_LANES:
            # loop-tmux refuses these (usage error): the name already addresses a pane of a base window
            self.notify(
                f"{window} names a pane of a base window (validate, ops): choose another name",
                severity="warning",
            )
            return
        if bool(harness) == bool(cmd):
            self.notify("choose a harness or type a command (exactly one)", severity="warning")
            return
        self.dismiss(
            AddLaneRequest(
                window=window,
                harness=harness,
                cmd=cmd,
                model=self._value("model"),
                role=self._value("role"),
                worktree=self.query_one("#worktree", Checkbox).value,
                auto_approve=self.query_one("#auto-approve", Checkbox).value,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


class MessageScreen(ModalScreen[None]):
    """A mailbox message, shown as text (never rendered as markup)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall"):
            yield PlainStatic(self.title_text, classes="title")
            with VerticalScroll(id="message-scroll"):
                yield PlainStatic(self.text, id="message-body")
            yield Label("[b]escape[/b] close")

    def action_close(self) -> None:
        self.dismiss(None)


class SessionsScreen(ModalScreen[str]):
    """Every loop session under the project, one overview row each; enter switches the deck to it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "close")]

    def __init__(self, current: str, rows: Sequence[tuple[str, Sequence[str]]]) -> None:
        super().__init__()
        self.current = current
        self.rows = rows

    def compose(self) -> ComposeResult:
        from loop_deck.widgets.keyed_table import KeyedTable

        with Vertical(classes="dialog wide"):
            yield PlainStatic(f"Loop sessions (this deck: {self.current})", classes="title")
            if self.rows:
                table = KeyedTable(("session", "engine", "decision", "lanes", "in review"), id="sessions")
                table.set_rows(self.rows)
                yield table
            else:
                yield PlainStatic("no loops found (nothing under <project-root>/.loop/sessions/)")
            yield Label("[b]enter[/b] switch to it    [b]escape[/b] close")

    def on_mount(self) -> None:
        from loop_deck.widgets.keyed_table import KeyedTable

        for table in self.query(KeyedTable):
            keys = table.keys
            if self.current in keys:
                table.move_cursor(row=keys.index(self.current), animate=False)
            table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        event.stop()
        self.dismiss(str(key) if key is not None else None)

    def action_close(self) -> None:
        self.dismiss(None)


class RosterScreen(ModalScreen[None]):
    """The harness roster (harness-registry.sh roster): present or missing, governance fields, and the
    health word last asked for. Health runs a probe, so it is asked only on a key: h for the selected
    harness, H for every present one (the deck asks in the background and fills the column in)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "close"),
        Binding("h", "health", "health"),
        Binding("H", "health_all", "health of all"),
    ]

    def __init__(self, rows: Sequence[RosterRow], ask: Callable[[list[str]], None]) -> None:
        super().__init__()
        self.rows = list(rows)
        self.ask = ask

    def compose(self) -> ComposeResult:
        from loop_deck.widgets.keyed_table import KeyedTable

        with Vertical(classes="dialog wide"):
            yield PlainStatic("Harness roster (harness-registry.sh roster)", classes="title")
            yield KeyedTable(ROSTER_COLUMNS, id="roster")
            yield Label(
                "[b]h[/b] health of the selected harness    [b]H[/b] of every present one"
                "    [b]escape[/b] close"
            )

    def on_mount(self) -> None:
        self.set_rows(self.rows)
        self.query_one("#roster").focus()

    def set_rows(self, rows: Sequence[RosterRow]) -> None:
        from loop_deck.widgets.keyed_table import KeyedTable

        self.rows = list(rows)
        self.query_one("#roster", KeyedTable).set_rows([(r.name, r.cells()) for r in self.rows])

    def action_health(self) -> None:
        from loop_deck.widgets.keyed_table import KeyedTable

        key = self.query_one("#roster", KeyedTable).selected_key()
        if key:
            self.ask([key])

    def action_health_all(self) -> None:
        self.ask([r.name for r in self.rows if r.present])

    def action_close(self) -> None:
        self.dismiss(None)


class CostScreen(ModalScreen[None]):
    """Cost and autonomy per loop session (loop-metrics --all --json): the 7-day autonomy ratio, brain
    cost (n/a when unknown, never 0), interventions, and the selected session's last 7 days as a
    sparkline of cost or, after v, of autonomy."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "close"),
        Binding("v", "toggle_series", "cost / autonomy"),
    ]

    def __init__(self, rows: Sequence[CostRow], current: str, partial: str = "") -> None:
        super().__init__()
        self.rows = list(rows)
        self.current = current
        self.partial = partial
        self.which: Series = "cost"

    def compose(self) -> ComposeResult:
        from loop_deck.widgets.keyed_table import KeyedTable

        with Vertical(classes="dialog wide"):
            yield PlainStatic("Cost and autonomy, last 7 days (loop-metrics --all --json)", classes="title")
            if self.rows:
                table = KeyedTable(COST_COLUMNS, id="cost")
                table.set_rows([(r.session, r.cells()) for r in self.rows])
                yield table
                yield Sparkline([], id="cost-spark")
                yield PlainStatic("", id="cost-caption")
            else:
                yield PlainStatic("no loops found (nothing under <project-root>/.loop/sessions/)")
            if self.partial:
                yield PlainStatic(self.partial, id="cost-partial")
            yield Label("[b]v[/b] cost / autonomy    [b]escape[/b] close")

    def on_mount(self) -> None:
        from loop_deck.widgets.keyed_table import KeyedTable

        for table in self.query(KeyedTable):
            keys = table.keys
            if self.current in keys:
                table.move_cursor(row=keys.index(self.current), animate=False)
            table.focus()
        self.show_series()

    def selected(self) -> CostRow | None:
        from loop_deck.widgets.keyed_table import KeyedTable

        tables = list(self.query(KeyedTable))
        key = tables[0].selected_key() if tables else None
        return next((r for r in self.rows if r.session == key), self.rows[0] if self.rows else None)

    def show_series(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.query_one("#cost-spark", Sparkline).data = spark_data(row.series(self.which))
        self.query_one("#cost-caption", PlainStatic).update(spark_caption(row, self.which))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show_series()

    def action_toggle_series(self) -> None:
        self.which = "autonomy" if self.which == "cost" else "cost"
        self.show_series()

    def action_close(self) -> None:
        self.dismiss(None)


HELP = """\
loop-deck: every action runs the CLI a human would, and the bottom line shows the exact command.

  s  steer the selected lane        loop-dispatch --mode text --interrupt LANE -
  d  dispatch to the selected lane  loop-dispatch --mode text|command LANE -
  n  add a lane                     loop-tmux add-lane …
  x  drop the selected lane         loop-tmux drop-lane … (a base lane: type its name, --force)
  g  jump to the lane in tmux       tmux switch-client -t TARGET
  c  run a checkpoint               loop-engine cycle-now | once; without the engine,
                                    loop-checkpoint --dispatch coord
  p  pause / resume the engine      loop-engine pause | resume
  y  approve the pending decision   loop-engine approve ID   (asks first)
  N  reject it                      loop-engine reject ID --reason …   (asks first)
  a  accept the selected ADR        loop-adr accept N --yes   (type 'accept N'; the gate still runs)
  D  mark the selected task done    loop-task --project-root P done ID   (asks first)
  O  reopen a done/dropped task     loop-task --project-root P reopen ID   (asks first)
  X  drop the selected task         loop-task --project-root P drop ID   (asks first)
  S  switch loop session            a row per session: engine, decision, lanes, review
  H  harness roster                 harness-registry.sh roster; h / H there: health (runs the probe)
  v  latest verify report           of the selected lane, worktree loop or verify/build/merge action
                                    (.loop/sessions/S/verify/; read only)
  $  cost and autonomy              loop-metrics --all --json: per loop, 7-day sparkline (read only)

  o decision   t tasks   m mail   r ADRs   l lane detail + live tail   b brain transcript
  enter  open the selected message / the review's report / show the selected lane
  tab    move between the tables   ?  this help   q  quit

The deck writes no file of the project; its one file is deck-crash.log in the session's state dir.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield PlainStatic(HELP, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
