"""Start-up: `loop-engine --help`, `--version`, each command's `--help` and `status` import only what they
use. Each case runs a fresh interpreter with -X importtime and checks the set of modules it imported, so a
top-level import that drags in the cycle machinery, pydantic models, yaml or httpx fails here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# never on the path of --help or --version; status needs pydantic (the config) but none of the rest
HEAVY = {"pydantic", "yaml", "httpx", "textual", "rich", "libtmux", "importlib.metadata"}
NEVER_FOR_STATUS = {"httpx", "textual", "rich", "libtmux"}
CYCLE_MACHINERY = {
    "loop_engine.cycle",
    "loop_engine.observe",
    "loop_engine.brain",
    "loop_engine.ingest",
    "loop_engine.gate",
    "loop_engine.improve",
    "loop_engine.builtin",
    "loop_engine.asks",
    "loop_engine.tasks",
    "loop_engine.reports",
    "loop_substrate.client",
}
# what only a writer (temp files), an id maker (secrets), a digest or a child process needs: never a read
WRITERS_ONLY = {"tempfile", "shutil", "secrets", "hashlib", "subprocess"}
# the CLI's own modules on every path (`python -m loop_engine`; runpy runs __main__, not an import)
CLI_MODULES = {
    "loop_engine",
    "loop_engine.cli",
    "loop_engine.improve_cli",
    "loop_engine.paths",
}
# what `status` reads: the config, the state file's model, and the pending decision's views
STATUS_SCHEMAS = {
    "loop_schemas",
    "loop_schemas._atomic",
    "loop_schemas._frontmatter",
    "loop_schemas._shared",
    "loop_schemas._shared.atomic",
    "loop_schemas._shared.frontmatter",
    "loop_schemas._shared.fsread",
    "loop_schemas.errors",
    "loop_schemas.fsread",
    "loop_schemas.lane_config",
    # the CLI turns pydantic's plugin discovery off (loop_schemas/_no_plugins.py)
    "loop_schemas._no_plugins",
    # the list fields' default factory (loop_schemas/_factories.py)
    "loop_schemas._factories",
    # policy.py serves its moved names through loop_schemas/_moved.py
    "loop_schemas._moved",
    "loop_schemas.plain",
    # the engine config's harness_policy section (its model, and the cost/autonomy orders it checks)
    "loop_schemas.policy",
    "loop_schemas.redact",
    "loop_schemas.registry",
}


# runs the CLI as `python -m loop_engine` does, and at exit also lists sys.modules (an import that -X
# importtime does not report, e.g. through importlib.import_module, still counts)
RUN = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
    "sys.argv[0] = 'loop-engine'\n"
    "runpy.run_module('loop_engine', run_name='__main__', alter_sys=True)\n"
)


def imported(*args: str, cwd: Path | None = None) -> set[str]:
    """The modules `python -X importtime -m loop_engine ARGS` imports (it must exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOP_", "TMUX"))}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN, *args],
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
    assert listed, proc.stderr[-3000:]
    return timed | set(listed[-1])


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0].startswith("loop_")}


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_only_the_cli(args: list[str]) -> None:
    modules = imported(*args)
    assert not modules & HEAVY
    assert ours(modules) == CLI_MODULES


@pytest.mark.parametrize("command", ["status", "once", "watch", "approve", "improve", "config", "events"])
def test_a_commands_help_imports_only_the_cli_and_the_session_lookup(command: str) -> None:
    """The group looks for the current tmux session first (loop_substrate.session), then prints the help."""
    modules = imported(command, "--help")
    assert not modules & HEAVY
    assert ours(modules) == CLI_MODULES | {"loop_substrate", "loop_substrate.session"}


