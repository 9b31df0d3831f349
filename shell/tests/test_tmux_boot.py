"""loop-tmux.sh boot: presets, per-lane flags, lane-config precedence, --print-cmds, idempotent re-boot,
--boot-check, worktree flags and the state dir, all against a real tmux server on its own socket."""

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


retry_until = _load("_boot_conftest", TESTS / "conftest.py").retry_until

pytestmark = pytest.mark.tmux

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2"}
# Long-running stand-ins for the preset-fed commands, each recognisable by its argument.
VALIDATE = "sleep 301"
HEALTH = "sleep 302"
LOGS = "sleep 303"
DIGEST = f"bash {SHELL / 'loop-digest.sh'}"

# preset -> lane -> what the pane must run: a harness name, "digest", a command, or None (empty)
PRESETS = {
    "pi-claude": {"coord": "digest", "web": "pi", "infra": "claude", "validate-left": VALIDATE,
                  "ops-top": HEALTH, "ops-bottom": LOGS},
    "all-pi": {"coord": "digest", "web": "pi", "infra": "pi", "validate-left": VALIDATE,
               "ops-top": HEALTH, "ops-bottom": LOGS},
    "all-claude": {"coord": "digest", "web": "claude", "infra": "claude", "validate-left": VALIDATE,
                   "ops-top": HEALTH, "ops-bottom": LOGS},
    "validation-only": {"coord": None, "web": None, "infra": None, "validate-left": VALIDATE,
                        "ops-top": None, "ops-bottom": None},
    "monitor": {"coord": "digest", "web": None, "infra": None, "validate-left": None,
                "ops-top": HEALTH, "ops-bottom": LOGS},
}  # fmt: skip
PANE_FMT = "\t".join(
    [
        "#{window_name}",
        "#{pane_id}",
        "#{pane_left}",
        "#{pane_top}",
        "#{pane_current_command}",
        "#{pane_current_path}",
        "#{@loop_lane_name}",
        "#{@loop_lane_harness}",
        "#{@loop_lane_launch}",
        "#{@loop_lane_kind}",
    ]
)


@pytest.fixture
def boot_env(tmux_server, shell_env, fake_harnesses):
    shell_env.env.update(FAST)
    return shell_env


def _boot(env, *args: str, extra_env=None):
    return env.run("loop-tmux.sh", "--session", "s", "--no-attach", *args, env=extra_env)


def _panes(server) -> dict[str, dict[str, str]]:
    """lane name -> pane facts, from one list-panes call."""
    out = {}
    for line in server.out("list-panes", "-s", "-t", "=s:", "-F", PANE_FMT).splitlines():
        window, pane, left, top, cmd, path, lane, harness, launch, kind = line.split("\t")
        out[lane] = {
            "window": window,
            "pane": pane,
            "left": int(left),
            "top": int(top),
            "cmd": cmd,
            "path": path,
            "harness": harness,
            "launch": launch,
            "kind": kind,
        }
    return out


def _windows(server) -> list[str]:
    return server.out("list-windows", "-t", "=s:", "-F", "#{window_name}").split()


def test_help_for_every_script(shell_env):
    for script in ("loop-tmux.sh", "lib/lane-health.sh"):
        proc = shell_env.run(script, "--help")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("Usage:"), script
    proc = shell_env.run("loop-tmux.sh", "add-lane", "--help")
    assert proc.returncode == 0 and "add-lane" in proc.stdout


