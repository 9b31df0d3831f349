"""Start-up: every Python CLI's --help and --version import only what the command uses. Each case runs a
fresh interpreter with -X importtime (plus sys.modules at exit) and checks the set of modules: no
pydantic model, yaml or the version's importlib.metadata on these paths; httpx only where Jira is
called; textual only when the deck draws. (loop-engine's own cases: packages/loop-engine/tests.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from live_session import retry_until

HEAVY = {"pydantic", "pydantic_core", "yaml", "httpx", "textual", "rich", "libtmux", "importlib.metadata"}

RUN = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
    "module, func = sys.argv.pop(1).split(':')\n"
    "sys.argv[0] = 'cli'\n"
    "getattr(__import__(module, fromlist=[func]), func)()\n"
)


def imported(entry: str, *args: str, cwd: Path | None = None, execs: bool = False) -> set[str]:
    """The modules a fresh interpreter imports running the console script `entry` (module:function).
    execs: the script replaces the interpreter (exec bash), so only -X importtime's lines are there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX", "JIRA_"))}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN, entry, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    timed = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and not line.rstrip().endswith("package")
    }
    listed = [line.split()[1:] for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    if execs:
        return timed
    assert listed, proc.stderr[-3000:]
    return timed | set(listed[-1])


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0].startswith("loop_")}


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_loop_deck(args: list[str]) -> None:
    modules = imported("loop_deck.cli:main", *args)
    assert not modules & HEAVY
    assert ours(modules) == {"loop_deck", "loop_deck.cli"}


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["sync", "--help"], ["list-adapters", "--help"]])
def test_loop_pm(args: list[str]) -> None:
    """loop-pm lists its commands (the adapters' command groups too) from entry-point metadata: that
    listing is the one use of importlib.metadata; the jira group is loaded without its HTTP client."""
    modules = imported("loop_pm.cli:main", *args)
    assert not modules & (HEAVY - {"importlib.metadata"})
    if args != ["--help"]:  # only the group's own help lists the plugins' command groups
        assert "importlib.metadata" not in modules
    assert ours(modules) <= {
        "loop_pm",
        "loop_pm.cli",
        "loop_pm.entrycache",
        "loop_pm.plugins",
        "loop_pm_jira",
        "loop_pm_jira.cli",
        "loop_schemas",
        "loop_schemas._pm_groups",
        "loop_schemas.errors",
        "loop_schemas.plain",
        "loop_schemas.redact",
    }


def test_loop_pm_help_lists_the_plugins_from_the_cache() -> None:
    """The console script as installed: once the listing is cached (loop_pm.entrycache), `loop-pm --help`
    lists the jira group with its help, as importlib.metadata would, without importing it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX", "JIRA_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the cache is written where bytecode is
    script = str(Path(sys.executable).parent / "loop-pm")

    def run() -> tuple[str, set[str]]:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", script, "--help"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        timed = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if "|" in line}
        return proc.stdout, timed

    first, _ = run()
    assert "jira" in first and "Jira scrum verbs" in first
    # the first runs may find the venv too fresh to cache (the racy rule): wait for one that does not
    found: list[tuple[str, set[str]]] = []

    def cached() -> bool:
        found.append(run())
        return "importlib.metadata" not in found[-1][1]

    retry_until(cached, timeout=30, interval=0.5)
    out, modules = found[-1]
    assert "importlib.metadata" not in modules and "email" not in modules
    assert out == first


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["sprint-status", "--help"], ["retro", "--help"]]
)
def test_loop_pm_jira(args: list[str]) -> None:
    modules = imported("loop_pm_jira.cli:main", *args)
    assert not modules & HEAVY
    assert ours(modules) == {
        "loop_pm_jira",
        "loop_pm_jira.cli",
        "loop_schemas",
        "loop_schemas.errors",
        "loop_schemas.plain",
        "loop_schemas.redact",
    }


def test_loop_pm_jira_imports_httpx_where_it_calls_jira() -> None:
    """The verbs that reach Jira do load the client (a check that the cases above can see it)."""
    env_free = imported("loop_pm_jira.cli:main", "sprint-status", "--help")
    assert "httpx" not in env_free
    code = "import loop_pm_jira.client, sys; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"], ["export", "--help"]])
def test_python_m_loop_schemas(args: list[str]) -> None:
    modules = imported("loop_schemas.__main__:main", *args)
    assert not modules & HEAVY
    assert ours(modules) == {
        "loop_schemas",
        "loop_schemas.__main__",
        "loop_schemas._shared",
        "loop_schemas._shared.fsread",
        "loop_schemas.errors",
        "loop_schemas.fsread",
        "loop_schemas.redact",
    }


@pytest.mark.parametrize("script", ["loop_tmux", "loop_digest", "loop_mail", "loop_lane_status"])
def test_loop_substrate_wrappers(script: str) -> None:
    """The substrate's console scripts only find their bundled bash script and exec it."""
    modules = imported(f"loop_substrate.cli:{script}", "--help", execs=True)
    assert not modules & HEAVY
    assert ours(modules) == {
        "loop_substrate",
        "loop_substrate.cli",
        "loop_substrate.errors",
        "loop_substrate.paths",
    }


def test_loop_demo_help() -> None:
    modules = imported("loop_engine.demo:run", "--help")
    assert not modules & (HEAVY - {"yaml"})
    assert not {m for m in modules if m.startswith(("loop_schemas.", "loop_engine.cycle"))}
