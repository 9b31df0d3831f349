"""The flight deck: a live view of one loop session that changes nothing except by running CLIs.

IO happens in two kinds of worker threads: one refresh loop (a Reader collecting Snapshots, the lane
tail and the brain transcript) and one thread per CLI the deck runs. They post messages; the UI thread
applies them to the widgets by diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from loop_schemas import append_line, describe_error, open_project_file, read_project_text
from loop_schemas.fsread import DOC_CAP
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Log, Static, TabbedContent, TabPane

from loop_deck import screens
from loop_deck.commands import (
    Command,
    CommandBuilder,
    CommandResult,
    EngineMissingError,
    Runner,
    client_socket,
    run_command,
    same_server,
)
from loop_deck.core import (
    BASE_WINDOWS,
    VERIFY_KINDS,
    Clock,
    DeckPaths,
    ReaderPlan,
    collapse_frames,
    find_engine,
    one_line,
)
from loop_deck.cost import cost_rows
from loop_deck.messages import CommandFinished, SnapshotReady, TailReady
from loop_deck.roster import HealthCache, roster_rows
from loop_deck.widgets import KeyedTable, PlainLog, PlainStatic, printable

if TYPE_CHECKING:
    # The Reader and the snapshot rows come with pydantic and the schema models: the deck paints its
    # layout without them, and its refresh worker imports them after the first paint (ReaderPlan).
    from loop_deck.screens import AddLaneRequest, RosterScreen, TextRequest
    from loop_deck.snapshot import ActionRow, FleetRow, Reader, Snapshot, SubstrateLike
    from loop_deck.verify import VerifyView

TAIL_LINES = 200
TRANSCRIPT_BYTES = 64 * 1024
TABS = {
    "decision": "decision",
    "tasks": "tasks",
    "mail": "mail",
    "adrs": "adrs",
    "lane": "lane",
    "brain": "brain",
}
TASK_VERBS: dict[str, tuple[str, str]] = {
    # verb: (the statuses the deck offers it for, what the confirm says it does)
    "done": ("open in-progress review", "marks it done and moves it to tasks/archive/"),
    "drop": ("open in-progress review", "marks it dropped and moves it to tasks/archive/"),
    "reopen": ("done dropped", "makes it open again and moves it back to tasks/"),
}
# Actions that open a dialog or run a CLI: only from the main screen, never under a dialog.
DECK_ACTIONS = frozenset(
    {
        "steer",
        "dispatch",
        "add_lane",
        "drop_lane",
        "jump",
        "checkpoint",
        "pause_resume",
        "approve",
        "reject",
        "accept_adr",
        "task_done",
        "task_reopen",
        "task_drop",
        "sessions",
        "roster",
        "verify_report",
        "tab",
        "help",
    }
)


# The deck's actions in the command palette (ctrl+p), each run exactly as its key would run it.
PALETTE_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Steer lane", "steer", "s: interrupt the selected lane and send it text (loop-dispatch --interrupt)"),
    ("Dispatch to lane", "dispatch", "d: send text or a shell command to the selected lane (loop-dispatch)"),
    ("Add lane", "add_lane", "n: loop-tmux add-lane"),
    ("Drop lane", "drop_lane", "x: loop-tmux drop-lane for the selected lane (asks)"),
    ("Jump to lane", "jump", "g: show the selected lane's pane in tmux"),
    ("Run checkpoint", "checkpoint", "c: loop-engine cycle-now | once, or loop-checkpoint (asks)"),
    ("Pause / resume engine", "pause_resume", "p: loop-engine pause | resume"),
    ("Approve decision", "approve", "y: loop-engine approve ID (asks)"),
    ("Reject decision", "reject", "N: loop-engine reject ID (asks)"),
    ("Accept ADR", "accept_adr", "a: loop-adr accept N --yes (type 'accept N'; the gate still runs)"),
    ("Mark task done", "task_done", "D: loop-task done ID for the selected task (asks)"),
    ("Reopen task", "task_reopen", "O: loop-task reopen ID for the selected task (asks)"),
    ("Drop task", "task_drop", "X: loop-task drop ID for the selected task (asks)"),
    ("Switch loop session", "sessions", "S: every loop session under this project, one row each"),
    ("Harness roster", "roster", "H: harnesses present or missing, their governance and, on demand, health"),
    ("Verify report", "verify_report", "v: the latest verify report of the selected lane, action or loop"),
    ("Show decision", "tab('decision')", "o: the pending decision"),
    ("Show tasks", "tab('tasks')", "t: the task board and the review queue"),
    ("Show mail", "tab('mail')", "m: the mailbox"),
    ("Show ADRs", "tab('adrs')", "r: the ADR ledger"),
    ("Show lane detail", "tab('lane')", "l: the selected lane with its live pane tail"),
    ("Show brain transcript", "tab('brain')", "b: the brain's live transcript"),
    ("Help", "help", "?: the keys and the command each one runs"),
)
# Textual's own palette entries the deck does not offer: Screenshot writes an SVG file, and the deck
# writes no file but its crash log.
PALETTE_HIDDEN = frozenset({"Screenshot"})


class DeckApp(App[None]):
    TITLE = "loop-deck"
    CSS_PATH = "deck.tcss"
    # The footer shows the keys in this order and cuts what does not fit: the gate's keys, help and quit
    # first, so they stay visible at 80 columns; every key is in the help (?).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "approve"),
        Binding("N", "reject", "reject"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
        Binding("s", "steer", "steer"),
        Binding("d", "dispatch", "dispatch"),
        Binding("g", "jump", "jump"),
        Binding("c", "checkpoint", "checkpoint"),
        Binding("p", "pause_resume", "pause"),
        Binding("n", "add_lane", "add"),
        Binding("x", "drop_lane", "drop"),
        Binding("a", "accept_adr", "accept ADR", show=False),
        Binding("D", "task_done", "task done", show=False),
        Binding("O", "task_reopen", "reopen task", show=False),
        Binding("X", "task_drop", "drop task", show=False),
        Binding("S", "sessions", "sessions", show=False),
        Binding("H", "roster", "roster", show=False),
        Binding("dollar_sign", "cost", "cost", show=False),
        Binding("v", "verify_report", "verify report", show=False),
        Binding("o", "tab('decision')", "decision", show=False),
        Binding("t", "tab('tasks')", "tasks"),
        Binding("m", "tab('mail')", "mail", show=False),
        Binding("r", "tab('adrs')", "ADRs", show=False),
        Binding("l", "tab('lane')", "lane", show=False),
        Binding("b", "tab('brain')", "brain"),
    ]
    NARROW = 120  # below this many columns the layout tightens (class `narrow` on #main)

    def __init__(
        self,
        reader: Reader | ReaderPlan,
        builder: CommandBuilder,
        *,
        runner: Runner = run_command,
        interval: float = 1.0,
        auto_refresh: bool = True,
        self_pane: str | None = None,
        harnesses: list[str] | None = None,
        substrate_for: Callable[[str], SubstrateLike] | None = None,
    ) -> None:
        super().__init__()
        # a ReaderPlan builds the Reader off the UI thread, after the first paint (see `reader`)
        self._reader: Reader | None = None if isinstance(reader, ReaderPlan) else reader
        self._reader_plan = reader if isinstance(reader, ReaderPlan) else None
        self._reader_lock = threading.Lock()
        self.paths = reader.paths
        self.builder = builder
        self.runner = runner
        self.refresh_interval = interval
        self.live_refresh = auto_refresh
        self.self_pane = self_pane
        self._harnesses = harnesses
        self.substrate_for = substrate_for
        self.snapshot: Snapshot | None = None
        self.last_result: CommandResult | None = None
        self.commands_run: list[Command] = []
        self.health = HealthCache()  # harness health words, asked only from the roster view
        self._roster_screen: RosterScreen | None = None
        self.crash_log: Path | None = None
        self._crash_line: str | None = None
        self._exiting = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        # read by the refresh thread: plain values, set on the UI thread
        self._active_tab = "decision"
        self._tail_lane: str | None = None
        self._tail_text: str | None = None
        self._transcript_pos: tuple[Path, int] | None = None
        self._task_table = "review-queue"  # the task table D / O / X act on (the last one focused)

    @property
    def reader(self) -> Reader:
        """The session's Reader: built on first use when the deck was given a ReaderPlan (by the refresh
        worker after the first paint, unless an action needs it sooner)."""
        if self._reader is None:
            with self._reader_lock:
                if self._reader is None:
                    assert self._reader_plan is not None
                    self._reader = self._reader_plan.build()
        return self._reader

    @reader.setter
    def reader(self, reader: Reader) -> None:
        self._reader = reader

    @property
    def harnesses(self) -> list[str]:
        """The harness names the add-lane form offers (the registry's order unless given)."""
        if self._harnesses is None:
            from loop_deck.snapshot import harness_names

            self._harnesses = harness_names()
        return self._harnesses

    # ---- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield PlainStatic("reading the session…", id="banner")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Label("FLEET", id="fleet-title", classes="section", markup=False)
                # the status first after the lane: at 80 columns what is cut is the harness and role
                yield KeyedTable(("lane", "status", "activity", "restarts", "harness", "role"), id="fleet")
                yield Label("LOOPS", id="loops-title", classes="section", markup=False)
                yield KeyedTable(("loop", "name", "status", "branch", "canary"), id="loops")
                yield PlainStatic("", id="loops-hint")
            with TabbedContent(id="right", initial="decision"):
                with TabPane("decision (o)", id="decision"):
                    yield PlainStatic("no pending decision", id="decision-head")
                    yield PlainStatic("", id="critique")
                    yield KeyedTable(("#", "kind", "target", "gate", "state", "what"), id="actions")
                    yield PlainStatic("", id="action-detail")
                    with VerticalScroll(id="verify-scroll"):
                        yield PlainStatic("", id="verify-report")
                with TabPane("tasks (t)", id="tasks"):
                    yield PlainStatic("no tasks/ folder in this project", id="tasks-head")
                    yield Label(
                        "REVIEW QUEUE · enter: its report · D done · O reopen · X drop", classes="section"
                    )
                    yield KeyedTable(("id", "title", "jira", "report"), id="review-queue")
                    yield Label("TASKS", classes="section")
                    yield KeyedTable(("id", "status", "lane", "age", "waits on", "title"), id="tasks-table")
                with TabPane("mail (m)", id="mail"):
                    yield KeyedTable(("", "when", "from", "to", "subject"), id="mailbox")
                with TabPane("ADRs (r)", id="adrs"):
                    yield KeyedTable(("id", "status", "accept gate", "title"), id="adr-table")
                    yield PlainStatic("", id="adr-detail")
                with TabPane("lane (l)", id="lane"):
                    yield PlainStatic("select a lane in the fleet table", id="lane-info")
                    yield PlainLog(id="lane-tail", max_lines=2000)
                with TabPane("brain (b)", id="brain"):
                    yield PlainStatic("no brain transcript yet", id="brain-info")
                    yield PlainLog(id="brain-log", max_lines=5000)
        yield PlainStatic("no command run yet", id="cmdlog")
        yield Footer(compact=True)

    def on_resize(self) -> None:
        self.query_one("#main").set_class(self.size.width < self.NARROW, "narrow")

    def on_mount(self) -> None:
        self.query_one("#main").set_class(self.size.width < self.NARROW, "narrow")
        self.sub_title = f"{self.paths.session} · {self.paths.project_root.name}"
        self.query_one("#fleet", KeyedTable).focus()
        # the first read starts once the layout is on screen: building the Reader imports the schema
        # models, and a worker doing that while the layout renders would slow the first paint down
        if self.live_refresh:
            self.call_after_refresh(self._refresh_loop)
        else:
            self.refresh_now()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # once quitting, keys typed after q (read in the same burst) must not open a dialog on a closing
        # app: its on_mount would find no widgets and the deck would "crash" on the way out
        return not (action in DECK_ACTIONS and (self._exiting or len(self.screen_stack) > 1))

    def exit(self, result: None = None, return_code: int = 0, message: Any = None) -> None:
        self._exiting = True
        super().exit(result, return_code, message)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text: it quotes lane names, typed text and CLI output, which are
        data (a `[/x]` in a window name must neither style the toast nor raise a MarkupError)."""
        super().notify(
            printable(message), title=printable(title), severity=severity, timeout=timeout, markup=False
        )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette: the deck's actions (through run_action, so the same checks apply as for a key)
        and Textual's own entries but Screenshot (the deck writes no file)."""
        for title, action, help_text in PALETTE_ACTIONS:
            yield SystemCommand(title, help_text, _action_runner(self, action))
        for command in super().get_system_commands(screen):
            if command.title not in PALETTE_HIDDEN:
                yield command

    # ---- crash handling: the deck's one write ---------------------------------------------------
    def _handle_exception(self, error: Exception) -> None:
        try:
            self.crash_log = record_crash(self.paths, error)
            where = f"details in {self.crash_log}"
        except OSError as exc:
            where = f"and the crash log could not be written: {exc.strerror}"
        self._crash_line = f"loop-deck: crashed: {describe_error(error)} ({where})"
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self._crash_line is not None:
            self._exit_renderables.clear()
            self.error_console.print(self._crash_line, markup=False, highlight=False, soft_wrap=True)
            return
        super()._print_error_renderables()

    # ---- the refresh worker ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="refresh", exit_on_error=True)
    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._tick()
            self._wake.wait(max(0.05, self.refresh_interval - (time.monotonic() - started)))
            self._wake.clear()

    @work(thread=True, exclusive=True, group="refresh-once", exit_on_error=True)
    def _refresh_once(self) -> None:
        self._tick()

    def refresh_now(self) -> None:
        """Read the session again now (wakes the refresh loop, or runs one read when there is none)."""
        if self.live_refresh:
            self._wake.set()
        else:
            self._refresh_once()

    def _tick(self) -> None:
        snap = self.reader.collect()
        self.post_message(SnapshotReady(snap))
        if self._active_tab == "lane":
            self._read_lane_tail()
        elif self._active_tab == "brain":
            self._read_transcript(snap.transcript)

    def _read_lane_tail(self) -> None:
        lane = self._tail_lane
        if lane is None:
            return
        try:
            text = self.reader.substrate.capture(lane, TAIL_LINES)
        except Exception as exc:  # a lane that just went away: say so in the panel
            text = f"(cannot capture {lane}: {one_line(exc)})"
        text = collapse_frames(text.rstrip("\n"))
        if text != self._tail_text:
            self._tail_text = text
            self.post_message(TailReady(f"lane:{lane}", text))

    def _read_transcript(self, path: Path | None) -> None:
        if path is None:
            return
        start = 0
        reset = self._transcript_pos is None or self._transcript_pos[0] != path
        if not reset and self._transcript_pos is not None:
            start = self._transcript_pos[1]
        try:
            size = path.stat().st_size
            if size < start:
                start, reset = 0, True
            jumped = size - start > TRANSCRIPT_BYTES
            if jumped:
                start = size - TRANSCRIPT_BYTES
            with open_project_file(path) as fh:
                fh.seek(start)
                chunk = fh.read(size - start)
        except OSError:
            return
        if jumped:  # the cut may land inside a character: start at the next one
            lead = next((i for i, b in enumerate(chunk[:4]) if not 0x80 <= b < 0xC0), 0)
            chunk, start = chunk[lead:], start + lead
        # a brain that is still writing may have flushed half a character: read its rest next time
        chunk = chunk[: utf8_complete(chunk)]
        self._transcript_pos = (path, start + len(chunk))
        if reset or chunk:
            text = chunk.decode("utf-8", errors="replace")
            self.post_message(TailReady("brain-reset:" + path.name if reset else "brain", text))

    def on_unmount(self) -> None:
        self._stop.set()
        self._wake.set()

    # ---- applying a snapshot (by diff) -------------------------------------------------------------
    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        self.snapshot = snap
        self._apply_banner(snap)
        self._apply_fleet(snap)
        loops = self.query_one("#loops", KeyedTable)
        loops.set_rows([(r.loop_id, (r.loop_id, r.name, r.status, r.branch, r.canary)) for r in snap.loops])
        self._apply_loops_hint(snap)
        self._apply_board(snap)
        _set_text(
            self.query_one("#loops-title", Label),
            "LOOPS" + (f" — objective: {snap.objective}" if snap.objective else ""),
        )
        self._apply_decision(snap)
        self.query_one("#mailbox", KeyedTable).set_rows(
            [
                (m.key, ("done" if m.processed else "NEW", m.when, m.sender, m.recipient, m.subject))
                for m in snap.mail
            ]
        )
        self.query_one("#adr-table", KeyedTable).set_rows(
            [(str(a.number), (f"{a.number:04d}", a.status, a.verdict, a.title)) for a in snap.adrs]
        )
        self._show_adr_detail()
        self._show_lane_info()
        if snap.transcript is not None:
            _set_text(
                self.query_one("#brain-info", Static),
                f"{snap.engine.label}\ntranscript: {snap.transcript.name}",
            )
        else:
            _set_text(self.query_one("#brain-info", Static), f"{snap.engine.label}\nno brain transcript yet")

    def _apply_banner(self, snap: Snapshot) -> None:
        parts = [snap.engine.label]
        parts.append(f"{snap.pending_mail} pending mail")
        if snap.decision is not None:
            parts.append(f"decision {snap.decision.decision_id} waiting: y approve / N reject")
        if snap.board is not None and snap.board.finished:
            parts.append(finished_line(snap))
        banner = self.query_one("#banner", Static)
        _set_text(banner, " · ".join(parts + snap.problems))
        banner.set_class(bool(snap.problems), "error")
        banner.set_class(not snap.problems and not snap.engine.running, "warn")

    def _apply_loops_hint(self, snap: Snapshot) -> None:
        hint = self.query_one("#loops-hint", Static)
        table = self.query_one("#loops", KeyedTable)
        empty = not snap.loops
        table.display = not empty
        hint.display = empty
        if empty:
            why = snap.state_error or "the state file lists no loops yet"
            _set_text(
                hint,
                f"no loops: {why}. The coordinator (or loop-engine) records them in "
                ".loop/orchestrator-state.json; the work itself is in the tasks tab (t).",
            )

    def _apply_board(self, snap: Snapshot) -> None:
        board = snap.board
        head = self.query_one("#tasks-head", Static)
        queue = self.query_one("#review-queue", KeyedTable)
        tasks = self.query_one("#tasks-table", KeyedTable)
        if board is None:
            _set_text(head, "no tasks/ folder in this project")
            queue.set_rows([])
            tasks.set_rows([])
            return
        counts = " · ".join(f"{n} {status}" for status, n in board.counts().items()) or "no tasks yet"
        lines = [counts]
        if board.finished:
            lines.append(finished_line(snap))
        lines += [f"unreadable: {p}" for p in board.problems[:3]]
        _set_text(head, "\n".join(lines))
        queue.set_rows(
            [
                (t.task_id, (t.task_id, t.title, t.jira or "-", t.report or "none found"))
                for t in board.review_queue
            ]
        )
        tasks.set_rows(
            [
                (
                    t.task_id,
                    (
                        t.task_id,
                        t.status
                        + (" (archived)" if t.archived and t.status not in ("done", "dropped") else ""),
                        t.lane or "-",
                        t.age or "-",
                        ", ".join(t.waits_on) if t.waits_on and t.status == "open" else "-",
                        t.title,
                    ),
                )
                for t in board.tasks
            ]
        )

    def _apply_fleet(self, snap: Snapshot) -> None:
        rows = []
        for r in snap.fleet:
            status = r.status + (f" ({r.detail})" if r.detail and r.detail != r.status else "")
            restarts = str(r.restarts) + (" · gave up" if r.giveups else "")
            marker = " (this deck)" if self.self_pane and r.target == self.self_pane else ""
            harness = r.harness + (" ⛨ sandbox" if r.sandbox else "")
            rows.append((r.lane, (r.lane + marker, status, r.activity, restarts, harness, r.role)))
        self.query_one("#fleet", KeyedTable).set_rows(rows)
        title = f"FLEET — {len(snap.fleet)} lanes" if not snap.fleet_error else f"FLEET — {snap.fleet_error}"
        _set_text(self.query_one("#fleet-title", Label), title)
        self._sync_tail_lane()

    def _apply_decision(self, snap: Snapshot) -> None:
        head = self.query_one("#decision-head", Static)
        critique = self.query_one("#critique", Static)
        table = self.query_one("#actions", KeyedTable)
        d = snap.decision
        if d is None:
            _set_text(head, snap.decision_error or "no pending decision")
            _set_text(critique, "")
            table.set_rows([])
            _set_text(self.query_one("#action-detail", Static), "")
            self._show_decision_verify(None)
            return
        trigger = f" · trigger: {d.trigger}" if d.trigger else ""
        _set_text(
            head,
            f"decision {d.decision_id} · {d.created_at} · mode {d.approval_mode}{trigger}\n"
            "y approve · N reject",
        )
        _set_text(critique, f"critique: {d.critique}")
        table.set_rows(
            [(str(a.index), (str(a.index), a.kind, a.target, a.gate, a.state, a.summary)) for a in d.actions]
        )
        self._show_action_detail()

    def _selected_action(self) -> ActionRow | None:
        if self.snapshot is None or self.snapshot.decision is None:
            return None
        key = self.query_one("#actions", KeyedTable).selected_key()
        return next((a for a in self.snapshot.decision.actions if str(a.index) == key), None)

    def _show_action_detail(self) -> None:
        if self.snapshot is None or self.snapshot.decision is None:
            return
        action = self._selected_action()
        text = ""
        if action is not None:
            text = f"#{action.index} rationale: {action.rationale}"
            if action.task:
                text += f"\nserves {action.task}" + (f" — {action.task_title}" if action.task_title else "")
            if action.reasons:
                text += "\ngate: " + "; ".join(action.reasons)
            text += "".join(f"\n> {line}" for line in action.preview)
        _set_text(self.query_one("#action-detail", Static), text)
        self._show_decision_verify(action)

    def _show_decision_verify(self, selected: ActionRow | None) -> None:
        """Under a decision that builds, verifies or merges a lane: that lane's newest verify report (the
        selected action's lane, else the first such action's), details cut; enter or v shows it whole."""
        scroll = self.query_one("#verify-scroll", VerticalScroll)
        view = self._decision_verify(selected)
        scroll.display = view is not None
        text = ""
        if view is not None:
            from loop_deck.verify import report_lines

            text = (
                "\n".join(report_lines(view, full=False)) + "\n(enter on the action, or v: the whole report)"
            )
        _set_text(self.query_one("#verify-report", Static), text)

    def _decision_verify(self, selected: ActionRow | None) -> VerifyView | None:
        d = self.snapshot.decision if self.snapshot is not None else None
        if d is None or self.snapshot is None:
            return None
        if selected is None or selected.kind not in VERIFY_KINDS:
            selected = next((a for a in d.actions if a.kind in VERIFY_KINDS), None)
        if selected is None:
            return None
        from loop_deck.verify import VerifyView

        return self.snapshot.verify_of(selected.target) or VerifyView(selected.target, error="not read yet")

    def _show_adr_detail(self) -> None:
        adr = self._selected_adr()
        text = ""
        if adr is not None:
            text = f"{adr.file}: " + (
                "the accept gate passes (a: accept)"
                if adr.acceptable
                else "accept would be refused:\n  " + "\n  ".join(adr.problems)
            )
        _set_text(self.query_one("#adr-detail", Static), text)

    def _selected_row(self) -> FleetRow | None:
        if self.snapshot is None:
            return None
        key = self.query_one("#fleet", KeyedTable).selected_key()
        return next((r for r in self.snapshot.fleet if r.lane == key), None)

    def _show_lane_info(self) -> None:
        row = self._selected_row()
        info = self.query_one("#lane-info", Static)
        if row is None:
            _set_text(info, "select a lane in the fleet table")
            return
        detail = f" ({row.detail})" if row.detail and row.detail != row.status else ""
        view = self.snapshot.verify_of(row.window) if self.snapshot is not None else None
        if (
            view is not None
            and not view.file
            and not any(
                r.loop_id == row.window and r.branch for r in (self.snapshot.loops if self.snapshot else ())
            )
        ):
            view = None  # not a worktree lane, and no report: nothing to say
        base = "base window" if row.base else "added lane"
        from loop_deck.verify import headline

        _set_text(
            info,
            (
                f"{row.lane} · window {row.window} ({base}, {row.kind}"
                + (f", {row.lane_kind}" if row.lane_kind else "")
                + f") · pane {row.target}\n"
                f"harness {row.harness or '-'} · model {row.model or '-'} · role {row.role or '-'}\n"
                f"status {row.status}{detail} · restarts {row.restarts}"
                + (" · the watchdog gave up" if row.giveups else "")
                + f" · last activity {row.activity}"
                + (f"\n{headline(view)} (v: the report)" if view is not None else "")
            ),
        )

    def _sync_tail_lane(self) -> None:
        row = self._selected_row()
        lane = row.lane if row is not None else None
        if lane != self._tail_lane:
            self._tail_lane = lane
            self._tail_text = None
            log = self.query_one("#lane-tail", Log)
            log.clear()
            if self._active_tab == "lane":
                self.refresh_now()

    # ---- tails --------------------------------------------------------------------------------------
    def on_tail_ready(self, message: TailReady) -> None:
        if message.source.startswith("lane:"):
            if message.source != f"lane:{self._tail_lane}":
                return
            log = self.query_one("#lane-tail", Log)
            log.clear()
            log.write(message.text)
            return
        log = self.query_one("#brain-log", Log)
        if message.source.startswith("brain-reset:"):
            log.clear()
            log.write(f"── {message.source.split(':', 1)[1]}\n")
        log.write(message.text)

    # ---- events ------------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        if not event.data_table.is_attached:
            return  # a message a table posted before it left the screen (the deck closing): nothing to show
        table_id = event.data_table.id
        if table_id in ("review-queue", "tasks-table") and event.data_table.has_focus:
            self._task_table = table_id
        if table_id == "fleet":
            self._show_lane_info()
            self._sync_tail_lane()
        elif table_id == "actions":
            self._show_action_detail()
        elif table_id == "adr-table":
            self._show_adr_detail()

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        if not event.data_table.is_attached:
            return  # as above: a table no longer on screen selects nothing
        table_id = event.data_table.id
        if table_id == "fleet":
            self.action_tab("lane")
        elif table_id == "mailbox":
            self._open_mail(str(event.row_key.value))
        elif table_id in ("review-queue", "tasks-table"):
            self._open_report(str(event.row_key.value))
        elif table_id == "actions":
            action = self._selected_action()
            if action is not None and action.kind in VERIFY_KINDS:
                self._open_verify(action.target)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id or "decision"
        if pane != self._active_tab:
            self._active_tab = pane
            if pane in ("lane", "brain"):
                self._tail_text = None
                self.refresh_now()

    def _open_report(self, task_id: str) -> None:
        """The report mail of a task in review: what the lane said it did, before a human signs it off."""
        board = self.snapshot.board if self.snapshot is not None else None
        task = next((t for t in board.tasks if t.task_id == task_id), None) if board is not None else None
        if task is None or task.status != "review":
            self.notify(f"{task_id} is not in review: no report to show", severity="information")
            return
        if not task.report:
            self.notify(f"no report mail from {task.lane or 'its lane'} names {task_id}", severity="warning")
            return
        processed = task.report.startswith("processed/")
        name = task.report.split("/", 1)[1] if processed else task.report
        self._open_mail(("p:" if processed else "n:") + name, task.report)

    def _selected_task(self) -> Any:
        if self.snapshot is None or self.snapshot.board is None:
            return None
        key = self.query_one(f"#{self._task_table}", KeyedTable).selected_key()
        return next((t for t in self.snapshot.board.tasks if t.task_id == key), None)

    def _task_verb(self, verb: Literal["done", "reopen", "drop"]) -> None:
        task = self._selected_task()
        if task is None:
            self.action_tab("tasks")
            self.notify(
                f"select a task in the tasks tab (t), then press {verb[0].upper()}", severity="warning"
            )
            return
        offered, does = TASK_VERBS[verb]
        if task.status not in offered.split():
            self.notify(
                f"{task.task_id} is {task.status}: {verb} is for {offered.replace(' ', ', ')} tasks",
                severity="warning",
            )
            return
        command = self.builder.task(verb, task.task_id)

        def confirm(ok: bool | None) -> None:
            if ok:
                self.run_cli(command)

        self.push_screen(
            screens.ConfirmScreen(
                f"{verb.capitalize()} {task.task_id} — {task.title}?",
                f"{task.task_id} is {task.status}; loop-task {does}, and logs it in ops-wiki/log.md.",
                command.display,
            ),
            confirm,
        )

    def action_task_done(self) -> None:
        self._task_verb("done")

    def action_task_reopen(self) -> None:
        self._task_verb("reopen")

    def action_task_drop(self) -> None:
        self._task_verb("drop")

    def _open_mail(self, key: str, shown: str = "") -> None:
        if self.snapshot is None:
            return
        mail = next((m for m in self.snapshot.mail if m.key == key), None)
        if mail is None and shown:
            processed = key.startswith("p:")
            folder = self.paths.mailbox / "processed" if processed else self.paths.mailbox
            try:
                text = read_project_text(folder / key[2:], DOC_CAP, errors="replace")
            except OSError as exc:
                text = f"(cannot read: {exc.strerror})"
            self.push_screen(screens.MessageScreen(f"{shown} — the report", text))
            return
        if mail is None:
            return
        try:
            text = read_project_text(mail.path(self.paths), DOC_CAP, errors="replace")
        except OSError as exc:
            text = f"(cannot read: {exc.strerror})"
        state = "processed" if mail.processed else "pending"
        self.push_screen(
            screens.MessageScreen(f"{mail.file} ({state}) — from {mail.sender} to {mail.recipient}", text)
        )

    # ---- running CLIs ---------------------------------------------------------------------------------
    def run_cli(self, command: Command) -> None:
        self.commands_run.append(command)
        _set_text(self.query_one("#cmdlog", Static), f"$ {command.display}\n… running")
        self._run_worker(command)

    @work(thread=True, group="commands")
    def _run_worker(self, command: Command) -> None:
        self.post_message(CommandFinished(self.runner(command)))

    def on_command_finished(self, message: CommandFinished) -> None:
        result = message.result
        self.last_result = result
        cmdlog = self.query_one("#cmdlog", Static)
        _set_text(cmdlog, f"$ {result.command.display}\n{result.summary}")
        cmdlog.set_class(not result.ok, "error")
        self.notify(result.summary, severity="information" if result.ok else "error", timeout=6)
        if "add-lane" in result.command.argv or "drop-lane" in result.command.argv:
            self.reader.invalidate_lanes()
        self.refresh_now()

    def _build(self, make: Callable[[], Command]) -> Command | None:
        try:
            return make()
        except EngineMissingError as exc:
            self.notify(str(exc), severity="warning")
        except ValueError as exc:
            self.notify(one_line(exc), severity="warning")
        return None

    def _run_built(self, make: Callable[[], Command]) -> None:
        command = self._build(make)
        if command is not None:
            self.run_cli(command)

    def _need_lane(self, verb: str) -> FleetRow | None:
        row = self._selected_row()
        if row is None:
            self.notify("select a lane in the fleet table first", severity="warning")
            return None
        if self.self_pane and row.target == self.self_pane:
            self.notify(
                f"{row.lane} is the pane this deck runs in: cannot {verb} it from here", severity="warning"
            )
            return None
        return row

    def _need_engine(self) -> bool:
        if self.builder.engine_cmd is None:
            self.notify("loop-engine is not installed: the deck is a live dashboard only", severity="warning")
            return False
        return True

    # ---- actions ----------------------------------------------------------------------------------------
    def action_steer(self) -> None:
        row = self._need_lane("steer")
        if row is None:
            return
        lane = row.lane

        def send(req: TextRequest | None) -> None:
            if req is not None:
                self._run_built(lambda: self.builder.steer(lane, req.text))

        self.push_screen(
            screens.TextPromptScreen(f"Steer {lane}: Escape interrupts it, then this text is sent"), send
        )

    def action_dispatch(self) -> None:
        row = self._need_lane("dispatch to")
        if row is None:
            return
        lane = row.lane

        def send(req: TextRequest | None) -> None:
            if req is not None:
                self._run_built(lambda: self.builder.dispatch(lane, req.text, mode=req.mode))

        self.push_screen(screens.TextPromptScreen(f"Dispatch to {lane}", allow_command_mode=True), send)

    def action_add_lane(self) -> None:
        taken = {r.window for r in self.snapshot.fleet} if self.snapshot else set()

        def add(req: AddLaneRequest | None) -> None:
            if req is not None:
                self._run_built(
                    lambda: self.builder.add_lane(
                        req.window,
                        harness=req.harness,
                        cmd=req.cmd,
                        model=req.model,
                        role=req.role,
                        worktree=req.worktree,
                        auto_approve=req.auto_approve,
                    )
                )

        self.push_screen(screens.AddLaneScreen(self.harnesses, taken), add)

    def action_drop_lane(self) -> None:
        row = self._need_lane("drop")
        if row is None:
            return
        window = row.window
        base = row.base or window in BASE_WINDOWS
        if base:
            command = self.builder.drop_lane(window, force=True)

            def typed(ok: bool | None) -> None:
                if ok:
                    self.run_cli(command)

            self.push_screen(
                screens.TypedConfirmScreen(
                    f"{window} is a base window of the session. Drop it anyway (--force)?",
                    window,
                    detail="Its pane and everything running in it are killed.",
                    command=command.display,
                ),
                typed,
            )
            return
        command = self.builder.drop_lane(window)

        def confirm(ok: bool | None) -> None:
            if ok:
                self.run_cli(command)

        self.push_screen(screens.ConfirmScreen(f"Drop lane {window}?", command=command.display), confirm)

    def action_jump(self) -> None:
        row = self._selected_row()
        if row is None:
            self.notify("select a lane in the fleet table first", severity="warning")
            return
        self.run_cli(self.builder.jump(row.target))
        if self.builder.client_on_watched_server():
            return
        where = f"-S {shlex.quote(self.builder.socket)} " if self.builder.socket else ""
        attach = f"tmux {where}attach -t ={self.paths.session}"
        own = client_socket()
        if own is None:
            self.notify(f"outside tmux: attach with  {attach}", timeout=8)
        else:
            self.notify(
                f"this deck's tmux client is on another server ({own}): {row.lane} is now the current pane "
                f"of {self.paths.session}; see it with  {attach}  (from a terminal outside tmux)",
                timeout=10,
            )

    def action_checkpoint(self) -> None:
        running = bool(self.snapshot and self.snapshot.engine.running)
        if self.builder.engine_cmd is None and self.snapshot is not None:
            coord = next((r for r in self.snapshot.fleet if r.lane == "coord"), None)
            if coord is not None and self.self_pane and coord.target == self.self_pane:
                self.notify(
                    "this deck is the coord pane: start loop-engine to run checkpoints, or "
                    "dispatch one to a lane with d",
                    severity="warning",
                    timeout=8,
                )
                return
        command = self._build(lambda: self.builder.checkpoint(engine_running=running))
        if command is None:
            return

        def confirm(ok: bool | None) -> None:
            if ok:
                self.run_cli(command)

        self.push_screen(screens.ConfirmScreen("Run a checkpoint now?", command=command.display), confirm)

    def action_pause_resume(self) -> None:
        if not self._need_engine():
            return
        paused = bool(self.snapshot and self.snapshot.engine.paused)
        self._run_built(self.builder.resume if paused else self.builder.pause)

    def _pending(self) -> str | None:
        if self.snapshot is None or self.snapshot.decision is None:
            self.notify("no pending decision", severity="information")
            return None
        if not self._need_engine():
            return None
        return self.snapshot.decision.decision_id

    def _decision_text(self) -> str:
        if self.snapshot is None or self.snapshot.decision is None:
            return ""
        d = self.snapshot.decision
        lines = [f"critique: {d.critique}", ""]
        for a in d.actions:
            lines.append(f"#{a.index} {a.kind} {a.target} [{a.gate}, {a.state}] {a.summary}")
            if a.task:
                lines.append(f"    serves {a.task}" + (f" — {a.task_title}" if a.task_title else ""))
            if a.rationale:
                lines.append(f"    why: {a.rationale}")
            lines += [f"    > {line}" for line in a.preview]
            if a.gate == "blocked":
                lines.append("    blocked: never runs, whatever is approved")
            view = self.snapshot.verify_of(a.target) if a.kind in VERIFY_KINDS else None
            if view is not None:
                from loop_deck.verify import headline

                lines.append(f"    {headline(view)}")
        return "\n".join(lines)

    def action_approve(self) -> None:
        decision_id = self._pending()
        if decision_id is None or self.snapshot is None or self.snapshot.decision is None:
            return
        # the digest of exactly what the confirm shows: a decision edited meanwhile is refused, not run
        command = self.builder.approve(decision_id, self.snapshot.decision.digest)

        def confirm(ok: bool | None) -> None:
            if ok:
                self.run_cli(command)

        self.push_screen(
            screens.ConfirmScreen(
                f"Approve decision {decision_id}? Its queued actions run now.",
                self._decision_text(),
                command.display,
            ),
            confirm,
        )

    def action_reject(self) -> None:
        decision_id = self._pending()
        if decision_id is None:
            return

        def confirm(reason: str | None) -> None:
            if reason is not None:
                self._run_built(lambda: self.builder.reject(decision_id, reason))

        self.push_screen(screens.RejectScreen(decision_id, self._decision_text()), confirm)

    def _selected_adr(self) -> Any:
        if self.snapshot is None:
            return None
        key = self.query_one("#adr-table", KeyedTable).selected_key()
        return next((a for a in self.snapshot.adrs if str(a.number) == key), None)

    def action_accept_adr(self) -> None:
        adr = self._selected_adr()
        if adr is None:
            self.action_tab("adrs")
            self.notify("select an ADR in the ADRs tab (r), then press a", severity="warning")
            return
        expected = f"accept {adr.number}"
        verdict = (
            "the accept gate passes"
            if adr.acceptable
            else "loop-adr will refuse it:\n  " + "\n  ".join(adr.problems)
        )
        command = self.builder.accept_adr(adr.number, self.paths.adr_dir)

        def confirm(ok: bool | None) -> None:
            if ok:
                self.run_cli(command)

        self.push_screen(
            screens.TypedConfirmScreen(
                f"Accept ADR {adr.number:04d} — {adr.title}?",
                expected,
                detail=verdict,
                command=command.display,
            ),
            confirm,
        )

    def action_tab(self, tab: str) -> None:
        self.query_one("#right", TabbedContent).active = TABS.get(tab, "decision")
        table = {
            "mail": "#mailbox",
            "adrs": "#adr-table",
            "decision": "#actions",
            "tasks": f"#{self._task_table}",
        }.get(tab)
        if table is not None:
            self.query_one(table, KeyedTable).focus()

    def action_sessions(self) -> None:
        from loop_deck.board import overview

        rows = []
        for row in overview([self.paths.project_root]).sessions:
            lanes = row.lanes or {}
            busy = sum(n for status, n in lanes.items() if status != "idle")
            rows.append(
                (
                    row.session,
                    (
                        row.session + (" (this deck)" if row.session == self.paths.session else ""),
                        row.engine,
                        (row.pending or "-") + (f" ({row.awaiting} to approve)" if row.awaiting else ""),
                        f"{busy} busy / {lanes.get('idle', 0)} idle" if row.lanes is not None else "unknown",
                        str(row.review),
                    ),
                )
            )

        def chosen(name: str | None) -> None:
            if name and name != self.paths.session:
                self.switch_session(name)

        self.push_screen(screens.SessionsScreen(self.paths.session, rows), chosen)

    def action_roster(self) -> None:
        """The harness roster: one `roster --json` read now; health only when asked for (h / H)."""
        try:
            roster = self.reader.substrate.roster()
        except Exception as exc:  # SubstrateError, or anything a broken substrate raises: shown, not fatal
            self.notify(f"harness roster: {one_line(exc)}", severity="error", timeout=6)
            return
        screen = screens.RosterScreen(roster_rows(roster, self.health, self.reader.clock()), self._ask_health)

        def closed(_: None) -> None:
            self._roster_screen = None

        self._roster_screen = screen
        self.push_screen(screen, closed)

    def action_cost(self) -> None:
        """Cost and autonomy per loop session: one `loop-metrics --all --json` read now (no --log)."""
        try:
            fleet = self.reader.substrate.fleet_metrics()
        except Exception as exc:  # SubstrateError, or anything a broken substrate raises: shown, not fatal
            self.notify(f"loop-metrics: {one_line(exc)}", severity="error", timeout=6)
            return
        partial = "; ".join(
            f"{key} is a partial total: {n} session(s) n/a left out"
            for key, n in fleet.aggregate.partial.items()
        )
        self.push_screen(screens.CostScreen(cost_rows(fleet), self.paths.session, partial))

    def _ask_health(self, names: list[str]) -> None:
        if names:
            self.notify(f"asking the health of {', '.join(names)}…", timeout=3)
            self._health_worker(names)

    @work(thread=True, group="health")
    def _health_worker(self, names: list[str]) -> None:
        for name in names:
            word: str
            try:
                word = self.reader.substrate.harness_health(name).health
            except Exception as exc:  # an unknown harness, a broken substrate: shown as the answer
                word = f"error: {one_line(exc)}"
            self.call_from_thread(self._health_done, name, word)

    def _health_done(self, name: str, word: str) -> None:
        self.health.note(name, word, self.reader.clock())
        screen = self._roster_screen
        if screen is not None and screen.is_attached:
            rows = screen.rows
            screen.set_rows(
                [
                    r if r.name != name else replace(r, health=self.health.shown(name, self.reader.clock()))
                    for r in rows
                ]
            )

    def switch_session(self, session: str) -> None:
        """Watch another loop session of the same project: its lanes, decision, engine; the same files."""
        if self.substrate_for is None:
            self.notify("this deck cannot switch sessions (no tmux access)", severity="warning")
            return
        from loop_deck.activity import ActivityProbe
        from loop_deck.snapshot import Reader

        old = self.reader
        paths = DeckPaths(self.paths.project_root, session, adr_dir=self.paths.adr_dir)
        probe = None
        if isinstance(old.activity, ActivityProbe):
            probe = ActivityProbe(session, old.activity.project_root, self.builder.socket)
        substrate = self.substrate_for(session)
        self.reader = Reader(substrate, paths, old.engine_cmd, clock=old.clock, activity=probe)
        self.paths = paths
        self.builder = CommandBuilder(
            paths.project_root, session, socket=self.builder.socket, engine_cmd=self.builder.engine_cmd
        )
        self._tail_lane = None
        self._tail_text = None
        self._transcript_pos = None
        self.sub_title = f"{session} · {paths.project_root.name}"
        self.notify(f"now watching session {session}")
        self.refresh_now()

    def action_verify_report(self) -> None:
        """The newest verify report, whole, of the lane in focus: the one the decision tab shows (its
        actions focused), the selected loop's (a worktree lane, pane or not), else the selected fleet
        lane's window."""
        lane: str | None = None
        focused = self.focused.id if self.focused is not None else None
        shown = self._decision_verify(self._selected_action()) if focused == "actions" else None
        if shown is not None:  # the report the decision tab shows
            lane = shown.lane
        elif focused == "loops":
            lane = self.query_one("#loops", KeyedTable).selected_key()
        else:
            row = self._selected_row()
            lane = row.window if row is not None else None
        if not lane:
            self.notify(
                "select a lane, a worktree loop or a verify/build/merge action first", severity="warning"
            )
            return
        self._open_verify(lane)

    def _open_verify(self, lane: str) -> None:
        from loop_deck.verify import read_view, report_lines

        view = read_view(self.paths.verify_dir, lane)  # read now: the newest, whatever the last tick saw
        if view.report is None:
            self.notify(f"{view.error} (in {self.paths.verify_dir})", severity="information", timeout=6)
            return
        text = "\n".join(report_lines(view, full=True))
        self.push_screen(screens.MessageScreen(f"verify report of {lane} — {view.file}", text))

    def action_help(self) -> None:
        self.push_screen(screens.HelpScreen())


def finished_line(snap: Snapshot) -> str:
    """What the deck says when the loop has nothing left to do."""
    board = snap.board
    assert board is not None
    waiting = len(board.review_queue)
    if waiting:
        return (
            f"every task is in review or done: the loop has nothing left to do — {waiting} task(s) "
            "await your sign-off (t: tasks, D done / O reopen)"
        )
    return "every task is done: the loop has finished its work"


def utf8_complete(data: bytes) -> int:
    """The length of the longest prefix of `data` that does not end inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # the lead byte of the last character: is the character all there?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)  # no lead byte within reach: invalid, shown replaced rather than held forever


def _action_runner(app: App[Any], action: str) -> Callable[[], Any]:
    async def run() -> None:
        await app.run_action(action)

    return run


def _set_text(widget: Static | Label, text: str) -> None:
    """Update only when the text changed: an idle tick repaints nothing."""
    if getattr(widget, "_deck_text", None) != text:
        widget._deck_text = text  # type: ignore[union-attr]
        widget.update(printable(text))  # untrusted pieces (objective, lane names, errors) are data


def record_crash(paths: DeckPaths, error: BaseException) -> Path:
    """Append one JSON line for a crash to deck-crash.log in the session's state dir (mined by improve)."""
    path = paths.crash_log
    record = {
        "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "component": "deck",
        "session": paths.session,
        "error": f"{type(error).__name__}: {one_line(error)}",
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }
    append_line(path, json.dumps(record, ensure_ascii=False))
    return path


def make_app(
    project_root: Path,
    session: str,
    *,
    socket: str | None = None,
    interval: float = 1.0,
    state_dir: Path | None = None,
    adr_dir: Path | None = None,
    substrate: SubstrateLike | None = None,
    runner: Runner = run_command,
    engine_cmd: str | bool | None = True,
    auto_refresh: bool = True,
    clock: Clock = time.time,
    self_pane: str | bool | None = True,
) -> DeckApp:
    """Build the deck for one session. `engine_cmd=True` finds loop-engine on PATH; None means absent.

    Tests pass a double substrate, a recording runner and a fixed clock.
    """

    def substrate_for(name: str) -> SubstrateLike:
        if substrate is not None:  # a test's double serves every session
            return substrate
        from loop_substrate import Substrate

        return Substrate(name, project_root, socket=socket)

    engine = find_engine() if engine_cmd is True else (engine_cmd or None)
    # a pane id is unique only within its tmux server: this deck is one of the watched session's panes
    # only when it runs on the server the deck watches
    own_pane = os.environ.get("TMUX_PANE") if same_server(socket, client_socket()) else None
    pane = own_pane if self_pane is True else (self_pane or None)
    paths = DeckPaths(project_root, session, state_dir=state_dir, adr_dir=adr_dir)
    engine_path = engine if isinstance(engine, str) else None

    def build_reader() -> Reader:
        from loop_deck.activity import ActivityProbe
        from loop_deck.snapshot import Reader

        # a test's double has no tmux panes to look at: it is asked every tick
        probe = ActivityProbe(session, project_root, socket) if substrate is None else None
        return Reader(substrate_for(session), paths, engine_path, clock=clock, activity=probe)

    builder = CommandBuilder(project_root, session, socket=socket, engine_cmd=engine_path)
    return DeckApp(
        ReaderPlan(paths, build_reader),
        builder,
        runner=runner,
        interval=interval,
        auto_refresh=auto_refresh,
        self_pane=pane if isinstance(pane, str) else None,
        substrate_for=substrate_for,
    )
