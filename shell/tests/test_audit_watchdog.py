"""Audit of the lane watchdog (lib/lane-health.sh + lib/watchdog.py) on a real tmux server: odd launch
commands, shared and unwritable state dirs, two sessions, drop-lane mid-run, the singleton's races."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
LIB = TESTS.parent / "lib"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


retry_until = _load("_audit_watchdog_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2", "FAKE_AGENT_CRASH_ON": "crash-now"}
KNOBS = ["--interval", "0.2", "--confirm", "0.2", "--healthy", "600"]


def _boot(shell, session: str, state: Path, *extra: str) -> None:
    proc = shell.run(
        "loop-tmux.sh", "--session", session, "--no-attach", "--preset", "validation-only",
        "--state-dir", str(state), *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def wd(tmux_server, shell_env, fake_harnesses, tmp_path):
    shell_env.env.update(FAST)
    state = tmp_path / "state"
    _boot(shell_env, "s", state)
    yield shell_env, state
    shell_env.run("lib/lane-health.sh", "stop", "--session", "s", "--state-dir", str(state))


def _health(shell, state: Path, verb: str, *rest: str, session: str = "s"):
    return shell.run("lib/lane-health.sh", verb, "--session", session, "--state-dir", str(state), *rest)


def _lines(state: Path) -> list[dict]:
    path = state / "lane-restarts.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _restarts(state: Path, lane: str | None = None) -> list[dict]:
    return [r for r in _lines(state) if "event" not in r and (lane is None or r["lane"] == lane)]


def _events(state: Path, event: str) -> list[dict]:
    return [r for r in _lines(state) if r.get("event") == event]


def _cmd(server, target: str) -> str:
    return server.out("display", "-p", "-t", target, "#{pane_current_command}").strip()


def _pane(server, target: str) -> str:
    return server.out("display", "-p", "-t", target, "#{pane_id}").strip()


def _starts(received: Path, name: str) -> list[list[str]]:
    path = received / f"{name}.events.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r["argv"] for r in rows if r["event"] == "start"]


def test_odd_launch_command_is_restarted_verbatim(wd, tmux_server, fake_harnesses):
    """Quotes, unicode, '#', '$', ';' and a newline in a lane's cmd: the restart runs the same command."""
    shell, state = wd
    launch = (
        "FAKE_AGENT_LOG_NAME='lög one' pi --model 'x \"y\"' \"ünï #{x} $HOME;\" 'a;' "
        "\"$(printf 'q')\" '$(no)' \\\n  --tail # comment ;"
    )
    add = shell.run("loop-tmux.sh", "add-lane", "--session", "s", "--window", "odd", "--cmd", launch)
    assert add.returncode == 0, add.stderr
    pane = _pane(tmux_server, "=s:odd")
    retry_until(lambda: _cmd(tmux_server, pane) == "pi")
    first = retry_until(lambda: _starts(fake_harnesses / "received", "lög one"))
    home = shell.env["HOME"]
    assert first[0][-7:] == ["--model", 'x "y"', f"ünï #{{x}} {home};", "a;", "q", "$(no)", "--tail"]
    assert _health(shell, state, "start", *KNOBS).returncode == 0
    tmux_server.tmux("send-keys", "-t", pane, "crash-now", "Enter")
    got = retry_until(lambda: _restarts(state, "odd"), timeout=15)
    assert got[0]["cmd"] == launch
    again = retry_until(lambda: len(_starts(fake_harnesses / "received", "lög one")) == 2, timeout=15)
    assert again
    starts = _starts(fake_harnesses / "received", "lög one")
    assert starts[1] == starts[0]


def test_two_sessions_each_get_their_own_watchdog(tmux_server, shell_env, fake_harnesses, tmp_path):
    shell_env.env.update(FAST)
    states = {}
    try:
        for name in ("one", "two"):
            states[name] = tmp_path / f"st-{name}"
            _boot(shell_env, name, states[name])
            add = shell_env.run(
                "loop-tmux.sh", "add-lane", "--session", name, "--window", "ai", "--harness", "codex"
            )
            assert add.returncode == 0, add.stderr
            assert _health(shell_env, states[name], "start", *KNOBS, session=name).returncode == 0
        pids = {n: _health(shell_env, states[n], "status", session=n).stdout.split()[1] for n in states}
        assert pids["one"] != pids["two"]
        for name in states:
            pane = _pane(tmux_server, f"={name}:ai")
            retry_until(lambda p=pane: _cmd(tmux_server, p) == "codex")
            tmux_server.tmux("send-keys", "-t", pane, "crash-now", "Enter")
            got = retry_until(lambda n=name: _restarts(states[n], "ai"), timeout=15)
            assert got[0]["session"] == name and got[0]["target"] == pane
        tmux_server.tmux("kill-session", "-t", "=one")
        retry_until(lambda: _events(states["one"], "stopped"), timeout=15)
        assert _health(shell_env, states["two"], "status", session="two").returncode == 0
    finally:
        for name, st in states.items():
            _health(shell_env, st, "stop", session=name)


