"""The Reader: every file through the loop-schemas parsers, bad files as messages, idle ticks cheap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from deck_fakes import NOW, SESSION, StubSubstrate, write_pending_decision
from hypothesis import given, settings
from hypothesis import strategies as st
from loop_deck.snapshot import (
    DeckPaths,
    Reader,
    ago,
    brain_in_flight,
    read_decision,
    read_loops,
    read_restarts,
)


def reader(
    project: Path, fleet: StubSubstrate, engine: str | None = "loop-engine", clock: list[float] | None = None
) -> Reader:
    times = clock if clock is not None else [NOW]
    return Reader(fleet, DeckPaths(project, SESSION), engine, clock=lambda: times[0])


def test_collect_reads_everything(project: Path, fleet: StubSubstrate) -> None:
    write_pending_decision(project)
    snap = reader(project, fleet).collect()
    assert [r.lane for r in snap.fleet] == ["coord", "web", "infra", "validate-left", "docs", "web2"]
    web = snap.fleet[1]
    assert (web.harness, web.model, web.role, web.status, web.activity) == (
        "claude",
        "opus",
        "impl",
        "working",
        "now",
    )
    vl = snap.fleet[3]
    assert (vl.window, vl.role, vl.base) == ("validate", "watcher", True)
    assert snap.fleet[5].base is False and snap.fleet[5].detail == "exited-to-shell"
    assert [r.loop_id for r in snap.loops] == ["loop-1", "loop-2"] and snap.objective == "ship checkout v2"
    assert [(m.file, m.subject, m.processed) for m in snap.mail] == [
        ("20261124-100000-web-to-coord.md", "tests green on dev", False),
        ("20261124-101500-infra-to-coord.md", "re:ask-7 staging token rotated", False),
        ("20261124-090000-ops-top-to-coord.md", "health ok", True),
    ]
    assert snap.pending_mail == 2
    assert [(a.number, a.status, a.acceptable) for a in snap.adrs] == [
        (1, "Proposed", False),
        (2, "Proposed", True),
        (3, "Accepted", False),
    ]
    assert snap.adrs[0].problems[0].startswith("verify_record: missing")
    assert "only a Proposed ADR" in snap.adrs[2].problems[0]
    assert snap.decision is not None and snap.decision.decision_id == "d-20261124-0001"
    assert [(a.kind, a.target, a.gate) for a in snap.decision.actions] == [
        ("dispatch", "infra", "safe"),
        ("dispatch", "web", "destructive"),
        ("add_lane", "web3", "safe"),
    ]
    assert snap.decision.actions[1].summary == "[command] rm -rf build"
    assert snap.problems == []
    assert snap.engine.installed and not snap.engine.running
    assert snap.engine.label == "engine off — live dashboard"


def test_missing_and_corrupt_files_are_messages(project: Path, fleet: StubSubstrate) -> None:
    state = project / ".loop" / "orchestrator-state.json"
    state.unlink()
    assert read_loops(state)[2] == "no state file (.loop/orchestrator-state.json)"
    state.write_text("{not json")
    assert read_loops(state)[2].startswith("state file is corrupt — state file: not valid JSON")
    state.write_text(json.dumps({"schema_version": 1, "loops": {}}))
    assert "schema_version" in (read_loops(state)[2] or "")
    pending = write_pending_decision(project)
    pending.write_text('{"id": "nope"}')
    view, error = read_decision(pending)
    assert view is None and error is not None and error.startswith("pending decision is corrupt")
    snap = reader(project, fleet).collect()
    assert len(snap.problems) == 2 and snap.loops == ()


def test_fleet_failure_is_a_message(project: Path, fleet: StubSubstrate) -> None:
    fleet.fail = "loop-lane-status: no such session (exit 1)"
    snap = reader(project, fleet).collect()
    assert snap.fleet == () and snap.fleet_error == "loop-lane-status: no such session (exit 1)"


def test_restarts_count_lines_without_event_and_give_ups(tmp_path: Path) -> None:
    log = tmp_path / "lane-restarts.jsonl"
    lines = [
        {"timestamp": "t", "session": "s", "lane": "web", "target": "%1", "cmd": "claude"},
        {"timestamp": "t", "session": "s", "lane": "web", "target": "%1", "cmd": "claude"},
        {"timestamp": "t", "session": "s", "lane": "web", "event": "giving-up"},
        {"timestamp": "t", "session": "s", "lane": "docs", "event": "backoff"},
    ]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n[1]\n")
    assert read_restarts(log) == {"web": (2, 1), "docs": (0, 0)}


def test_unchanged_files_are_not_parsed_again(
    project: Path, fleet: StubSubstrate, monkeypatch: object
) -> None:
    import loop_deck.snapshot as snapshot

    write_pending_decision(project)
    calls: list[str] = []
    for name in ("read_loops", "read_decision", "read_adr", "read_subject"):
        real = getattr(snapshot, name)

        def spy(*args: object, _real: object = real, _name: str = name) -> object:
            calls.append(_name)
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(snapshot, name, spy)  # type: ignore[attr-defined]
    r = reader(project, fleet)
    r.collect()
    first = len(calls)
    assert first >= 6
    r.collect()
    assert len(calls) == first  # an idle tick parses nothing
    assert fleet.list_calls == 1  # lane metadata is not re-read every tick
    (project / ".loop" / "orchestrator-state.json").write_text(
        json.dumps({"schema_version": 2, "loops": {"loop-9": {"status": "shipped"}}})
    )
    snap = r.collect()
    assert calls[first:] == ["read_loops"] and [x.loop_id for x in snap.loops] == ["loop-9"]


def test_last_activity_is_coarse_and_follows_working(project: Path, fleet: StubSubstrate) -> None:
    clock = [NOW]
    r = reader(project, fleet, clock=clock)
    snap = r.collect()
    assert {x.lane: x.activity for x in snap.fleet}["web"] == "now"
    assert {x.lane: x.activity for x in snap.fleet}["infra"] == "—"
    fleet.statuses[1] = fleet.statuses[1].model_copy(update={"status": "idle"})
    clock[0] = NOW + 30
    assert {x.lane: x.activity for x in r.collect().fleet}["web"] == "<1m"
    clock[0] = NOW + 7260
    acts = {x.lane: x.activity for x in r.collect().fleet}
    assert acts["web"] == "2h01m" and acts["infra"] == "≥2h01m"
    assert ago(3 * 86400) == "3d"


def test_engine_running_paused_and_brain_in_flight(project: Path, fleet: StubSubstrate) -> None:
    engine_dir = project / ".loop" / "sessions" / SESSION / "engine"
    engine_dir.mkdir(parents=True)
    # a live process that looks like the daemon
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; print('up', flush=True); time.sleep(30)",
            "loop-engine",
            "watch",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        # once it prints, it has run: some kernels show an empty /proc/<pid>/cmdline just after exec
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        (engine_dir / "daemon.pid").write_text(f'{proc.pid}\n{{"started_at": "x"}}\n')
        events = [
            {"id": "e1", "timestamp": "t1", "session": SESSION, "event": "cycle-start"},
            {"id": "e2", "timestamp": "t2", "session": SESSION, "event": "brain-call", "call_id": "b-7"},
        ]
        (engine_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        (engine_dir / "transcripts").mkdir()
        (engine_dir / "transcripts" / "b-7.log").write_text("thinking\n")
        r = reader(project, fleet)
        snap = r.collect()
        assert snap.engine.running and snap.engine.pid == proc.pid
        assert snap.engine.brain_running == "b-7"
        assert snap.engine.label == f"engine running (pid {proc.pid}) · brain thinking (b-7)"
        assert snap.transcript == engine_dir / "transcripts" / "b-7.log"
        (engine_dir / "paused").write_text("x")
        with (engine_dir / "events.jsonl").open("a") as fh:
            fh.write(
                json.dumps({"id": "e3", "timestamp": "t3", "session": SESSION, "event": "brain-answered"})
                + "\n"
            )
        snap = r.collect()
        assert snap.engine.paused and snap.engine.brain_running is None
        assert snap.engine.label.startswith("engine paused")
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    snap = r.collect()
    assert not snap.engine.running  # a dead pid is an engine that is off


def test_a_pid_of_another_program_is_not_the_engine(project: Path, fleet: StubSubstrate) -> None:
    engine_dir = project / ".loop" / "sessions" / SESSION / "engine"
    engine_dir.mkdir(parents=True)
    (engine_dir / "daemon.pid").write_text(f"{os.getpid()}\n")  # pytest, not loop-engine
    if Path("/proc/self/cmdline").exists():
        assert not reader(project, fleet).collect().engine.running


def test_only_a_watch_daemon_command_line_counts_as_the_engine() -> None:
    from loop_deck.snapshot import is_engine_daemon

    py = b"/usr/bin/python3"
    assert is_engine_daemon([py, b"-m", b"loop_engine", b"--session", b"s", b"watch", b"--foreground"])
    assert is_engine_daemon([b"/home/u/.local/bin/loop-engine", b"--session", b"s", b"watch"])
    assert not is_engine_daemon([b"less", b"loop-engine.log"])
    assert not is_engine_daemon([py, b"-m", b"pytest", b"packages/loop-deck", b"packages/loop-engine"])
    assert not is_engine_daemon([py, b"-m", b"loop_engine", b"--session", b"s", b"status"])
    assert not is_engine_daemon([b""])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_events_tail_never_raises(data: bytes) -> None:
    in_flight, last = brain_in_flight(data)
    assert in_flight is None or isinstance(in_flight, str)
    assert last is None or isinstance(last, str)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_state_or_decision_text_is_rows_or_a_message(tmp_path_factory: object, text: str) -> None:
    folder = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    state, pending = folder / "state.json", folder / "pending.json"
    state.write_text(text, encoding="utf-8", errors="surrogateescape")
    pending.write_text(text, encoding="utf-8", errors="surrogateescape")
    rows, _objective, error = read_loops(state)
    assert rows or error
    view, derror = read_decision(pending)
    assert view is not None or derror


def test_a_repin_proposal_shows_its_harness_and_models(tmp_path: Path) -> None:
    doc = {
        "contract_version": 1,
        "id": "d-repin1",
        "session": SESSION,
        "created_at": "2026-12-07T05:00:00Z",
        "approval_mode": "manual",
        "trigger": "engine-proposal",
        "decision": {
            "version": 1,
            "critique": "engine proposal: re-pin claude to opus-b",
            "actions": [
                {
                    "kind": "repin_model",
                    "harness": "claude",
                    "model": "opus-b",
                    "from_model": "opus-a",
                    "rationale": "r",
                }
            ],
        },
        "gates": [{"gate_class": "destructive", "reasons": ["destructive: re-pin"], "state": "queued"}],
    }
    path = tmp_path / "pending-decision.json"
    path.write_text(json.dumps(doc))
    view, error = read_decision(path)
    assert error is None and view is not None
    row = view.actions[0]
    assert (row.kind, row.target, row.gate) == ("repin_model", "claude", "destructive")
    assert row.summary == "harness claude: opus-a -> opus-b"
    assert row.preview == ("re-pin harness claude: opus-a -> opus-b",)
