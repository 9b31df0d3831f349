"""One read of everything the deck shows: the fleet, loops, mail, the pending decision, ADRs, the engine.

The deck is a strict non-writer: this module only reads files (through the loop-schemas parsers) and
asks loop-substrate for lane status. Every reader turns a missing or corrupt file into an error string,
never an exception, so a bad file never stops the deck. A `Reader` keeps what it parsed keyed by each
file's (mtime, size), so an idle tick costs a few stat() calls and one loop-lane-status call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loop_schemas import (
    HARNESS_ORDER,
    FleetMetrics,
    HarnessHealth,
    HarnessRoster,
    PendingDecision,
    RestartEvent,
    SchemaError,
    accept_gate_problems,
    action_views,
    mail_head,
    open_project_file,
    parse_adr,
    parse_event,
    parse_mail_name,
    parse_state,
    parse_watchdog_line,
    project_lines,
    read_project_file,
    read_project_head,
    read_project_text,
    task_titles,
)
from loop_schemas.fsread import DOC_CAP, ENGINE_CAP, STATE_CAP
from pydantic import ValidationError

from loop_deck.core import (
    BASE_WINDOWS,
    VERIFY_KINDS,
    Clock,
    DeckPaths,
    FileKey,
    ago,
    lane_window,
    one_line,
)
from loop_deck.verify import VerifyView, read_view

if TYPE_CHECKING:
    from loop_deck.activity import Activity
    from loop_deck.board import Board

RECENT_PROCESSED = 20
# list-lanes (lane metadata, set when a lane is made) is read again when the lanes, their panes or their
# harnesses change, and at least this often
LANE_META_EVERY_S = 60.0
# with an activity probe, the longest the fleet goes without a loop-lane-status call while the probe sees
# nothing move (what the probe cannot see: a registry pattern edited mid-session)
FLEET_RECHECK_S = 10.0
ADR_RECHECK_S = 10.0
EVENTS_TAIL_BYTES = 32 * 1024
SUBJECT_HEAD_BYTES = 8192


class LaneStatusLike(Protocol):
    @property
    def lane(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def harness(self) -> str | None: ...


class LaneLike(Protocol):
    @property
    def window(self) -> str: ...
    @property
    def harness(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def base(self) -> bool: ...
    @property
    def kind(self) -> str | None: ...


class SubstrateLike(Protocol):
    """The part of loop_substrate.Substrate the deck reads with (tests pass a double)."""

    def lane_status(self, lane: str | None = None) -> Sequence[LaneStatusLike]: ...

    def list_lanes(self) -> Sequence[LaneLike]: ...

    def capture(self, lane: str, lines: int = 50) -> str: ...

    def roster(self) -> HarnessRoster: ...

    def harness_health(self, harness: str) -> HarnessHealth: ...

    def fleet_metrics(self) -> FleetMetrics: ...


@dataclass(frozen=True)
class FleetRow:
    lane: str
    window: str
    harness: str
    model: str
    role: str
    status: str
    detail: str
    restarts: int
    giveups: int
    target: str
    kind: str
    base: bool
    activity: str
    lane_kind: str = ""
    """standing | worker (list-lanes; "" when unknown)."""
    sandbox: bool = False  # the lane runs under bubblewrap (list-lanes `sandbox`)


@dataclass(frozen=True)
class LoopRow:
    loop_id: str
    name: str
    status: str
    branch: str
    canary: str
    updated_at: str


@dataclass(frozen=True)
class MailRow:
    file: str
    sender: str
    recipient: str
    subject: str
    when: str
    processed: bool

    @property
    def key(self) -> str:
        return ("p:" if self.processed else "n:") + self.file

    def path(self, paths: DeckPaths) -> Path:
        return (paths.mailbox / "processed" / self.file) if self.processed else paths.mailbox / self.file


@dataclass(frozen=True)
class AdrRow:
    number: int
    status: str
    title: str
    file: str
    problems: tuple[str, ...]

    @property
    def acceptable(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        return "passes" if not self.problems else self.problems[0]


@dataclass(frozen=True)
class ActionRow:
    index: int
    kind: str
    target: str
    gate: str
    state: str
    summary: str
    rationale: str
    reasons: tuple[str, ...]
    # what the engine may add per action (issue 18: the task served and what will be sent); empty if absent
    task: str = ""
    task_title: str = ""
    preview: tuple[str, ...] = ()


def lane_tasks(engine_dir: Path) -> dict[str, str]:
    """Lane -> the task it holds in progress, from the engine's assignments.json ({} when unreadable)."""
    try:
        held = json.loads(read_project_file(engine_dir / "assignments.json", ENGINE_CAP))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(held, dict):
        return {}
    return {
        str(a.get("lane")): str(tid)
        for tid, a in held.items()
        if isinstance(a, dict) and a.get("state") == "in-progress"
    }