def test_shared_state_dir_does_not_pass_off_one_sessions_watchdog_as_anothers(
    tmux_server, shell_env, fake_harnesses, tmp_path
):
    """LOOP_TMUX_STATE_DIR set once for two sessions: the second must not be told 'already running'
    about the first session's watchdog, and stopping it must not stop the first one's."""
    shell_env.env.update(FAST)
    shared = tmp_path / "shared"
    try:
        _boot(shell_env, "one", shared)
        _boot(shell_env, "two", shared)
        first = _health(shell_env, shared, "start", *KNOBS, session="one")
        assert first.returncode == 0 and "started" in first.stdout
        second = _health(shell_env, shared, "start", *KNOBS, session="two")
        assert second.returncode == 1, second.stdout
        assert "already running" not in second.stdout
        assert "one" in second.stderr and len(second.stderr.strip().splitlines()) == 1
        status = _health(shell_env, shared, "status", session="two")
        assert status.returncode == 1 and status.stdout.startswith("not running")
        stop = _health(shell_env, shared, "stop", session="two")
        assert stop.returncode == 0
        assert _health(shell_env, shared, "status", session="one").returncode == 0
        assert not _events(shared, "stopped")
    finally:
        _health(shell_env, shared, "stop", session="one")


def test_unwritable_restart_log_fails_the_start(wd, tmux_server):
    """lane-restarts.jsonl cannot be written (here: it is a directory; root ignores chmod): start says so
    in one line and exits 1 instead of reporting a watchdog that dies at once."""
    shell, state = wd
    (state / "lane-restarts.jsonl").mkdir(parents=True)
    proc = _health(shell, state, "start", *KNOBS)
    assert proc.returncode == 1, proc.stdout
    assert "started" not in proc.stdout
    assert "lane-restarts.jsonl" in proc.stderr and "Traceback" not in proc.stderr
    assert _health(shell, state, "status").returncode == 1


def test_state_dir_under_a_file_is_one_clear_error(wd, tmp_path):
    shell, _state = wd
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    proc = _health(shell, blocker / "sub", "start", *KNOBS)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_drop_lane_while_the_watchdog_runs(wd, tmux_server):
    shell, state = wd
    lane = "env FAKE_AGENT_CRASH_AFTER_S=0.3 claude"
    # a lane that crashes 0.3 s after it starts: add-lane's launch check is off for it, so whether the
    # check looks before or after the first crash (the machine's load decides) cannot fail the setup
    add = shell.run(
        "loop-tmux.sh",
        "add-lane",
        "--session",
        "s",
        "--window",
        "gone",
        "--cmd",
        lane,
        env={"LOOP_TMUX_LAUNCH_CHECK_S": "0"},
    )
    assert add.returncode == 0, add.stderr
    assert (
        shell.run(
            "loop-tmux.sh", "add-lane", "--session", "s", "--window", "keep", "--harness", "pi"
        ).returncode
        == 0
    )
    assert (
        _health(shell, state, "start", *KNOBS, "--backoff-base", "0.2", "--max-failures", "50").returncode
        == 0
    )
    retry_until(lambda: _restarts(state, "gone"), timeout=15)
    drop = shell.run("loop-tmux.sh", "drop-lane", "--session", "s", "--window", "gone")
    assert drop.returncode == 0, drop.stderr
    keep = _pane(tmux_server, "=s:keep")
    retry_until(lambda: _cmd(tmux_server, keep) == "pi")
    tmux_server.tmux("send-keys", "-t", keep, "crash-now", "Enter")
    retry_until(lambda: _restarts(state, "keep"), timeout=15)
    assert _health(shell, state, "status").returncode == 0


def test_status_while_the_holder_is_writing_its_pid_file_names_the_pid(tmp_path):
    """The watchdog takes the lock, then writes its pid file: a status in between waits for the pid
    instead of printing "running -1" (and stop then saying "not running" while it runs)."""
    watchdog = _load("_audit_watchdog_mod", LIB / "watchdog.py")
    fd = watchdog.take_lock(str(tmp_path))
    assert fd is not None
    (tmp_path / "lane-health.pid").unlink(missing_ok=True)
    (tmp_path / "lane-health.lock").write_text("s\n")

    def late_pid() -> None:
        (tmp_path / "lane-health.pid").write_text(f"{os.getpid()}\n")

    timer = threading.Timer(0.3, late_pid)
    timer.start()
    try:
        pid, session = watchdog.running(str(tmp_path))
    finally:
        timer.join()
        os.close(fd)
    assert (pid, session) == (os.getpid(), "s")


