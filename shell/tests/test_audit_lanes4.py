"""Audit pass 4 on the lane half of the substrate: loop-tmux boot-check / add-lane / list-lanes /
drop-lane, loop-dispatch and loop-lane-status with odd inputs, each against a real tmux server."""

from __future__ import annotations

import importlib.util
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


retry_until = _load("_lanes4_conftest", TESTS / "conftest.py").retry_until

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2"}


@pytest.mark.tmux
def test_boot_check_counts_a_harness_behind_a_non_exec_wrapper_as_running(
    tmux_server, shell_env, fake_harnesses, yaml_only_pythonpath, tmp_path
):
    """A lane-config lane `harness: pi, cmd: scripts/start-pi.sh` whose script runs pi as a child (no
    exec): tmux names the wrapper's bash, but the harness runs, as loop-lane-status already says."""
    shell_env.env.update(FAST)
    root = shell_env.cwd
    (root / "scripts").mkdir()
    wrapper = root / "scripts" / "start-pi.sh"
    wrapper.write_text("#!/usr/bin/env bash\npi\necho 'pi exited'\n")
    wrapper.chmod(0o755)
    cfg = tmp_path / "lane-config.yaml"
    cfg.write_text("lanes:\n  web:\n    harness: pi\n    cmd: scripts/start-pi.sh\n")
    env = {"PYTHONPATH": str(yaml_only_pythonpath), "LANE_CONFIG_HOSTNAME": "nohost"}
    boot = shell_env.run(
        "loop-tmux.sh", "--session", "wb", "--no-attach", "--preset", "validation-only",
        "--lane-config", str(cfg), env=env,
    )  # fmt: skip
    assert boot.returncode == 0, boot.stderr
    # the wrapper's child is the fake pi at its idle prompt (loop-lane-status reads its screen);
    # tmux names the wrapper's bash as the pane's command
    retry_until(
        lambda: shell_env.run("loop-lane-status.sh", "wb", "web").stdout.strip() == "idle", timeout=20
    )
    assert (
        tmux_server.out("display-message", "-p", "-t", "=wb:web", "#{pane_current_command}").strip() == "bash"
    )
    check = shell_env.run(
        "loop-tmux.sh", "--session", "wb", "--no-attach", "--preset", "validation-only",
        "--lane-config", str(cfg), "--boot-check", "0", env=env,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "boot-check: ok web" in check.stdout, check.stdout
    assert "1 AI lane(s) checked, 0 FAIL" in check.stdout


@pytest.mark.tmux
@pytest.mark.parametrize("name", ["validate-left", "ops-bottom"])
def test_add_lane_refuses_the_name_of_a_base_pane_lane(tmux_server, shell_env, name):
    """loop-lane-status / loop-dispatch resolve validate-left & co. to a pane of the validate / ops
    window, so an add-lane window of that name could never be addressed: refused up front (exit 2)."""
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "validate")
    proc = shell_env.run("loop-tmux.sh", "add-lane", "--session", "s", "--window", name, "--cmd", "sleep 300")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert name in proc.stderr and "Traceback" not in proc.stderr
    assert tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split() == ["validate"]


@pytest.mark.tmux
def test_dispatch_payload_cannot_end_the_bracketed_paste_early(
    tmux_server, shell_env, fake_harnesses, tmp_path
):
    """A payload holding ESC[201~ (the paste-end marker) followed by a CR used to leave the paste: the
    CR reached the harness as a key press and submitted half the prompt on its own. The markers are
    removed; the whole payload is one submission."""
    fake_agent = _load("fake_agent", TESTS / "fake_agent.py")
    shell_env.env["LOOP_LANE_STATUS_CACHE_DIR"] = str(tmp_path / "cache")
    shell_env.env["LOOP_DISPATCH_PASTE_DELAY"] = "0.2"
    pane = fake_agent.spawn_window(
        tmux_server.socket, shell_env.env, "s", "web", "codex",
        dict(FAST, FAKE_AGENT_LOG_NAME="web"), {"@loop_lane_harness": "codex"},
    )  # fmt: skip
    retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane))
    payload = b"first half\x1b[201~\rsecond half \x1b[20\x1b[200~1~end"
    proc = shell_env.run("loop-dispatch.sh", "--session", "s", "web", "-", input=payload)
    assert proc.returncode == 0, proc.stderr
    log = fake_harnesses / "received"
    retry_until(lambda: fake_agent.read_submissions(log, "web"), timeout=20)
    retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane), timeout=20)
    assert fake_agent.read_submissions(log, "web") == [b"first half\rsecond half end"]


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (["--wait-ready", "--ready-timeout", "1.2.3"], {}, 2),
        (["--wait-ready"], {"LOOP_DISPATCH_READY_TIMEOUT": "abc"}, 1),
        (["--wait-ready"], {"LOOP_DISPATCH_READY_TIMEOUT": "nan"}, 1),
        ([], {"LOOP_DISPATCH_ENTER_RETRIES": "inf"}, 1),
    ],
)
@pytest.mark.tmux
def test_dispatch_bad_numbers_are_one_line_not_a_traceback(tmux_server, shell_env, args, env, code):
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "w1", "sleep 300")
    proc = shell_env.run("loop-dispatch.sh", "--session", "s", *args, "w1", "hello", env=env)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    assert "hello" not in tmux_server.capture("=s:w1")


