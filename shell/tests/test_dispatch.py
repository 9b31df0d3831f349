"""loop-dispatch.sh: exact bytes into a lane, at most once; --no-enter, --interrupt, /clear, --wait-ready."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


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
    shell_env.env["LOOP_DISPATCH_PASTE_DELAY"] = "0.2"

    def spawn(window, command, agent_env=None, options=None, split=None):
        env = dict(FAST)
        env.update(agent_env or {})
        env.setdefault("FAKE_AGENT_LOG_NAME", window)
        return fake_agent.spawn_window(
            tmux_server.socket, shell_env.env, "s", window, command, env, options, split
        )

    return spawn


def _screen(tmux_server, pane):
    return str(tmux_server.out("capture-pane", "-p", "-t", pane))


def _ready(tmux_server, pane, marker="? for shortcuts"):
    retry_until(lambda: marker in _screen(tmux_server, pane))


def _dispatch(shell_env, *args, input=None, env=None):
    return shell_env.run("loop-dispatch.sh", *args, input=input, env=env)


def _events(log, name, kind):
    return [e for e in fake_agent.read_events(log, name) if e["event"] == kind]


def test_tricky_prompt_arrives_byte_for_byte(tmux_server, shell_env, lanes, fake_harnesses):
    log = fake_harnesses / "received"
    pane = lanes("web", "codex", options={"@loop_lane_harness": "codex"})
    _ready(tmux_server, pane)
    prompt = fake_agent.tricky_prompt()
    assert len(prompt.encode()) == 4096 and prompt.count("\n") == 50
    proc = _dispatch(shell_env, "--session", "s", "--mode", "text", "web", prompt)
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: fake_agent.read_submissions(log, "web") == [prompt.encode()])
    # From a file (its final newline dropped) and from stdin, into an add-lane window by name.
    dyn = lanes("wörk 2", "pi", options={"@loop_lane": "1", "@loop_lane_harness": "pi"})
    _ready(tmux_server, dyn, "claude-sonnet")
    src = shell_env.cwd / "prompt.txt"
    src.write_text(prompt + "\n")
    assert _dispatch(shell_env, "--session", "s", "--file", str(src), "wörk 2").returncode == 0
    retry_until(lambda: len(fake_agent.read_submissions(log, "wörk 2")) == 1)
    retry_until(lambda: "Done. (fake pi)" in _screen(tmux_server, dyn))
    assert _dispatch(shell_env, "--session", "s", "wörk 2", "-", input="from stdin\n").returncode == 0
    retry_until(lambda: fake_agent.read_submissions(log, "wörk 2") == [prompt.encode(), b"from stdin"])
    assert not _events(log, "web", "swallowed")


def test_no_enter_pastes_without_submitting(tmux_server, shell_env, lanes, fake_harnesses):
    log = fake_harnesses / "received"
    pane = lanes("web", "codex", options={"@loop_lane_harness": "codex"})
    _ready(tmux_server, pane)
    proc = _dispatch(shell_env, "--session", "s", "--no-enter", "--verify", "web", "draft only")
    assert proc.returncode == 0, proc.stderr
    assert "› draft only" in _screen(tmux_server, pane)
    assert fake_agent.read_submissions(log, "web") == []
    tmux_server.tmux("send-keys", "-t", pane, "Enter")
    retry_until(lambda: fake_agent.read_submissions(log, "web") == [b"draft only"])


def test_interrupt_sends_escape_then_delivers(tmux_server, shell_env, lanes, fake_harnesses):
    log = fake_harnesses / "received"
    pane = lanes("web", "claude", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane_harness": "claude"})
    _ready(tmux_server, pane)
    assert _dispatch(shell_env, "--session", "s", "--no-clear", "web", "first").returncode == 0
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    env = {"LOOP_DISPATCH_INTERRUPT_WAIT": "0.3"}
    proc = _dispatch(shell_env, "--session", "s", "--interrupt", "web", "change of plan", env=env)
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: fake_agent.read_submissions(log, "web") == [b"first", b"change of plan"])
    assert len(_events(log, "web", "interrupt")) == 1
    assert b"/clear" not in (log / "web.log").read_bytes()  # --interrupt never clears


def test_claude_gets_clear_first_unless_told_not_to(tmux_server, shell_env, lanes, fake_harnesses):
    log = fake_harnesses / "received"
    pane = lanes("coord", "claude", options={"@loop_lane_harness": "claude"})
    _ready(tmux_server, pane)
    assert _dispatch(shell_env, "--session", "s", "coord", "task one").returncode == 0
    retry_until(lambda: fake_agent.read_submissions(log, "coord") == [b"/clear", b"task one"])
    retry_until(lambda: "Done. (fake claude)" in _screen(tmux_server, pane))
    assert _dispatch(shell_env, "--session", "s", "--no-clear", "coord", "task two").returncode == 0
    retry_until(lambda: len(fake_agent.read_submissions(log, "coord")) == 3)
    retry_until(lambda: "Done. (fake claude)" in _screen(tmux_server, pane))
    env = {"LOOP_DISPATCH_NO_CLEAR": "1"}
    assert _dispatch(shell_env, "--session", "s", "coord", "task three", env=env).returncode == 0
    retry_until(lambda: len(fake_agent.read_submissions(log, "coord")) == 4)
    assert (log / "coord.log").read_bytes() == b"/clear\ntask one\ntask two\ntask three\n"


def test_wait_ready_outlasts_a_welcome_screen_that_swallows_input(
    tmux_server, shell_env, lanes, fake_harnesses
):
    log = fake_harnesses / "received"
    slow = {"FAKE_AGENT_WELCOME_S": "2.5"}
    lanes("early", "codex", slow, {"@loop_lane": "1", "@loop_lane_harness": "codex"})
    pane = lanes("patient", "codex", slow, {"@loop_lane": "1", "@loop_lane_harness": "codex"})
    retry_until(lambda: "OpenAI Codex" in _screen(tmux_server, pane))
    # Without --wait-ready the welcome screen eats the paste; the Enter is never taken: exit 1, no re-paste.
    env = {"LOOP_DISPATCH_ENTER_CONFIRM_S": "0.2", "LOOP_DISPATCH_ENTER_RETRIES": "1"}
    early = _dispatch(shell_env, "--session", "s", "early", "too soon", env=env)
    assert early.returncode == 1 and "not delivered" in early.stderr
    proc = _dispatch(
        shell_env, "--session", "s", "--wait-ready", "--ready-timeout", "20", "patient", "in time"
    )
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: fake_agent.read_submissions(log, "patient") == [b"in time"])
    assert not _events(log, "patient", "swallowed")
    assert fake_agent.read_submissions(log, "early") == [] and _events(log, "early", "swallowed")
    booting = lanes(
        "slow", "codex", {"FAKE_AGENT_WELCOME_S": "60"}, {"@loop_lane": "1", "@loop_lane_harness": "codex"}
    )
    retry_until(lambda: "OpenAI Codex" in _screen(tmux_server, booting))
    timed_out = _dispatch(shell_env, "--session", "s", "--wait-ready", "--ready-timeout", "0.5", "slow", "x")
    assert timed_out.returncode == 1 and "not ready" in timed_out.stderr


def test_wait_ready_waits_out_the_shell_that_launches_a_lane(tmux_server, shell_env, lanes, fake_harnesses):
    """A lane just added sits at its launching shell for a moment; --wait-ready must wait, not refuse."""
    log = fake_harnesses / "received"
    codex = {"@loop_lane": "1", "@loop_lane_harness": "codex"}
    pane = lanes("late", "bash -c 'sleep 1.5; exec codex'", options=codex)
    launching = str(tmux_server.out("display-message", "-p", "-t", pane, "#{pane_current_command}")).strip()
    assert launching != "codex"  # the agent has not taken the pane yet
    proc = _dispatch(shell_env, "--session", "s", "--wait-ready", "--ready-timeout", "20", "late", "hello")
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: fake_agent.read_submissions(log, "late") == [b"hello"])
    # a shell that stays a shell is still refused once the grace is over, and nothing is typed into it
    stuck = lanes("stuck", "bash --norc --noprofile -i", options=codex)
    retry_until(lambda: _screen(tmux_server, stuck).strip())
    env = {"LOOP_DISPATCH_SHELL_GRACE_S": "0.5"}
    refused = _dispatch(
        shell_env, "--session", "s", "--wait-ready", "--ready-timeout", "20", "stuck", "echo typed", env=env
    )
    assert refused.returncode == 1 and "bare shell" in refused.stderr, refused.stderr
    assert "typed" not in _screen(tmux_server, stuck)


def test_a_window_target_that_does_not_exist_is_refused_and_nothing_lands(
    tmux_server, shell_env, lanes, fake_harnesses
):
    """tmux's display-message falls back to another pane for a missing target; dispatch must not."""
    log = fake_harnesses / "received"
    pane = lanes("web", "codex", options={"@loop_lane": "1", "@loop_lane_harness": "codex"})
    _ready(tmux_server, pane)
    for target in ("s:nosuch", "nosuch", "s:web.7", "%999", "=nosuch:web"):
        proc = _dispatch(shell_env, "--session", "s", "--window", target, "stray prompt")
        assert proc.returncode == 1, (target, proc.stderr)
        assert "no such pane" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    ok = _dispatch(shell_env, "--session", "s", "--window", "web", "meant for web")
    assert ok.returncode == 0, ok.stderr
    retry_until(lambda: fake_agent.read_submissions(log, "web") == [b"meant for web"])