@pytest.mark.parametrize("preset", list(PRESETS))
def test_boot_preset_builds_the_six_windows(boot_env, tmux_server, preset, tmp_path):
    project = boot_env.cwd
    proc = _boot(
        boot_env,
        "--preset", preset,
        "--project-root", str(project),
        "--validate-cmd", VALIDATE,
        "--gateway-health-cmd", HEALTH,
        "--log-stream-cmd", LOGS,
        "--state-file", str(tmp_path / "state.json"),
        "--mailbox-dir", str(tmp_path / "mail"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _windows(tmux_server) == ["coord", "web", "infra", "validate", "ops", "docs"]
    panes = _panes(tmux_server)
    assert set(panes) == {"coord", "web", "infra", "validate-left", "validate-right", "ops-top",
                          "ops-bottom", "docs"}  # fmt: skip
    # Geometry: validate is split left|right, ops top/bottom.
    assert panes["validate-left"]["window"] == panes["validate-right"]["window"] == "validate"
    assert panes["validate-left"]["left"] < panes["validate-right"]["left"]
    assert panes["validate-left"]["top"] == panes["validate-right"]["top"]
    assert panes["ops-top"]["window"] == panes["ops-bottom"]["window"] == "ops"
    assert panes["ops-top"]["top"] < panes["ops-bottom"]["top"]
    for lane, facts in panes.items():
        assert facts["kind"] == "standing", lane
    want = PRESETS[preset]
    for lane, what in want.items():
        launch = panes[lane]["launch"]
        if what is None:
            assert launch == "", (lane, launch)
        elif what == "digest":
            assert launch.startswith(DIGEST), launch
            assert f"--project-root {project}" in launch
            assert f"--state-file {tmp_path / 'state.json'}" in launch
            assert f"--mailbox-dir {tmp_path / 'mail'}" in launch
        elif what in ("pi", "claude"):
            assert launch == what
            assert panes[lane]["harness"] == what
        else:
            assert launch == what
    assert panes["validate-right"]["launch"] == "" and panes["docs"]["launch"] == ""

    def running() -> bool:
        now = _panes(tmux_server)
        for lane, what in want.items():
            if what in ("pi", "claude") and now[lane]["cmd"] != what:
                return False
            if what is not None and what.startswith("sleep") and now[lane]["cmd"] != "sleep":
                return False
        return True

    retry_until(running, timeout=15)
    # Session options the other scripts read.
    assert tmux_server.out("show-options", "-v", "-t", "=s:", "@loop_project_root").strip() == str(project)
    state_dir = tmux_server.out("show-options", "-v", "-t", "=s:", "@loop_state_dir").strip()
    assert state_dir == str(project / ".loop" / "sessions" / "s")


def test_web_window_options_and_pane_options(boot_env, tmux_server):
    proc = _boot(
        boot_env, "--preset", "pi-claude", "--web-cmd", "pi --model 'm x'", "--validate-cmd", VALIDATE
    )
    assert proc.returncode == 0, proc.stderr
    opts = tmux_server.out("show-options", "-w", "-t", "=s:web")
    assert "@loop_lane_harness pi" in opts
    assert "@loop_lane_kind standing" in opts
    assert "@loop_lane_cmd \"pi --model 'm x'\"" in opts or "@loop_lane_cmd 'pi --model" in opts
    # Two-pane windows: the lanes' options are pane options; the window only names itself.
    left = _panes(tmux_server)["validate-left"]["pane"]
    pane_opts = tmux_server.out("show-options", "-p", "-t", left)
    assert "@loop_lane_name validate-left" in pane_opts
    assert "@loop_lane_cmd" in pane_opts and "sleep 301" in pane_opts
    win_opts = tmux_server.out("show-options", "-w", "-t", "=s:validate")
    assert "@loop_lane_kind standing" in win_opts
    assert "@loop_lane_cmd" not in win_opts


def test_lane_flags_beat_the_preset_and_empty_flag_empties_a_lane(boot_env):
    proc = boot_env.run(
        "loop-tmux.sh", "--session", "s", "--print-cmds", "--json", "--preset", "all-claude",
        "--web-cmd", "codex --model gpt", "--infra-cmd", "", "--ops-top-cmd", "htop",
        "--gateway-health-cmd", "curl -s x", "--docs-cmd", "opencode",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lanes = json.loads(proc.stdout)["lanes"]
    assert lanes["web"]["launch"] == "codex --model gpt" and lanes["web"]["harness"] == "codex"
    assert lanes["web"]["source"] == "flag"
    assert lanes["infra"]["launch"] is None and lanes["infra"]["harness"] is None
    assert lanes["ops-top"]["launch"] == "htop"  # --ops-top-cmd beats --gateway-health-cmd
    assert lanes["docs"]["launch"] == "opencode" and lanes["docs"]["harness"] == "opencode"
    assert lanes["coord"]["launch"].startswith(DIGEST)


def test_print_cmds_touches_no_tmux(shell_env, tmp_path):
    sock = tmp_path / "never.sock"
    shell_env.env["LOOP_TMUX_SOCKET"] = str(sock)
    proc = shell_env.run(
        "loop-tmux.sh", "--project", "my proj", "--print-cmds", "--preset", "pi-claude",
        "--coord-cmd", "watch -n 5 date",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "session:      my_proj" in proc.stdout
    assert "watch -n 5 date" in proc.stdout
    assert not sock.exists()
    assert not (shell_env.cwd / ".loop").exists()
    doc = json.loads(
        shell_env.run("loop-tmux.sh", "--project", "p", "--print-cmds", "--json", check=True).stdout
    )
    assert doc["contract_version"] == 1 and doc["session"] == "p"
    assert doc["lanes"]["web"]["launch"] == "pi" and doc["lanes"]["infra"]["launch"] == "claude"
    assert not sock.exists()


def _lane_config(tmp_path: Path) -> Path:
    path = tmp_path / "lanes.yaml"
    path.write_text(
        "lanes:\n"
        "  web: { harness: claude, model: opus, auto_approve: true, role: impl }\n"
        "  ops-top: { harness: shell, cmd: scripts/health.sh --fast }\n"
        "  coord: { cmd: ignored }\n"
    )
    return path


def test_lane_config_wins_over_flags(shell_env, yaml_only_pythonpath, tmp_path):
    cfg = _lane_config(tmp_path)
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "s", "--print-cmds", "--json", "--lane-config", str(cfg),
        "--web-cmd", "pi", "--infra-cmd", "amp", "--coord-cmd", "top",
        env={"PYTHONPATH": str(yaml_only_pythonpath), "LANE_CONFIG_HOSTNAME": "nohost"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lanes = json.loads(proc.stdout)["lanes"]
    web = lanes["web"]
    assert web["source"] == "lane-config" and web["harness"] == "claude"
    assert web["launch"] == "claude --dangerously-skip-permissions --model opus"
    assert web["role"] == "impl"
    assert lanes["infra"]["launch"] == "amp"  # the flag, where the YAML is silent
    assert lanes["coord"]["launch"] == "top"  # coord belongs to the preset / --coord-cmd
    assert lanes["ops-top"]["launch"] == f"{shell_env.cwd}/scripts/health.sh --fast"


def test_lane_config_host_overlay_is_merged(shell_env, yaml_only_pythonpath, tmp_path):
    cfg = _lane_config(tmp_path)
    (tmp_path / "lanes.box1.yaml").write_text("lanes:\n  web: { harness: codex }\n")
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "s", "--print-cmds", "--json", "--lane-config", str(cfg),
        env={"PYTHONPATH": str(yaml_only_pythonpath), "LANE_CONFIG_HOSTNAME": "box1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["lanes"]["web"]["launch"] == "codex"


def test_lane_config_without_pyyaml_is_an_actionable_error(shell_env, tmux_server, tmp_path):
    cfg = _lane_config(tmp_path)
    proc = shell_env.run("loop-tmux.sh", "--session", "s", "--no-attach", "--lane-config", str(cfg))
    assert proc.returncode == 1
    assert "pip install pyyaml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tmux_server.tmux("has-session", "-t", "=s", check=False).returncode != 0


def test_bad_lane_config_fails_before_tmux(shell_env, tmux_server, yaml_only_pythonpath, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("lanes:\n  web: { harness: nosuch }\n")
    proc = shell_env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach", "--lane-config", str(cfg),
        env={"PYTHONPATH": str(yaml_only_pythonpath)},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "nosuch" in proc.stderr
    assert tmux_server.tmux("has-session", "-t", "=s", check=False).returncode != 0


def test_reboot_is_idempotent_and_fills_gaps(boot_env, tmux_server):
    assert _boot(boot_env, "--preset", "monitor").returncode == 0
    first = tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_id} #{window_name}")
    again = _boot(boot_env, "--preset", "monitor")
    assert again.returncode == 0, again.stderr
    assert "kept existing coord, web, infra, validate, ops, docs" in again.stdout
    assert tmux_server.out("list-windows", "-t", "=s:", "-F", "#{window_id} #{window_name}") == first
    tmux_server.tmux("kill-window", "-t", "=s:docs")
    third = _boot(boot_env, "--preset", "monitor")
    assert third.returncode == 0, third.stderr
    assert "created docs" in third.stdout
    assert _windows(tmux_server) == ["coord", "web", "infra", "validate", "ops", "docs"]
    assert len(tmux_server.out("list-panes", "-s", "-t", "=s:").splitlines()) == 8


def test_boot_check_fails_when_an_ai_lane_exits_to_a_shell(boot_env, tmux_server, fake_harnesses):
    (fake_harnesses / "claude").unlink()  # infra: the harness binary is missing
    proc = _boot(
        boot_env,
        "--preset", "pi-claude",
        "--web-cmd", "env FAKE_AGENT_CRASH_AFTER_S=0.1 pi",  # web: starts, then crashes
        "--docs-cmd", "codex",  # docs: keeps running
        "--boot-check", "2",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("boot-check: FAIL web") for line in lines), proc.stdout
    assert any(line.startswith("boot-check: FAIL infra") for line in lines), proc.stdout
    # the missing binary is named: the shell's own words from the pane
    infra = next(line for line in lines if line.startswith("boot-check: FAIL infra"))
    assert "the pane says: " in infra and "claude" in infra and "not found" in infra, infra
    assert any(line.startswith("boot-check: ok docs") for line in lines), proc.stdout
    assert "3 AI lane(s) checked, 2 FAIL" in proc.stdout


def test_boot_check_passes_when_lanes_run(boot_env, tmux_server):
    proc = _boot(boot_env, "--preset", "all-pi", "--boot-check", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "boot-check: ok web" in proc.stdout and "boot-check: ok infra" in proc.stdout
    assert "FAIL" not in proc.stdout.replace("0 FAIL", "")


def test_boot_check_default_wait_is_a_flag_not_a_value(boot_env):
    # "--boot-check" followed by another flag takes the default and leaves the flag alone.
    proc = boot_env.run("loop-tmux.sh", "--session", "s", "--boot-check", "--print-cmds")
    assert proc.returncode == 0, proc.stderr


def test_worktree_flags_move_web_validate_and_infra(boot_env, tmux_server, tmp_path):
    wt_web = tmp_path / "wt web"
    wt_infra = tmp_path / "wt-infra"
    infra = tmp_path / "infra"
    for d in (wt_web, wt_infra, infra):
        d.mkdir()
    proc = _boot(
        boot_env, "--preset", "pi-claude", "--project-root", str(boot_env.cwd),
        "--infra-root", str(infra), "--worktree-web", str(wt_web), "--worktree-infra", str(wt_infra),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr

    def paths():
        p = _panes(tmux_server)
        return {lane: p[lane]["path"] for lane in p}

    got = retry_until(lambda: paths() if paths()["web"] == str(wt_web) else None)
    assert got["web"] == got["validate-left"] == got["validate-right"] == str(wt_web)
    assert got["infra"] == str(wt_infra)
    for lane in ("coord", "ops-top", "ops-bottom", "docs"):
        assert got[lane] == str(boot_env.cwd), lane


def test_worktree_env_and_missing_worktree_fails_fast(boot_env, tmux_server, tmp_path):
    proc = boot_env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach",
        env={"LOOP_WORKTREE_WEB": str(tmp_path / "nope")},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "nope" in proc.stderr and "not a directory" in proc.stderr
    assert tmux_server.tmux("has-session", "-t", "=s", check=False).returncode != 0
    proc = boot_env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach", "--worktree-infra", str(tmp_path / "x")
    )
    assert proc.returncode == 1 and "--worktree-infra" in proc.stderr
    good = tmp_path / "good"
    good.mkdir()
    plan = boot_env.run(
        "loop-tmux.sh", "--session", "s", "--print-cmds", "--json",
        env={"LOOP_WORKTREE_WEB": str(good)},
    )  # fmt: skip
    assert json.loads(plan.stdout)["lanes"]["web"]["cwd"] == str(good)


def test_state_dir_flag_and_env(boot_env, tmux_server, tmp_path):
    proc = _boot(boot_env, "--preset", "monitor", extra_env={"LOOP_TMUX_STATE_DIR": str(tmp_path / "env-sd")})
    assert proc.returncode == 0, proc.stderr
    got = tmux_server.out("show-options", "-v", "-t", "=s:", "@loop_state_dir").strip()
    assert got == str(tmp_path / "env-sd")
    tmux_server.tmux("kill-session", "-t", "=s")
    proc = _boot(boot_env, "--preset", "monitor", "--state-dir", str(tmp_path / "flag-sd"))
    assert proc.returncode == 0, proc.stderr
    got = tmux_server.out("show-options", "-v", "-t", "=s:", "@loop_state_dir").strip()
    assert got == str(tmp_path / "flag-sd")
    assert (tmp_path / "flag-sd").is_dir()


@pytest.mark.parametrize(
    "args",
    [
        ["--preset", "nope"],
        ["--bogus"],
        ["--web-cmd"],
        ["stray"],
    ],
)
def test_usage_errors_exit_2(shell_env, args):
    proc = shell_env.run("loop-tmux.sh", "--print-cmds", *args)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2 and "Traceback" not in proc.stderr


def test_coord_runs_the_digest_by_default(boot_env, tmux_server, tmp_path):
    # A stand-in loop-digest is not ours to write: check the coord pane runs the script next to
    # loop-tmux.sh with the project's paths, whatever that script does.
    proc = _boot(boot_env, "--preset", "monitor", "--state-file", "rel/state.json")
    assert proc.returncode == 0, proc.stderr
    launch = _panes(tmux_server)["coord"]["launch"]
    assert launch.split()[:2] == ["bash", os.path.join(str(SHELL), "loop-digest.sh")]
    assert f"--state-file {boot_env.cwd}/rel/state.json" in launch


def test_up_is_the_explicit_boot(boot_env, tmux_server):
    plan = boot_env.run("loop-tmux.sh", "up", "--session", "s", "--print-cmds", "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["session"] == "s"
    proc = boot_env.run("loop-tmux.sh", "up", "--session", "s", "--no-attach", "--preset", "monitor")
    assert proc.returncode == 0, proc.stderr
    assert _windows(tmux_server) == ["coord", "web", "infra", "validate", "ops", "docs"]


def test_coord_pane_shows_the_live_digest(boot_env, tmux_server):
    proc = _boot(boot_env, "--preset", "monitor")
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: "orchestrator loops" in tmux_server.capture("=s:coord"), timeout=15)


def test_lane_config_boot_tags_split_panes(boot_env, tmux_server, yaml_only_pythonpath, tmp_path):
    cfg = tmp_path / "lanes.yaml"
    cfg.write_text(
        "lanes:\n"
        "  validate-right: { harness: codex, model: m1, role: prover }\n"
        "  ops-bottom: { harness: shell, cmd: sleep 304 }\n"
        "  docs: { harness: opencode }\n"
    )
    proc = _boot(
        boot_env, "--preset", "monitor", "--lane-config", str(cfg),
        extra_env={"PYTHONPATH": str(yaml_only_pythonpath), "LANE_CONFIG_HOSTNAME": "nohost"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    panes = _panes(tmux_server)
    right = panes["validate-right"]
    assert right["harness"] == "codex" and right["launch"] == "codex --model m1"
    assert panes["validate-left"]["harness"] == ""  # pane-level: the neighbour is not tagged
    assert panes["ops-bottom"]["launch"] == "sleep 304" and panes["ops-bottom"]["harness"] == "shell"
    role = tmux_server.out("show-options", "-pqv", "-t", right["pane"], "@loop_lane_role").strip()
    assert role == "prover"
    assert (
        tmux_server.out("show-options", "-wqv", "-t", "=s:docs", "@loop_lane_harness").strip() == "opencode"
    )
    retry_until(lambda: _panes(tmux_server)["validate-right"]["cmd"] == "codex")
    retry_until(lambda: _panes(tmux_server)["docs"]["cmd"] == "opencode")
