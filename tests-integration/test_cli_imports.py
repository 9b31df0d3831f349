"""Start-up: every Python CLI's --help and --version import only what the command uses. Each case runs a
fresh interpreter with -X importtime (plus sys.modules at exit) and checks the set of modules: no
pydantic model, yaml or the version's importlib.metadata on these paths; httpx only where Jira is
called; textual only when the deck draws. (loop-engine's own cases: packages/loop-engine/tests.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from live_session import Live, retry_until

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
    return run_cli(entry, *args, cwd=cwd, env=env, execs=execs)[1]


def run_cli(
    entry: str, *args: str, env: dict[str, str], cwd: Path | None = None, execs: bool = False
) -> tuple[str, set[str]]:
    """(stdout, the modules imported) of the console script `entry` run with `env` (it must exit 0)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN, entry, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    said = [line for line in proc.stderr.splitlines() if not line.startswith(("import time:", "MODULES "))]
    assert proc.returncode == 0, proc.stdout[-3000:] + "\n".join(said)[-3000:]
    timed = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and not line.rstrip().endswith("package")
    }
    listed = [line.split()[1:] for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    if execs:
        return proc.stdout, timed
    assert listed, proc.stderr[-3000:]
    return proc.stdout, timed | set(listed[-1])


DECISION = (
    "```decision\nversion: 1\ncritique: c\nactions:\n"
    "  - {kind: dispatch, lane: web, payload: 'do T0001', rationale: r}\n```\n"
)
TASK = """---
id: T0001
title: add the health endpoint
status: open
depends_on: []
scope: web only
---

## Objective
Add /healthz.

## Context you need
None.

## Deliverables
The endpoint.

## Acceptance criteria
200 OK.

## Verification
curl it.

## Out of scope
Everything else.
"""


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0].startswith("loop_")}


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_loop_deck(args: list[str]) -> None:
    modules = imported("loop_deck.cli:main", *args)
    assert not modules & HEAVY
    assert ours(modules) == {"loop_deck", "loop_deck.cli"}


