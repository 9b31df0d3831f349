"""loop-lane-status.sh: one word per lane, --json / --all, --print-target, hooks, constant tmux spawns."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHELL = TESTS.parent


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

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2"}


@pytest.fixture
def lanes(tmux_server, shell_env, fake_harnesses, tmp_path):
    """A spawner for windows of session `s`, plus a private status cache and hook dir."""
    shell_env.env["LOOP_LANE_STATUS_CACHE_DIR"] = str(tmp_path / "cache")
    shell_env.env["LOOP_LANE_HOOK_DIR"] = str(tmp_path / "hooks")

    def spawn(window, command, agent_env=None, options=None, split=None):
        env = dict(FAST)
        env.update(agent_env or {})
        return fake_agent.spawn_window(
            tmux_server.socket, shell_env.env, "s", window, command, env, options, split
        )

    return spawn


def _status(shell_env, *args: str, env=None):
    return shell_env.run("loop-lane-status.sh", *args, env=env)


def _report(shell_env, *args: str) -> dict:
    proc = _status(shell_env, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contract_version"] == 1
    return doc


def _screen(tmux_server, pane: str) -> str:
    return str(tmux_server.out("capture-pane", "-p", "-t", pane))


def _submit(tmux_server, pane: str, text: str) -> None:
    tmux_server.tmux("send-keys", "-t", pane, "-l", text)
    tmux_server.tmux("send-keys", "-t", pane, "Enter")


def test_every_state_classified_in_one_fleet_call(tmux_server, shell_env, lanes, fake_harnesses) -> None:
    ai = {"@loop_lane": "1"}
    idle = lanes("coord", "claude", options={"@loop_lane_harness": "claude"})
    busy = lanes("web", "codex", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane_harness": "codex"})
    lanes("validate", "bash --norc --noprofile -i")
    lanes("validate", "sleep 600", split="-h")
    approval = lanes(
        "asks", "claude", {"FAKE_AGENT_APPROVAL_ON": "DANGER"}, {**ai, "@loop_lane_harness": "claude"}
    )
    error = lanes("fails", "codex", {"FAKE_AGENT_ERROR_ON": "FAIL"}, {**ai, "@loop_lane_harness": "codex"})
    lanes("boots", "claude", {"FAKE_AGENT_WELCOME_S": "120"}, {**ai, "@loop_lane_harness": "claude"})
    crashed = lanes(
        "crashed",
        "sh -c 'pi; exec bash --norc --noprofile -i'",
        {"FAKE_AGENT_CRASH_AFTER_S": "0.3"},
        {**ai, "@loop_lane_harness": "pi"},
    )
    dead = lanes("dead", "codex", {"FAKE_AGENT_CRASH_ON": "BOOM"}, {**ai, "@loop_lane_harness": "codex"})
    tmux_server.tmux("set-option", "-w", "-t", dead, "remain-on-exit", "on")
    for pane in (idle, busy, approval, error, dead):
        retry_until(lambda pane=pane: "? for shortcuts" in _screen(tmux_server, pane))
    _submit(tmux_server, busy, "long job")
    _submit(tmux_server, approval, "rm DANGER")
    _submit(tmux_server, error, "please FAIL")
    _submit(tmux_server, dead, "BOOM")
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, busy))
    retry_until(lambda: "Do you want to proceed?" in _screen(tmux_server, approval))
    retry_until(lambda: "stream error" in _screen(tmux_server, error))
    retry_until(lambda: tmux_server.out("display", "-p", "-t", dead, "#{pane_dead}").strip() == "1")
    retry_until(
        lambda: tmux_server.out("display", "-p", "-t", crashed, "#{pane_current_command}").strip() == "bash"
    )

    lanes_doc = _report(shell_env, "--all", "s")["lanes"]
    got = {name: (v["status"], v["detail"], v["kind"]) for name, v in lanes_doc.items()}
    assert got == {
        "coord": ("idle", "ready", "fixed"),
        "web": ("working", "busy", "fixed"),
        "validate-left": ("idle", "ready", "fixed"),
        "validate-right": ("working", "busy", "fixed"),
        "asks": ("awaiting-approval", "approval", "dynamic"),
        "fails": ("idle", "api-error", "dynamic"),  # the error line, then the prompt ready again
        "boots": ("working", "booting", "dynamic"),
        "crashed": ("errored", "exited-to-shell", "dynamic"),
        "dead": ("errored", "dead", "dynamic"),
    }
    assert lanes_doc["coord"]["target"] == idle and lanes_doc["coord"]["harness"] == "claude"
    assert lanes_doc["coord"]["source"] == "screen" and lanes_doc["dead"]["source"] == "process"
    fields = {"lane", "status", "target", "kind", "detail", "harness", "source", "ai"}
    assert set(lanes_doc["coord"]) == fields
    # ai: tagged with an AI harness (also dead or back at a shell); the untagged bash and sleep panes are not
    plain = {"validate-left", "validate-right"}
    assert {name for name, v in lanes_doc.items() if v["ai"]} == set(got) - plain
    # The one-word form agrees with the fleet view.
    for lane, (status, _detail, _kind) in got.items():
        proc = _status(shell_env, "s", lane)
        assert (proc.returncode, proc.stdout) == (0, status + "\n"), (lane, proc.stderr)


def test_idle_needs_two_sightings_busy_does_not(tmux_server, shell_env, lanes, tmp_path) -> None:
    """Counted through a tmux shim: idle costs one confirming capture unless just seen; busy never does."""
    real = next(
        p for p in ("/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux") if os.path.exists(p)
    )
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    calls = tmp_path / "calls"
    (shim_dir / "tmux").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec {real} "$@"\n')
    (shim_dir / "tmux").chmod(0o755)
    pane = lanes("coord", "claude", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane_harness": "claude"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    shell_env.prepend_path(shim_dir)

    def count(*args: str, env=None) -> tuple[str, int]:
        calls.write_text("")
        proc = _status(shell_env, *args, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip(), len(calls.read_text().splitlines())

    assert count("s", "coord", env={"LOOP_LANE_STATUS_NO_CACHE": "1"}) == ("idle", 3)
    assert count("s", "coord") == ("idle", 3)  # first sighting: list + capture + confirming capture
    # Seen idle, unchanged, moments ago: no pause needed, and the prefetch (listing + captures in one
    # client, started by the shell) is the only spawn.
    assert count("s", "coord") == ("idle", 1)
    assert calls.read_text().startswith("-S ") and " display-message -p lls2 " in calls.read_text()
    _submit(tmux_server, pane, "work")
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    assert count("s", "coord", env={"LOOP_LANE_STATUS_NO_CACHE": "1"}) == ("working", 2)
    assert count("s", "coord") == ("working", 1)  # busy is never debounced


def test_fleet_costs_constant_tmux_spawns(tmux_server, shell_env, lanes, tmp_path) -> None:
    real = next(
        p for p in ("/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux") if os.path.exists(p)
    )
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    calls = tmp_path / "calls"
    (shim_dir / "tmux").write_text(f'#!/bin/sh\necho "$3" >> "{calls}"\nexec {real} "$@"\n')
    (shim_dir / "tmux").chmod(0o755)
    panes = [
        lanes(
            f"w{i}", "codex", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane": "1", "@loop_lane_harness": "codex"}
        )
        for i in range(6)
    ]
    for pane in panes:
        retry_until(lambda pane=pane: "? for shortcuts" in _screen(tmux_server, pane))
        _submit(tmux_server, pane, "busy")
    for pane in panes:
        retry_until(lambda pane=pane: "esc to interrupt" in _screen(tmux_server, pane))
    shell_env.prepend_path(shim_dir)

    def fleet() -> tuple[dict, list[str]]:
        calls.write_text("")
        doc = _report(shell_env, "--all", "s")
        return doc["lanes"], calls.read_text().split()

    lanes_doc, spawned = fleet()
    assert {v["status"] for v in lanes_doc.values()} == {"working"} and len(lanes_doc) == 6
    assert spawned == ["list-panes", "capture-pane"]  # one listing + one chained capture
    lanes_doc, spawned = fleet()
    assert len(lanes_doc) == 6 and spawned == ["display-message"]  # the prefetch: one client for all
    # A new pane is missing from the prefetch: it alone is captured in one more spawn.
    new = lanes(
        "w6", "codex", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane": "1", "@loop_lane_harness": "codex"}
    )
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, new))
    _submit(tmux_server, new, "busy")
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, new))
    lanes_doc, spawned = fleet()
    assert spawned == ["display-message", "capture-pane"]
    assert len(lanes_doc) == 7 and lanes_doc["w6"]["status"] == "working"
    # A pane that vanished stops the prefetch chain at its capture: the rest are captured again.
    tmux_server.tmux("kill-pane", "-t", panes[2])
    lanes_doc, spawned = fleet()
    assert spawned == ["display-message", "capture-pane"]
    assert sorted(lanes_doc) == ["w0", "w1", "w3", "w4", "w5", "w6"]
    assert {v["status"] for v in lanes_doc.values()} == {"working"}
    assert fleet()[1] == ["display-message"]


def test_the_fleet_question_starts_its_prefetch_first(tmux_server, shell_env, lanes, tmp_path) -> None:
    """`--json --all <session>` (the engine's and the watch daemon's poll) starts the prefetch's tmux
    client before the script loads common.sh or parses its arguments: here, before it finds that its
    python is missing. Any other form starts it after the arguments are parsed, as before."""
    real = next(
        p for p in ("/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux") if os.path.exists(p)
    )
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    calls = tmp_path / "calls"
    (shim_dir / "tmux").write_text(f'#!/bin/sh\necho "$3" >> "{calls}"\nexec {real} "$@"\n')
    (shim_dir / "tmux").chmod(0o755)
    pane = lanes("w0", "codex", options={"@loop_lane": "1", "@loop_lane_harness": "codex"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    shell_env.prepend_path(shim_dir)
    assert _report(shell_env, "--all", "s")["lanes"]["w0"]["status"] in ("idle", "working")  # writes the file
    no_python = {"LOOP_PYTHON": str(tmp_path / "no-such-python")}
    for args, spawned in (
        (("--json", "--all", "s"), ["display-message"]),  # the prefetch, already running
        (("--all", "--json", "s"), []),
        (("s", "w0"), []),
    ):
        calls.write_text("")
        proc = _status(shell_env, *args, env=no_python)
        assert (proc.returncode, proc.stderr) == (
            1,
            "loop-lane-status: python3 is required but was not found on PATH\n",
        )
        retry_until(lambda spawned=spawned: calls.read_text().split() == spawned)


def test_print_target_fixed_geometry_and_unicode_names(tmux_server, shell_env, lanes) -> None:
    lanes("validate", "sleep 600")
    right = lanes("validate", "sleep 600", split="-h")
    lanes("ops", "sleep 600")
    bottom = lanes("ops", "sleep 600", split="-v")
    odd = 'we"b \\ ✓ ünï'
    pane = lanes(odd, "pi", options={"@loop_lane": "1", "@loop_lane_harness": "pi"})
    retry_until(lambda: "claude-sonnet" in _screen(tmux_server, pane))
    for lane, want in (("validate-right", right), ("ops-bottom", bottom), (odd, pane)):
        proc = _status(shell_env, "--print-target", "s", lane)
        assert (proc.returncode, proc.stdout.strip()) == (0, want)
        assert tmux_server.out("display", "-p", "-t", proc.stdout.strip(), "#{pane_id}").strip() == want
    doc = _report(shell_env, "--all", "s")
    assert doc["lanes"][odd] == {
        "lane": odd,
        "status": "idle",
        "target": pane,
        "kind": "dynamic",
        "detail": "ready",
        "harness": "pi",
        "source": "screen",
        "ai": True,
    }
    assert set(doc["lanes"]) == {"validate-left", "validate-right", "ops-top", "ops-bottom", odd}
    single = _report(shell_env, "--session", "s", odd)
    assert list(single["lanes"]) == [odd] and single["session"] == "s"


def test_home_pattern_marks_idle(tmux_server, shell_env, lanes, tmp_path) -> None:
    pane = lanes(
        "home",
        f"python3 {TESTS / 'fake_agent.py'} --play mystery --log-dir {tmp_path / 'got'}",
        {"FAKE_AGENT_HOME_TEXT": "MyHarness ready", "FAKE_AGENT_REEXEC": "0"},
        {"@loop_lane": "1", "@loop_lane_harness": "mystery"},
    )
    retry_until(lambda: "MyHarness ready" in _screen(tmux_server, pane))
    plain = _status(shell_env, "s", "home")
    assert (plain.returncode, plain.stdout.strip()) == (0, "unknown")
    env = {"LOOP_LANE_IDLE_HOME_PATTERN": "MyHarness ready|press / for menu"}
    proc = _status(shell_env, "s", "home", env=env)
    assert (proc.returncode, proc.stdout.strip()) == (0, "idle")


def test_hook_file_beats_the_screen(tmux_server, shell_env, lanes, tmp_path) -> None:
    """A hook file is read with the screen; they agree, or the screen knows nothing: the hook."""
    pane = lanes("coord", "claude", {"FAKE_AGENT_BUSY_S": "120"}, {"@loop_lane_harness": "claude"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    _submit(tmux_server, pane, "long job")
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    assert _status(shell_env, "s", "coord").stdout.strip() == "working"
    hook_env = {"TMUX_PANE": pane, "TMUX": f"{tmux_server.socket},1,0"}
    proc = shell_env.run("hooks/loop-lane-hook.sh", "UserPromptSubmit", env=hook_env, input="{}")
    assert proc.returncode == 0
    path = tmp_path / "hooks" / f"pane-{pane.lstrip('%')}.status"
    assert path.read_text().split("\t")[0] == "working"
    doc = _report(shell_env, "s", "coord")["lanes"]["coord"]
    assert (doc["status"], doc["source"]) == ("working", "hook")
    # A file from a pane with the same id on another tmux server is ignored.
    other = {"TMUX_PANE": pane, "TMUX": "/elsewhere/sock,1,0"}
    shell_env.run("hooks/loop-lane-hook.sh", "Stop", env=other, input="{}")
    doc = _report(shell_env, "s", "coord")["lanes"]["coord"]
    assert (doc["status"], doc["source"]) == ("working", "screen")
    shell_env.run("hooks/loop-lane-hook.sh", "SessionEnd", env=hook_env, input="{}")
    assert not path.exists()


def test_hook_and_screen_disagree_the_fresher_wins(tmux_server, shell_env, lanes, tmp_path) -> None:
    """A stale hook never outvotes the screen (fails on main, where the hook file always won)."""
    agent = {"FAKE_AGENT_BUSY_S": "120", "FAKE_AGENT_APPROVAL_ON": "needs-tool"}
    pane = lanes("coord", "claude", agent, {"@loop_lane_harness": "claude"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    hook_env = {"TMUX_PANE": pane, "TMUX": f"{tmux_server.socket},1,0"}

    def hook(event: str) -> None:
        payload = json.dumps({"hook_event_name": event})
        assert shell_env.run("hooks/loop-lane-hook.sh", env=hook_env, input=payload).returncode == 0

    def status() -> tuple[str, str]:
        doc = _report(shell_env, "s", "coord")["lanes"]["coord"]
        return doc["status"], doc["source"]

    # An open permission prompt on screen and in the hook: awaiting-approval.
    _submit(tmux_server, pane, "needs-tool now")
    retry_until(lambda: "Do you want to proceed?" in _screen(tmux_server, pane))
    hook("PermissionRequest")
    assert status()[0] == "awaiting-approval"
    # Approved; the hook missed the event that ends the prompt (old settings without PostToolUse):
    # the screen shows the harness working and no prompt, so the screen wins.
    tmux_server.tmux("send-keys", "-t", pane, "1")
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    assert status() == ("working", "screen")
    # The subscribed PostToolUse puts the hook back in step.
    hook("PostToolUse")
    assert status() == ("working", "hook")
    # A prompt cancelled with Esc fires no hook event: the idle screen wins over the stale approval.
    tmux_server.tmux("send-keys", "-t", pane, "Escape")
    retry_until(lambda: "esc to interrupt" not in _screen(tmux_server, pane))
    _submit(tmux_server, pane, "needs-tool again")
    retry_until(lambda: "Do you want to proceed?" in _screen(tmux_server, pane))
    hook("PermissionRequest")
    tmux_server.tmux("send-keys", "-t", pane, "Escape")
    retry_until(lambda: "Denied by user" in _screen(tmux_server, pane))
    retry_until(lambda: status() == ("idle", "screen"))
    # StopFailure (an API error) written after the screen last changed: the hook's errored wins.
    hook("StopFailure")
    assert status() == ("errored", "hook")
    assert status() == ("errored", "hook")  # the unchanged screen does not take over
    # The turn ended on that error with the prompt ready: --wait-ready takes it.
    env = {"LOOP_DISPATCH_PASTE_DELAY": "0.2"}
    args = ("--session", "s", "--wait-ready", "--ready-timeout", "10", "--no-clear", "coord", "next job")
    waited = shell_env.run("loop-dispatch.sh", *args, env=env)
    assert waited.returncode == 0, waited.stderr
    # The screen changes after the hook was written (the new prompt runs): the screen wins.
    retry_until(lambda: "esc to interrupt" in _screen(tmux_server, pane))
    retry_until(lambda: status() == ("working", "screen"))


def test_errors_and_usage(tmux_server, shell_env, lanes) -> None:
    lanes("validate", "sleep 600")
    for args in (("s", "nope"), ("s", "validate-right"), ("nosuch", "coord"), ("--json", "--all", "nosuch")):
        proc = _status(shell_env, *args)
        assert proc.returncode == 1, args
        assert (
            proc.stdout == ""
            and len(proc.stderr.strip().splitlines()) == 1
            and "Traceback" not in proc.stderr
        )
    for args in ((), ("s",), ("a", "b", "c"), ("--bogus", "s", "x"), ("--print-target", "--all", "s")):
        assert _status(shell_env, *args).returncode == 2, args
    helped = _status(shell_env, "--help")
    assert helped.returncode == 0 and "LOOP_LANE_IDLE_HOME_PATTERN" in helped.stdout


def test_a_harness_behind_a_wrapper_that_did_not_exec_is_running_not_exited(
    tmux_server, shell_env, lanes, fake_harnesses
) -> None:
    """tmux names only the foreground group's leader: a wrapper script that runs the harness without
    `exec` shows as `bash` while the agent works. That lane is up, and dispatch must deliver to it."""
    ai = {"@loop_lane": "1", "@loop_lane_harness": "claude"}
    wrapped = lanes("wrapped", "bash -c 'claude; exit 0'", {"FAKE_AGENT_LOG_NAME": "wrapped"}, ai)
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, wrapped))
    shown = tmux_server.out("display", "-p", "-t", wrapped, "#{pane_current_command}").strip()
    assert shown == "bash"  # what made it look exited
    lane = _report(shell_env, "s", "wrapped")["lanes"]["wrapped"]
    assert (lane["status"], lane["detail"], lane["source"]) == ("idle", "ready", "screen")
    proc = shell_env.run(
        "loop-dispatch.sh", "--session", "s", "--no-clear", "wrapped", "still there?",
        env={"LOOP_DISPATCH_PASTE_DELAY": "0.1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    log = fake_harnesses / "received"
    retry_until(lambda: fake_agent.read_submissions(log, "wrapped") == [b"still there?"])


def test_the_claude_settings_subscribe_every_event_the_hook_maps() -> None:
    """On main PostToolUse and StopFailure were missing: a lane stayed awaiting-approval after an
    approved tool, and an API error never read errored."""
    settings = json.loads((SHELL / "hooks" / "claude-settings.json").read_text())["hooks"]
    ls = _load("lane_status", SHELL / "lib" / "lane_status.py")
    assert set(settings) == set(ls.HOOK_EVENTS) | {"Notification"}
    assert {"PostToolUse", "StopFailure", "PermissionRequest", "UserPromptSubmit"} <= set(settings)
    assert ls.HOOK_EVENTS["StopFailure"] == "errored" and ls.HOOK_EVENTS["PostToolUse"] == "working"
    for event, entries in settings.items():
        commands = [h["command"] for entry in entries for h in entry["hooks"]]
        assert commands == [f"loop-lane-hook {event}"], event


def _planted_prefetch(folder: Path, socket: str) -> Path:
    """The prefetch file a previous call would have left in `folder` for session `s`, holding words
    that set a server option instead of listing: a file that ran leaves @planted set."""
    key = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{socket}--s")[:180]
    path = folder / f"prefetch-{key}.argv"
    path.write_bytes("\x1f".join(["set-option", "-g", "@planted", "1"]).encode() + b"\n")
    return path


def test_the_cache_is_trusted_only_in_a_private_folder(tmux_server, shell_env, lanes, tmp_path) -> None:
    """The cache folder's files decide what runs (the prefetch file's words become tmux's arguments)
    and what is believed (the registry, the sightings). A folder another account made first in a
    shared /tmp, a folder anyone may write to, a symlinked folder or a symlinked prefetch file is not
    used: the call answers as uncached and writes nothing there, and a planted file never runs."""
    pane = lanes("w0", "codex", options={"@loop_lane": "1", "@loop_lane_harness": "codex"})
    retry_until(lambda: "? for shortcuts" in _screen(tmux_server, pane))
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    linked = tmp_path / "linked"
    linked.symlink_to(real)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    own = tmp_path / "own"
    own.mkdir(mode=0o700)
    elsewhere = _planted_prefetch(tmp_path, tmux_server.socket)
    _planted_prefetch(own, tmux_server.socket).unlink()
    (own / elsewhere.name).symlink_to(elsewhere)
    for folder, planted in ((linked, True), (shared, False), (own, False)):
        if planted:
            _planted_prefetch(real, tmux_server.socket)
        before = sorted(p.name for p in folder.iterdir() if p.name != "code")
        proc = _status(shell_env, "--json", "--all", "s", env={"LOOP_LANE_STATUS_CACHE_DIR": str(folder)})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["lanes"]["w0"]["status"] in ("idle", "working")
        assert tmux_server.out("show-options", "-gqv", "@planted").strip() == "", folder.name
        if folder is not own:  # the call kept no cache file in a folder it does not trust (code/ is
            # codeboot's: it opens each compiled file with O_NOFOLLOW and checks its owner and mode)
            assert sorted(p.name for p in folder.iterdir() if p.name != "code") == before, folder.name
    # a private folder is used as before: the next call's prefetch file is written there
    private = tmp_path / "private"
    proc = _status(shell_env, "--json", "--all", "s", env={"LOOP_LANE_STATUS_CACHE_DIR": str(private)})
    assert proc.returncode == 0, proc.stderr
    assert any(p.name.startswith("prefetch-") for p in private.iterdir())
