"""The improve miner: weakness clusters from the engine's own traces.

Sources: events.jsonl (brain failures by class, rejected decisions, action failures, ask timeouts, brain
timings, engine cycle crashes), the mailbox and its processed/ folder (a human steering the coordinator),
the watchdog's lane-restarts.jsonl (lane instability) and the deck's deck-crash.log (deck crashes).

Each cluster has a stable signature (the same traces always give the same signature), a count, and its
evidence: event ids (`e-…`), mail file names (`mail:<name>`), or `<file>:<line>` for the two logs.
Nothing here writes anything.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop_schemas import (
    ProjectFileError,
    RestartEvent,
    SchemaError,
    open_project_file,
    parse_mail_name,
    parse_watchdog_line,
    project_lines,
)

from loop_engine.events import EventLog
from loop_engine.mailhead import read_mail_head
from loop_engine.paths import EnginePaths
from loop_engine.reports import done_shaped

BRAIN_CLASSES = ("model-unavailable", "quota", "timeout", "exit", "parse")
EVIDENCE_KEPT = 50
# lane instability: this many restarts of one lane, or any watchdog give-up
LANE_RESTARTS_MIN = 2
# latency regression: enough successful calls, and the recent half clearly slower than the early half
LATENCY_MIN_SAMPLES = 6
LATENCY_WINDOW = 40
LATENCY_RATIO = 1.5
LATENCY_MIN_DELTA_S = 2.0
# an engine-solicited completion report (the note on every dispatched task asks for it)
_TOKEN_RE = re.compile(r"[^A-Za-z0-9_.-]+")

# How each signature family is addressed: which surface a fix would go to ("none": report only).
FAMILY_SURFACE = {
    "human": "header",
    "crash": "none",
    "brain": "config",
    "latency": "config",
    "decision": "header",
    "action": "header",
    "lane": "agents",
    "ask": "agents",
}


def token(value: object, default: str = "unknown") -> str:
    """A signature component: letters, digits, `_.-` only, at most 64 characters."""
    text = _TOKEN_RE.sub("_", str(value or "")).strip("_")[:64]
    return text or default


@dataclass
class Evidence:
    ref: str
    timestamp: str | None = None


@dataclass
class Cluster:
    signature: str
    evidence: list[Evidence] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.signature.split(":", 1)[0]

    @property
    def count(self) -> int:
        return len(self.evidence)

    @property
    def surface(self) -> str:
        return FAMILY_SURFACE.get(self.family, "header")

    @property
    def report_only(self) -> bool:
        return self.family == "crash"

    @property
    def last_seen(self) -> str | None:
        stamps = [e.timestamp for e in self.evidence if e.timestamp]
        return max(stamps) if stamps else None

    def as_dict(self) -> dict[str, Any]:
        stamps = [e.timestamp for e in self.evidence if e.timestamp]
        return {
            "signature": self.signature,
            "count": self.count,
            "surface": self.surface,
            "evidence": [e.ref for e in self.evidence[-EVIDENCE_KEPT:]],
            "first_seen": min(stamps) if stamps else None,
            "last_seen": max(stamps) if stamps else None,
            "detail": self.detail,
        }


def rank(clusters: Iterable[Cluster]) -> list[Cluster]:
    """Highest leverage first: a human steering the coordinator, then crashes, then by count."""

    def key(c: Cluster) -> tuple[int, int, str]:
        first = 0 if c.family == "human" else 1 if c.family == "crash" else 2
        return (first, -c.count, c.signature)

    return sorted(clusters, key=key)


class _Clusters:
    def __init__(self) -> None:
        self.by_sig: dict[str, Cluster] = {}

    def add(self, signature: str, ref: str, timestamp: object = None) -> Cluster:
        cluster = self.by_sig.setdefault(signature, Cluster(signature))
        cluster.evidence.append(Evidence(ref, str(timestamp) if timestamp else None))
        return cluster

    def note(self, signature: str, key: str, value: object, limit: int = 5) -> None:
        """Collect up to `limit` distinct values of `key` (reasons, lanes, errors) for the detail."""
        cluster = self.by_sig.get(signature)
        if cluster is None or value in (None, ""):
            return
        values = cluster.detail.setdefault(key, [])
        text = str(value)[:200]
        if text not in values and len(values) < limit:
            values.append(text)


def mine(paths: EnginePaths, events: list[dict[str, Any]] | None = None) -> list[Cluster]:
    """Every weakness cluster in the session's traces, ranked (see `rank`)."""
    found = _Clusters()
    records = events if events is not None else list(EventLog(paths.events, paths.session).read())
    _mine_events(records, found)
    _mine_latency(records, found)
    _mine_mail(paths.mailbox, found)
    _mine_restarts(paths.session_dir / "lane-restarts.jsonl", found)
    _mine_deck_crashes(paths.session_dir / "deck-crash.log", found)
    return rank(c for c in found.by_sig.values() if c.count > 0)