def test_status_imports_no_cycle_machinery(tmp_path: Path) -> None:
    (tmp_path / ".loop" / "messages").mkdir(parents=True)
    modules = imported("--session", "s", "status", cwd=tmp_path)
    assert not modules & NEVER_FOR_STATUS
    assert not modules & CYCLE_MACHINERY
    assert {m for m in modules if m.startswith("loop_schemas")} <= STATUS_SCHEMAS
    assert {m for m in modules if m.startswith("loop_engine")} <= CLI_MODULES | {
        "loop_engine.config",
        "loop_engine.events",
        "loop_engine.queue",
        "loop_engine.readcache",
        "loop_engine.store",
        "loop_engine.watch",
    }


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["config", "--json"]])
def test_status_and_config_read_an_unchanged_config_without_pydantic_or_yaml(
    tmp_path: Path, command: list[str]
) -> None:
    """The second run reads the verdicts the first one cached (.loop/cache/engine-reads.json)."""
    (tmp_path / ".loop" / "messages").mkdir(parents=True)
    (tmp_path / ".loop" / "orchestrator-state.json").write_text('{"schema_version": 2, "loops": {}}\n')
    (tmp_path / "lane-config.yaml").write_text("engine:\n  approval_mode: auto\n")
    old = time.time_ns() - 3600 * 10**9  # older than the cache's racy window
    for path in (tmp_path / "lane-config.yaml", tmp_path / ".loop" / "orchestrator-state.json", tmp_path):
        os.utime(path, ns=(old, old))
    first = imported("--session", "s", *command, cwd=tmp_path)
    assert {"pydantic", "yaml"} <= first
    again = imported("--session", "s", *command, cwd=tmp_path)
    assert not again & {"pydantic", "yaml", "pydantic_core"}
    if command[0] == "status":  # a read of an idle engine writes no file, makes no id, starts nothing
        assert not again & WRITERS_ONLY
    assert {m for m in again if m.startswith("loop_schemas")} <= STATUS_SCHEMAS - {
        "loop_schemas.lane_config",
        "loop_schemas.policy",
        "loop_schemas.registry",
        "loop_schemas._frontmatter",
    }


def test_the_approval_choices_are_the_cycles() -> None:
    from loop_engine import cli, cycle

    assert cli.APPROVALS == cycle.APPROVALS


# what one cycle's code loads on import (`once` and the daemon's cycles): the formats the cycle reads
# and writes, and nothing it never touches (the digest's and the metrics' models load in their readers;
# the pending decision's model where a decision is queued)
CYCLE_SCHEMAS = STATUS_SCHEMAS | {
    "loop_schemas.decision",
    "loop_schemas.fenced",
    "loop_schemas.lanes",
    "loop_schemas.mail",
    "loop_schemas.mailhead",
    "loop_schemas._shared.mail_index",
    "loop_schemas.snapshot",
    "loop_schemas.state",
    "loop_schemas.task",
}


