"""bin/loop-restart: env file, reinstall, `loop-engine restart`, PM adapter assert; fakes on PATH."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHELL = TESTS.parent
SECRET = "s3cr3t-token-value"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(SHELL / "lib"))
restart_lib = _load("restart", SHELL / "lib" / "restart.py")


@pytest.fixture
def fakes(shell_env, tmp_path):
    """Fake loop-engine and loop-pm on PATH. Each records its argv and whether JIRA_API_TOKEN was set."""
    bindir = tmp_path / "fakes"
    bindir.mkdir()
    calls = tmp_path / "calls.log"
    engine = bindir / "loop-engine"
    swapped = tmp_path / "swapped"
    engine.write_text(
        "#!/usr/bin/env bash\n"
        # status: the new daemon once `restart` ran (FAKE_STATUS_PID, FAKE_CODE pick what it says)
        'case " $* " in *" status "*)\n'
        f'  [ -e "{swapped}" ] || exit 0\n'
        '  echo "daemon: running (pid ${FAKE_STATUS_PID:-4242}, since x)"\n'
        '  echo "watch: alive (pid ${FAKE_STATUS_PID:-4242}, heartbeat 1s ago)"\n'
        '  echo "code: ${FAKE_CODE:-current}"; exit 0 ;;\n'
        "esac\n"
        f'printf "engine %s token=%s\\n" "$*" "${{JIRA_API_TOKEN:+set}}" >> "{calls}"\n'
        'echo "restart said this"\n'
        f'[ "${{FAKE_ENGINE_RC:-0}}" != 0 ] || touch "{swapped}"\n'
        'exit "${FAKE_ENGINE_RC:-0}"\n'
    )
    pm = bindir / "loop-pm"
    pm.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "pm %s token=%s\\n" "$*" "${{JIRA_API_TOKEN:+set}}" >> "{calls}"\n'
        'if [ -n "${JIRA_API_TOKEN:-}" ]; then avail=true; else avail=false; fi\n'
        'printf \'{"contract_version": 1, "adapters": [{"name": "jira", "entry_point": "x", "available": %s, '
        '"reason": "JIRA_API_TOKEN is not set", "loaded": true}]}\\n\' "$avail"\n'
    )
    for f in (engine, pm):
        f.chmod(0o755)
    shell_env.prepend_path(bindir)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    shell_env.env["LOOP_SECRETS_DIR"] = str(secrets)
    shell_env.env["LOOP_RESTART_INSTALL_CMD"] = f'echo reinstalled >> "{calls}"'
    return {"calls": calls, "secrets": secrets, "bindir": bindir}


def _config(root: Path, adapters: str) -> None:
    (root / "lane-config.yaml").write_text(
        f"lanes:\n  web: {{harness: pi}}\nengine:\n  approval_mode: manual\n  pm:\n    adapters: {adapters}\n"
    )


def _calls(fakes) -> list[str]:
    path = fakes["calls"]
    return path.read_text().splitlines() if path.exists() else []


def test_restart_with_a_pm_adapter(shell_env, fakes):
    root = shell_env.cwd
    _config(root, "[jira]")
    (fakes["secrets"] / "myloop.env").write_text(f"JIRA_API_TOKEN={SECRET}\nJIRA_EMAIL=a@b.c\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr
    assert _calls(fakes) == [
        "reinstalled",
        f"engine --project-root {root} --session myloop restart --timeout 60 token=set",
        "pm list-adapters --json token=set",
    ]
    assert "PM adapters available: jira" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr


def test_missing_env_file_fails_before_restarting(shell_env, fakes):
    _config(shell_env.cwd, "[jira]")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1
    assert "missing env file" in proc.stderr and "myloop.env" in proc.stderr
    assert _calls(fakes) == []  # nothing reinstalled, nothing restarted


def test_adapter_unavailable_after_restart_fails_the_assert(shell_env, fakes):
    _config(shell_env.cwd, "[jira]")
    (fakes["secrets"] / "myloop.env").write_text("JIRA_EMAIL=a@b.c\n")  # no token: jira unavailable
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1
    assert "adapter 'jira' is not available: JIRA_API_TOKEN is not set" in proc.stderr
    assert any(c.startswith("engine ") for c in _calls(fakes))


def test_adapter_not_installed_fails(shell_env, fakes):
    _config(shell_env.cwd, "[jira, linear]")
    (fakes["secrets"] / "myloop.env").write_text(f"JIRA_API_TOKEN={SECRET}\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1 and "adapter 'linear' is not installed" in proc.stderr


def test_no_pm_loop_needs_no_env_file(shell_env, fakes):
    _config(shell_env.cwd, "[]")
    proc = shell_env.run("bin/loop-restart", "govern")
    assert proc.returncode == 0, proc.stderr
    assert "no PM adapter configured" in proc.stdout
    assert [c for c in _calls(fakes) if c.startswith("pm ")] == []
    # no lane-config at all is a no-PM loop too
    (shell_env.cwd / "lane-config.yaml").unlink()
    assert shell_env.run("bin/loop-restart", "govern").returncode == 0


def test_failed_reinstall_or_restart_exit_1(shell_env, fakes):
    _config(shell_env.cwd, "[]")
    bad_install = shell_env.run("bin/loop-restart", "s", env={"LOOP_RESTART_INSTALL_CMD": "exit 3"})
    assert bad_install.returncode == 1 and "reinstall failed" in bad_install.stderr
    assert not any(c.startswith("engine ") for c in _calls(fakes))
    bad_restart = shell_env.run("bin/loop-restart", "s", env={"FAKE_ENGINE_RC": "1"})
    assert bad_restart.returncode == 1 and "FATAL: loop-engine restart exited 1" in bad_restart.stderr
    assert "  | restart said this" in bad_restart.stderr  # its log, dumped


def test_the_restart_waits_for_a_new_pid_running_current_code(shell_env, fakes):
    """Ready = `watch: alive (pid N, ...)` with N not the old pid AND `code: current`; else FATAL after
    LOOP_RESTART_TIMEOUT with the restart's log."""
    _config(shell_env.cwd, "[]")
    engine_dir = shell_env.cwd / ".loop" / "sessions" / "s" / "engine"
    engine_dir.mkdir(parents=True)
    (engine_dir / "daemon.pid").write_text('4242\n{"started_at": "x"}\n')
    same = shell_env.run("bin/loop-restart", "s", env={"LOOP_RESTART_TIMEOUT": "1"})
    assert same.returncode == 1 and "FATAL: daemon did not cleanly swap" in same.stderr
    assert "old pid 4242, last seen pid 4242" in same.stderr and "  | restart said this" in same.stderr
    (fakes["calls"].parent / "swapped").unlink()
    stale = shell_env.run(
        "bin/loop-restart",
        "s",
        env={"LOOP_RESTART_TIMEOUT": "1", "FAKE_STATUS_PID": "5151", "FAKE_CODE": "stale"},
    )
    assert stale.returncode == 1 and "last seen pid 5151, code not current" in stale.stderr
    (fakes["calls"].parent / "swapped").unlink()
    ok = shell_env.run("bin/loop-restart", "s", env={"FAKE_STATUS_PID": "5151"})
    assert ok.returncode == 0, ok.stderr
    assert "loop-restart: daemon swapped (pid 4242 -> 5151, current code, heartbeat 1s ago)" in ok.stdout