def _mine_events(records: list[dict[str, Any]], found: _Clusters) -> None:
    for r in records:
        kind = r.get("event")
        ref = str(r.get("id") or "")
        ts = r.get("timestamp")
        if not ref:
            continue
        if kind == "brain-failed":
            klass = str(r.get("failure_class") or "exit")
            sig = f"brain:{klass if klass in BRAIN_CLASSES else 'exit'}"
            found.add(sig, ref, ts)
            found.note(sig, "errors", r.get("error"))
            found.note(sig, "transcripts", r.get("transcript"))
            found.note(sig, "harnesses", r.get("harness"))
        elif kind == "decision-rejected":
            raw_kinds = r.get("kinds")
            if isinstance(raw_kinds, str):
                raw_kinds = [raw_kinds]
            elif not isinstance(raw_kinds, list):
                raw_kinds = []  # a hand-edited or foreign record: never crash the miner on its type
            kinds = sorted({token(k) for k in raw_kinds if isinstance(k, str) and k}) or ["decision"]
            for k in kinds:
                sig = f"decision:rejected:{k}"
                found.add(sig, ref, ts)
                found.note(sig, "reasons", r.get("reason"))
        elif kind == "action-failed":
            sig = f"action:failed:{token(r.get('kind'))}"
            found.add(sig, ref, ts)
            found.note(sig, "targets", r.get("target"))
            found.note(sig, "errors", r.get("error"))
        elif kind == "ask-timeout":
            found.add("ask:timeout", ref, ts)
            found.note("ask:timeout", "lanes", r.get("lane"))
        elif kind == "cycle-crashed":
            sig = f"crash:{token(r.get('component'), 'engine')}"
            found.add(sig, ref, ts)
            found.note(sig, "errors", f"{r.get('error_type') or 'Error'}: {r.get('error') or ''}")


def _mine_latency(records: list[dict[str, Any]], found: _Clusters) -> None:
    """brain-call → decision timings of calls that SUCCEEDED, trending up (a slow drift, not a failure)."""
    samples: list[tuple[float, dict[str, Any]]] = []
    for r in records:
        if r.get("event") != "brain-answered" or r.get("harness") == "builtin":
            continue
        value = r.get("duration_s")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            samples.append((float(value), r))
    samples = samples[-LATENCY_WINDOW:]
    if len(samples) < LATENCY_MIN_SAMPLES:
        return
    half = len(samples) // 2
    early = statistics.median(v for v, _ in samples[:half])
    recent = statistics.median(v for v, _ in samples[half:])
    if recent < early * LATENCY_RATIO or recent - early < LATENCY_MIN_DELTA_S:
        return
    slow = [(v, r) for v, r in samples[half:] if v >= early * LATENCY_RATIO]
    for _, r in slow:
        found.add("latency:regression", str(r.get("id")), r.get("timestamp"))
    cluster = found.by_sig.get("latency:regression")
    if cluster is not None:
        cluster.detail.update(
            {
                "samples": len(samples),
                "early_median_s": round(early, 3),
                "recent_median_s": round(recent, 3),
                "recent_max_s": round(max(v for v, _ in samples[half:]), 3),
            }
        )


def _mail_names(folder: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder) if e.name.endswith(".md") and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _mine_mail(mailbox: Path, found: _Clusters) -> None:
    """Unsolicited mail to coord: not from coord or the engine (its escalations), not a `re:` reply, not a
    done-shaped completion report (loop_engine.reports)."""
    for folder in (mailbox, mailbox / "processed"):
        for name in _mail_names(folder):
            try:
                parsed = parse_mail_name(name)
            except SchemaError:
                continue
            if parsed.recipient != "coord" or parsed.sender in ("coord", "engine"):
                continue
            subject, _task = read_mail_head(folder / name)
            text = (subject or "").strip()
            if text.lower().startswith("re:") or done_shaped(text):
                continue
            sig = "human:unsolicited-steer"
            found.add(sig, f"mail:{name}", parsed.timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
            found.note(sig, "senders", parsed.sender)
            found.note(sig, "subjects", text or "(no subject)")


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        with open_project_file(path) as fh:
            for n, raw in enumerate(project_lines(fh), start=1):
                line = raw.decode("utf-8", errors="replace") if raw is not None else ""
                if line.strip():  # an over-long line (None) is no evidence
                    yield n, line
    except (FileNotFoundError, NotADirectoryError, ProjectFileError):
        return


def _mine_restarts(path: Path, found: _Clusters) -> None:
    per_lane: dict[str, list[Evidence]] = {}
    giveups: dict[str, int] = {}
    for n, line in _lines(path):
        try:
            item = parse_watchdog_line(line)
        except SchemaError:
            continue
        lane = token(item.lane, "")
        if not lane:
            continue
        if isinstance(item, RestartEvent):
            per_lane.setdefault(lane, []).append(Evidence(f"{path.name}:{n}", item.timestamp))
        elif item.event == "giving-up":
            per_lane.setdefault(lane, []).append(Evidence(f"{path.name}:{n}", item.timestamp))
            giveups[lane] = giveups.get(lane, 0) + 1
    for lane, evidence in sorted(per_lane.items()):
        restarts = len(evidence) - giveups.get(lane, 0)
        if restarts < LANE_RESTARTS_MIN and not giveups.get(lane):
            continue
        sig = f"lane:unstable:{lane}"
        for e in evidence:
            found.add(sig, e.ref, e.timestamp)
        found.by_sig[sig].detail.update({"lane": lane, "restarts": restarts, "giveups": giveups.get(lane, 0)})


def _mine_deck_crashes(path: Path, found: _Clusters) -> None:
    for n, line in _lines(path):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        sig = f"crash:{token(record.get('component'), 'deck')}"
        found.add(sig, f"{path.name}:{n}", record.get("timestamp"))
        found.note(sig, "errors", record.get("error"))