@pytest.mark.tmux
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_lane_status_bad_debounce_is_a_warning_not_a_traceback(tmux_server, shell_env, tmp_path, value):
    tmux_server.tmux("new-session", "-d", "-s", "s", "-n", "w1")
    tmux_server.tmux("set-option", "-w", "-t", "=s:w1", "@loop_lane", "1")
    tmux_server.tmux("set-option", "-w", "-t", "=s:w1", "@loop_lane_harness", "codex")
    tmux_server.tmux("send-keys", "-t", "=s:w1", "exec cat", "Enter")
    retry_until(
        lambda: (
            tmux_server.out("display-message", "-p", "-t", "=s:w1", "#{pane_current_command}").strip()
            == "cat"
        )
    )
    env = {"LOOP_LANE_DEBOUNCE_S": value, "LOOP_LANE_STATUS_NO_CACHE": "1"}
    proc = shell_env.run("loop-lane-status.sh", "s", "w1", env=env)
    assert proc.returncode == 0 and proc.stdout.strip() in ("idle", "unknown", "working"), proc.stderr
    assert "Traceback" not in proc.stderr and "LOOP_LANE_DEBOUNCE_S" in proc.stderr


def test_lane_config_resolves_a_quoted_relative_script_against_the_project_root(
    shell_env, yaml_only_pythonpath, tmp_path
):
    """`cmd: "'scripts/my tool.sh' --x"` (a quoted relative path, the only way to name a script whose
    path has a space) resolves against the project root like an unquoted one: the infra lane's cwd is
    the infra root, where a relative path would miss the script."""
    import json
    import shlex

    root = tmp_path / "my 'root"
    root.mkdir()
    cfg = tmp_path / "lane-config.yaml"
    cfg.write_text(
        "lanes:\n"
        "  infra:\n    cmd: \"'scripts/my tool.sh' --name 'a b'\"\n"
        "  docs:\n    cmd: 'scripts/my\\ tool.sh'\n"
        "  web:\n    cmd: '\"$HOME/scripts/x.sh\" --y'\n"
    )
    proc = shell_env.run(
        "lib/lane-config-resolver.sh", "print-resolved", "--json", "--lane-config", str(cfg),
        env={"PYTHONPATH": str(yaml_only_pythonpath), "LANE_CONFIG_HOSTNAME": "nohost",
             "LANE_CONFIG_PROJECT_ROOT": str(root)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lanes = json.loads(proc.stdout)["lanes"]
    script = str(root / "scripts" / "my tool.sh")
    assert shlex.split(lanes["infra"]["launch"]) == [script, "--name", "a b"]
    assert shlex.split(lanes["docs"]["launch"]) == [script]
    assert lanes["web"]["launch"] == '"$HOME/scripts/x.sh" --y'  # not a literal path: left alone


@pytest.mark.tmux
def test_concurrent_dispatches_to_one_lane_are_separate_submissions(
    tmux_server, shell_env, fake_harnesses, tmp_path
):
    """Four loop-dispatch calls at once into one lane used to paste all four texts before the first
    Enter: the harness got ONE prompt made of four. A per-pane lock makes each its own submission."""
    import subprocess

    fake_agent = _load("fake_agent", TESTS / "fake_agent.py")
    shell_env.env["LOOP_LANE_STATUS_CACHE_DIR"] = str(tmp_path / "cache")
    shell_env.env["LOOP_DISPATCH_PASTE_DELAY"] = "0.3"
    pane = fake_agent.spawn_window(
        tmux_server.socket, shell_env.env, "s", "web", "codex",
        dict(FAST, FAKE_AGENT_LOG_NAME="web"), {"@loop_lane_harness": "codex"},
    )  # fmt: skip
    retry_until(lambda: "? for shortcuts" in tmux_server.capture(pane))
    prompts = [f"prompt number {i}" for i in range(4)]
    procs = [
        subprocess.Popen(
            ["bash", str(SHELL / "loop-dispatch.sh"), "--session", "s", "web", text],
            env=shell_env.env, cwd=str(shell_env.cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for text in prompts
    ]  # fmt: skip
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    log = fake_harnesses / "received"
    retry_until(lambda: len(fake_agent.read_submissions(log, "web")) >= 4, timeout=30)
    assert sorted(fake_agent.read_submissions(log, "web")) == sorted(p.encode() for p in prompts)