@dataclass(frozen=True)
class DecisionView:
    decision_id: str
    created_at: str
    approval_mode: str
    trigger: str
    critique: str
    actions: tuple[ActionRow, ...]
    digest: str = ""  # sha256 of the file as read: approve runs only if it is still this decision


@dataclass(frozen=True)
class EngineInfo:
    installed: bool
    running: bool = False
    paused: bool = False
    pid: int | None = None
    brain_running: str | None = None  # the brain call id while one is in flight
    last_event: str | None = None

    @property
    def label(self) -> str:
        if not self.installed:
            return "engine not installed — live dashboard only"
        if not self.running:
            return "engine off — live dashboard" + (" (paused)" if self.paused else "")
        state = "paused" if self.paused else "running"
        brain = f" · brain thinking ({self.brain_running})" if self.brain_running else ""
        return f"engine {state} (pid {self.pid}){brain}"


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    fleet: tuple[FleetRow, ...] = ()
    fleet_error: str | None = None
    loops: tuple[LoopRow, ...] = ()
    objective: str | None = None
    state_error: str | None = None
    mail: tuple[MailRow, ...] = ()
    pending_mail: int = 0
    decision: DecisionView | None = None
    decision_error: str | None = None
    adrs: tuple[AdrRow, ...] = ()
    engine: EngineInfo = field(default_factory=lambda: EngineInfo(False))
    transcript: Path | None = None
    board: Board | None = None  # None: the project has no tasks/ folder
    verify: tuple[VerifyView, ...] = ()
    """The newest verify report of each worktree lane (a loop with a branch), each fleet lane's window and
    each lane a pending verify, build or merge action names."""

    def verify_of(self, lane: str) -> VerifyView | None:
        return next((v for v in self.verify if v.lane == lane), None)

    @property
    def problems(self) -> list[str]:
        return [p for p in (self.state_error, self.fleet_error, self.decision_error) if p]


def harness_names() -> list[str]:
    """The registry's harness names (the CONTRACT's fixed order; no subprocess needed)."""
    return list(HARNESS_ORDER)


def file_key(path: Path) -> FileKey | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


# ---- pure readers (each turns a bad file into an error string) ---------------------------------------------
def read_restarts(path: Path) -> dict[str, tuple[int, int]]:
    """Per lane: (restarts, give-ups). A line without "event" is a restart (CONTRACT)."""
    counts: dict[str, list[int]] = {}
    try:
        fh = open_project_file(path)
    except OSError:
        return {}
    with fh:
        lines = [line for line in project_lines(fh) if line is not None]  # over-long lines: no event
    for line in lines:
        if not line.strip():
            continue
        try:
            event = parse_watchdog_line(line)
        except SchemaError:
            continue
        if not event.lane:
            continue
        slot = counts.setdefault(event.lane, [0, 0])
        if isinstance(event, RestartEvent):
            slot[0] += 1
        elif event.event == "giving-up":
            slot[1] += 1
    return {lane: (c[0], c[1]) for lane, c in counts.items()}


def read_loops(path: Path) -> tuple[tuple[LoopRow, ...], str | None, str | None]:
    """(rows, objective, error)."""
    try:
        raw = read_project_file(path, STATE_CAP)
    except FileNotFoundError:
        return (), None, f"no state file ({_rel(path)})"
    except OSError as exc:
        return (), None, f"state file unreadable: {exc.strerror}"
    try:
        state = parse_state(raw, "state file")
    except SchemaError as exc:
        return (), None, f"state file is corrupt — {one_line(exc)}"
    rows = tuple(
        LoopRow(
            loop_id=loop_id,
            name=loop.name or "",
            status=loop.status or "",
            branch=loop.branch or "",
            canary=loop.canary_target or "",
            updated_at=loop.updated_at or "",
        )
        for loop_id, loop in state.loops.items()
    )
    return rows, state.objective, None


