"""Seeded traces for the improve tests (helpers only): events, mail, watchdog and deck-crash lines."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from loop_engine.events import EventLog

SESSION = "s1"

AGENTS_MD = """# Agent rules

Intro text that no experiment may touch.

## 1. Lanes and roles

Lanes do what their role says.

## 2. Mail and reports

Report by mail.

## 3. Experiment protocol

Rules change by experiment.
"""

LANE_CONFIG = """# the project's lane config (comments must survive an edit)
lanes:
  web: {harness: pi}
engine:
  approval_mode: manual   # a human approves
  brain:
    harness: builtin
    timeout_s: 120
"""


def metrics_doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "contract_version": 1,
        "generated_at": "2026-01-01T00:00:00Z",
        "session": SESSION,
        "checkpoint_bytes": 4000,
        "checkpoint_tokens": 1000,
        "pending": 0,
        "lane_restarts": 0,
        "lane_giveups": 0,
        "ingests": 0,
        "lints": 0,
        "checkpoints": 0,
    }
    doc.update(over)
    return doc


def make_root(base: Path) -> Path:
    root = base / "proj"
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\n")
    (root / "tasks" / "archive").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "AGENTS.md").write_text(AGENTS_MD)
    (root / "lane-config.yaml").write_text(LANE_CONFIG)
    return root


def engine_dir(root: Path) -> Path:
    return root / ".loop" / "sessions" / SESSION / "engine"


def log(root: Path) -> EventLog:
    return EventLog(engine_dir(root) / "events.jsonl", SESSION)


def events(root: Path, kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in log(root).read() if kind in (None, e.get("event"))]


def mail(
    root: Path, sender: str, to: str, subject: str | None, *, processed: bool = False, n: int = 1
) -> str:
    name = f"20260101-0000{n:02d}-{sender}-to-{to}.md"
    folder = root / ".loop" / "messages" / ("processed" if processed else "")
    head = f"subject: {json.dumps(subject)}\n" if subject is not None else ""
    (folder / name).write_text(f"---\n{head}---\nbody\n")
    return name


def clean_traces(root: Path) -> None:
    """A healthy session: cycles that succeed at a steady pace, answered asks, solicited mail only."""
    ev = log(root)
    for i in range(8):
        ev.emit("cycle-start", cycle_id=f"c-{i}", trigger="once", approval="manual")
        ev.emit("brain-call", cycle_id=f"c-{i}", call_id=f"b-{i}", harness="pi", attempt=1)
        ev.emit("brain-answered", cycle_id=f"c-{i}", call_id=f"b-{i}", harness="pi", duration_s=10.0 + i % 2)
        ev.emit("decision", cycle_id=f"c-{i}", decision_id=f"d-{i}", critique="fine", actions=[])
        ev.emit("action-done", decision_id=f"d-{i}", index=0, kind="dispatch", target="web")
        ev.emit("cycle-end", cycle_id=f"c-{i}", outcome="executed", duration_s=11.0)
    ev.emit("ask", ask_id="a-1", lane="web", decision_id="d-1")
    ev.emit("ask-answered", ask_id="a-1", lane="web", mail="x.md")
    mail(root, "web", "coord", "re:a-1 it is done", n=1)  # an ask reply
    mail(root, "coord", "web", "please look", n=2)  # from coord
    mail(root, "web", "coord", "done T0001: shipped", n=3, processed=True)  # a solicited report
    mail(root, "human", "web", "hi web", n=4)  # not to coord
    restarts = root / ".loop" / "sessions" / SESSION / "lane-restarts.jsonl"
    restarts.write_text(
        json.dumps(
            {
                "timestamp": "2026-01-01T00:00:00Z",
                "session": SESSION,
                "lane": "web",
                "target": "%1",
                "cmd": "pi",
            }
        )
        + "\n"
    )


def seed_weaknesses(root: Path, *, crashes: bool = True) -> dict[str, list[str]]:
    """Every weakness family once or more; returns the evidence refs each signature must carry."""
    ev = log(root)
    refs: dict[str, list[str]] = {}

    def add(sig: str, record: dict[str, Any]) -> None:
        refs.setdefault(sig, []).append(record["id"])

    for _ in range(2):
        add(
            "brain:timeout", ev.emit("brain-failed", harness="pi", failure_class="timeout", error="timed out")
        )
    add("brain:quota", ev.emit("brain-failed", harness="pi", failure_class="quota", error="usage limit"))
    add("brain:parse", ev.emit("brain-failed", harness="pi", failure_class="parse", error="no block"))
    add("brain:exit", ev.emit("brain-failed", harness="pi", failure_class="exit", error="exited 3"))
    for _ in range(2):
        add(
            "decision:rejected:dispatch",
            ev.emit("decision-rejected", decision_id="d-x", reason="wrong lane", kinds=["dispatch"]),
        )
    add(
        "action:failed:steer",
        ev.emit(
            "action-failed", decision_id="d-y", index=0, kind="steer", target="web", error="not delivered"
        ),
    )
    add("ask:timeout", ev.emit("ask-timeout", ask_id="a-9", lane="infra", timeout_s=1800))
    if crashes:
        add(
            "crash:engine",
            ev.emit(
                "cycle-crashed", cycle_id="c-9", component="engine", error_type="KeyError", error="'lanes'"
            ),
        )
    # latency drifting up while every call succeeds
    for i, d in enumerate([10, 11, 10, 12, 11, 10, 30, 34, 38, 41, 45, 50]):
        rec = ev.emit(
            "brain-answered", cycle_id=f"c-l{i}", call_id=f"b-l{i}", harness="pi", duration_s=float(d)
        )
        if i >= 6:
            add("latency:regression", rec)
    session = root / ".loop" / "sessions" / SESSION
    lines = [
        {
            "timestamp": f"2026-01-01T00:00:0{i}Z",
            "session": SESSION,
            "lane": "web",
            "target": "%1",
            "cmd": "pi",
        }
        for i in range(3)
    ]
    lines.append(
        {"timestamp": "2026-01-01T00:01:00Z", "session": SESSION, "lane": "web", "event": "giving-up"}
    )
    (session / "lane-restarts.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    refs["lane:unstable:web"] = [f"lane-restarts.jsonl:{n}" for n in range(1, 5)]
    if crashes:
        (session / "deck-crash.log").write_text(
            json.dumps({"timestamp": "2026-01-01T00:02:00Z", "component": "deck", "error": "ValueError: x"})
            + "\n"
        )
        refs["crash:deck"] = ["deck-crash.log:1"]
    refs["human:unsolicited-steer"] = [
        "mail:" + mail(root, "human", "coord", "why is nobody on T0002?", n=20),
        "mail:" + mail(root, "alice", "coord", "prioritise the login bug", n=21, processed=True),
    ]
    return refs


def tree_hashes(root: Path, *, skip_engine: bool = True) -> dict[str, str]:
    """sha256 of every file under root (the engine's own dir left out: improve writes its state there)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(root))
        if skip_engine and rel.startswith(f".loop/sessions/{SESSION}/engine/"):
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
