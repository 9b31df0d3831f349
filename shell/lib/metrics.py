#!/usr/bin/env python3
"""metrics.py: the coordinator-efficiency, autonomy and cost figures behind loop-metrics (stdlib only,
python 3.8+).

Two families of figures, one document (loop_schemas.Metrics):
- v1: the checkpoint prompt's size (assembled in-process, exactly as loop-checkpoint --print would,
  without the ceiling), pending mail, lane restarts and give-ups from
  .loop/sessions/<s>/lane-restarts.jsonl (a line without "event" is a restart -- is_restart; "event":
  "giving-up" is a give-up; corrupt lines are skipped and noted on stderr), and the ingest / lint /
  checkpoint headings in ops-wiki/log.md. A missing input reads as 0; a figure that cannot be measured
  at all (no session given, unreadable header) is null / n/a.
- the original's (contract-later section 5): the session's engine/events.jsonl over the last 7 days
  (autonomy, interventions, escalations, rejects, stops, steers, brain calls, tokens and cost from
  `brain-usage`, build tokens and cost from `build-usage`, dispatches per lane, ingests, lints), 24-hour
  restarts, ops-wiki/log.md's shipped tasks, checkpoints and experiments, the engine's checkpoint size
  (engine/snapshot.json, else engine/checkpoint.md, else the newest brain prompt), the idle lanes with a
  backlog, and a 7-entry daily series. Missing data reads as 0 or n/a (null) with a note; an unknown cost
  is n/a, never 0.

The text block is the original's (`loop-metrics — <date> (session: <s|none>)`, its keys in its order and
padding, then `notes:`); --json prints the whole document; --log appends the v1 tokens then the added
ones, ending in `source=session-events-v2`; --all prints the fleet table over every session of every root.

CLI:  metrics.py [--project-root P]... [--session S] [--tmux-session T] [--header-file F]
                 [--mailbox-dir D] [--json] [--log] [--all]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint
import frontmatter
import fsread
import mail

CONTRACT_VERSION = 1
PROG = "loop-metrics"
LOG_HEADING_RE = re.compile(rb"^## \[\d{4}-\d{2}-\d{2}\] (ingest|lint|checkpoint) \|", re.MULTILINE)
# the original's dated log entry: `## [YYYY-MM-DD] kind | detail`
DATED_LOG_RE = re.compile(r"^## \[(\d{4})-(\d{2})-(\d{2})\] ([a-z-]+) \| ?(.*)$")
SHIPPED_RE = re.compile(r"T\d+\s+done\b")
REPLY_RE = re.compile(r"re\s*:", re.IGNORECASE)
SESSION_RE = re.compile(r"^[^/\x00]+$")
FIELDS = ("checkpoint_tokens", "pending", "lane_restarts", "lane_giveups", "ingests", "lints", "checkpoints")
LOG_NAMES = {
    "checkpoint_tokens": "checkpoint_tokens",
    "pending": "pending",
    "lane_restarts": "restarts",
    "lane_giveups": "giveups",
    "ingests": "ingests",
    "lints": "lints",
    "checkpoints": "checkpoints",
}
# the tokens --log adds after the v1 ones (document key = token name), then `source=session-events-v2`
LOG_ADDED = (
    "restarts_24h",
    "giveups_24h",
    "autonomy_ratio",
    "engine_decisions_7d",
    "decisions_7d",
    "interventions_7d",
    "shipped_7d",
    "interventions_per_shipped_unit",
    "escalations_7d",
    "rejects_7d",
    "stops_7d",
    "ingest_timeouts_7d",
    "lane_restarts_7d",
    "unsolicited_steers_7d",
    "brain_calls_7d",
    "brain_tokens_7d",
    "cost_usd_7d",
    "build_tokens_7d",
    "build_cost_usd_7d",
    "cost_per_shipped_unit",
    "cost_per_decision",
    "dispatches_per_lane_7d",
    "distinct_lanes_used_7d",
    "ingests_7d",
    "lints_7d",
    "checkpoints_7d",
    "experiments",
    "lanes_idle_with_backlog",
)
LOG_SOURCE = "session-events-v2"
USD_FIELDS = ("cost_usd_7d", "build_cost_usd_7d", "cost_per_shipped_unit", "cost_per_decision")
RATIO_FIELDS = ("autonomy_ratio", "interventions_per_shipped_unit")
WIDE_KEYS = (
    "autonomy_ratio",
    "interventions_per_shipped_unit",
    "escalations_7d",
    "rejects_7d",
    "stops_7d",
    "ingest_timeouts_7d",
    "lane_restarts_7d",
    "unsolicited_steers_7d",
    "brain_calls_7d",
    "brain_tokens_7d",
    "cost_usd_7d",
    "build_tokens_7d",
    "build_cost_usd_7d",
    "cost_per_shipped_unit",
    "cost_per_decision",
    "dispatches_per_lane_7d",
    "distinct_lanes_used_7d",
)  # the keys whose value starts at offset 35 in the text block (the rest: 21)
DISPATCHES_LINE = "n/a (not derivable from substrate surfaces; out of scope)"
OPEN_TASK_STATUSES = ("open", "in-progress", "review")
DAYS = 7


class MetricsError(Exception):
    """A one-line, user-facing error."""


RESTART_KEYS = ("timestamp", "session", "lane", "target", "cmd")
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_moment(value: Any) -> Optional[_dt.datetime]:
    """An ISO-8601 date and time (`2026-04-15T11:22:33.123Z`, offsets and no seconds allowed; no zone is
    UTC) as an aware UTC datetime, or None when it is none or names no real moment."""
    m = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups()[:6])
    zone = m.group(8)
    try:
        moment = _dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    offset = _dt.timedelta(0)
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if zone[0] == "-":
            offset = -offset
    try:
        return (moment - offset).replace(tzinfo=_dt.timezone.utc)
    except OverflowError:
        return None


def valid_timestamp(value: Any) -> bool:
    """An ISO-8601 date and time (`2026-04-15T11:22:33.123Z`, offsets and no seconds allowed) naming a
    real moment -- the rule of loop_schemas.RestartEvent."""
    m = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in m.groups()[:6])
    try:
        _dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def is_restart(doc: Dict[str, Any]) -> bool:
    """A lane-restarts.jsonl object is a restart when it has no `event` and either a valid `timestamp`
    (the original's sparse lines, e.g. {"timestamp": ..., "lane": "web"}) or all of a restart's text
    fields (loop_schemas.RestartEvent's rule)."""
    if "event" in doc:
        return False
    return valid_timestamp(doc.get("timestamp")) or all(isinstance(doc.get(k), str) for k in RESTART_KEYS)


def restart_counts(path: str, now: Optional[_dt.datetime] = None) -> Dict[str, int]:
    """{"restarts", "giveups", "corrupt"} (all time) and, against `now`, {"restarts_24h", "giveups_24h",
    "restarts_7d"} from a lane-restarts.jsonl; a missing file counts 0 (and "missing": 1).
    A line that is no JSON object (a half-written last line, say), over-long, or an object without
    `event` that is no restart (is_restart) is corrupt: skipped and counted (the caller notes it); the
    improve miner and the deck read the file the same way. A line whose timestamp names no moment counts
    all-time only (it cannot be placed in a window)."""
    counts = {
        "restarts": 0,
        "giveups": 0,
        "corrupt": 0,
        "restarts_24h": 0,
        "giveups_24h": 0,
        "restarts_7d": 0,
    }
    stamp = now or _dt.datetime.now(_dt.timezone.utc)
    day_ago, week_ago = stamp - _dt.timedelta(hours=24), stamp - _dt.timedelta(days=DAYS)
    try:
        fh = fsread.open_file(path)
    except FileNotFoundError:
        return {**counts, "missing": 1}
    with fh:
        for raw in fsread.lines(fh):
            if raw is None:
                counts["corrupt"] += 1  # a line over fsread.LINE_CAP bytes: no restart record
                continue
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                counts["corrupt"] += 1
                continue
            if not isinstance(doc, dict):
                counts["corrupt"] += 1
                continue
            when = parse_moment(doc.get("timestamp"))
            if is_restart(doc):
                counts["restarts"] += 1
                if when is not None and when >= week_ago:
                    counts["restarts_7d"] += 1
                if when is not None and when >= day_ago:
                    counts["restarts_24h"] += 1
            elif "event" not in doc:
                counts["corrupt"] += 1
            elif doc.get("event") == "giving-up":
                counts["giveups"] += 1
                if when is not None and when >= day_ago:
                    counts["giveups_24h"] += 1
    return counts


def log_counts(path: str) -> Dict[str, int]:
    """How many `## [date] ingest|lint|checkpoint | ...` headings ops-wiki/log.md holds (0 if missing)."""
    counts = {"ingest": 0, "lint": 0, "checkpoint": 0}
    try:
        data = fsread.read_file(path, fsread.WIKI_CAP)
    except FileNotFoundError:
        return counts
    for m in LOG_HEADING_RE.finditer(data):
        counts[m.group(1).decode("ascii")] += 1
    return counts


# ---- the original's figures ----------------------------------------------------------------------


def session_names(root: str) -> List[str]:
    """The sessions under <root>/.loop/sessions/ (directories), sorted; none when it is missing."""
    base = os.path.join(root, ".loop", "sessions")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    return sorted(n for n in names if os.path.isdir(os.path.join(base, n)) and SESSION_RE.match(n))


def resolve_session(root: str, tmux_session: Optional[str], notes: List[str]) -> Optional[str]:
    """No --session: the only .loop/sessions/ entry, else the current tmux session when it is one of them."""
    sessions = session_names(root)
    if len(sessions) == 1:
        notes.append(f"session defaulted to sole .loop/sessions/ entry '{sessions[0]}'")
        return sessions[0]
    if sessions and tmux_session and tmux_session in sessions:
        notes.append(f"session defaulted to current tmux session '{tmux_session}'")
        return tmux_session
    if sessions:
        notes.append(
            f"{len(sessions)} sessions under .loop/sessions/ — pass --session; restart counts read 0"
        )
    return None


def read_snapshot(engine_dir: str, session: str, notes: List[str]) -> Optional[Dict[str, Any]]:
    """engine/snapshot.json as a JSON object, or None (missing, unreadable or damaged: noted)."""
    label = f"snapshot.json for session '{session}'"
    try:
        raw = fsread.read_file(os.path.join(engine_dir, "snapshot.json"), fsread.ENGINE_CAP)
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"{label} unreadable: {exc.strerror or exc}; metrics using fallback/0")
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        notes.append(f"{label} unparseable: {_one_line(str(exc))}; metrics using fallback/0")
        return None
    if not isinstance(data, dict):
        notes.append(f"{label} is not a JSON object; metrics using fallback/0")
        return None
    return data


def _chars(path: str) -> int:
    return len(fsread.read_text(path, fsread.WIKI_CAP, errors="replace"))


def engine_checkpoint(
    engine_dir: Optional[str], session: Optional[str], snapshot: Optional[Dict[str, Any]], notes: List[str]
) -> Tuple[int, str, Optional[int]]:
    """(tokens, source, chars): snapshot.json `checkpoint_tokens` (an int >= 0), else engine/checkpoint.md
    chars/4, else the newest engine/brain/*.prompt.md chars/4, else 0 (source "none")."""
    if not session or engine_dir is None:
        notes.append("no session selected — checkpoint_tokens read 0")
        return 0, "none", None
    if snapshot is not None:
        value = snapshot.get("checkpoint_tokens")
        if type(value) is int and value >= 0:
            return value, "snapshot", None
        if value is not None:
            notes.append(
                f"snapshot.json for session '{session}' has invalid checkpoint_tokens; using fallback/0"
            )
    direct = os.path.join(engine_dir, "checkpoint.md")
    try:
        chars = _chars(direct)
    except FileNotFoundError:
        pass
    except OSError as exc:
        notes.append(
            f"checkpoint.md for session '{session}' unreadable: {exc.strerror or exc}; trying brain prompts"
        )
    else:
        return chars // 4, "checkpoint.md", chars
    brain = os.path.join(engine_dir, "brain")
    candidates: List[Tuple[float, str]] = []
    try:
        names = sorted(n for n in os.listdir(brain) if n.endswith(".prompt.md"))
    except OSError:
        names = []
    for name in names:
        try:
            candidates.append((os.stat(os.path.join(brain, name)).st_mtime, name))
        except OSError:
            continue
    if candidates:
        latest = max(candidates)[1]
        try:
            chars = _chars(os.path.join(brain, latest))
        except OSError as exc:
            notes.append(
                f"brain prompt {latest} for session '{session}' unreadable: {exc.strerror or exc}; "
                "checkpoint_tokens read 0"
            )
        else:
            return chars // 4, "brain-prompt", chars
    notes.append(f"no session checkpoint surface for session '{session}' — checkpoint_tokens read 0")
    return 0, "none", None


def wiki_log(root: str, today: _dt.date, notes: List[str]) -> Dict[str, int]:
    """From ops-wiki/log.md: shipped_7d (`task | T#### done`), checkpoints_7d and experiments (all time)."""
    out = {"shipped_7d": 0, "checkpoints_7d": 0, "experiments": 0}
    try:
        text = fsread.read_text(os.path.join(root, "ops-wiki", "log.md"), fsread.WIKI_CAP, errors="replace")
    except FileNotFoundError:
        notes.append("no ops-wiki/log.md — checkpoints_7d/experiments/tasks_done_7d read 0")
        return out
    except OSError as exc:
        notes.append(
            f"ops-wiki/log.md unreadable: {exc.strerror or exc}; "
            "checkpoints_7d/experiments/tasks_done_7d read 0"
        )
        return out
    cutoff = today - _dt.timedelta(days=DAYS)
    skipped = 0
    for line in text.split("\n"):
        m = DATED_LOG_RE.match(line)
        if not m:
            continue
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            skipped += 1
            continue
        kind, detail = m.group(4), m.group(5)
        if kind == "experiment":
            out["experiments"] += 1
        elif kind == "checkpoint" and day >= cutoff:
            out["checkpoints_7d"] += 1
        elif kind == "task" and day >= cutoff and SHIPPED_RE.match(detail):
            out["shipped_7d"] += 1
    if skipped:
        notes.append(f"ops-wiki/log.md skipped {skipped} malformed dated line(s)")
    return out


def _nonneg_int(value: Any) -> Optional[int]:
    return value if type(value) is int and value >= 0 else None


def _nonneg_number(value: Any) -> Optional[float]:
    if type(value) in (int, float) and value >= 0 and not math.isnan(value) and not math.isinf(value):
        return float(value)
    return None


def usage_tokens(rec: Dict[str, Any]) -> Optional[int]:
    """`total_tokens`, else the sum of the parts present, else None."""
    total = _nonneg_int(rec.get("total_tokens"))
    if total is not None:
        return total
    parts = [
        _nonneg_int(rec.get(k))
        for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    found = [p for p in parts if p is not None]
    return sum(found) if found else None


class CostTally:
    """Tokens and USD of the usage events of one kind (brain or build) in one window."""

    def __init__(self) -> None:
        self.calls = 0  # brain-call events (brain only)
        self.events = 0  # counted usage events (success or no status, not unavailable)
        self.tokens = 0
        self.with_tokens = 0
        self.cost = 0.0
        self.priced = 0
        self.unpriced = 0
        self.unavailable = 0

    def add(self, rec: Dict[str, Any]) -> None:
        status = rec.get("attempt_status")
        if status is not None and status != "success":
            return  # a failed attempt's usage is not the call's
        if rec.get("cost_source") == "unavailable":
            self.unavailable += 1
            return
        self.events += 1
        tokens = usage_tokens(rec)
        if tokens is not None:
            self.tokens += tokens
            self.with_tokens += 1
        cost = _nonneg_number(rec.get("cost_usd"))
        if cost is not None:
            self.cost += cost
            self.priced += 1
        else:
            self.unpriced += 1

    def total_tokens(self, brain: bool) -> Optional[int]:
        """The tokens; n/a when calls happened (brain) but no counted event carried tokens."""
        if brain and self.calls and not self.with_tokens:
            return None
        return self.tokens

    def total_cost(self, brain: bool) -> Optional[float]:
        """The USD; n/a (never 0) when a counted event carried no cost, or when calls happened (brain)
        but none carried a cost."""
        if self.unpriced:
            return None
        if brain and self.calls and not self.priced:
            return None
        return round(self.cost, 6)


def _event_moment(rec: Dict[str, Any]) -> Optional[_dt.datetime]:
    return parse_moment(rec.get("ts") if "ts" in rec else rec.get("timestamp"))


class EventScan:
    """The 7-day figures of one session's engine/events.jsonl."""

    def __init__(self, now: _dt.datetime) -> None:
        self.now = now
        self.cutoff = now - _dt.timedelta(days=DAYS)
        first_day = now.date() - _dt.timedelta(days=DAYS - 1)
        self.days = [first_day + _dt.timedelta(days=i) for i in range(DAYS)]
        self.counts = {
            k: 0
            for k in (
                "escalations_7d",
                "rejects_7d",
                "stops_7d",
                "ingest_timeouts_7d",
                "brain_calls_7d",
                "ingests_7d",
                "lints_7d",
                "engine_decisions_7d",
                "decisions_7d",
                "events_7d",
            )
        }
        self.lanes: Dict[str, int] = {}
        self.mail_files: List[str] = []
        self.brain = CostTally()
        self.build = CostTally()
        self.daily = {d: {"engine": 0, "decisions": 0, "calls": 0, "tally": CostTally()} for d in self.days}
        self.corrupt = 0
        self.bad_lint_ok = 0

    def feed(self, rec: Dict[str, Any]) -> None:
        when = _event_moment(rec)
        if when is None:
            self.corrupt += 1
            return
        day = self.daily.get(when.date())
        if when < self.cutoff:
            return
        c = self.counts
        c["events_7d"] += 1
        kind = rec.get("event")
        if kind == "decision-approved":
            c["decisions_7d"] += 1
            engine = rec.get("decided_by") == "engine"
            c["engine_decisions_7d"] += engine
            if day is not None:
                day["decisions"] += 1
                day["engine"] += engine
        elif kind == "decision-rejected":
            c["rejects_7d"] += 1
            c["decisions_7d"] += 1
            if day is not None:
                day["decisions"] += 1
        elif kind in ("escalate", "escalation"):  # the original's name, this engine's
            c["escalations_7d"] += 1
        elif kind in ("action", "action-done"):  # this engine's action-done names its lane `target`
            lane = rec.get("lane") if kind == "action" else rec.get("target")
            if isinstance(lane, str):
                lane = "_".join(lane.split())
                if lane:
                    self.lanes[lane] = self.lanes.get(lane, 0) + 1
            if rec.get("kind") == "stop":
                c["stops_7d"] += 1
        elif kind == "ingest-timeout" or (kind == "ingest-failed" and rec.get("failure_class") == "timeout"):
            c["ingest_timeouts_7d"] += 1
        elif kind in ("ingest-done", "ingest-headless-done", "ingest-nudged"):  # the original's, ours
            c["ingests_7d"] += 1
        elif kind == "brain-call":
            c["brain_calls_7d"] += 1
            self.brain.calls += 1
            if day is not None:
                day["calls"] += 1
                day["tally"].calls += 1
        elif kind == "brain-usage":
            self.brain.add(rec)
            if day is not None:
                day["tally"].add(rec)
        elif kind == "build-usage":
            self.build.add(rec)
        elif kind == "lint-dispatch":
            ok = rec.get("ok", True)
            if ok is True:
                c["lints_7d"] += 1
            elif ok is not False:
                self.bad_lint_ok += 1
        elif kind == "mailbox-new":
            name = rec.get("file")
            if isinstance(name, str) and name not in self.mail_files:
                self.mail_files.append(name)


def scan_events(path: str, session: str, now: _dt.datetime, notes: List[str]) -> EventScan:
    scan = EventScan(now)
    try:
        fh = fsread.open_file(path)
    except FileNotFoundError:
        notes.append(f"no events.jsonl for session '{session}' — event counts/autonomy read 0/n/a")
        return scan
    except OSError as exc:
        notes.append(
            f"events.jsonl for session '{session}' unreadable: {exc.strerror or exc}; "
            "event counts/autonomy read 0/n/a"
        )
        return scan
    with fh:
        for raw in fsread.lines(fh):
            if raw is None:
                scan.corrupt += 1
                continue
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):
                scan.corrupt += 1
                continue
            if not isinstance(rec, dict):
                scan.corrupt += 1
                continue
            scan.feed(rec)
    if scan.corrupt:
        notes.append(f"events.jsonl for session '{session}' skipped {scan.corrupt} corrupt line(s)")
    if scan.bad_lint_ok:
        notes.append("lint-dispatch with non-boolean ok skipped")
    return scan


def unsolicited_steers(box: str, files: List[str], now: _dt.datetime, notes: List[str]) -> int:
    """`mailbox-new` files named `<stamp>-<from>-to-coord.md`, from ≠ coord, stamped within 7 days, whose
    subject (pending, processed/ or failed/) does not start `re:`; a missing file is noted, not counted."""
    cutoff = now - _dt.timedelta(days=DAYS)
    count = 0
    for name in files:
        parts = mail.parse_name(name)
        if parts is None or parts["to"] != "coord" or parts["from"] == "coord":
            continue
        stamp = _dt.datetime.strptime(parts["date"] + parts["time"], "%Y%m%d%H%M%S")
        if stamp.replace(tzinfo=_dt.timezone.utc) < cutoff:
            continue
        for folder in (box, os.path.join(box, "processed"), os.path.join(box, "failed")):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                subject = mail.read_subject(path) or ""
                count += not REPLY_RE.match(subject.strip())
                break
        else:
            notes.append(f"mailbox-new file '{name}' not found — skipped unsolicited steer count")
    return count


def open_tasks_by_loop(root: str, notes: List[str]) -> Dict[str, int]:
    """{loop: open tasks} over tasks/*.md whose status is open, in-progress or review."""
    tasks_dir = os.path.join(root, "tasks")
    out: Dict[str, int] = {}
    try:
        names = sorted(n for n in os.listdir(tasks_dir) if n.endswith(".md") and n != "README.md")
    except FileNotFoundError:
        return out
    except OSError as exc:
        notes.append(f"tasks/ unreadable: {exc.strerror or exc}; lanes_idle_with_backlog read 0")
        return out
    for name in names:
        try:
            data, _ = frontmatter.parse(
                fsread.read_text(os.path.join(tasks_dir, name), fsread.DOC_CAP, "replace")
            )
        except (OSError, frontmatter.FrontmatterError):
            continue  # an unreadable or malformed task is loop-task-lint's finding, not a backlog
        loop, status = data.get("loop"), data.get("status")
        if isinstance(loop, str) and loop and status in OPEN_TASK_STATUSES:
            out[loop] = out.get(loop, 0) + 1
    return out


def idle_with_backlog(
    session: Optional[str], snapshot: Optional[Dict[str, Any]], backlog: Dict[str, int]
) -> int:
    """Non-coord snapshot lanes that are idle while their loop (the session, or the lane's name) has
    open, in-progress or review tasks."""
    lanes = (snapshot or {}).get("lanes")
    if not session or not isinstance(lanes, dict):
        return 0
    return sum(
        1
        for lane, info in lanes.items()
        if lane != "coord"
        and isinstance(info, dict)
        and info.get("status") == "idle"
        and (backlog.get(session, 0) or backlog.get(lane, 0))
    )


def _ratio(num: int, den: int) -> Optional[float]:
    return round(num / den, 2) if den else None


def _per(cost: Optional[float], den: int) -> Optional[float]:
    return round(cost / den, 6) if cost is not None and den else None


def collect(
    project_root: str,
    session: Optional[str],
    header_file: Optional[str] = None,
    mailbox: Optional[str] = None,
    now: Optional[_dt.datetime] = None,
    tmux_session: Optional[str] = None,
) -> Dict[str, Any]:
    """The Metrics document (contract v1, loop_schemas.Metrics). With no `session`, the session is the
    only .loop/sessions/ entry, else `tmux_session` when it is one of them (noted)."""
    if session is not None and (not SESSION_RE.match(session) or session in (".", "..")):
        raise MetricsError(f"invalid session name {session!r}")
    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    notes: List[str] = []
    if not session:
        session = resolve_session(project_root, tmux_session, notes)
    box = mailbox or os.path.join(project_root, ".loop", "messages")
    try:
        prompt = checkpoint.assemble(project_root, header_file, mailbox)
        cp_bytes: Optional[int] = len(prompt.encode("utf-8"))
        cp_tokens: Optional[int] = checkpoint.token_estimate(cp_bytes or 0)
    except checkpoint.CheckpointError:
        cp_bytes = cp_tokens = None
    restarts: Dict[str, Optional[int]] = dict.fromkeys(
        ("restarts", "giveups", "restarts_24h", "giveups_24h", "restarts_7d")
    )
    session_dir = engine_dir = None
    if session:
        session_dir = os.path.join(project_root, ".loop", "sessions", session)
        engine_dir = os.path.join(session_dir, "engine")
        log_path = os.path.join(session_dir, "lane-restarts.jsonl")
        counts = restart_counts(log_path, stamp)
        restarts.update({k: counts[k] for k in restarts})
        if counts.get("missing"):
            notes.append(
                f"no lane-restarts.jsonl for session '{session}' — "
                "restarts_24h/giveups_24h/lane_restarts_7d read 0"
            )
        if counts["corrupt"]:
            sys.stderr.write(f"{PROG}: note: {log_path}: {counts['corrupt']} corrupt line(s) skipped\n")
            notes.append(
                f"lane-restarts.jsonl for session '{session}' skipped {counts['corrupt']} corrupt line(s)"
            )
    snapshot = read_snapshot(engine_dir, session, notes) if engine_dir and session else None
    eng_tokens, eng_source, eng_chars = engine_checkpoint(engine_dir, session, snapshot, notes)
    wiki = wiki_log(project_root, stamp.date(), notes)
    if engine_dir and session:
        scan = scan_events(os.path.join(engine_dir, "events.jsonl"), session, stamp, notes)
        steers = unsolicited_steers(box, scan.mail_files, stamp, notes)
    else:
        notes.append("no session selected — events.jsonl metrics read 0/n/a")
        scan, steers = EventScan(stamp), 0
    cost = scan.brain.total_cost(brain=True)
    brain_missing = scan.brain.calls - (scan.brain.events + scan.brain.unavailable)
    if brain_missing > 0:
        rest = "cost metrics n/a" if cost is None else "cost counts only the calls that reported usage"
        notes.append(f"{brain_missing} brain-call event(s) lack brain-usage; {rest}")
    if scan.brain.unavailable:
        notes.append(f"{scan.brain.unavailable} brain-usage event(s) with cost_source unavailable dropped")
    if scan.brain.unpriced:
        notes.append(f"{scan.brain.unpriced} brain-usage event(s) unpriced; cost metrics n/a")
    if scan.build.unavailable:
        notes.append(f"{scan.build.unavailable} build-usage event(s) with cost_source unavailable dropped")
    if scan.build.unpriced:
        notes.append(
            f"{scan.build.unpriced} build-usage event(s) unpriced; "
            "build_cost_usd_7d n/a (set engine.codex_pricing)"
        )
    c = scan.counts
    interventions = c["escalations_7d"] + steers + c["rejects_7d"]
    daily = []
    for day in scan.days:
        d = scan.daily[day]
        daily.append(
            {
                "date": day.isoformat(),
                "autonomy_ratio": _ratio(d["engine"], d["decisions"]),
                "cost_usd": d["tally"].total_cost(brain=True),
                "brain_calls": d["calls"],
                "decisions": d["decisions"],
            }
        )
    backlog = open_tasks_by_loop(project_root, notes)
    logs = log_counts(os.path.join(project_root, "ops-wiki", "log.md"))
    doc: Dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "generated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "session": session or None,
        "checkpoint_bytes": cp_bytes,
        "checkpoint_tokens": cp_tokens,
        "pending": mail.pending_count(box),
        "lane_restarts": restarts["restarts"],
        "lane_giveups": restarts["giveups"],
        "ingests": logs["ingest"],
        "lints": logs["lint"],
        "checkpoints": logs["checkpoint"],
        "project_root": os.path.abspath(project_root),
        "engine_checkpoint_tokens": eng_tokens,
        "engine_checkpoint_source": eng_source,
        "engine_checkpoint_chars": eng_chars,
        "restarts_24h": restarts["restarts_24h"] or 0,
        "giveups_24h": restarts["giveups_24h"] or 0,
        "autonomy_ratio": _ratio(c["engine_decisions_7d"], c["decisions_7d"]),
        "engine_decisions_7d": c["engine_decisions_7d"],
        "decisions_7d": c["decisions_7d"],
        "interventions_7d": interventions,
        "shipped_7d": wiki["shipped_7d"],
        "interventions_per_shipped_unit": _ratio(interventions, wiki["shipped_7d"]),
        "escalations_7d": c["escalations_7d"],
        "rejects_7d": c["rejects_7d"],
        "stops_7d": c["stops_7d"],
        "ingest_timeouts_7d": c["ingest_timeouts_7d"],
        "lane_restarts_7d": restarts["restarts_7d"] or 0,
        "unsolicited_steers_7d": steers,
        "brain_calls_7d": c["brain_calls_7d"],
        "brain_tokens_7d": scan.brain.total_tokens(brain=True),
        "cost_usd_7d": cost,
        "build_tokens_7d": scan.build.total_tokens(brain=False),
        "build_cost_usd_7d": scan.build.total_cost(brain=False),
        "cost_per_shipped_unit": _per(cost, wiki["shipped_7d"]),
        "cost_per_decision": _per(cost, c["decisions_7d"]),
        "dispatches_per_lane_7d": dict(sorted(scan.lanes.items())),
        "distinct_lanes_used_7d": len(scan.lanes),
        "ingests_7d": c["ingests_7d"],
        "lints_7d": c["lints_7d"],
        "checkpoints_7d": wiki["checkpoints_7d"],
        "experiments": wiki["experiments"],
        "lanes_idle_with_backlog": idle_with_backlog(session, snapshot, backlog),
        "events_7d": c["events_7d"],
        "daily": daily,
        "notes": notes,
    }
    return doc