def _rel(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else str(path)


def read_subject(path: Path) -> str:
    try:
        head = read_project_head(path, SUBJECT_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""
    end = head.find("\n---", 3)
    if head.startswith("---") and end > 0:
        head = head[: end + 4]
    subject, _task = mail_head(head)
    return subject or ""


def read_decision(
    path: Path, titles: dict[str, str] | None = None, held: dict[str, str] | None = None
) -> tuple[DecisionView | None, str | None]:
    """The pending decision as the gate shows it; each action's task, title and preview come from
    loop_schemas.action_views (the same views `loop-engine status` prints). `titles`: task id -> title;
    `held`: lane -> the task it holds (what a steer serves)."""
    try:
        raw = read_project_file(path, ENGINE_CAP)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"pending decision unreadable: {exc.strerror}"
    try:
        pending = PendingDecision.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "file"
        return None, f"pending decision is corrupt — {where}: {one_line(str(err.get('msg', 'invalid')))}"
    actions = []
    views = action_views(pending, titles=titles, lane_tasks=held)
    for i, action in enumerate(pending.decision.actions):
        gate = pending.gates[i] if i < len(pending.gates) else None
        data = action.model_dump()
        view = views[i]
        actions.append(
            ActionRow(
                index=i,
                kind=action.kind,
                target=str(data.get("lane") or data.get("window") or data.get("harness") or ""),
                gate=gate.gate_class if gate else "?",
                state=gate.state if gate else "?",
                summary=summarise_action(data),
                rationale=action.rationale,
                reasons=tuple(gate.reasons) if gate else (),
                task=view.task or "",
                task_title=view.task_title or "",
                preview=tuple(view.preview),
            )
        )
    return (
        DecisionView(
            decision_id=pending.id,
            created_at=pending.created_at,
            approval_mode=pending.approval_mode,
            trigger=pending.trigger or "",
            critique=pending.decision.critique,
            actions=tuple(actions),
            digest=hashlib.sha256(raw).hexdigest(),
        ),
        None,
    )


def summarise_action(action: dict[str, Any]) -> str:
    kind = action.get("kind")
    if kind in ("dispatch", "steer"):
        payload = str(action.get("payload", ""))
        first = payload.strip().splitlines()[0] if payload.strip() else ""
        more = " …" if len(payload.strip().splitlines()) > 1 or len(first) > 70 else ""
        extra = " ask" if action.get("expects_reply") else ""
        return f"[{action.get('mode', 'text')}{extra}] {first[:70]}{more}"
    if kind == "add_lane":
        what = f"harness {action['harness']}" if action.get("harness") else f"cmd: {action.get('cmd')}"
        return f"{what}" + (f", role {action['role']}" if action.get("role") else "")
    if kind == "escalate":
        return str(action.get("summary", ""))[:80]
    if kind == "repin_model":
        was = action.get("from_model") or "(configured model)"
        return f"harness {action.get('harness')}: {was} -> {action.get('model')}"
    return ""


def read_adr(path: Path, project_root: Path, adr_dir: Path) -> AdrRow:
    number = int(path.name[:4])
    try:
        adr = parse_adr(read_project_text(path, DOC_CAP, errors="replace"), path)
    except (OSError, SchemaError) as exc:
        return AdrRow(
            number, "?", path.stem[5:].replace("-", " "), path.name, (f"unreadable: {one_line(exc)}",)
        )
    problems = tuple(accept_gate_problems(adr, project_root, adr_dir))
    return AdrRow(number, adr.frontmatter.status.value, adr.title, path.name, problems)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.parent.is_dir() and Path("/proc/self").exists():
        try:
            text = cmdline.read_bytes()
        except OSError:
            return False
        return is_engine_daemon(text.split(b"\0"))
    return True


def is_engine_daemon(argv: list[bytes]) -> bool:
    """Whether a command line is loop-engine's watch daemon (`python -m loop_engine ... watch` or a
    `loop-engine ... watch` script), not just any program whose arguments mention it (a pid file can
    outlive its daemon, and the pid be reused by, say, `less loop-engine.log`)."""
    engine = any(
        a in (b"loop_engine", b"loop-engine") or a.endswith((b"/loop-engine", b"/loop_engine/__main__.py"))
        for a in argv
    )
    return engine and b"watch" in argv


def read_daemon_pid(engine_dir: Path) -> int | None:
    """The pid on the first line of the engine's daemon.pid (the JSON after it is not needed here)."""
    try:
        with open_project_file(engine_dir / "daemon.pid") as fh:
            first = fh.readline(64).strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def brain_in_flight(events_tail: bytes) -> tuple[str | None, str | None]:
    """(call id of a brain call with no answer yet, the last event's name) from the tail of events.jsonl."""
    in_flight: str | None = None
    last: str | None = None
    for line in events_tail.splitlines():
        try:
            event = parse_event(line)
        except SchemaError:
            continue
        last = f"{event.event} {event.timestamp}"
        extra = event.model_extra or {}
        if event.event == "brain-call":
            in_flight = str(extra.get("call_id") or event.id)
        elif event.event in ("brain-answered", "brain-failed", "cycle-end", "cycle-crashed", "daemon-stop"):
            in_flight = None
    return in_flight, last


# ---- the stateful reader ---------------------------------------------------------------------------------
_UNSET = object()


@dataclass
class _Cached:
    key: object = _UNSET
    value: Any = None


class Reader:
    """Collects Snapshots for one session, re-parsing a file only when its (mtime, size) changed."""

    def __init__(
        self,
        substrate: SubstrateLike,
        paths: DeckPaths,
        engine_cmd: str | None,
        clock: Clock = time.time,
        activity: Callable[[], Activity | None] | None = None,
    ) -> None:
        self.substrate = substrate
        self.activity = activity  # the probe that lets a tick skip loop-lane-status (loop_deck.activity)
        self._statuses: list[LaneStatusLike] | None = None  # the last loop-lane-status answer
        self._statuses_at = float("-inf")
        self._looked: Activity | None = None  # the probe's look taken just before that answer
        self.paths = paths
        self.engine_cmd = engine_cmd
        self.clock = clock
        self._state = _Cached()
        self._good_loops: tuple[tuple[LoopRow, ...], str | None] | None = None
        self._restarts = _Cached()
        self._decision = _Cached()
        self._mail_pending = _Cached()
        self._mail_processed = _Cached()
        self._subjects: dict[str, tuple[FileKey | None, str]] = {}
        self._adrs = _Cached()
        self._adrs_at = 0.0
        self._events = _Cached()
        self._transcripts = _Cached()
        self._board = _Cached()
        self._verify: dict[str, tuple[FileKey | None, VerifyView]] = {}
        self._meta: dict[str, LaneLike] = {}
        self._meta_at = float("-inf")
        self._meta_lanes: frozenset[tuple[str, str, str | None]] = frozenset()
        self._first_seen: dict[str, float] = {}
        self._last_working: dict[str, float] = {}

    def invalidate_lanes(self) -> None:
        """Re-read the lanes (loop-lane-status and list-lanes) on the next collect: after add-lane /
        drop-lane."""
        self._meta_at = float("-inf")
        self._statuses = None

    # -- fleet --------------------------------------------------------------------------------------------
    def lane_statuses(self, now: float) -> list[LaneStatusLike]:
        """Every lane's status: loop-lane-status, or its last answer when the activity probe shows that
        nothing it is made of moved since (never older than FLEET_RECHECK_S). Raises what the substrate
        raises."""
        look = self.activity() if self.activity is not None else None
        if (
            look is not None
            and self._statuses is not None
            and self._looked is not None
            and self._looked.covers(look)
            and now - self._statuses_at < FLEET_RECHECK_S
        ):
            return self._statuses
        self._statuses = None
        statuses = list(self.substrate.lane_status())
        self._statuses, self._statuses_at, self._looked = statuses, now, look
        return statuses

    def fleet(self, now: float) -> tuple[tuple[FleetRow, ...], str | None]:
        try:
            statuses = self.lane_statuses(now)
        except Exception as exc:  # SubstrateError, or anything a broken substrate raises: shown, not fatal
            return (), one_line(exc)
        names = frozenset((st.lane or "", st.target, st.harness) for st in statuses)
        if names != self._meta_lanes or now - self._meta_at >= LANE_META_EVERY_S:
            try:
                self._meta = {lane.window: lane for lane in self.substrate.list_lanes()}
            except Exception:  # noqa: S110 - metadata is a nicety: keep the last good copy, retry next time
                pass
            else:
                self._meta_lanes = names
                self._meta_at = now
        key = file_key(self.paths.restarts_log)
        if key != self._restarts.key:
            self._restarts = _Cached(key, read_restarts(self.paths.restarts_log) if key else {})
        restarts: dict[str, tuple[int, int]] = self._restarts.value
        rows = []
        for st in statuses:
            lane = st.lane or ""
            window = lane_window(lane)
            meta = self._meta.get(window)
            self._first_seen.setdefault(lane, now)
            if st.status == "working":
                self._last_working[lane] = now
            if lane in self._last_working:
                since = now - self._last_working[lane]
                activity = "now" if since <= 0 else ago(since)
            elif now - self._first_seen[lane] < 60:
                activity = "—"  # not seen working since the deck started
            else:
                activity = "≥" + ago(now - self._first_seen[lane])
            r, g = restarts.get(lane, restarts.get(window, (0, 0)))
            rows.append(
                FleetRow(
                    lane=lane,
                    window=window,
                    harness=st.harness or (meta.harness if meta is not None else None) or "",
                    model=(meta.model if meta is not None else None) or "",
                    role=(meta.role if meta is not None else None) or "",
                    status=st.status,
                    detail=st.detail or "",
                    restarts=r,
                    giveups=g,
                    target=st.target,
                    kind=st.kind,
                    base=meta.base if meta is not None else window in BASE_WINDOWS,
                    activity=activity,
                    lane_kind=(meta.kind if meta is not None else None) or "",
                    sandbox=bool(getattr(meta, "sandbox", False)),
                )
            )
        return tuple(rows), None

    # -- files ---------------------------------------------------------------------------------------------
    def loops(self) -> tuple[tuple[LoopRow, ...], str | None, str | None]:
        key = file_key(self.paths.state_file)
        if key != self._state.key:
            rows, objective, error = read_loops(self.paths.state_file)
            if error is None:
                self._good_loops = (rows, objective)
            elif self._good_loops is not None and error.startswith("state file is corrupt"):
                # a writer caught mid-write (or a bad edit): keep the last good rows on screen, flagged,
                # rather than blanking the table for a tick
                rows, objective = self._good_loops
                error += " (showing the last good read)"
            self._state = _Cached(key, (rows, objective, error))
        value: tuple[tuple[LoopRow, ...], str | None, str | None] = self._state.value
        return value

    def decision(self) -> tuple[DecisionView | None, str | None]:
        path = self.paths.engine_dir / "pending-decision.json"
        key = file_key(path)
        if key is None:
            self._decision = _Cached()
            return None, None
        engine_dir = self.paths.engine_dir
        tasks = self.paths.project_root / "tasks"
        full = (key, file_key(engine_dir / "assignments.json"), file_key(tasks), file_key(tasks / "archive"))
        if full != self._decision.key:
            titles = task_titles(tasks) if file_key(tasks) is not None else {}
            self._decision = _Cached(full, read_decision(path, titles, lane_tasks(engine_dir)))
        value: tuple[DecisionView | None, str | None] = self._decision.value
        return value

    def _mail_dir(self, folder: Path, processed: bool, cache: _Cached) -> tuple[_Cached, tuple[MailRow, ...]]:
        key = file_key(folder)
        if key is not None and key == cache.key:
            rows: tuple[MailRow, ...] = cache.value
            return cache, rows
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".md") and e.is_file())
        except OSError:
            names = []
        if processed:
            names = names[-RECENT_PROCESSED:][::-1]
        out = []
        for name in names:
            try:
                parsed = parse_mail_name(name)
            except SchemaError:
                continue
            path = folder / name
            fkey = file_key(path)
            cached = self._subjects.get(("p:" if processed else "n:") + name)
            if cached is None or cached[0] != fkey:
                cached = (fkey, read_subject(path))
                self._subjects[("p:" if processed else "n:") + name] = cached
            out.append(
                MailRow(
                    name,
                    parsed.sender,
                    parsed.recipient,
                    cached[1],
                    parsed.timestamp.strftime("%m-%d %H:%M"),
                    processed,
                )
            )
        return _Cached(key, tuple(out)), tuple(out)

    def mail(self) -> tuple[tuple[MailRow, ...], int]:
        self._mail_pending, pending = self._mail_dir(self.paths.mailbox, False, self._mail_pending)
        self._mail_processed, processed = self._mail_dir(
            self.paths.mailbox / "processed", True, self._mail_processed
        )
        if len(self._subjects) > 4 * (len(pending) + len(processed)) + 64:
            keep = {m.key for m in (*pending, *processed)}
            self._subjects = {k: v for k, v in self._subjects.items() if k in keep}
        return pending + processed, len(pending)

    def adrs(self, now: float) -> tuple[AdrRow, ...]:
        folder = self.paths.adrs
        try:
            files = sorted(
                e.name
                for e in os.scandir(folder)
                if e.is_file() and e.name[:4].isdigit() and e.name.endswith(".md") and e.name[4:5] == "-"
            )
        except OSError:
            files = []
        key = tuple((name, file_key(folder / name)) for name in files)
        if key != self._adrs.key or now - self._adrs_at >= ADR_RECHECK_S:
            rows = tuple(read_adr(folder / name, self.paths.project_root, folder) for name in files)
            self._adrs = _Cached(key, rows)
            self._adrs_at = now
        value: tuple[AdrRow, ...] = self._adrs.value
        return value

    def engine(self) -> EngineInfo:
        engine_dir = self.paths.engine_dir
        pid = read_daemon_pid(engine_dir)
        running = pid is not None and pid_alive(pid)
        paused = (engine_dir / "paused").exists()
        events = engine_dir / "events.jsonl"
        key = file_key(events)
        if key != self._events.key:
            tail = b""
            if key is not None:
                try:
                    with open_project_file(events) as fh:
                        fh.seek(max(0, key[1] - EVENTS_TAIL_BYTES))
                        tail = fh.read()
                except OSError:
                    tail = b""
                if key[1] > EVENTS_TAIL_BYTES:
                    tail = tail.split(b"\n", 1)[-1]
            self._events = _Cached(key, brain_in_flight(tail))
        in_flight, last = self._events.value if self._events.value else (None, None)
        return EngineInfo(
            installed=self.engine_cmd is not None,
            running=running,
            paused=paused,
            pid=pid if running else None,
            brain_running=in_flight if running else None,
            last_event=last,
        )

    def transcript(self) -> Path | None:
        folder = self.paths.engine_dir / "transcripts"
        key = file_key(folder)
        if key is None:
            return None
        if key != self._transcripts.key:
            newest: tuple[int, str] | None = None
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if entry.is_file():
                        stamp = entry.stat().st_mtime_ns
                        if newest is None or (stamp, entry.name) > newest:
                            newest = (stamp, entry.name)
            self._transcripts = _Cached(key, folder / newest[1] if newest else None)
        value: Path | None = self._transcripts.value
        return value

    def board(self, now: float) -> Board | None:
        """The task board, re-read when a task file, assignments.json or the mailbox changed (or the
        minute its ages are shown in turned)."""
        from loop_deck.board import read_board

        tasks = self.paths.project_root / "tasks"
        key: list[object] = [int(now // 60)]
        for folder in (tasks, tasks / "archive", self.paths.mailbox, self.paths.mailbox / "processed"):
            key.append(file_key(folder))
        if key[1] is None:
            return None
        with contextlib.suppress(OSError):
            for folder in (tasks, tasks / "archive"):
                key.extend(
                    (e.name, file_key(Path(e.path))) for e in os.scandir(folder) if e.name.endswith(".md")
                )
        key.append(file_key(self.paths.engine_dir / "assignments.json"))
        if key != self._board.key:
            self._board = _Cached(key, read_board(self.paths.project_root, self.paths.engine_dir, now))
        value: Board = self._board.value
        return value

    def verify(self, lanes: Sequence[str]) -> tuple[VerifyView, ...]:
        """The newest report of each lane, re-read only when the verify folder changed (a run's report
        lands there by an atomic rename, which moves the folder's mtime)."""
        folder = self.paths.verify_dir
        key = file_key(folder)
        views = []
        for lane in lanes:
            cached = self._verify.get(lane)
            if cached is None or key is None or cached[0] != key:
                cached = (key, read_view(folder, lane))
            views.append(cached[1])
        self._verify = {v.lane: (key, v) for v in views}
        return tuple(views)

    def collect(self) -> Snapshot:
        now = self.clock()
        fleet, fleet_error = self.fleet(now)
        loops, objective, state_error = self.loops()
        decision, decision_error = self.decision()
        mail, pending = self.mail()
        lanes = [r.loop_id for r in loops if r.branch] + [r.window for r in fleet]
        if decision is not None:
            lanes += [a.target for a in decision.actions if a.kind in VERIFY_KINDS and a.target]
        return Snapshot(
            taken_at=now,
            fleet=fleet,
            fleet_error=fleet_error,
            loops=loops,
            objective=objective,
            state_error=state_error,
            mail=mail,
            pending_mail=pending,
            decision=decision,
            decision_error=decision_error,
            adrs=self.adrs(now),
            engine=self.engine(),
            transcript=self.transcript(),
            board=self.board(now),
            verify=self.verify(list(dict.fromkeys(lanes))),
        )
