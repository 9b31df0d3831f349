"""loop-dispatch.sh against what real agents do: permission prompts (refused; --answer; --wait-ready;
the race right before the paste), claude's interrupt that puts the old prompt back, and line-mode
programs that take exactly one Enter. Every test here fails on the main before issue 16's fixes."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import sys
import threading
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHELL = TESTS.parent


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


fake_agent = _load("fake_agent", TESTS / "fake_agent.py")
retry_until = _load("_lanes_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.3"}


@pytest.fixture
def lanes(tmux_server, shell_env, fake_harnesses, tmp_path):
    shell_env.env["LOOP_LANE_STATUS_CACHE_DIR"] = str(tmp_path / "cache")
    shell_env.env["LOOP_LANE_HOOK_DIR"] = str(tmp_path / "hooks")
    shell_env.env["LOOP_DISPATCH_PASTE_DELAY"] = "0.2"

    def spawn(window, command, agent_env=None, options=None):
        env = dict(FAST)
        env.update(agent_env or {})
        env.setdefault("FAKE_AGENT_LOG_NAME", window)
        return fake_agent.spawn_window(tmux_server.socket, shell_env.env, "s", window, command, env, options)

    return spawn


def _screen(tmux_server, pane):
    return str(tmux_server.out("capture-pane", "-p", "-t", pane))


def _dispatch(shell_env, *args, env=None):
    return shell_env.run("loop-dispatch.sh", "--session", "s", *args, env=env)


def _events(log, name, kind):
    return [e for e in fake_agent.read_events(log, name) if e["event"] == kind]


def _running_with(marker: bytes) -> bool:
    """Whether a process of ours has `marker` in its NUL-separated command line (Linux /proc)."""
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if marker in fh.read() + b"\x00":
                    return True
        except OSError:
            continue
    return False


def _one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("harness", ["claude", "codex"])
def test_a_prompt_is_never_pasted_into_a_permission_prompt(
    tmux_server, shell_env, lanes, fake_harnesses, harness
):
    """On main the Enter picked "Yes": exit 0, the tool approved, the prompt lost."""
    log = fake_harnesses / "received"
    agent = {"FAKE_AGENT_APPROVAL_ON": "needs-tool"}
    pane = lanes("web", harness, agent, {"@loop_lane_harness": harness})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    assert _dispatch(shell_env, "--no-clear", "web", "needs-tool please").returncode == 0
    retry_until(
        lambda: "Would you like" in _screen(tmux_server, pane) or "Do you want" in _screen(tmux_server, pane)
    )
    for extra in ((), ("--mode", "text"), ("--no-clear",)):
        refused = _dispatch(shell_env, *extra, "web", "some prompt")
        assert refused.returncode == 1
        line = _one_line(refused)
        assert "lane web is awaiting approval" in line and ("proceed" in line or "Would you like" in line), (
            line
        )
    assert _events(log, "web", "approval") == []
    assert fake_agent.read_submissions(log, "web") == [b"needs-tool please"]
    assert "some prompt" not in _screen(tmux_server, pane)
    # --wait-ready waits; while the prompt stays open it times out and still sends nothing.
    waited = _dispatch(shell_env, "--wait-ready", "--ready-timeout", "1", "web", "some prompt")
    assert waited.returncode == 1 and "awaiting-approval" in _one_line(waited)
    assert _events(log, "web", "approval") == []
    # --answer types the payload into the prompt as its answer.
    answered = _dispatch(shell_env, "--answer", "web", "1")
    assert answered.returncode == 0, answered.stderr
    assert [e["answer"] for e in _events(log, "web", "approval")] == ["yes"]
    retry_until(lambda: "esc to interrupt" not in _screen(tmux_server, pane))
    # No prompt open: --answer refuses and types nothing; a prompt goes through as usual.
    stray = _dispatch(shell_env, "--answer", "web", "2")
    assert stray.returncode == 1 and "shows no permission prompt" in _one_line(stray)
    assert _dispatch(shell_env, "--no-clear", "web", "after the tool").returncode == 0
    retry_until(lambda: fake_agent.read_submissions(log, "web") == [b"needs-tool please", b"after the tool"])
    for args in (("--answer", "--wait-ready", "web", "1"), ("--answer", "--interrupt", "web", "1")):
        assert _dispatch(shell_env, *args).returncode == 2, args


def test_wait_ready_waits_for_the_prompt_to_be_answered(tmux_server, shell_env, lanes, fake_harnesses):
    log = fake_harnesses / "received"
    pane = lanes("web", "codex", {"FAKE_AGENT_APPROVAL_ON": "needs-tool"}, {"@loop_lane_harness": "codex"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    assert _dispatch(shell_env, "web", "needs-tool please").returncode == 0
    retry_until(lambda: "Would you like" in _screen(tmux_server, pane))
    result = {}
    waiter = threading.Thread(
        target=lambda: result.setdefault(
            "proc", _dispatch(shell_env, "--wait-ready", "--ready-timeout", "30", "web", "queued")
        )
    )
    waiter.start()
    # the waiting dispatch is running and has not answered: the prompt is still open
    retry_until(lambda: _running_with(b"--ready-timeout\x0030\x00"))
    assert _events(log, "web", "approval") == []
    assert "Would you like" in _screen(tmux_server, pane)
    tmux_server.tmux("send-keys", "-t", pane, "n")  # a human declines
    waiter.join(60)
    proc = result["proc"]
    assert proc.returncode == 0, proc.stderr
    assert [e["answer"] for e in _events(log, "web", "approval")] == ["no"]
    retry_until(lambda: fake_agent.read_submissions(log, "web") == [b"needs-tool please", b"queued"])


def test_a_prompt_that_appears_right_before_the_paste_stops_it(
    tmux_server, shell_env, lanes, fake_harnesses, tmp_path
):
    """The lane is idle when dispatch looks, then asks for approval while dispatch waits its turn for
    the pane: the check right before the paste refuses."""
    ls = _load("lane_status", SHELL / "lib" / "lane_status.py")
    log = fake_harnesses / "received"
    pane = lanes("web", "codex", {"FAKE_AGENT_APPROVAL_ON": "needs-tool"}, {"@loop_lane_harness": "codex"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    lock_path = cache / f"dispatch-{ls.digest_of(f'{tmux_server.socket}' + chr(0) + pane)}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another dispatch holds the pane
    result = {}
    runner = threading.Thread(
        target=lambda: result.setdefault("proc", _dispatch(shell_env, "web", "late prompt"))
    )
    try:
        runner.start()
        retry_until(lambda: any(pane in p.read_text() for p in cache.glob("debounce-*.txt")))  # it saw idle
        tmux_server.tmux("send-keys", "-t", pane, "-l", "needs-tool")
        tmux_server.tmux("send-keys", "-t", pane, "Enter")
        retry_until(lambda: "Would you like" in _screen(tmux_server, pane))
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    runner.join(60)
    proc = result["proc"]
    assert proc.returncode == 1 and "lane web is awaiting approval" in _one_line(proc)
    assert _events(log, "web", "approval") == []
    assert fake_agent.read_submissions(log, "web") == [b"needs-tool"]


def test_claude_interrupt_clears_the_restored_prompt_before_the_steer(
    tmux_server, shell_env, lanes, fake_harnesses
):
    """On main the steer was appended to the prompt Claude put back: one merged submission."""
    log = fake_harnesses / "received"
    pane = lanes("web", "claude", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane_harness": "claude"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    first = "think before answering\nand take your time"
    assert _dispatch(shell_env, "--no-clear", "web", first).returncode == 0
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    env = {"LOOP_DISPATCH_INTERRUPT_WAIT": "0.3"}
    proc = _dispatch(shell_env, "--interrupt", "web", "steer during thinking", env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(_events(log, "web", "restored")) == 1
    retry_until(lambda: len(fake_agent.read_submissions(log, "web")) == 2)
    assert fake_agent.read_submissions(log, "web") == [first.encode(), b"steer during thinking"]


def test_claude_interrupt_pastes_nothing_when_the_input_box_cannot_be_proven_empty(
    tmux_server, shell_env, lanes, fake_harnesses
):
    log = fake_harnesses / "received"
    agent = {"FAKE_AGENT_BUSY_S": "120", "FAKE_AGENT_IGNORE_CTRL_U": "1"}
    pane = lanes("web", "claude", agent, {"@loop_lane_harness": "claude"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    first = "a long first prompt that a few Backspaces cannot erase: " + "x" * 40
    assert _dispatch(shell_env, "--no-clear", "web", first).returncode == 0
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    env = {"LOOP_DISPATCH_INTERRUPT_WAIT": "0.3", "LOOP_DISPATCH_CLEAR_INPUT_TRIES": "3"}
    proc = _dispatch(shell_env, "--interrupt", "web", "the steer", env=env)
    assert proc.returncode == 1
    assert "could not prove its input box empty" in _one_line(proc)
    assert "the steer" not in _screen(tmux_server, pane)
    assert fake_agent.read_submissions(log, "web") == [first.encode()]


@pytest.mark.parametrize(
    "program",
    [
        "cat > {out}",
        "python3 -u -c 'import sys\nfor l in sys.stdin: open(sys.argv[1], \"a\").write(l)' {out}",
    ],
)
def test_a_line_mode_program_gets_exactly_one_enter(tmux_server, shell_env, lanes, tmp_path, program):
    """On main: 'Enter was not taken … after 3 tries', exit 1, and 3 extra Enters (empty lines)."""
    out = tmp_path / "lines.txt"
    lanes("reader", program.format(out=out))  # input sent before it reads waits in the tty, echoed
    env = {"LOOP_DISPATCH_ENTER_CONFIRM_S": "1"}
    for mode in ("command", "text"):
        proc = _dispatch(shell_env, "--mode", mode, "--window", "s:reader", f"hello {mode}", env=env)
        assert proc.returncode == 0, proc.stderr
    retry_until(lambda: out.exists() and out.read_text() == "hello command\nhello text\n")