def test_window_target_command_mode_into_a_shell(tmux_server, shell_env, lanes):
    lanes("validate", "sleep 600")
    lanes("validate", "bash --norc --noprofile -i", split="-h")
    out = shell_env.cwd / "ran.txt"
    cmd = f"printf '%s\\n' \"$((6*7)) it's\" > '{out}'"
    proc = _dispatch(shell_env, "--window", "s:validate.1", cmd)
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: out.exists() and out.read_text() == "42 it's\n")


def test_refusals_and_usage(tmux_server, shell_env, lanes, fake_harnesses):
    log = fake_harnesses / "received"
    pane = lanes("web", "bash --norc --noprofile -i", options={"@loop_lane_harness": "claude"})
    retry_until(lambda: _screen(tmux_server, pane).strip())
    refused = _dispatch(shell_env, "--session", "s", "web", "rm -rf /tmp/never")
    assert refused.returncode == 1 and "bare shell" in refused.stderr
    assert "rm -rf" not in _screen(tmux_server, pane)
    for args in (
        ("--session", "s", "nope", "x"),
        ("--session", "nosuch", "web", "x"),
        ("--window", "s:nope", "x"),
    ):
        proc = _dispatch(shell_env, *args)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, args
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for args in (
        ("web",),
        ("--session", "s"),
        ("--session", "s", "--mode", "fast", "web", "x"),
        ("--session", "s", "--bogus", "web", "x"),
        ("--session", "s", "web", ""),
        ("--session", "s", "--ready-timeout", "soon", "web", "x"),
        ("web", "x"),  # outside tmux with no --session
    ):
        assert _dispatch(shell_env, *args).returncode == 2, args
    helped = _dispatch(shell_env, "--help")
    assert helped.returncode == 0 and "LOOP_DISPATCH_PASTE_DELAY" in helped.stdout
    assert not list(log.glob("web.*"))