def test_an_unwritable_log_later_does_not_kill_the_watchdog(wd, tmux_server):
    """The restart log turns unwritable while it runs (disk full, dir replaced): restarts go on and the
    lost lines land in lane-health.log."""
    shell, state = wd
    lane = "env FAKE_AGENT_CRASH_AFTER_S=0.5 pi"
    # a lane that crashes 0.5 s after it starts: add-lane's launch check is off for it (under load the
    # check can look after the first crash and refuse the lane; the test is about the watchdog)
    add = shell.run(
        "loop-tmux.sh",
        "add-lane",
        "--session",
        "s",
        "--window",
        "ai",
        "--cmd",
        lane,
        env={"LOOP_TMUX_LAUNCH_CHECK_S": "0"},
    )
    assert add.returncode == 0, add.stderr
    start = _health(shell, state, "start", *KNOBS, "--backoff-base", "0", "--max-failures", "100")
    assert start.returncode == 0, start.stderr
    retry_until(lambda: _events(state, "started"))
    (state / "lane-restarts.jsonl").unlink()
    (state / "lane-restarts.jsonl").mkdir()
    out = state / "lane-health.log"
    retry_until(lambda: '"attempt": 3' in out.read_text(encoding="utf-8"), timeout=20)
    assert "cannot write" in out.read_text(encoding="utf-8")
    assert _health(shell, state, "status").returncode == 0


def test_take_lock_waits_out_a_brief_probe(tmp_path):
    """A status/stop probe holds the lock for an instant; a watchdog starting right then must not
    conclude that another watchdog runs (and silently not start)."""
    watchdog = _load("_audit_watchdog_mod", LIB / "watchdog.py")
    lock = tmp_path / "lane-health.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    timer = threading.Timer(0.3, lambda: fcntl.flock(fd, fcntl.LOCK_UN))
    timer.start()
    try:
        got = watchdog.take_lock(str(tmp_path))
    finally:
        timer.join()
        os.close(fd)
    assert got is not None
    os.close(got)


def test_a_session_named_like_an_option(tmux_server, shell_env, fake_harnesses, tmp_path):
    """tmux allows a session called '-x'; lane-health.sh must hand it on as a value, not an option."""
    shell_env.env.update(FAST)
    tmux_server.tmux("new-session", "-d", "-s", "-x", "sleep 300")
    state = tmp_path / "st"
    once = _health(shell_env, state, "once", session="-x")
    assert once.returncode == 0, once.stderr
    try:
        start = _health(shell_env, state, "start", *KNOBS, session="-x")
        assert start.returncode == 0 and "started" in start.stdout, start.stderr
        assert _health(shell_env, state, "status", session="-x").stdout.startswith("running ")
    finally:
        _health(shell_env, state, "stop", session="-x")


def test_boot_check_fails_when_an_ai_lane_falls_back_to_a_shell(tmux_server, shell_env, tmp_path):
    """No harness binary on PATH: every AI lane drops to a shell, --boot-check says FAIL, exits non-zero."""
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "bc", "--no-attach", "--preset", "all-pi", "--boot-check", "1",
        "--state-dir", str(tmp_path / "st"),
    )  # fmt: skip
    assert proc.returncode != 0
    fails = [line for line in proc.stdout.splitlines() if line.startswith("boot-check: FAIL ")]
    assert fails and "fell back to a bare shell" in fails[0]
    assert tmux_server.tmux("has-session", "-t", "=bc", check=False).returncode == 0


def test_boot_check_ok_with_running_harnesses(tmux_server, shell_env, fake_harnesses, tmp_path):
    shell_env.env.update(FAST)
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "bk", "--no-attach", "--preset", "all-pi", "--boot-check", "1",
        "--state-dir", str(tmp_path / "st"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "boot-check: ok " in proc.stdout and "FAIL " not in proc.stdout


def test_wait_ready_times_out_on_a_lane_that_never_comes_up(tmux_server, shell_env, fake_harnesses, tmp_path):
    shell_env.env.update(FAST)
    _boot(shell_env, "wr", tmp_path / "st")
    proc = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "wr", "--window", "dead", "--cmd",
        "env PATH=/nonexistent claude", "--wait-ready", "--ready-timeout", "2",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # add-lane's launch check reports it before --wait-ready starts waiting: one line naming the cause
    assert "did not start" in proc.stderr and "No such file or directory" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    ok = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "wr", "--window", "live", "--harness", "claude",
        "--wait-ready", "--ready-timeout", "20",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "wr", "--window", "x", "--harness", "claude",
        "--wait-ready", "--ready-timeout", "soon",
    )  # fmt: skip
    assert bad.returncode == 2


