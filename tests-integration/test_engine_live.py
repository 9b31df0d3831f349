"""loop-engine end to end on a live session: loop-tmux boots fake agents on a private tmux server, the
engine runs as its own CLI (a subprocess) through the real substrate scripts."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from live_session import Live, retry_until
from loop_schemas import PendingDecision, load_state, parse_event

pytestmark = pytest.mark.tmux

TASK = """---
id: T0001
title: add the health endpoint
status: open
depends_on: []
scope: web only
---

## Objective
Add /healthz. Quote this exactly: $(echo pwned) `id` 'single' "double" \\ C-c Enter ; echo done

## Context you need
None.

## Deliverables
The endpoint.

## Acceptance criteria
200 OK.

## Verification
curl it.

## Out of scope
Everything else.
"""


def engine(live: Live, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(live.env)
    env.pop("LOOP_SHELL_DIR", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loop_engine",
            "--project-root",
            str(live.root),
            "--session",
            live.session,
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"loop-engine {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def submissions(live: Live) -> list[bytes]:
    received = Path(live.env["PATH"].split(os.pathsep)[0]) / "received"
    out = []
    for path in received.glob("*.events.jsonl"):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "submit":
                out.append(base64.b64decode(event["b64"]))
    return out


def test_once_manual_then_approve_delivers_the_task_byte_for_byte(live: Live) -> None:
    (live.root / "tasks").mkdir(exist_ok=True)
    task = live.root / "tasks" / "T0001-add-the-health-endpoint.md"
    task.write_text(TASK)

    def implementation_lanes_idle() -> bool:
        report = live.json("loop-lane-status.sh", "--json", "--all", live.session)
        assert isinstance(report, dict)
        return all(report["lanes"][n]["status"] == "idle" for n in ("web", "infra", "w2"))

    retry_until(implementation_lanes_idle, timeout=30)
    out = engine(live, "once", "--approval", "manual", "--json")
    result = json.loads(out.stdout)
    assert result["outcome"] == "queued", out.stdout + out.stderr
    status = json.loads(engine(live, "status", "--json").stdout)
    pending = PendingDecision.model_validate(status["pending"])
    dispatch = pending.decision.actions[0]
    assert dispatch.kind == "dispatch" and dispatch.lane in ("web", "infra", "w2")
    assert [g.gate_class for g in pending.gates] == ["safe"]
    before = submissions(live)
    assert dispatch.payload.encode() not in before  # manual: nothing was sent yet

    engine(live, "approve", pending.id)
    retry_until(lambda: dispatch.payload.encode() in submissions(live), timeout=30)
    assert submissions(live).count(dispatch.payload.encode()) == 1
    assert "status: in-progress" in task.read_text()
    checkpoint = (live.root / "ops-wiki" / "checkpoint.md").read_text()
    assert pending.id in checkpoint.split("<!-- coord-decisions -->", 1)[1]
    load_state(live.root / ".loop" / "orchestrator-state.json")  # still valid after the engine's writes
    events = [
        parse_event(line)
        for line in (live.root / ".loop" / "sessions" / live.session / "engine" / "events.jsonl")
        .read_text()
        .splitlines()
    ]
    kinds = [e.event for e in events]
    assert kinds.index("action-started") < kinds.index("action-done")
    # approving again sends nothing
    again = engine(live, "approve", pending.id, check=False)
    assert again.returncode == 1 and "no pending decision" in again.stderr
    assert submissions(live).count(dispatch.payload.encode()) == 1


def alive(pid: int) -> bool:
    """A running process (a zombie left for a reaper-less PID 1 in a container counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def test_watch_is_a_singleton_survives_restart_and_stops(live: Live) -> None:
    (live.root / "lane-config.yaml").write_text(
        "engine:\n  poll_interval_s: 0.5\n  min_cycle_interval_s: 0\n"
    )
    try:
        first = engine(live, "watch")
        assert "started" in first.stdout
        status = json.loads(engine(live, "status", "--json").stdout)["daemon"]
        assert status["running"] is True
        old_pid = int(status["pid"])
        second = engine(live, "watch", check=False)
        assert second.returncode == 1 and "already running" in second.stderr
        fg = engine(live, "watch", "--foreground", check=False)
        assert fg.returncode == 1 and "already running" in fg.stderr

        engine(live, "restart", "--timeout", "30")
        new = json.loads(engine(live, "status", "--json").stdout)["daemon"]
        assert new["running"] is True and int(new["pid"]) != old_pid
        assert not alive(old_pid)

        # kill -9: the lock dies with the process, a new daemon starts cleanly
        os.kill(int(new["pid"]), signal.SIGKILL)
        retry_until(lambda: not json.loads(engine(live, "status", "--json").stdout)["daemon"]["running"])
        engine(live, "watch")
        assert json.loads(engine(live, "status", "--json").stdout)["daemon"]["running"] is True
        assert engine(live, "stop").stdout.strip() == "daemon stopped"
        assert json.loads(engine(live, "status", "--json").stdout)["daemon"]["running"] is False
    finally:
        engine(live, "stop", check=False)
        (live.root / "lane-config.yaml").unlink(missing_ok=True)