def test_the_cycles_code_imports_only_the_formats_a_cycle_uses() -> None:
    code = (
        "import sys, loop_engine.cli, loop_engine.cycle, loop_engine.watch, loop_substrate.client\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    modules = set(proc.stdout.split())
    assert {m for m in modules if m.startswith("loop_schemas")} <= CYCLE_SCHEMAS
    assert not modules & NEVER_FOR_STATUS
    assert not modules & NEVER_FOR_THE_CYCLE
    assert not modules & NEVER_ON_IMPORT


# public patterns only a branch reads (a brain failure or quota notice, a task spec, a dispatch's task file,
# a loop's title): compiled on first use (loop_engine.lazyre), not when the cycle's code loads
BRANCH_PATTERNS = {
    "loop_engine.brain": [
        "TRANSIENT_RE",
        "LASTING_RE",
        "QUOTA_RE",
        "QUOTA_ANSWER_RE",
        "MODEL_UNAVAILABLE_RE",
    ],
    "loop_engine.handoff": ["SPEC_RE"],
    "loop_engine.loops_sync": ["SAFE_ID_RE"],
    "loop_engine.outage": ["RESETS_RE"],
    "loop_engine.tasks": ["TASK_ID_RE", "FRONTMATTER_ID_RE"],
}


def test_the_cycles_code_compiles_no_pattern_only_a_branch_reads() -> None:
    """Every re.compile while the cycle's code loads is recorded; the branch patterns are not among them,
    and each public name still is its compiled pattern. The substrate's client compiles none (its one
    pattern checks a harness name for a health probe)."""
    code = (
        "import importlib, re, sys\n"
        "seen = []\n"
        "real = re.compile\n"
        "def compile(pattern, flags=0):\n"
        "    seen.append((sys._getframe(1).f_globals.get('__name__'), pattern))\n"
        "    return real(pattern, flags)\n"
        "re.compile = compile\n"
        "import loop_engine.cli, loop_engine.cycle, loop_engine.watch, loop_engine.runs, loop_engine.queue\n"
        "import loop_substrate.client\n"
        "from loop_engine.lazyre import Lazy\n"
        "at_import = {pattern for _, pattern in seen}\n"
        "for module, pattern in seen:\n"
        "    if str(module).startswith('loop_substrate'):\n"
        "        print('compiled at import:', module, pattern)\n"
        "for name, attrs in eval(sys.argv[1]).items():\n"
        "    module = importlib.import_module(name)\n"
        "    for value in vars(module).values():\n"
        "        if isinstance(value, Lazy) and value.compiled:\n"
        "            print('compiled at import:', name, value.source)\n"
        "    for attr in attrs:\n"
        "        pattern = getattr(module, attr)\n"
        "        assert isinstance(pattern, re.Pattern), (name, attr)\n"
        "        assert getattr(module, attr) is pattern, (name, attr)\n"
        "        if pattern.pattern in at_import:\n"
        "            print('compiled at import:', name, attr)\n"
        "print('checked')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, repr(BRANCH_PATTERNS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["checked"], proc.stdout


def test_the_cycles_dataclasses_have_their_own_docstrings() -> None:
    """A dataclass without a docstring gets one made from inspect.signature of its class when it is
    created: that costs every run whose import creates it, so the cycle's own classes carry theirs."""
    code = (
        "import dataclasses, sys\n"
        "import loop_engine.cli, loop_engine.cycle, loop_engine.watch\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if not name.startswith(('loop_engine', 'loop_substrate')):\n"
        "        continue\n"
        "    for value in vars(module).values():\n"
        "        if not (isinstance(value, type) and value.__module__ == name):\n"
        "            continue\n"
        "        made = (value.__doc__ or '').startswith(value.__name__ + '(')\n"
        "        if dataclasses.is_dataclass(value) and made:\n"
        "            print(name, value.__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout == "", proc.stdout


def test_a_missing_attribute_of_a_module_with_lazy_patterns_is_an_attribute_error() -> None:
    from loop_engine import brain

    with pytest.raises(AttributeError, match="no attribute 'NO_SUCH_RE'"):
        _ = brain.NO_SUCH_RE


# the models of documents a cycle never validates, which its code must not load: the engine's status,
# event and result models, the events governance writes, the mail cache's and the messages' documents
NEVER_FOR_THE_CYCLE = {
    "loop_schemas.engine",
    "loop_schemas.governance_events",
    "loop_schemas.mail_files",
}


# what the cycle's code needs only on a path it may not take: the builtin brain (a harness brain runs
# without it), the task linter's command line (argparse); and what it does without: concurrent.futures
# and the logging it loads (basics.SideBySide), socket (the host's name is os.uname()'s), importlib's
# metadata and resources
NEVER_ON_IMPORT = {
    "loop_engine.builtin",
    # the PM sync (a project whose config names PM adapters) and the report reader (tasks the engine
    # dispatched): imported where those branches run
    "loop_engine.pm",
    "loop_engine.reports",
    "argparse",
    "concurrent.futures",
    "logging",
    "socket",
    "importlib.metadata",
    "importlib.resources",
    "zipfile",
    # YAML: a cycle reads its task files with the subset reader and the brain's answer loads it (the
    # engine reads an empty decision while its brain runs), so loading the cycle's code never does
    "yaml",
}


def test_queueing_a_decision_loads_the_pending_decisions_models_only(tmp_path: Path) -> None:
    """write_pending validates with loop_schemas.pending's two models, not the engine module's dozen."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from loop_engine import queue\n"
        "from loop_engine.paths import EnginePaths\n"
        "action = {'kind': 'dispatch', 'lane': 'lane00', 'payload': 'do it', 'rationale': 'why'}\n"
        "decision = {'version': 1, 'critique': 'c', 'actions': [action]}\n"
        "doc = {'id': 'd-1', 'session': 's', 'created_at': '2026-01-01T00:00:00Z',\n"
        "       'approval_mode': 'manual', 'decision': decision, 'gates': [{'gate_class': 'safe'}]}\n"
        "queue.write_pending(EnginePaths(Path(sys.argv[1]), 's'), doc)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stdout.split())
    assert "loop_schemas.pending" in modules
    assert not modules & NEVER_FOR_THE_CYCLE


TASK = "---\nid: T0001\ntitle: task 1\nstatus: open\ndepends_on: []\nscope: one thing\n---\n\n"


def test_task_files_inside_the_subset_are_read_without_yaml(tmp_path: Path) -> None:
    """A cycle reads tasks/ each time: a task file inside the frontmatter subset is read by the subset
    reader (YAML reads it the same), so yaml is not loaded; a task file outside it still is read by YAML."""
    from loop_schemas.task import REQUIRED_SECTIONS

    body = "".join(f"## {name}\n\ntext\n\n" for name in REQUIRED_SECTIONS)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "T0001-one.md").write_text(TASK + body)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from loop_engine.tasks import load_tasks\n"
        "tasks, problems = load_tasks(Path(sys.argv[1]))\n"
        "print(len(tasks), len(problems), 'yaml' in sys.modules)\n"
    )

    def run() -> str:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tasks)], capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split("\n")[0]

    assert run() == "1 0 False"
    # a null (YAML's None, the subset's "") is YAML's to read: the same task with `loop:` blank
    (tasks / "T0001-one.md").write_text(
        TASK.replace("scope: one thing\n", "scope: one thing\nloop:\n") + body
    )
    assert run() == "1 0 True"
