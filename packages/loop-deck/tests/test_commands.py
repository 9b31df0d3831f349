"""The argv each deck action runs: no shell, payloads on stdin, exact flags, the CLI's installed path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from loop_deck.commands import Command, CommandBuilder, EngineMissingError, run_command
from loop_substrate import script_path

ROOT = Path("/p")


def builder(engine: str | None = "loop-engine") -> CommandBuilder:
    return CommandBuilder(ROOT, "s1", engine_cmd=engine)


def test_real_runner_passes_stdin_verbatim_without_a_shell(tmp_path: Path) -> None:
    payload = f"line 1\n$(touch {tmp_path}/pwned) `touch {tmp_path}/pwned2` ; rm -rf /\n\ttab ünïcode\n"
    cmd = Command((sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read())"), stdin=payload)
    result = run_command(cmd)
    assert result.ok and result.stdout == payload
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_missing_program_and_timeout_are_results_not_exceptions() -> None:
    result = run_command(Command(("/nonexistent/loop-engine", "status")))
    assert result.returncode == 127 and result.summary == "exit 127: /nonexistent/loop-engine: not found"
    slow = run_command(Command((sys.executable, "-c", "import time; time.sleep(5)"), timeout=0.3))
    assert slow.returncode == 124 and "timed out" in slow.summary


def test_summary_is_the_last_line_the_human_would_see() -> None:
    ok = run_command(Command((sys.executable, "-c", "print('a'); print('approved d-1: 2 action(s) run')")))
    assert ok.summary == "ok: approved d-1: 2 action(s) run"
    bad = run_command(
        Command((sys.executable, "-c", "import sys; sys.stderr.write('x\\nrefused: gate\\n');sys.exit(1)"))
    )
    assert bad.summary == "exit 1: refused: gate"


def test_display_shows_the_exact_command_and_stdin_size() -> None:
    b = CommandBuilder(Path("/p"), "s p", engine_cmd="loop-engine")
    assert b.reject("d-1", "not now; later").display == (
        "loop-engine --project-root /p --session 's p' reject d-1 --reason 'not now; later'"
    )
    assert b.steer("web", "héllo").display.endswith("web -  <<< (6 bytes on stdin)")


def test_dispatch_and_steer_argv() -> None:
    b = builder()
    d = b.dispatch("infra", "do it")
    assert d.argv == (str(script_path("loop-dispatch")), "--session", "s1", "--mode", "text", "infra", "-")
    assert d.stdin == "do it"
    assert b.dispatch("validate-right", "make test", mode="command").argv[3:5] == ("--mode", "command")
    assert b.steer("web", "stop").argv[1:] == ("--session", "s1", "--mode", "text", "--interrupt", "web", "-")


def test_lane_argv() -> None:
    b = builder()
    tmux = str(script_path("loop-tmux"))
    assert b.add_lane("w2", harness="pi", model="m", role="r", worktree=True, auto_approve=True).argv == (
        tmux,
        "add-lane",
        "--session",
        "s1",
        "--window",
        "w2",
        "--harness",
        "pi",
        "--model",
        "m",
        "--role",
        "r",
        "--worktree",
        "--auto-approve",
    )
    assert b.add_lane("probe", cmd="scripts/probe.sh").argv[-2:] == ("--cmd", "scripts/probe.sh")
    with pytest.raises(ValueError):
        b.add_lane("w3", harness="pi", cmd="x")
    assert b.drop_lane("w2").argv == (tmux, "drop-lane", "--session", "s1", "--window", "w2")
    assert b.drop_lane("web", force=True).argv[-1] == "--force"


def test_engine_argv_and_engine_absent() -> None:
    b = builder()
    prefix = ("loop-engine", "--project-root", "/p", "--session", "s1")
    assert b.approve("d-1").argv == (*prefix, "approve", "d-1")
    assert b.approve("d-1", "ab12").argv == (*prefix, "approve", "d-1", "--expect-digest", "ab12")
    assert b.reject("d-1").argv == (*prefix, "reject", "d-1")
    assert b.pause().argv == (*prefix, "pause")
    assert b.resume().argv == (*prefix, "resume")
    assert b.checkpoint(engine_running=True).argv == (*prefix, "cycle-now")
    assert b.checkpoint(engine_running=False).argv == (*prefix, "once")
    none = builder(engine=None)
    for make in (none.pause, none.resume, lambda: none.approve("d-1")):
        with pytest.raises(EngineMissingError):
            make()
    assert none.checkpoint(engine_running=False).argv == (
        str(script_path("loop-checkpoint")),
        "--dispatch",
        "coord",
        "--project-root",
        "/p",
        "--session",
        "s1",
    )


def test_adr_accept_and_jump_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    b = builder()
    assert b.accept_adr(2).argv == (
        str(script_path("loop-adr")),
        "--project-root",
        "/p",
        "accept",
        "2",
        "--yes",
    )
    assert b.accept_adr(2, Path("/adr")).argv[3:5] == ("--adr-dir", "/adr")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    assert b.jump("%3").argv[1:] == ("switch-client", "-t", "%3")
    monkeypatch.delenv("TMUX")
    sock = CommandBuilder(ROOT, "s1", socket="/tmp/s").jump("%3")
    assert sock.argv[1:] == ("-S", "/tmp/s", "select-window", "-t", "%3", ";", "select-pane", "-t", "%3")