def test_claude_clear_is_waited_for_until_taken_not_just_idle(tmux_server, shell_env, lanes, fake_harnesses):
    """A claude that takes /clear slowly keeps showing its old idle screen and drops what is typed
    meanwhile: the prompt is pasted only once the /clear is provably taken (the transcript redrawn),
    on a fresh lane and on one in use."""
    log = fake_harnesses / "received"
    agent_env = {"FAKE_AGENT_CLEAR_S": "1.2"}
    pane = lanes("coord", "claude", agent_env, {"@loop_lane_harness": "claude"})
    _ready(tmux_server, pane)
    for n, task in enumerate((b"task one", b"task two")):
        proc = _dispatch(shell_env, "--session", "s", "coord", task.decode())
        assert proc.returncode == 0, proc.stderr
        retry_until(lambda n=n: len(fake_agent.read_submissions(log, "coord")) == 2 * n + 2)
        retry_until(lambda: "Done. (fake claude)" in _screen(tmux_server, pane))
    assert fake_agent.read_submissions(log, "coord") == [b"/clear", b"task one", b"/clear", b"task two"]
    assert _events(log, "coord", "swallowed") == []


def test_claude_paste_dropped_after_clear_is_not_delivered(tmux_server, shell_env, lanes, fake_harnesses):
    """When the /clear is not seen taken in time the prompt is still delivered, and a harness that
    drops it is reported: exit 1 (the reason on the last line), and the prompt never pasted again."""
    log = fake_harnesses / "received"
    agent_env = {"FAKE_AGENT_CLEAR_S": "2.5"}
    pane = lanes("coord", "claude", agent_env, {"@loop_lane_harness": "claude"})
    _ready(tmux_server, pane)
    env = {"LOOP_DISPATCH_CLEAR_TIMEOUT": "1"}
    proc = _dispatch(shell_env, "--session", "s", "coord", "task one", env=env)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "not delivered" in proc.stderr.strip().splitlines()[-1]
    retry_until(lambda: _events(log, "coord", "clear"))
    assert [e["source"] for e in _events(log, "coord", "swallowed")] == ["clearing"]
    assert fake_agent.read_submissions(log, "coord") == [b"/clear"]
    assert "task one" not in _screen(tmux_server, pane)
