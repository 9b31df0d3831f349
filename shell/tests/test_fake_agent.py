"""shell/tests/fake_agent.py: the fake harness TUI the lane tests drive through a real tmux pane."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


fake_agent = _load("fake_agent", TESTS / "fake_agent.py")
retry_until = _load("_lanes_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux


def _spawn(tmux_server, shell_env, name: str, cmd: str, **env: str) -> str:
    """Start window `name` of session t running `cmd` with `env` added; return its pane id."""
    return str(fake_agent.spawn_window(tmux_server.socket, shell_env.env, "t", name, cmd, env))


def _screen(tmux_server, pane: str) -> str:
    return str(tmux_server.out("capture-pane", "-p", "-t", pane))


def test_paste_is_one_submission_received_byte_for_byte(tmux_server, shell_env, fake_harnesses) -> None:
    log = fake_harnesses / "received"
    pane = _spawn(tmux_server, shell_env, "w", "claude", FAKE_AGENT_WELCOME_S="0", FAKE_AGENT_BUSY_S="0.1")
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    text = 'say "hi" $(rm -rf /) `id`\tC-c Enter\nnaïve ✓ 日本\n\nlast line'
    tmux_server.tmux("set-buffer", "-b", "p1", text)
    tmux_server.tmux("paste-buffer", "-p", "-r", "-d", "-b", "p1", "-t", pane)
    # The paste alone submits nothing: it sits in the composer until Enter.
    retry_until(lambda: "+3 lines" in _screen(tmux_server, pane))
    assert fake_agent.read_submissions(log, "claude") == []
    tmux_server.tmux("send-keys", "-t", pane, "Enter")
    retry_until(lambda: fake_agent.read_submissions(log, "claude") == [text.encode()])
    retry_until(lambda: "Done. (fake claude)" in _screen(tmux_server, pane))
    tmux_server.tmux("send-keys", "-t", pane, "-l", "/clear")
    tmux_server.tmux("send-keys", "-t", pane, "Enter")
    retry_until(lambda: len(fake_agent.read_submissions(log, "claude")) == 2)
    assert (log / "claude.log").read_bytes() == text.encode() + b"\n/clear\n"
    assert any(e["event"] == "clear" for e in fake_agent.read_events(log, "claude"))
    # The process is named like the real harness, so pane_current_command reads "claude".
    assert tmux_server.out("display-message", "-p", "-t", pane, "#{pane_current_command}").strip() == "claude"


def test_welcome_swallows_input_then_prompt(tmux_server, shell_env, fake_harnesses) -> None:
    log = fake_harnesses / "received"
    pane = _spawn(tmux_server, shell_env, "w", "codex", FAKE_AGENT_WELCOME_S="1.5")
    retry_until(lambda: "OpenAI Codex" in _screen(tmux_server, pane))
    assert "›" not in _screen(tmux_server, pane)
    tmux_server.tmux("send-keys", "-t", pane, "-l", "early")
    tmux_server.tmux("send-keys", "-t", pane, "Enter")
    retry_until(lambda: any(e["event"] == "swallowed" for e in fake_agent.read_events(log, "codex")))
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane), timeout=5)
    assert fake_agent.read_submissions(log, "codex") == []


def test_busy_spinner_keeps_prompt_visible_and_escape_interrupts(
    tmux_server, shell_env, fake_harnesses
) -> None:
    log = fake_harnesses / "received"
    pane = _spawn(tmux_server, shell_env, "w", "claude", FAKE_AGENT_WELCOME_S="0", FAKE_AGENT_BUSY_S="60")
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    tmux_server.tmux("send-keys", "-t", pane, "-l", "work")
    tmux_server.tmux("send-keys", "-t", pane, "Enter")
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    assert "? for shortcuts" in _screen(tmux_server, pane)  # the idle chrome stays visible while busy
    tmux_server.tmux("send-keys", "-t", pane, "Escape")
    retry_until(lambda: any(e["event"] == "interrupt" for e in fake_agent.read_events(log, "claude")))
    retry_until(lambda: "esc to interrupt" not in _screen(tmux_server, pane))


def _answers(log: Path) -> list[object]:
    return [e.get("answer") for e in fake_agent.read_events(log, "claude") if e["event"] == "approval"]


def test_approval_prompt_answers(tmux_server, shell_env, fake_harnesses) -> None:
    log = fake_harnesses / "received"
    pane = _spawn(
        tmux_server,
        shell_env,
        "w",
        "claude",
        FAKE_AGENT_WELCOME_S="0",
        FAKE_AGENT_BUSY_S="0.1",
        FAKE_AGENT_APPROVAL_ON="DANGER",
    )
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    for answer, expected in (("n", "no"), ("y", "yes")):
        tmux_server.tmux("send-keys", "-t", pane, "-l", "do DANGER things")
        tmux_server.tmux("send-keys", "-t", pane, "Enter")
        retry_until(lambda: "Do you want to proceed?" in _screen(tmux_server, pane))
        tmux_server.tmux("send-keys", "-t", pane, "-l", answer)
        retry_until(lambda expected=expected: _answers(log)[-1:] == [expected])
        retry_until(lambda: "Do you want to proceed?" not in _screen(tmux_server, pane))


def test_crash_on_submission_and_after_seconds(tmux_server, shell_env, fake_harnesses):
    log = fake_harnesses / "received"
    pane = _spawn(
        tmux_server,
        shell_env,
        "w",
        "sh -c 'codex; echo exited=$?; exec sleep 60'",
        FAKE_AGENT_CRASH_ON="BOOM",
        FAKE_AGENT_WELCOME_S="0",
        FAKE_AGENT_EXIT_CODE="3",
    )
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    tmux_server.tmux("send-keys", "-t", pane, "-l", "go BOOM")
    tmux_server.tmux("send-keys", "-t", pane, "Enter")
    retry_until(lambda: "exited=3" in _screen(tmux_server, pane))
    assert [e["reason"] for e in fake_agent.read_events(log, "codex") if e["event"] == "crash"] == [
        "FAKE_AGENT_CRASH_ON"
    ]
    pane2 = _spawn(tmux_server, shell_env, "w2", "pi", FAKE_AGENT_CRASH_AFTER_S="0.5")
    tmux_server.tmux("set-option", "-w", "-t", pane2, "remain-on-exit", "on")
    retry_until(lambda: tmux_server.out("display-message", "-p", "-t", pane2, "#{pane_dead}").strip() == "1")
    events = fake_agent.read_events(log, "pi")
    assert [e["reason"] for e in events if e["event"] == "crash"] == ["FAKE_AGENT_CRASH_AFTER_S"]
