"""The substrate on the real Claude Code, codex and pi (pinned in tools/install-real-agents.sh), each in
a loop lane against the stub model server: every phase's lane-status word and detail, verbatim
delivery, --wait-ready, /clear, and the brain's one-shot.

Whitespace ("verbatim", per harness; CONTRACT.md): tmux delivers the bytes, and then claude and pi
turn a tab into spaces; all three drop trailing whitespace of what they send; codex keeps tabs."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from real_agents import HARNESSES, VERSIONS, RealSession, need_cli, retry_until

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

APPROVING = ("claude", "codex")  # pi never asks before running a tool


def start(real: RealSession, harness: str, *extra: str) -> str:
    lane = f"w-{harness}"
    real.add_lane(lane, harness, *extra)
    return lane


def ready(real: RealSession, lane: str) -> None:
    real.wait_status(lane, "idle", "ready", timeout=120)


def send(real: RealSession, lane: str, text: str) -> None:
    real.dispatch(lane, "--mode", "text", "--no-clear", "--", text)


@pytest.mark.parametrize("harness", HARNESSES)
def test_starting_idle_working_streaming(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    # starting: until the TUI draws its prompt the lane is booting (or not yet recognisable), never
    # idle with nothing drawn, never errored
    seen: list[tuple[str, object, object]] = []

    def drawn() -> bool:
        word = real.word(lane)
        seen.append(word)
        return word[:2] == ("idle", "ready")

    retry_until(drawn, 120, what=f"{harness} idle")
    early = [w[:2] for w in seen[:-1]]
    # codex keeps a spinner in its pane title while it starts: working/busy is a fair word then too
    starting = (("working", "booting"), ("working", "busy"), ("unknown", None))
    assert all(w in starting for w in early), f"{harness} while starting: {early}"
    # working before the first token (the model holds its answer)
    send(real, lane, "STUB:HANG think first")
    real.wait_prompt("STUB:HANG think first")
    real.wait_status(lane, "working", "busy")
    real.stub.release()
    ready(real, lane)
    # streaming: text arrives word by word
    real.stub.rearm()
    send(real, lane, "STUB:SLOW stream please")
    real.wait_screen(lane, "slow3")
    real.wait_status(lane, "working", "busy")
    assert "slow" in real.capture(lane)
    real.stub.release()
    real.wait_screen(lane, "end.")
    ready(real, lane)


@pytest.mark.parametrize("harness", HARNESSES)
def test_api_error_leaves_a_ready_lane(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    ready(real, lane)
    send(real, lane, "STUB:FAIL400 please")
    real.wait_prompt("STUB:FAIL400 please")
    # the turn failed, the prompt is back: the lane takes a prompt (idle), the detail says why
    real.wait_status(lane, "idle", "api-error")
    real.dispatch(lane, "--mode", "text", "--wait-ready", "--no-clear", "--", "after the error")
    real.wait_prompt("after the error")
    real.wait_screen(lane, "stub reply")
    real.wait_status(lane, "idle")


@pytest.mark.parametrize("harness", APPROVING)
def test_awaiting_approval(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    ready(real, lane)
    send(real, lane, "STUB:TOOL write a file")
    real.wait_status(lane, "awaiting-approval", "approval")
    assert not (real.project / "stub-tool-out.txt").exists()
    real.keys(lane, "Escape")  # decline
    ready(real, lane)
    assert not (real.project / "stub-tool-out.txt").exists()


@pytest.mark.parametrize("harness", HARNESSES)
def test_retrying(real: RealSession, harness: str) -> None:
    real.allow_retries()
    lane = start(real, harness)
    ready(real, lane)
    send(real, lane, "STUB:FAIL529 please")
    real.wait_prompt("STUB:FAIL529 please")
    # a second request for the same prompt: the harness is retrying, and the lane is busy meanwhile
    retry_until(lambda: len([p for p in real.stub.prompts() if "STUB:FAIL529" in p]) >= 2, 90, what="a retry")
    real.wait_status(lane, "working", "busy")


@pytest.mark.parametrize("harness", HARNESSES)
def test_exited_to_shell(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    ready(real, lane)
    shell_pid = int(real.tmux("display-message", "-p", "-t", real.pane(lane), "#{pane_pid}").stdout)
    children = [p for p in child_pids(shell_pid)]
    assert children, "the harness runs under the lane shell"
    for pid in children:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except OSError:
            pass
    real.wait_status(lane, "errored", "exited-to-shell")


def child_pids(parent: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            out.append(int(entry))
    return out


TRICKY = [
    "V1 quotes \"double\" 'single' \\backslash \\n not-a-newline",
    "V2 $(touch /tmp/loop-real-pwned) ${HOME} `id` ; | & > < * ? ~ #",
    "V3 key names as text: C-c Enter Escape C-m KP_Enter Tab Space BSpace",
    "V4 unicode héllo — ✓ 日本語 🙂 ß Ω",
    "V5 a\ttab and trailing   ",
    "V6 " + " ".join(f"word{i}-{'x' * (i % 7)}!?" for i in range(110)),
]


def expected(harness: str, text: str) -> str:
    """What reaches the model (CONTRACT.md, "verbatim" per harness)."""
    if harness in ("claude", "pi"):
        return text.replace("\t", "    ").rstrip()
    return text.rstrip()  # codex keeps tabs, and drops trailing whitespace too


@pytest.mark.parametrize("harness", HARNESSES)
def test_verbatim_delivery(real: RealSession, harness: str) -> None:
    lane = start(real, harness)
    assert 1024 <= len(TRICKY[-1].encode()) <= 2048
    ready(real, lane)
    for text in TRICKY:
        real.dispatch(lane, "--mode", "text", "--wait-ready", "--no-clear", "--", text)
        tag = text[:3]
        request = real.wait_prompt(tag)
        parts = [t for t in request["user_texts"] if tag in t]  # type: ignore[union-attr]
        assert parts == [expected(harness, text)], (harness, text, request["user_texts"])
        ready(real, lane)
    assert not Path("/tmp/loop-real-pwned").exists()


@pytest.mark.parametrize("harness", HARNESSES)
def test_wait_ready_on_a_fresh_lane(real: RealSession, harness: str) -> None:
    lane = start(real, harness, "--wait-ready", "--ready-timeout", "120")
    assert real.word(lane)[:2] == ("idle", "ready")
    other = f"x-{harness}"
    real.add_lane(other, harness)
    real.dispatch(
        other, "--mode", "text", "--wait-ready", "--ready-timeout", "120", "--no-clear", "--", "first prompt"
    )
    real.wait_prompt("first prompt")


def test_claude_clear_starts_a_fresh_conversation(real: RealSession) -> None:
    lane = start(real, "claude")
    ready(real, lane)
    send(real, lane, "remember the first")
    real.wait_prompt("remember the first")
    real.wait_screen(lane, "stub reply")
    ready(real, lane)
    clear = real.run("lib/harness-registry.sh", "field", "claude", "clear_cmd").stdout.strip()
    assert clear == "/clear"
    real.dispatch(lane, "--no-clear", "--", clear)
    ready(real, lane)
    send(real, lane, "the second")
    second = real.wait_prompt("the second")
    msgs = second["body"]["messages"]  # type: ignore[index]
    assert not any("remember the first" in str(m) for m in msgs), msgs


@pytest.mark.parametrize("harness", HARNESSES)
def test_oneshot(real: RealSession, harness: str, tmp_path: Path) -> None:
    from loop_engine.brain import build_argv, run_oneshot

    need_cli(harness)
    # a loop project is a git repository (codex exec refuses to run outside one)
    subprocess.run(["git", "init", "-q", str(real.project)], check=True, capture_output=True)
    template = real.run("lib/harness-registry.sh", "oneshot", harness).stdout.strip()
    prompt = f"ONESHOT {harness} say hi; $(not run) `nor this`"
    argv = build_argv(template, prompt)
    answer = run_oneshot(
        argv, timeout_s=120, transcript=tmp_path / "t.txt", env=dict(real.env), cwd=real.project
    )
    assert "stub reply" in answer.text
    request = real.wait_prompt(f"ONESHOT {harness}")
    assert prompt in request["user_texts"]  # type: ignore[operator]


@pytest.mark.parametrize("harness", HARNESSES)
def test_the_pinned_version_is_installed(real: RealSession, harness: str) -> None:
    cli = need_cli(harness)
    proc = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, env=real.env, timeout=60, check=False
    )
    assert VERSIONS[harness] in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