def test_a_harness_behind_a_non_exec_wrapper_script_is_not_restarted_while_it_runs(wd, tmux_server, tmp_path):
    """`claude` installed as a bash script that runs the real program as a child (no exec): the pane's
    current command reads "bash" while the agent works. The watchdog must not kill and relaunch it,
    and must still relaunch it once the agent really exited."""
    shell, state = wd
    wrapdir = tmp_path / "wrapped"
    wrapdir.mkdir()
    script = wrapdir / "claude"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'python3 "{TESTS / "fake_agent.py"}" --play claude --log-dir "{tmp_path / "rx"}" "$@"\n'
        "status=$?\nexit $status\n"
    )
    script.chmod(0o755)
    add = shell.run("loop-tmux.sh", "add-lane", "--session", "s", "--window", "wrapped", "--cmd", str(script))
    assert add.returncode == 0, add.stderr
    pane = _pane(tmux_server, "=s:wrapped")
    retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane))
    assert _cmd(tmux_server, pane) == "bash"  # what tmux reports for a running agent behind the wrapper
    assert _health(shell, state, "once").returncode == 0
    assert _restarts(state) == []
    assert "? for shortcuts" in tmux_server.capture(pane)
    tmux_server.tmux("send-keys", "-t", pane, "crash-now", "Enter")
    retry_until(lambda: "crashed" in tmux_server.capture(pane))
    assert _health(shell, state, "once").returncode == 0
    got = _restarts(state, "wrapped")
    assert len(got) == 1 and got[0]["cmd"] == str(script)


def test_concurrent_starts_leave_exactly_one_watchdog(wd):
    shell, state = wd
    script = TESTS.parent / "lib" / "lane-health.sh"
    argv = ["bash", str(script), "start", "--session", "s", "--state-dir", str(state), *KNOBS]
    procs = [
        subprocess.Popen(argv, env=shell.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=30) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    started = [o for o, _e in outs if "watchdog started" in o]
    assert len(started) == 1, outs
    assert sum("already running" in o for o, _e in outs) == 3, outs
    assert all("pid -1" not in o and "pid None" not in o for o, _e in outs), outs
    retry_until(lambda: _events(state, "started"))
    assert len(_events(state, "started")) == 1


def test_one_watchdog_per_session_even_with_another_state_dir(wd, tmp_path):
    """Two watchdogs on one session would both respawn the same pane (the second kill -k'ing the
    harness the first just started): a start with a different state dir finds the running one."""
    shell, state = wd
    first = _health(shell, state, "start", *KNOBS)
    assert first.returncode == 0 and "started" in first.stdout
    other = tmp_path / "other-state"
    second = _health(shell, other, "start", *KNOBS)
    assert second.returncode == 0 and "already running" in second.stdout, second.stdout + second.stderr
    assert str(state) in second.stdout
    assert not _events(other, "started")
    run = _health(shell, other, "run", *KNOBS)
    assert run.returncode == 0 and "already running" in run.stdout
    # Once it is stopped, the other state dir may have one.
    assert _health(shell, state, "stop").returncode == 0
    third = _health(shell, other, "start", *KNOBS)
    assert third.returncode == 0 and "started" in third.stdout
    assert _health(shell, other, "stop").returncode == 0


def test_the_detached_watchdog_does_not_hold_its_callers_descriptors(wd):
    """start detaches: a caller that hands it an extra pipe (fd 3 of a node IPC channel, a bash
    `exec 3>…`, a `$(…)` through another fd) must see EOF once start returns, not wait on the daemon."""
    shell, state = wd
    script = TESTS.parent / "lib" / "lane-health.sh"
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(
            ["bash", str(script), "start", "--session", "s", "--state-dir", str(state), *KNOBS],
            env=shell.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(w,),
        )  # fmt: skip
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "watchdog started" in out, out + err
        os.close(w)
        w = -1
        os.set_blocking(r, False)

        def eof() -> bool:
            try:
                return os.read(r, 64) == b""
            except BlockingIOError:
                return False

        retry_until(eof, timeout=10)
        assert _health(shell, state, "status").returncode == 0  # and it runs on
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
