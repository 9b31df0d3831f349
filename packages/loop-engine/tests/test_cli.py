"""The CLI over the REAL loop_substrate.Substrate, whose CLIs are loop-substrate's recording fakes.

These tests pin what the engine actually hands the substrate (argv, byte-exact payloads) and the
CLI's surfaces: --json documents, exit codes, one-line errors.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from engine_fakes import REGISTRY, SESSION, TASK, lane_list, lane_report, respond_registry
from loop_engine.cli import main
from loop_schemas import CycleResult, EngineStatus, PendingDecision, parse_event
from loop_substrate.testing import FakeSubstrate


@pytest.fixture
def root(tmp_path: Path, fake_substrate: FakeSubstrate) -> Path:
    root = tmp_path / "proj"
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# cp\n\n<!-- coord-decisions -->\nolder notes\n")
    (root / "tasks" / "archive").mkdir(parents=True)
    lanes = {
        "coord": ("idle", None, "fixed"),
        "web": ("idle", "pi", "fixed"),
        "sh": ("idle", "shell", "dynamic"),
    }
    fake_substrate.respond("loop-lane-status", lane_report(lanes))
    fake_substrate.respond("loop-tmux", lane_list(lanes))
    respond_registry(fake_substrate, REGISTRY)
    return root


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--project-root", str(root), "--session", SESSION, *args])


def test_once_manual_queues_and_approve_sends_the_task_text_byte_for_byte(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    text = TASK.format(id="T0001", title="quote", status="open", deps="")
    text += "Run $(rm -rf /) `x` 'y' \"z\" ; C-c Enter \\ and a\ttab, unicode \u00e9\n"
    (root / "tasks" / "T0001-quote.md").write_text(text)
    out = cli(root, "once", "--approval", "manual", "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["contract_version"] == 1 and result["outcome"] == "queued"
    assert fake_substrate.calls("loop-dispatch") == []  # manual: nothing sent

    status = json.loads(cli(root, "status", "--json").output)
    pending = PendingDecision.model_validate(status["pending"])
    assert pending.id == result["decision_id"]
    assert status["daemon"]["running"] is False and status["budget"]["max_calls_per_hour"] == 12

    out = cli(root, "approve", pending.id)
    assert out.exit_code == 0, out.output
    calls = fake_substrate.calls("loop-dispatch")
    assert len(calls) == 1
    args = calls[0]["args"]
    assert isinstance(args, list)
    assert args[:4] == ["--session", SESSION, "--mode", "text"]
    assert "--wait-ready" in args
    lane, payload = args[args.index("--") + 1 :]
    assert lane == "web"
    assert payload.startswith(text.rstrip("\n"))  # the whole task file, byte for byte
    assert "T0001" in payload and "loop-mail send --from web" in payload
    assert "status: in-progress" in (root / "tasks" / "T0001-quote.md").read_text()
    head, _, tail = (root / "ops-wiki" / "checkpoint.md").read_text().partition("<!-- coord-decisions -->")
    assert pending.id in tail and pending.id not in head and "older notes" in tail
    # a second approve of the same id: nothing pending, one line, exit 1, nothing re-sent
    again = cli(root, "approve", pending.id)
    assert again.exit_code == 1 and "no pending decision" in again.output
    assert len(fake_substrate.calls("loop-dispatch")) == 1


def test_reject_runs_nothing_and_archives(root: Path, fake_substrate: FakeSubstrate) -> None:
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    decision = json.loads(cli(root, "once", "--json").output)["decision_id"]
    out = cli(root, "reject", decision, "--reason", "not now")
    assert out.exit_code == 0
    assert fake_substrate.calls("loop-dispatch") == []
    archived = json.loads(
        (root / ".loop/sessions" / SESSION / "engine/decisions" / f"{decision}.json").read_text()
    )
    assert archived["resolution"] == "rejected" and archived["reason"] == "not now"
    events = json.loads(cli(root, "events", "--json").output)["events"]
    kinds = [parse_event(json.dumps(e)).event for e in events]
    assert "decision-rejected" in kinds and kinds[0] == "cycle-start"


def test_auto_runs_safe_dispatch_but_never_text_into_a_shell_lane(
    root: Path, fake_substrate: FakeSubstrate, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = (
        "```decision\nversion: 1\ncritique: c\nactions:\n"
        "  - {kind: dispatch, lane: web, payload: hello, rationale: r}\n"
        "  - {kind: dispatch, lane: sh, payload: ls, rationale: r}\n```\n"
    )
    fake_substrate.respond("loop-checkpoint", "HEADER\nbody\n")
    bindir = root.parent / "brainbin"
    bindir.mkdir()
    answer = root.parent / "answer.txt"
    answer.write_text(brain)
    script = bindir / "pi"
    script.write_text(f"#!/bin/sh\ncat '{answer}'\n")
    script.chmod(0o755)
    (root / "lane-config.yaml").write_text("engine:\n  brain: {harness: pi}\n")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    out = cli(root, "once", "--approval", "auto", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["outcome"] == "partial"
    sent = [c["args"][-2:] for c in fake_substrate.calls("loop-dispatch")]
    assert sent == [["web", "hello"]]
    pending = json.loads(cli(root, "status", "--json").output)["pending"]
    assert [g["gate_class"] for g in pending["gates"]] == ["safe", "destructive"]
    assert [g["state"] for g in pending["gates"]] == ["done", "queued"]


def test_usage_and_config_errors_are_one_line(root: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(
        main, ["--project-root", str(root), "status"], env={"LOOP_SESSION": "", "TMUX": ""}
    )
    assert out.exit_code == 2 and "--session" in out.output
    out = cli(root, "once", "--approval", "sometimes")
    assert out.exit_code == 2
    out = cli(root, "events", "--since", "yesterday-ish")
    assert out.exit_code == 2
    (root / "lane-config.yaml").write_text("engine:\n  approval_mode: sometimes\n")
    out = cli(root, "config", "--json")
    assert out.exit_code == 1 and "Traceback" not in out.output and len(out.output.strip().splitlines()) == 1
    out = CliRunner().invoke(main, ["--project-root", str(root), "--session", "../x", "status"])
    assert out.exit_code == 2


def test_config_json_merges_overlay_and_env(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "lane-config.yaml").write_text(
        "lanes: {web: {harness: pi}}\nengine:\n  approval_mode: auto\n"
        "  brain: {harness: claude, timeout_s: 30}\n  surprise: 1\n"
    )
    (root / "lane-config.myhost.yaml").write_text("engine:\n  brain: {harness: codex}\n")
    real = os.uname()  # the machine's name (uname's nodename, what socket.gethostname() answers)
    fake = os.uname_result((real.sysname, "myhost.example", real.release, real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    monkeypatch.setenv("LOOP_ENGINE_POLL_INTERVAL_S", "3")
    doc = json.loads(cli(root, "config", "--json").output)
    engine = doc["engine"]
    assert engine["approval_mode"] == "auto"
    assert engine["brain"]["harness"] == "codex" and engine["brain"]["timeout_s"] == 300  # replaced whole
    assert engine["poll_interval_s"] == 3
    assert engine["ingest"] == {
        "mode": "lane",
        "lane": "docs",
        "timeout_s": 600,
        "harness": "",
        "auto_approve": True,
    }
    assert any("surprise" in w for w in doc["warnings"])
    assert len(doc["sources"]) == 2


def test_pause_resume_cycle_now_without_daemon(root: Path) -> None:
    assert cli(root, "pause").exit_code == 0
    assert json.loads(cli(root, "status", "--json").output)["daemon"]["paused"] is True
    assert cli(root, "resume").exit_code == 0
    assert json.loads(cli(root, "status", "--json").output)["daemon"]["paused"] is False
    out = cli(root, "cycle-now")
    assert out.exit_code == 0
    assert (root / ".loop/sessions" / SESSION / "engine/cycle-now").exists()
    assert cli(root, "stop").output.strip() == "no daemon running"


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: {"id": 5},  # JSON, but not a pending decision
        lambda doc: {k: v for k, v in doc.items() if k != "gates"},  # the right id, no gates
        lambda doc: {**doc, "decision": "approve everything"},
    ],
)
def test_a_malformed_pending_decision_is_refused_by_every_command_and_kept(
    root: Path, fake_substrate: FakeSubstrate, damage: Any
) -> None:
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    decision = json.loads(cli(root, "once", "--json").output)["decision_id"]
    pending = root / ".loop/sessions" / SESSION / "engine/pending-decision.json"
    pending.write_text(json.dumps(damage(json.loads(pending.read_text()))))
    before = pending.read_bytes()
    for args in (("status",), ("status", "--json"), ("approve", decision), ("reject", decision), ("once",)):
        out = cli(root, *args)
        assert out.exit_code == 1, (args, out.output)
        lines = out.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.output, (args, out.output)
        assert "pending-decision.json: not a valid pending decision" in lines[0], (args, lines)
    assert pending.read_bytes() == before
    assert fake_substrate.calls("loop-dispatch") == []
    assert not (root / ".loop/sessions" / SESSION / "engine/decisions" / f"{decision}.json").exists()


def test_approve_and_watch_refuse_a_session_that_is_gone_and_keep_the_decision(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    decision = json.loads(cli(root, "once", "--json").output)["decision_id"]
    pending = root / ".loop/sessions" / SESSION / "engine/pending-decision.json"
    before = pending.read_bytes()
    # the tmux server went away between the cycle and the human's approval
    gone = "loop-tmux: no tmux session 's1'"
    fake_substrate.respond("loop-tmux", "", exit_code=1, stderr=gone)
    fake_substrate.respond("loop-dispatch", "", exit_code=1, stderr="loop-dispatch: session 's1' not found")
    out = cli(root, "approve", decision)
    assert out.exit_code == 1 and "Traceback" not in out.output
    line = out.output.strip()
    assert len(line.splitlines()) == 1 and "stays pending" in line
    assert "cannot be reached: loop-tmux.sh: loop-tmux: no tmux session 's1'" in line
    assert fake_substrate.calls("loop-dispatch") == []  # nothing was tried
    assert pending.read_bytes() == before  # the human's decision is not consumed
    assert not (root / ".loop/sessions" / SESSION / "engine/decisions" / f"{decision}.json").exists()
    out = cli(root, "watch")
    assert out.exit_code == 1 and "no tmux session 's1'" in out.output
    assert not (root / ".loop/sessions" / SESSION / "engine/daemon.pid").exists()


def test_a_lane_config_that_is_not_yaml_names_the_file(root: Path) -> None:
    (root / "lane-config.yaml").write_text("lanes: {web: {harness: pi}\n")
    for args in (("config",), ("status",), ("once",)):
        out = cli(root, *args)
        assert out.exit_code == 1 and "Traceback" not in out.output
        line = out.output.strip()
        assert len(line.splitlines()) == 1
        assert line.startswith(f"Error: {root / 'lane-config.yaml'}: YAML:"), line
        assert line.count("lane-config.yaml") == 1


def test_once_with_the_session_gone_says_so_and_records_no_engine_crash(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    fake_substrate.respond("loop-tmux", "", exit_code=1, stderr="loop-tmux: no tmux session 's1'")
    out = cli(root, "once")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert out.output.strip().splitlines() == [
        "Error: session 's1' cannot be reached: loop-tmux.sh: loop-tmux: no tmux session 's1' (exit 1)"
    ]
    events = root / ".loop/sessions" / SESSION / "engine/events.jsonl"
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()] if events.exists() else []
    assert "cycle-crashed" not in kinds and "cycle-start" not in kinds  # improve must not mine a code crash


def test_status_warns_about_a_state_file_it_cannot_use(root: Path) -> None:
    state = root / ".loop" / "orchestrator-state.json"
    state.write_text('{"schema_version": 2, "loops": ')
    out = cli(root, "status", "--json")
    assert out.exit_code == 0, out.output
    warnings = json.loads(out.output)["warnings"]
    assert any("state file cannot be used" in w and str(state) in w for w in warnings), warnings
    assert state.read_text() == '{"schema_version": 2, "loops": '  # kept as it was


def test_watch_waits_out_a_vanished_session_and_records_no_crash(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    from loop_engine import watch
    from loop_engine.cli import Ctx
    from loop_engine.paths import EnginePaths

    (root / "lane-config.yaml").write_text("engine:\n  poll_interval_s: 0.05\n  min_cycle_interval_s: 0\n")
    fake_substrate.respond("loop-tmux", "", exit_code=1, stderr="loop-tmux: no tmux session 's1'")
    paths = EnginePaths(root, SESSION)
    ctx = Ctx(paths)
    daemon = watch.Daemon(paths, lambda abort: ctx.engine(abort=abort))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    events = paths.events

    def kinds() -> list[str]:
        lines = events.read_text().splitlines() if events.exists() else []
        return [json.loads(line)["event"] for line in lines]

    try:
        deadline = time.monotonic() + 20
        while len(fake_substrate.calls("loop-tmux")) < 5 and time.monotonic() < deadline:
            daemon.stopping.wait(0.05)
        assert len(fake_substrate.calls("loop-tmux")) >= 5  # it kept asking, poll after poll
    finally:
        daemon.stopping.set()
        thread.join(20)
    assert not thread.is_alive()
    seen = kinds()
    assert seen.count("session-unreachable") == 1, seen  # said once, not every poll
    assert "cycle-crashed" not in seen and "cycle-start" not in seen


def test_a_session_name_loop_tmux_would_rewrite_gets_a_hint(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    fake_substrate.respond("loop-tmux", "", exit_code=1, stderr="loop-tmux: no tmux session 'my.app'")
    out = CliRunner().invoke(main, ["--project-root", str(root), "--session", "my.app", "once"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "session 'my.app' cannot be reached" in out.output
    assert "(loop-tmux names that project's session 'my_app')" in out.output


def test_status_json_survives_damaged_side_files_and_names_them(root: Path) -> None:
    # regression: a non-UTF-8 budget.json, asks.json with non-object entries or uncertain.json holding
    # non-objects made `status` die with UnicodeDecodeError / AttributeError / TypeError
    engine = root / ".loop/sessions" / SESSION / "engine"
    engine.mkdir(parents=True)
    damaged = {"budget.json": b"\x00\xff\xfe", "asks.json": b'{"a-1": 1}', "uncertain.json": b"[1, 2]"}
    for name, data in damaged.items():
        (engine / name).write_bytes(data)
    for args in (("status", "--json"), ("status",)):
        out = cli(root, *args)
        assert out.exit_code == 0 and "Traceback" not in out.output, (args, out.output)
    doc = json.loads(cli(root, "status", "--json").stdout)
    from loop_schemas import EngineStatus

    EngineStatus.model_validate(doc)
    assert doc["uncertain"] == [] and doc["asks"] == {"open": 0, "timed_out": 0}
    for name in damaged:
        assert any(str(engine / name) in w for w in doc["warnings"]), (name, doc["warnings"])
    assert {name: (engine / name).read_bytes() for name in damaged} == damaged  # kept as they were
    (engine / "pending-decision.json").write_bytes(b"\xff\xfe")
    out = cli(root, "status", "--json")
    assert out.exit_code == 1 and len(out.output.strip().splitlines()) == 1, out.output
    assert "pending-decision.json: not valid JSON" in out.output


def test_events_lists_only_engine_events(root: Path) -> None:
    # regression: any JSON object line (`{"x": 1}`) was printed as an event, breaking `events --json`'s
    # schema for its readers (the deck, the improve miner)
    cli(root, "pause")
    events = root / ".loop/sessions" / SESSION / "engine/events.jsonl"
    with events.open("ab") as fh:
        fh.write(b'{"x": 1}\n\xff\xfe not json\n[1]\n{"event": "paused"}\n')
    cli(root, "resume")
    out = cli(root, "events", "--json")
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)["events"]
    assert [e["event"] for e in listed] == ["paused", "resumed"]
    for e in listed:
        parse_event(json.dumps(e))


def test_approve_expect_digest_is_the_status_pending_digest(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    decision = json.loads(cli(root, "once", "--json").output)["decision_id"]
    digest = json.loads(cli(root, "status", "--json").stdout)["pending_digest"]
    assert isinstance(digest, str) and len(digest) == 64
    out = cli(root, "approve", decision, "--expect-digest", "0" * 64)
    assert out.exit_code == 1 and "changed on disk since it was reviewed" in out.output, out.output
    assert fake_substrate.calls("loop-dispatch") == []
    out = cli(root, "approve", decision, "--expect-digest", digest)
    assert out.exit_code == 0, out.output
    assert len(fake_substrate.calls("loop-dispatch")) == 1
    assert json.loads(cli(root, "status", "--json").stdout)["pending_digest"] is None


def test_an_engine_dir_that_is_a_file_is_named_by_every_command(root: Path) -> None:
    # regression: each command died on its own raw OSError (FileExistsError, NotADirectoryError...)
    engine = root / ".loop/sessions" / SESSION / "engine"
    engine.parent.mkdir(parents=True)
    engine.write_text("not a folder\n")
    for args in (("status", "--json"), ("events",), ("pause",), ("once",), ("approve", "d-1"), ("improve",)):
        out = cli(root, *args)
        assert out.exit_code == 1, (args, out.output)
        assert out.output.strip() == f"Error: {engine} is not a directory: the engine keeps its files there"
    assert engine.read_text() == "not a folder\n"
    assert cli(root, "status", "--help").exit_code == 0


def test_a_reader_that_goes_away_gets_no_error_line(root: Path) -> None:
    # regression: `loop-engine events | head -1` ended with "Error: BrokenPipeError: [Errno 32] Broken pipe"
    import subprocess
    import sys

    for _ in range(3):
        cli(root, "pause")
    proc = subprocess.Popen(
        [sys.executable, "-m", "loop_engine", "--project-root", str(root), "--session", SESSION, "events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # nobody reads: the first write fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert err == "", err


def test_once_reaps_a_dead_engines_brain_but_never_a_live_engines(root: Path) -> None:
    import signal
    import subprocess
    import sys

    from loop_engine.brain import CHILD_TOKEN_ENV, process_start
    from loop_engine.paths import EnginePaths

    paths = EnginePaths(root.resolve(), SESSION)
    paths.children.mkdir(parents=True)
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    owner = subprocess.Popen(sleep)  # stands for the engine that started the call
    child = subprocess.Popen(sleep, start_new_session=True, env={**os.environ, CHILD_TOKEN_ENV: "f" * 32})
    try:
        record = {
            "token": "f" * 32,
            "pid": child.pid,
            "start": process_start(child.pid),
            "owner": owner.pid,
            "owner_start": process_start(owner.pid),
            "transcript": "b-1.log",
        }
        (paths.children / f"{'f' * 32}.json").write_text(json.dumps(record))
        assert cli(root, "once").exit_code == 0
        assert child.poll() is None  # its engine is alive: the call is its own
        owner.kill()
        owner.wait()
        # a daemon holds the lock: `once` leaves reaping to it
        import fcntl

        fd = os.open(paths.daemon_lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert cli(root, "once").exit_code == 0
            assert child.poll() is None
        finally:
            os.close(fd)
        assert cli(root, "once").exit_code == 0
        assert child.wait(timeout=30) == -signal.SIGTERM
        events = [
            e for e in map(json.loads, paths.events.read_text().splitlines()) if e["event"] == "brain-orphan"
        ]
        assert [(e["pid"], e["by"], e["outcome"]) for e in events] == [(child.pid, "once", "terminated")]
        assert list(paths.children.iterdir()) == []
    finally:
        for proc in (owner, child):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _brain_answers(
    root: Path, fake_substrate: FakeSubstrate, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """Make the `pi` harness the brain, answering `text`."""
    fake_substrate.respond("loop-checkpoint", "HEADER\nbody\n")
    bindir = root.parent / "brainbin"
    bindir.mkdir(exist_ok=True)
    answer = root.parent / "answer.txt"
    answer.write_text(text)
    script = bindir / "pi"
    script.write_text(f"#!/bin/sh\ncat '{answer}'\n")
    script.chmod(0o755)
    (root / "lane-config.yaml").write_text("engine:\n  brain: {harness: pi}\n")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_once_exits_1_with_the_failed_outcome_when_an_action_it_ran_failed(
    root: Path, fake_substrate: FakeSubstrate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regression: a steer to an unknown lane in full mode failed (action-failed in the log) and `once`
    # printed `executed: 1 run` and exited 0; --json had no per-action outcome
    from loop_schemas import CycleResult

    _brain_answers(
        root,
        fake_substrate,
        monkeypatch,
        "```decision\nversion: 1\ncritique: c\nactions:\n"
        "  - {kind: steer, lane: ghost, payload: hi, rationale: r}\n```\n",
    )
    fake_substrate.respond("loop-dispatch", "", exit_code=1, stderr="loop-dispatch: no lane 'ghost'\n")
    out = cli(root, "once", "--approval", "full", "--json")
    assert out.exit_code == 1, out.output
    doc = json.loads(out.stdout)
    CycleResult.model_validate(doc)
    assert doc["outcome"] == "executed"
    assert [(o["index"], o["state"]) for o in doc["outcomes"]] == [(0, "failed")]
    assert "ghost" in doc["outcomes"][0]["error"]
    assert "action 0 failed" in out.stderr

    fake_substrate.respond("loop-dispatch", "")  # the tmux side answers again: a clean cycle exits 0
    out = cli(root, "once", "--approval", "full")
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("executed: 1 run, 0 queued")


def test_approve_with_a_non_utf8_checkpoint_is_one_line_and_runs_nothing(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    """Issue 15 item 11: before, approve ran the dispatch, archived the decision, then died with
    `Error: UnicodeDecodeError: …` and never filed it."""
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    queued = json.loads(cli(root, "once", "--approval", "manual", "--json").stdout)
    decision_id = queued["decision_id"]
    checkpoint = root / "ops-wiki" / "checkpoint.md"
    checkpoint.write_bytes(b"# cp \xe9\n\n<!-- coord-decisions -->\n")
    pending = root / ".loop/sessions" / SESSION / "engine" / "pending-decision.json"
    before = pending.read_bytes()
    out = cli(root, "approve", decision_id)
    assert out.exit_code == 1
    assert out.output.strip() == (
        f"Error: cannot approve {decision_id}: ops-wiki/checkpoint.md is not UTF-8 text (byte 5); "
        "nothing was run, it stays pending"
    )
    assert fake_substrate.calls("loop-dispatch") == []
    assert pending.read_bytes() == before


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (RecursionError("maximum recursion depth exceeded"), "Error: too deeply nested to read"),
        (MemoryError(), "Error: too large to read"),
        (
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            "Error: a file is not UTF-8 text (byte 0)",
        ),
    ],
)
def test_no_raw_exception_name_reaches_the_user(
    root: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException, said: str
) -> None:
    from loop_engine import config as config_mod

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    monkeypatch.setattr(config_mod, "load", boom)
    out = cli(root, "config")
    assert out.exit_code == 1 and out.output.strip() == said, out.output
    assert type(exc).__name__ not in out.output


def test_a_deeply_nested_pending_decision_is_named_not_a_recursion_error(root: Path) -> None:
    engine = root / ".loop/sessions" / SESSION / "engine"
    engine.mkdir(parents=True)
    (engine / "pending-decision.json").write_text("[" * 100000 + "]" * 100000)
    out = cli(root, "status", "--json")
    assert out.exit_code == 1 and len(out.output.strip().splitlines()) == 1, out.output
    assert "pending-decision.json: not valid JSON (too deeply nested)" in out.output
    assert "RecursionError" not in out.output


def test_status_shows_each_action_with_its_task_rationale_and_a_preview_of_what_is_sent(
    root: Path,
) -> None:
    text = TASK.format(id="T0001", title="Fix the login", status="open", deps="")
    text = text.replace("Do Fix the login.", "Make \x1b[2Jlogin work on Safari.")
    (root / "tasks" / "T0001-fix-the-login.md").write_text(text)
    assert cli(root, "once", "--approval", "manual").exit_code == 0
    out = cli(root, "status", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    EngineStatus.model_validate(doc)
    [view] = doc["actions"]
    assert view["kind"] == "dispatch" and view["lane"] == "web"
    assert view["state"] == "queued" and view["reasons"]  # an ESC in the payload: destructive, and why
    assert (view["task"], view["task_title"]) == ("T0001", "Fix the login")
    assert view["rationale"].startswith("T0001 is ready")
    # the body after the front matter, headings and blank lines skipped: never `---`
    assert view["preview"] == ["Make \x1b[2Jlogin work on Safari.", "None.", "A thing."]
    human = cli(root, "status")
    assert human.exit_code == 0, human.output
    assert "task: T0001 Fix the login" in human.output
    assert "why: T0001 is ready" in human.output
    assert "sends: Make \u241b[2Jlogin work on Safari." in human.output
    assert all(f"gate: {reason}" in human.output for reason in view["reasons"])
    assert "\x1b" not in human.output and "---" not in human.output


def test_status_names_the_task_a_steer_serves_and_previews_an_escalation(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    from loop_engine.paths import EnginePaths
    from loop_engine.queue import write_pending

    (root / "tasks" / "T0002-b.md").write_text(
        TASK.format(id="T0002", title="Bee", status="in-progress", deps="")
    )
    paths = EnginePaths(root.resolve(), SESSION)
    paths.engine_dir.mkdir(parents=True, exist_ok=True)
    paths.assignments.write_text(json.dumps({"T0002": {"lane": "web", "state": "in-progress"}}))
    write_pending(
        paths,
        {
            "id": "d-1",
            "session": SESSION,
            "created_at": "2026-01-01T00:00:00Z",
            "approval_mode": "manual",
            "decision": {
                "version": 1,
                "critique": "c",
                "actions": [
                    {
                        "kind": "steer",
                        "lane": "web",
                        "payload": "\n# Note\n\nuse the v2 API\n",
                        "rationale": "r1",
                    },
                    {"kind": "escalate", "summary": "## Help\n\nlane stuck\n", "rationale": "r2"},
                    {"kind": "stop", "rationale": "r3"},
                ],
            },
            "gates": [
                {"gate_class": "destructive", "reasons": ["steer interrupts a working lane"]},
                {"gate_class": "safe"},
                {"gate_class": "safe"},
            ],
        },
    )
    views = json.loads(cli(root, "status", "--json").output)["actions"]
    assert [(v["task"], v["task_title"], v["preview"]) for v in views] == [
        ("T0002", "Bee", ["use the v2 API"]),
        (None, None, ["lane stuck"]),
        (None, None, []),
    ]
    assert views[0]["reasons"] == ["steer interrupts a working lane"]
    human = cli(root, "status").output
    assert "gate: steer interrupts a working lane" in human and "task: T0002 Bee" in human


@pytest.mark.parametrize(
    "verb",
    [
        ["once"],
        ["watch"],
        ["watch", "--foreground"],
        ["restart"],
        ["approve", "d-1"],
        ["reject", "d-1"],
        ["resolve", "u-1", "--sent"],
        ["pause"],
        ["resume"],
        ["cycle-now"],
        ["status", "--json"],
        ["events"],
        ["config"],
        ["improve"],
    ],
)
def test_outside_a_loop_project_every_verb_refuses_in_one_line_and_writes_nothing(
    tmp_path: Path, fake_substrate: FakeSubstrate, verb: list[str]
) -> None:
    folder = tmp_path / "not-a-project"
    (folder / ".loop").mkdir(parents=True)  # a bare .loop/ (an older engine's leftover) is not a project
    (folder / "notes.md").write_text("x\n")
    out = cli(folder, *verb)
    assert out.exit_code == 1, out.output
    assert out.output.splitlines() == [
        f"Error: {folder} is not a loop project (no .loop/messages/, .loop/orchestrator-state.json or "
        "ops-wiki/checkpoint.md): run loop-init there, or pass --project-root"
    ]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [".loop", "notes.md"]
    assert fake_substrate.calls("loop-tmux") == []


def test_outside_a_loop_project_stop_writes_nothing_and_help_still_works(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    out = cli(folder, "stop")
    assert out.exit_code == 0 and out.output == "no daemon running\n"
    assert cli(folder, "once", "--help").exit_code == 0
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "marker", [".loop/messages/", ".loop/orchestrator-state.json", "ops-wiki/checkpoint.md"]
)
def test_any_one_file_loop_init_makes_marks_a_loop_project(tmp_path: Path, marker: str) -> None:
    folder = tmp_path / "p"
    target = folder / marker
    target.parent.mkdir(parents=True, exist_ok=True)
    if marker.endswith("/"):
        target.mkdir()
    else:
        target.write_text("{}\n")
    out = cli(folder, "config", "--json")
    assert out.exit_code == 0, out.output


def test_once_says_why_nothing_happened(root: Path, fake_substrate: FakeSubstrate) -> None:
    busy = {
        "coord": ("idle", None, "fixed"),
        "web": ("working", "pi", "fixed"),
        "sh": ("idle", "shell", "dynamic"),
    }
    fake_substrate.respond("loop-lane-status", lane_report(busy))
    fake_substrate.respond("loop-tmux", lane_list(busy))
    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    out = cli(root, "once")
    assert out.exit_code == 0, out.output
    first, why = out.stdout.splitlines()
    # web still works when probed again: the stop is not obeyed (the defensive stop), the why is said
    assert first.startswith("stop-suspected-idle-stall: a lane seen working still works (web): no stop (d-")
    assert why.startswith("  why: 1 ready task(s), 0 idle implementation lane(s), 0 task(s) in progress")
    doc = json.loads(cli(root, "once", "--json").stdout)
    CycleResult.model_validate(doc)
    assert doc["outcome"] == "stop-suspected-idle-stall"
    assert doc["reason"].startswith("1 ready task(s), 0 idle implementation")
    assert doc["warnings"] == []


def test_once_with_a_corrupt_state_file_warns_on_stderr(root: Path) -> None:
    state = root / ".loop" / "orchestrator-state.json"
    state.write_text('{"schema_version": 2, "loops": ')
    out = cli(root, "once")
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("noop: nothing to do (stop)")
    [line] = out.stderr.splitlines()
    assert line.startswith(f"loop-engine: warning: the state file cannot be used: {state}")
    doc = json.loads(cli(root, "once", "--json").stdout)
    assert len(doc["warnings"]) == 1 and str(state) in doc["warnings"][0]
    assert state.read_text() == '{"schema_version": 2, "loops": '


SPY = """
import atexit, json, sys
from loop_substrate import client
seen = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "loop_engine.cycle" and "early" not in seen:
            seen["early"] = sorted(" ".join(argv[2:]) for argv in client._EARLY)
        return None