def test_the_reinstall_runs_in_the_orchestrator_checkout(shell_env, fakes, tmp_path):
    _config(shell_env.cwd, "[]")
    orch = tmp_path / "orch"
    orch.mkdir()
    proc = shell_env.run(
        "bin/loop-restart", "s", env={"LOOP_ORCH_ROOT": str(orch), "LOOP_RESTART_INSTALL_CMD": "pwd > where"}
    )
    assert proc.returncode == 0, proc.stderr
    assert (orch / "where").read_text().strip() == str(orch.resolve())
    assert not (shell_env.cwd / "where").exists()


def test_engine_missing_is_a_failure_not_a_crash(shell_env, fakes):
    _config(shell_env.cwd, "[]")
    (fakes["bindir"] / "loop-engine").unlink()
    proc = shell_env.run("bin/loop-restart", "s")
    assert proc.returncode == 1 and "loop-engine is not installed" in proc.stderr


def test_usage(shell_env, fakes):
    for args in ([], ["a", "b"], ["--bogus", "s"], ["../x"], ["s", "--timeout", "soon"]):
        proc = shell_env.run("bin/loop-restart", *args)
        assert proc.returncode == 2, args
    assert _calls(fakes) == []


def test_host_overlay_replaces_engine_pm(shell_env, fakes):
    import socket

    root = shell_env.cwd
    _config(root, "[jira]")
    host = socket.gethostname().split(".")[0]
    (root / f"lane-config.{host}.yaml").write_text("engine:\n  pm:\n    adapters: []\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr  # no env file needed: this host syncs nothing


@pytest.mark.parametrize(
    "text,expected",
    [
        ("engine:\n  pm:\n    adapters: [jira]\n", ["jira"]),
        ("engine:\n  pm:\n    adapters:\n      - jira\n      - linear\n", ["jira", "linear"]),
        ("engine: {pm: {adapters: [jira]}}\n", ["jira"]),
        ("engine:\n  pm: {adapters: []}\n", []),
        ("lanes:\n  web: {harness: pi}\n", []),
        ("engine:\n  brain: {harness: claude}\n  pm:\n    adapters: ['jira']  # the one\n", ["jira"]),
        # the original's shapes: {name: ...} mappings (other keys ignored, nameless skipped), each name once
        ("engine:\n  pm:\n    adapters: [{name: jira, project: X}, jira, {url: u}]\n", ["jira"]),
        (
            "engine:\n  pm:\n    adapters:\n      - name: jira\n        project: X\n        opts:\n"
            "          name: nested\n      - linear\n      - {name: gh}\n      - url: nameless\n",
            ["jira", "linear", "gh"],
        ),
    ],
)
def test_adapter_reader_without_pyyaml(text, expected):
    found, value = restart_lib.read_adapters_minimal(text)
    assert restart_lib._names(value if found else None, "x") == expected


def test_adapter_reader_in_the_stdlib_only_python(shell_env, fakes):
    """The scripts' python3 has no PyYAML: the small reader handles the real config."""
    _config(shell_env.cwd, "[jira]")
    (fakes["secrets"] / "myloop.env").write_text(f"JIRA_API_TOKEN={SECRET}\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr
    assert "PM adapters available: jira" in proc.stdout


def test_env_file_errors_stop_before_restarting_and_never_show_values(shell_env, fakes):
    """An unquoted value with a space makes bash run its second word as a command: the engine must not
    be restarted with a half-loaded environment, and the error must not quote the secret's text."""
    _config(shell_env.cwd, "[jira]")
    (fakes["secrets"] / "myloop.env").write_text(f"JIRA_API_TOKEN={SECRET} tail-part\nJIRA_EMAIL=a@b.c\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1
    assert "reported errors on line(s) 1" in proc.stderr and "nothing restarted" in proc.stderr
    assert "tail-part" not in proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert _calls(fakes) == []  # nothing reinstalled, nothing restarted


def test_env_file_with_crlf_line_endings_is_refused(shell_env, fakes):
    _config(shell_env.cwd, "[jira]")
    (fakes["secrets"] / "myloop.env").write_bytes(f"JIRA_API_TOKEN={SECRET}\r\n".encode())
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1 and "CRLF" in proc.stderr
    assert _calls(fakes) == []


def test_env_file_is_sourced_like_a_shell_would(shell_env, fakes):
    """export lines, quotes and spaces, a reference to an unset variable, and names that loop-restart
    itself uses: the values reach the engine, and the restart still targets the right session/root."""
    root = shell_env.cwd
    _config(root, "[jira]")
    (fakes["secrets"] / "myloop.env").write_text(
        "# the loop's secrets\n"
        f'export JIRA_API_TOKEN="{SECRET}"\n'
        "export  JIRA_EMAIL='Jo Smith <jo@x.org>'\n"
        'JIRA_PROJECT_KEY="K${NOT_SET_ANYWHERE}"\n'
        "session=other\nroot=/nonexistent\ntimeout=soon\nset -u\n"
    )
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr
    assert f"engine --project-root {root} --session myloop restart --timeout 60 token=set" in _calls(fakes)
    assert SECRET not in proc.stdout + proc.stderr


def test_env_file_in_export_p_form_reaches_the_engine(shell_env, fakes):
    """`export -p > file` writes `declare -x NAME="value"` lines; sourced inside a function, declare
    would make function-local variables that never reach loop-engine or loop-pm."""
    root = shell_env.cwd
    _config(root, "[jira]")
    (fakes["secrets"] / "myloop.env").write_text(f'declare -x JIRA_API_TOKEN="{SECRET}"\ntypeset -x X=1\n')
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr
    assert _calls(fakes)[-2:] == [
        f"engine --project-root {root} --session myloop restart --timeout 60 token=set",
        "pm list-adapters --json token=set",
    ]


def test_env_file_that_is_a_directory_is_an_error(shell_env, fakes):
    _config(shell_env.cwd, "[]")
    (fakes["secrets"] / "myloop.env").mkdir()
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1 and "not a regular file" in proc.stderr
    assert _calls(fakes) == []


def test_adapter_check_reads_past_noise_an_adapter_printed_on_import(shell_env, fakes):
    """An adapter that prints while it loads puts text before loop-pm's JSON line; the assert still
    reads the document (and still fails when the adapter is unavailable)."""
    _config(shell_env.cwd, "[jira]")
    pm = fakes["bindir"] / "loop-pm"
    pm.write_text(
        pm.read_text().replace("#!/usr/bin/env bash\n", "#!/usr/bin/env bash\necho 'plugin x: hello'\n", 1)
    )
    (fakes["secrets"] / "myloop.env").write_text(f"JIRA_API_TOKEN={SECRET}\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr
    assert "PM adapters available: jira" in proc.stdout
    (fakes["secrets"] / "myloop.env").write_text("JIRA_EMAIL=a@b.c\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1 and "adapter 'jira' is not available" in proc.stderr
    assert restart_lib.check(["jira"], "noise only\n") == ["loop-pm list-adapters --json did not print JSON"]


def test_a_deeply_nested_adapters_value_is_one_line_not_a_traceback(shell_env, fakes):
    (shell_env.cwd / "lane-config.yaml").write_text(
        "engine:\n  pm:\n    adapters: " + "[" * 5000 + "]" * 5000 + "\n"
    )
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "nested too deeply to read" in proc.stderr
    assert _calls(fakes) == []


def test_env_file_that_runs_exit_is_a_failure_not_a_restart(shell_env, fakes):
    """`exit 0` in the env file used to end loop-restart with status 0 and nothing restarted."""
    _config(shell_env.cwd, "[]")
    (fakes["secrets"] / "myloop.env").write_text("JIRA_EMAIL=a@b.c\nexit 0\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 1
    assert "ran exit; nothing restarted" in proc.stderr
    assert _calls(fakes) == []


def test_the_adapter_check_reads_the_host_overlay_loop_tmux_reads(tmp_path, monkeypatch):
    """LANE_CONFIG_HOSTNAME and a `.yml` overlay beside a `.yaml` config: loop-tmux merges that overlay, so
    the adapters loop-restart asserts must come from it too."""
    cfg = tmp_path / "lane-config.yaml"
    cfg.write_text("engine:\n  pm: {adapters: [jira]}\n")
    (tmp_path / "lane-config.box7.yml").write_text("engine:\n  pm: {adapters: [linear]}\n")
    monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "box7.example.com")
    assert restart_lib.configured_adapters(str(cfg)) == ["linear"]
    monkeypatch.setenv("LANE_CONFIG_HOSTNAME", "elsewhere")
    assert restart_lib.configured_adapters(str(cfg)) == ["jira"]


def test_adapter_mappings_and_the_host_overlay(shell_env, fakes):
    """`{name: jira}` entries are adapters (v1 exited 1 on them); the host overlay's engine.pm wins and
    its names are read the same way, each once."""
    import socket

    root = shell_env.cwd
    _config(root, "[linear]")
    host = socket.gethostname().split(".")[0]
    (root / f"lane-config.{host}.yaml").write_text(
        "engine:\n  pm:\n    adapters:\n      - name: jira\n        project: KEY\n"
        "      - jira\n      - {url: x}\n"
    )
    (fakes["secrets"] / "myloop.env").write_text(f"JIRA_API_TOKEN={SECRET}\n")
    proc = shell_env.run("bin/loop-restart", "myloop")
    assert proc.returncode == 0, proc.stderr
    assert "PM adapters available: jira\n" in proc.stdout
    assert restart_lib.configured_adapters(str(root / "lane-config.yaml")) == ["jira"]
