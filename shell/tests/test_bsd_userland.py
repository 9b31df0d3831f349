"""The substrate under a macOS-like userland: PATH holds only commands stock macOS has, and the GNU-only
flags of sed/grep/readlink/date/stat/mktemp/find/xargs/sort/head/tail/ps are refused the way BSD
tools refuse (or misread) them. No `timeout`, `realpath`, `nproc`, `tac`, `flock`, `setsid`, ...

tools/bash32_lint.py catches these statically; this proves the CLIs really run without them: every
CLI's --help, a short real call of each, and a live lane round trip on a private tmux server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
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


retry_until = _load("_bsd_userland_conftest", TESTS / "conftest.py").retry_until

# What /bin and /usr/bin of a stock macOS hold (plus tmux and git, which the substrate needs anyway).
MACOS_COMMANDS = [
    "bash",
    "sh",
    "cat",
    "chmod",
    "cp",
    "date",
    "dd",
    "df",
    "echo",
    "expr",
    "hostname",
    "kill",
    "ln",
    "ls",
    "mkdir",
    "mv",
    "ps",
    "pwd",
    "rm",
    "rmdir",
    "sleep",
    "stty",
    "test",
    "sync",
    "awk",
    "basename",
    "cmp",
    "comm",
    "cut",
    "diff",
    "dirname",
    "du",
    "env",
    "false",
    "find",
    "git",
    "grep",
    "head",
    "id",
    "install",
    "join",
    "less",
    "make",
    "mktemp",
    "nice",
    "nohup",
    "od",
    "paste",
    "printf",
    "readlink",
    "sed",
    "seq",
    "sort",
    "split",
    "stat",
    "tail",
    "tee",
    "touch",
    "tr",
    "true",
    "tty",
    "uname",
    "uniq",
    "wc",
    "which",
    "whoami",
    "xargs",
    "yes",
    "tput",
    "locale",
    "getconf",
    "logger",
    "mkfifo",
    "tmux",
]

# Commands whose GNU-only flags BSD rejects or reads differently: a /bin/sh wrapper refuses those
# (exit 64, a line in the log) and execs the real tool otherwise. `prev` is the previous argument.
REFUSE = {
    "sed": r"""--*|-*i|-*r*|-*z*) bad ;;""",
    "grep": r"""--perl-regexp|--null-data|-*P*) bad ;;""",
    "readlink": r"""-n) ;; -*) bad ;;""",
    "date": r"""--*|-*[dIr]*|*%N*) bad ;;""",
    "stat": r"""*) bad ;;""",
    "mktemp": r"""--*|-p|-t|-u) bad ;;""",
    "find": r"""-printf|-fprintf|-regextype|-readable|-writable|-executable|-xtype) bad ;;""",
    "xargs": r"""--*|-*[rda]*) bad ;; -*) ;; *) break ;;""",
    "sort": r"""--version-sort|-*V*) bad ;;""",
    "head": r"""--*) bad ;; -[0-9]*) if [ "$prev" = -n ] || [ "$prev" = -c ]; then bad; fi ;;""",
    "tail": r"""--*) bad ;;""",
    "ps": r"""--*|-*e*) bad ;;""",
}

CLIS = (
    "loop-tmux.sh",
    "loop-digest.sh",
    "loop-dispatch.sh",
    "loop-lane-status.sh",
    "loop-init.sh",
    "loop-adr.sh",
    "scripts/loop-checkpoint.sh",
    "scripts/loop-jira-sync.sh",
    "scripts/loop-mail.sh",
    "scripts/loop-metrics.sh",
    "scripts/loop-task-lint.sh",
    "scripts/loop-wiki-lint.sh",
    "scripts/loop-wiki-pending.sh",
    "bin/loop-restart",
    "hooks/loop-lane-hook.sh",
    "lib/harness-registry.sh",
    "lib/lane-config-resolver.sh",
    "lib/lane-health.sh",
)


def _wrapper(real: str, name: str, case: str, log: Path) -> str:
    return (
        "#!/bin/sh\n"
        f"echo {name} >>'{log}.calls'\n"
        f"bad() {{ printf '%s\\n' \"bsd-shim: {name} refuses $a ($*)\" >>'{log}'; "
        f'echo "{name}: illegal option -- $a (BSD userland shim)" >&2; exit 64; }}\n'
        'prev=""\n'
        'for a in "$@"; do\n'
        "  case $a in\n"
        f"    {case}\n"
        "  esac\n"
        "  prev=$a\n"
        "done\n"
        f'exec "{real}" "$@"\n'
    )


@pytest.fixture
def bsd_env(shell_env, tmp_path: Path):
    """shell_env with PATH = the bare python3, then a macOS-like bin/ (nothing else)."""
    bindir = tmp_path / "bsdbin"
    bindir.mkdir()
    log = tmp_path / "bsd-shim.log"
    log.write_text("")
    search = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"])
    for name in MACOS_COMMANDS:
        real = shutil.which(name, path=search)
        if real is None:
            continue
        if name in REFUSE:
            (bindir / name).write_text(_wrapper(real, name, REFUSE[name], log))
            (bindir / name).chmod(0o755)
        else:
            (bindir / name).symlink_to(real)
    python_dir = shell_env.env["PATH"].split(os.pathsep)[0]
    shell_env.env["PATH"] = f"{python_dir}{os.pathsep}{bindir}"
    shell_env.env["SHELL"] = str(bindir / "bash")
    shell_env.bsd_log = log  # type: ignore[attr-defined]
    return shell_env


def _refusals(env) -> str:
    return env.bsd_log.read_text()


def _called(env) -> set[str]:
    calls = Path(str(env.bsd_log) + ".calls")
    return set(calls.read_text().split()) if calls.exists() else set()


def test_the_shims_refuse_gnu_flags(bsd_env) -> None:
    """The shims themselves: each refuses a GNU-only form and passes the portable one."""
    env = dict(bsd_env.env)
    run = subprocess.run
    link = os.path.join(env["PATH"].split(os.pathsep)[1], "cat")
    for bad, good in (
        (["sed", "-i", "s/a/b/", "f"], ["sed", "-n", "$p", "/dev/null"]),
        (["readlink", "-f", link], ["readlink", link]),
        (["date", "+%s%N"], ["date", "+%s"]),
        (["ps", "-eo", "pid"], ["ps", "-A", "-o", "pid="]),
        (["head", "-n", "-1", "/dev/null"], ["head", "-n", "1", "/dev/null"]),
    ):
        assert run(bad, env=env, capture_output=True, check=False).returncode == 64, bad
        assert run(good, env=env, capture_output=True, check=False).returncode == 0, good
    assert shutil.which("timeout", path=env["PATH"]) is None
    assert shutil.which("realpath", path=env["PATH"]) is None


@pytest.mark.parametrize("cli", CLIS)
def test_help_runs_on_a_bsd_userland(bsd_env, cli: str, tmp_path: Path) -> None:
    """--help, run through a symlink as `make install` links it (the scripts resolve their own
    directory with plain readlink, no -f)."""
    link = tmp_path / "installbin" / Path(cli).name
    link.parent.mkdir()
    link.symlink_to(SHELL / cli)
    proc = subprocess.run(
        ["bash", str(link), "--help"],
        capture_output=True,
        text=True,
        env=bsd_env.env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout.lower()
    assert proc.stderr == ""
    assert _refusals(bsd_env) == ""
    if cli != "lib/harness-registry.sh":  # it resolves its directory only when a verb needs it
        assert "readlink" in _called(bsd_env)


def test_short_real_calls_on_a_bsd_userland(bsd_env, tmp_path: Path) -> None:
    env, root = bsd_env, bsd_env.cwd
    ok = {}

    def run(cli: str, *args: str, **kw):
        proc = env.run(cli, *args, **kw)
        assert proc.returncode == 0, (cli, args, proc.stderr)
        ok[cli] = True
        return proc

    run("loop-init.sh", "--no-lane-config")
    assert (root / ".loop" / "orchestrator-state.json").is_file()
    sent = run(
        "scripts/loop-mail.sh", "send", "--from", "web", "--to", "coord", "--subject", "hi", "--body", "b"
    )
    assert Path(root, sent.stdout.strip()).is_file() or Path(sent.stdout.strip()).is_file()
    assert json.loads(run("scripts/loop-mail.sh", "list", "--json").stdout)["pending"][0]["subject"] == "hi"
    assert run("scripts/loop-wiki-pending.sh", "--quiet").stdout.strip() == "1"
    adr = run("loop-adr.sh", "new", "Use BSD tools").stdout.strip()
    assert adr.endswith(".md")
    assert json.loads(run("loop-adr.sh", "list", "--json").stdout)["adrs"][0]["title"] == "Use BSD tools"
    assert run("scripts/loop-task-lint.sh").returncode == 0
    assert json.loads(run("scripts/loop-metrics.sh", "--json").stdout)["pending"] == 1
    assert "BEGIN DATA" in run("scripts/loop-checkpoint.sh", "--print").stdout
    assert "Use BSD tools" in run("loop-digest.sh", "--once").stdout
    names = [
        h["name"] for h in json.loads(run("lib/harness-registry.sh", "list", "--json").stdout)["harnesses"]
    ]
    assert "claude" in names
    plan = json.loads(run("loop-tmux.sh", "--session", "s", "--print-cmds", "--json").stdout)
    assert plan["session"] == "s"
    # loop-restart: the CRLF check (grep), the env file, a stub engine (no reinstall)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "s.env").write_text("LOOP_BSD_CHECK='a b'\n")
    stub = tmp_path / "stubbin"
    stub.mkdir()
    # the stub engine: `restart` records the env it got; `status` reports a new daemon on current code
    (stub / "loop-engine").write_text(
        "#!/bin/sh\n"
        'case " $* " in\n'
        "  *' status '*) printf 'watch: alive (pid 4242, heartbeat 0s ago)\\ncode: current\\n' ;;\n"
        '  *) printf "%s\\n" "$LOOP_BSD_CHECK" >"$0.ran" ;;\n'
        "esac\n"
    )
    (stub / "loop-engine").chmod(0o755)
    extra = {
        "LOOP_SECRETS_DIR": str(secrets),
        "LOOP_RESTART_INSTALL_CMD": "",
        "PATH": f"{stub}:{env.env['PATH']}",
    }
    run("bin/loop-restart", "s", "--project-root", str(root), env=extra)
    assert (stub / "loop-engine.ran").read_text() == "a b\n"
    (secrets / "s.env").write_bytes(b"A=1\r\n")
    crlf = env.run("bin/loop-restart", "s", "--project-root", str(root), env=extra)
    assert crlf.returncode == 1 and "CRLF" in crlf.stderr
    assert _refusals(env) == ""
    assert {"grep", "mktemp"} <= _called(env)


@pytest.mark.tmux
def test_live_lane_round_trip_on_a_bsd_userland(bsd_env, tmux_server) -> None:
    env = bsd_env
    proc = env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "monitor", "--boot-check", "0"
    )
    assert proc.returncode == 0, proc.stderr
    assert "boot-check: 0 AI lane(s) checked, 0 FAIL" in proc.stdout
    proc = env.run("loop-tmux.sh", "add-lane", "--session", "s", "--window", "echoer", "--cmd", "cat")
    assert proc.returncode == 0, proc.stderr
    lanes = json.loads(env.run("loop-tmux.sh", "list-lanes", "--session", "s", "--json").stdout)["lanes"]
    assert [lane["cmd"] for lane in lanes if lane["window"] == "echoer"] == ["cat"]
    retry_until(
        lambda: (
            tmux_server.out("display", "-p", "-t", "=s:echoer", "#{pane_current_command}").strip() == "cat"
        ),
        timeout=20,
    )
    status = json.loads(env.run("loop-lane-status.sh", "--json", "--all", "s").stdout)
    assert status["lanes"]["echoer"]["status"] == "working"
    proc = env.run("loop-dispatch.sh", "--session", "s", "echoer", "bsd-ping")
    assert proc.returncode == 0, proc.stderr
    retry_until(lambda: "bsd-ping" in tmux_server.capture("=s:echoer"), timeout=20)
    proc = env.run("lib/lane-health.sh", "once", "--session", "s", "--state-dir", str(env.cwd / "state"))
    assert proc.returncode == 0, proc.stderr
    proc = env.run("loop-tmux.sh", "drop-lane", "--session", "s", "--window", "echoer")
    assert proc.returncode == 0, proc.stderr
    assert _refusals(env) == ""
    assert "mktemp" in _called(env)