def test_loop_deck_overview_builds_its_model_without_pydantic_plugin_discovery(tmp_path: Path) -> None:
    """`loop-deck --all --json` validates LoopOverview: pydantic is there, its plugin discovery is not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX", "PYDANTIC_"))}
    out, modules = run_cli("loop_deck.cli:main", "--all", "--json", "--roots", str(tmp_path), env=env)
    assert json.loads(out)["sessions"] == []
    assert "pydantic" in modules
    assert "importlib.metadata" not in modules


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["sync", "--help"], ["list-adapters", "--help"]])
def test_loop_pm(args: list[str]) -> None:
    """loop-pm lists its commands (the adapters' command groups too) from entry-point metadata: that
    listing is the one use of importlib.metadata; the jira group is loaded without its HTTP client."""
    modules = imported("loop_pm.cli:main", *args)
    assert not modules & (HEAVY - {"importlib.metadata"})
    if args != ["--help"]:  # only the group's own help lists the plugins' command groups
        assert not modules & NEVER_FOR_A_QUEUED_ONCE
    assert ours(modules) <= {
        "loop_pm",
        "loop_pm.cli",
        "loop_pm.entrycache",
        "loop_pm.plugins",
        "loop_pm_jira",
        "loop_pm_jira.cli",
        "loop_schemas",
        "loop_schemas._no_plugins",
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
        "loop_schemas._no_plugins",
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
        "loop_schemas._no_plugins",
        "loop_schemas._shared",
        "loop_schemas._shared.fsread",
        "loop_schemas.errors",
        "loop_schemas.fsread",
        "loop_schemas.redact",
    }


STAND_IN = (
    "import atexit, sys\n"
    "def said():\n"
    "    from loop_schemas._no_plugins import _StandIn\n"
    "    sys.stderr.write('\\nSTAND-IN %s\\n' % any(isinstance(f, _StandIn) for f in sys.meta_path))\n"
    "atexit.register(said)\n"
    "module, func = sys.argv.pop(1).split(':')\n"
    "sys.argv[0] = 'cli'\n"
    "getattr(__import__(module, fromlist=[func]), func)()\n"
)


@pytest.mark.parametrize(
    ("entry", "args", "env_extra", "code"),
    [
        # a usage error found after the arguments are parsed: the switch is in by then
        ("loop_engine.demo:run", [], {"LOOP_DEMO_WORK_S": "soon"}, 2),
        (
            "loop_engine.verify_cli:run",
            ["--worktree", "/nonexistent", "--base", "a", "--tip", "b", "--gate-timeout", "-1"],
            {},
            2,
        ),
        ("loop_pm_jira.cli:main", ["--help"], {}, 0),
        ("loop_schemas.__main__:main", ["--help"], {}, 0),
    ],
)
def test_the_other_python_commands_turn_pydantic_plugins_off(
    entry: str, args: list[str], env_extra: dict[str, str], code: int
) -> None:
    """loop-demo and loop-verify (once their arguments are parsed: --help stays light), loop-pm-jira and
    `python -m loop_schemas` (from their first line) serve pydantic's plugin loader by the stand-in
    (CONTRACT.md: pydantic plugins). loop-engine, loop-pm and loop-deck do it in their group's callback:
    the queued-once and deck-overview cases cover them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX", "PYDANTIC_"))}
    proc = subprocess.run(
        [sys.executable, "-c", STAND_IN, entry, *args],
        capture_output=True,
        text=True,
        env={**env, **env_extra},
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "STAND-IN True" in proc.stderr.splitlines(), proc.stderr[-2000:]


def test_python_m_loop_schemas_validates_without_pydantic_plugin_discovery(tmp_path: Path) -> None:
    """`python -m loop_schemas validate` builds a model: pydantic is there, its plugin discovery is not."""
    state = tmp_path / "orchestrator-state.json"
    state.write_text(json.dumps({"schema_version": 2, "loops": {}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX", "PYDANTIC_"))}
    out, modules = run_cli("loop_schemas.__main__:main", "validate", "--kind", "state", str(state), env=env)
    assert out.strip() == f"{state}: valid state"
    assert "pydantic" in modules
    assert "importlib.metadata" not in modules


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


# what a `once` with a harness brain must not load: pydantic's plugin discovery (importlib.metadata and the
# email/zipfile/csv it pulls), importlib.resources for the packaged header, the builtin brain, argparse,
# concurrent.futures and its logging (the substrate reads run side by side in basics.SideBySide), socket
NEVER_FOR_A_QUEUED_ONCE = {
    "importlib.metadata",
    "importlib.resources",
    "email",
    "zipfile",
    "csv",
    "argparse",
    "loop_engine.builtin",
    "concurrent.futures",
    "logging",
    "socket",
}


@pytest.mark.tmux
def test_a_queued_once_loads_no_pydantic_plugin_and_sets_nothing_its_children_see(
    live: Live, tmp_path: Path
) -> None:
    """A `once` that validates the whole cycle's files and queues a decision never imports importlib.metadata
    (pydantic's plugin discovery is off in our CLIs), and the brain it runs sees exactly the engine's
    environment plus the engine's own child token: no variable we set to turn the plugins off."""
    from loop_engine.brain import CHILD_TOKEN_ENV

    (live.root / "tasks").mkdir(exist_ok=True)
    (live.root / "tasks" / "T0001-add-the-health-endpoint.md").write_text(TASK)

    def implementation_lanes_idle() -> bool:
        report = live.json("loop-lane-status.sh", "--json", "--all", live.session)
        assert isinstance(report, dict)
        return all(report["lanes"][n]["status"] == "idle" for n in ("web", "infra", "w2"))

    retry_until(implementation_lanes_idle, timeout=30)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    brain = bin_dir / "claude"  # `claude -p PROMPT`: records the environment it got, prints a decision
    brain.write_text(f'#!/usr/bin/env bash\nenv -0 > "{tmp_path}/brain.env"\ncat <<"EOF"\n{DECISION}EOF\n')
    brain.chmod(0o755)
    env = {k: v for k, v in live.env.items() if k not in ("LOOP_SHELL_DIR", "PYDANTIC_DISABLE_PLUGINS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["LOOP_ENGINE_BRAIN_HARNESS"] = "claude"  # a harness run as a child (the default brain is built in)
    args = ("--project-root", str(live.root), "--session", live.session)
    out, modules = run_cli("loop_engine.cli:run", *args, "once", "--approval", "manual", "--json", env=env)
    assert json.loads(out)["outcome"] == "queued", out
    assert {"pydantic", "loop_schemas.decision", "loop_schemas.state"} <= modules  # it validated
    assert not modules & NEVER_FOR_A_QUEUED_ONCE
    seen = dict(
        entry.split("=", 1) for entry in (tmp_path / "brain.env").read_text().split("\0") if "=" in entry
    )
    bash_own = {"SHLVL", "PWD", "OLDPWD", "_"}  # what the recording bash script sets itself
    assert set(seen) - set(env) - bash_own == {CHILD_TOKEN_ENV}
    assert {k for k, v in env.items() if seen.get(k) != v} <= bash_own
    pending = json.loads(run_cli("loop_engine.cli:run", *args, "status", "--json", env=env)[0])["pending"]
    run_cli("loop_engine.cli:run", *args, "reject", pending["id"], env=env)