sys.meta_path.insert(0, Spy())
atexit.register(lambda: print("SPY " + json.dumps(seen)))
from loop_engine.cli import main
main(sys.argv[1:])
"""


def test_once_starts_the_observation_reads_before_it_loads_the_cycle(
    root: Path, fake_substrate: FakeSubstrate
) -> None:
    """The substrate answers while Python loads the cycle code: list-lanes and lane-status --json --all
    are running when loop_engine.cycle is imported, and the cycle's probe takes their answers (each CLI
    runs once, not again)."""
    import subprocess
    import sys

    (root / "tasks" / "T0001-a.md").write_text(TASK.format(id="T0001", title="a", status="open", deps=""))
    env = {**os.environ, **fake_substrate.env}
    argv = ["--project-root", str(root), "--session", SESSION, "once", "--approval", "manual", "--json"]
    proc = subprocess.run(
        [sys.executable, "-c", SPY, *argv], capture_output=True, text=True, env=env, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    spy = json.loads(proc.stdout.rsplit("SPY ", 1)[1])
    assert spy["early"] == [f"--json --all {SESSION}", f"list-lanes --session {SESSION} --json"]
    assert json.loads(proc.stdout.rsplit("SPY ", 1)[0])["outcome"] == "queued"
    assert len(fake_substrate.calls("loop-lane-status")) == 1
    assert [c["args"][0] for c in fake_substrate.calls("loop-tmux")].count("list-lanes") == 1