# ---- rendering -----------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fmt(value: Any) -> str:
    return "n/a" if value is None else str(value)


def fmt_value(key: str, value: Any) -> str:
    """A figure as the text block and the log line print it: USD with 6 decimals, ratios with 2, the
    dispatches as compact sorted JSON, unknown as n/a."""
    if value is None:
        return "n/a"
    if key in USD_FIELDS:
        return f"{value:.6f}"
    if key in RATIO_FIELDS:
        return f"{value:.2f}"
    if key == "dispatches_per_lane_7d":
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _row(key: str, value: str) -> str:
    """`  key: value` with the value at the original's offset: 35 for the wide keys, but 34 for
    interventions_per_shipped_unit (one space after its colon), 21 for the others."""
    col = 21
    if key in WIDE_KEYS:
        col = 34 if key == "interventions_per_shipped_unit" else 35
    head = f"  {key}:"
    return head + " " * max(1, col - len(head)) + value


def _autonomy(doc: Dict[str, Any]) -> str:
    """`<ratio> (<engine>/<decisions>)`."""
    ratio = fmt_value("autonomy_ratio", doc["autonomy_ratio"])
    return f"{ratio} ({doc['engine_decisions_7d']}/{doc['decisions_7d']})"


def text_lines(doc: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The original's key lines in its order: (key, printed value)."""
    detail = ""
    if doc["engine_checkpoint_chars"] is not None:
        detail = f" ({doc['engine_checkpoint_chars']} chars / 4)"
    rows = [
        ("checkpoint_tokens", f"{doc['engine_checkpoint_tokens']}{detail}"),
        ("pending_messages", _fmt(doc["pending"])),
        ("restarts_24h", _fmt(doc["restarts_24h"])),
        ("giveups_24h", _fmt(doc["giveups_24h"])),
        ("autonomy_ratio", _autonomy(doc)),
        (
            "interventions_per_shipped_unit",
            f"{fmt_value('interventions_per_shipped_unit', doc['interventions_per_shipped_unit'])} "
            f"({doc['interventions_7d']} interventions / {doc['shipped_7d']} shipped)",
        ),
    ]
    for key in (*WIDE_KEYS[2:], "ingests_7d", "lints_7d", "checkpoints_7d", "experiments"):
        rows.append((key, fmt_value(key, doc[key])))
    rows.append(("dispatches", DISPATCHES_LINE))
    return rows


def human(doc: Dict[str, Any], today: Optional[_dt.date] = None) -> str:
    day = today or _dt.datetime.now(_dt.timezone.utc).date()
    lines = [f"loop-metrics — {day.isoformat()} (session: {doc['session'] or 'none'})"]
    lines += [_row(k, v) for k, v in text_lines(doc)]
    if doc["notes"]:
        lines.append("notes:")
        lines += [f"  - {_one_line(n)}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


def log_summary(doc: Dict[str, Any]) -> str:
    """The v1 tokens `checkpoint_tokens=N pending=N restarts=N giveups=N ingests=N lints=N checkpoints=N`,
    then the added figures, ending in `source=session-events-v2`."""
    v1 = [f"{LOG_NAMES[k]}={_fmt(doc[k])}" for k in FIELDS]
    added = [f"{k}={fmt_value(k, doc[k])}" for k in LOG_ADDED]
    return " ".join(v1 + added + [f"source={LOG_SOURCE}"])


# ---- --all ---------------------------------------------------------------------------------------

TABLE_HEAD = (
    "SESSION",
    "ROOT",
    "TOKENS",
    "AUTONOMY",
    "INT",
    "ESC",
    "BRAIN",
    "INGEST",
    "LINT",
    "STEER",
    "BRAIN_TOKENS",
    "COST_USD",
    "IDLE_BACKLOG",
)
SUM_KEYS = (
    "engine_checkpoint_tokens",
    "interventions_7d",
    "escalations_7d",
    "rejects_7d",
    "stops_7d",
    "ingest_timeouts_7d",
    "lane_restarts_7d",
    "unsolicited_steers_7d",
    "brain_calls_7d",
    "ingests_7d",
    "lints_7d",
    "checkpoints_7d",
    "lanes_idle_with_backlog",
)
PARTIAL_KEYS = ("brain_tokens_7d", "cost_usd_7d", "build_tokens_7d", "build_cost_usd_7d")


def collect_fleet(
    roots: List[str], header_file: Optional[str], now: Optional[_dt.datetime] = None
) -> Dict[str, Any]:
    """The FleetMetrics document: every session of every root (de-duplicated), and their aggregate."""
    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    rows: List[Dict[str, Any]] = []
    seen = set()
    resolved: List[str] = []
    for root in roots:
        real = os.path.abspath(root)
        if real not in resolved:
            resolved.append(real)
        for session in session_names(real):
            if (real, session) in seen:
                continue
            seen.add((real, session))
            rows.append(collect(real, session, header_file, None, stamp))
    agg: Dict[str, Any] = {"sessions": len(rows)}
    agg["distinct_active_loops"] = len({(r["project_root"], r["session"]) for r in rows if r["events_7d"]})
    for key in SUM_KEYS:
        agg[key] = sum(r[key] for r in rows)
    engine = sum(r["engine_decisions_7d"] for r in rows)
    total = sum(r["decisions_7d"] for r in rows)
    per_root: Dict[str, Dict[str, Any]] = {}
    for r in rows:
        per_root.setdefault(r["project_root"], r)  # log.md is the root's: count it once per root
    shipped = sum(r["shipped_7d"] for r in per_root.values())
    agg.update(
        engine_decisions_7d=engine,
        decisions_7d=total,
        autonomy_ratio=_ratio(engine, total),
        shipped_7d=shipped,
        interventions_per_shipped_unit=_ratio(agg["interventions_7d"], shipped),
        experiments=sum(r["experiments"] for r in per_root.values()),
    )
    partial: Dict[str, int] = {}
    for key in PARTIAL_KEYS:
        known = [r[key] for r in rows if r[key] is not None]
        missing = len(rows) - len(known)
        if rows and not known:
            agg[key] = None
        else:
            agg[key] = round(sum(known), 6) if key.endswith("usd_7d") else sum(known)
        if missing and known:
            partial[key] = missing
    agg["partial"] = partial
    return {
        "contract_version": CONTRACT_VERSION,
        "generated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "roots": resolved,
        "sessions": rows,
        "aggregate": agg,
        "notes": [f"{r['project_root']}:{r['session']}: {n}" for r in rows for n in r["notes"]],
    }


def human_fleet(fleet: Dict[str, Any], today: Optional[_dt.date] = None) -> str:
    day = today or _dt.datetime.now(_dt.timezone.utc).date()
    lines = [f"loop-metrics --all — {day.isoformat()}"]
    rows = fleet["sessions"]
    if not rows:
        lines.append("no sessions found under any <root>/.loop/sessions/")
    else:
        table = [list(TABLE_HEAD)]
        for r in rows:
            table.append(
                [
                    r["session"],
                    r["project_root"],
                    str(r["engine_checkpoint_tokens"]),
                    f"{_autonomy(r)}".replace(" ", ""),
                    str(r["interventions_7d"]),
                    str(r["escalations_7d"]),
                    str(r["brain_calls_7d"]),
                    str(r["ingests_7d"]),
                    str(r["lints_7d"]),
                    str(r["unsolicited_steers_7d"]),
                    _fmt(r["brain_tokens_7d"]),
                    fmt_value("cost_usd_7d", r["cost_usd_7d"]),
                    str(r["lanes_idle_with_backlog"]),
                ]
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(TABLE_HEAD))]
        for i, row in enumerate(table):
            lines.append("  ".join(cell.ljust(widths[p]) for p, cell in enumerate(row)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
    agg = fleet["aggregate"]

    def put(key: str, value: str) -> None:
        head = f"  {key}:"
        lines.append(head + " " * max(1, 31 - len(head)) + value)

    lines.append("fleet aggregate:")
    put("sessions", str(agg["sessions"]))
    put("distinct_active_loops", str(agg["distinct_active_loops"]))
    put("checkpoint_tokens", str(agg["engine_checkpoint_tokens"]))
    put(
        "autonomy_ratio",
        _autonomy(agg),
    )
    put(
        "interventions_per_shipped_unit",
        f"{fmt_value('interventions_per_shipped_unit', agg['interventions_per_shipped_unit'])} "
        f"({agg['interventions_7d']} interventions / {agg['shipped_7d']} shipped)",
    )
    put("interventions", str(agg["interventions_7d"]))
    for key in (
        "escalations_7d",
        "rejects_7d",
        "stops_7d",
        "ingest_timeouts_7d",
        "lane_restarts_7d",
        "unsolicited_steers_7d",
        "brain_calls_7d",
    ):
        put(key, str(agg[key]))
    for key in PARTIAL_KEYS:
        put(key, fmt_value(key, agg[key]))
        if key in agg["partial"]:
            lines.append(f"  ({key} is a partial total; {agg['partial'][key]} session(s) with n/a left out)")
    for key in ("ingests_7d", "lints_7d", "checkpoints_7d", "experiments", "lanes_idle_with_backlog"):
        put(key, str(agg[key]))
    if fleet["notes"]:
        lines.append("notes:")
        lines += [f"  - {_one_line(n)}" for n in fleet["notes"]]
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.exit(2)


def main(argv: List[str]) -> int:
    parser = _Parser(
        prog="metrics.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project-root", action="append", default=[])
    parser.add_argument("--session")
    parser.add_argument("--tmux-session")
    parser.add_argument("--header-file")
    parser.add_argument("--mailbox-dir")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log", action="store_true")
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    roots = args.project_root or ["."]
    if args.all and args.log:
        sys.stderr.write(f"{PROG}: --all and --log cannot be combined; run --log per session\n")
        return 2
    if args.all and args.session:
        sys.stderr.write(f"{PROG}: --all and --session cannot be combined; --all scans every session\n")
        return 2
    if args.all and args.mailbox_dir:
        sys.stderr.write(f"{PROG}: --all reads each root's own mailbox; --mailbox-dir is for one session\n")
        return 2
    if not args.all and len(roots) > 1:
        sys.stderr.write(f"{PROG}: --project-root is repeated only with --all\n")
        return 2
    for root in roots:
        if not os.path.isdir(root):
            sys.stderr.write(f"{PROG}: project root not found: {root}\n")
            return 1
    try:
        if args.all:
            fleet = collect_fleet(roots, args.header_file)
            if args.json:
                json.dump(fleet, sys.stdout, ensure_ascii=False)
                sys.stdout.write("\n")
            else:
                sys.stdout.write(human_fleet(fleet))
            return 0
        doc = collect(
            roots[0], args.session or None, args.header_file, args.mailbox_dir, tmux_session=args.tmux_session
        )
    except MetricsError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"{PROG}: {exc.filename or roots[0]}: {exc.strerror}\n")
        return 1
    if args.json:
        json.dump(doc, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(human(doc))
    if args.log:
        try:
            checkpoint.append_log(roots[0], "metrics", log_summary(doc))
        except (checkpoint.CheckpointError, OSError) as exc:
            sys.stderr.write(f"{PROG}: cannot append to ops-wiki/log.md: {exc}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
