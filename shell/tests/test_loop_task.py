"""loop-task.sh: a human's done / drop / reopen moves the task file, logs it; refused from an AI lane."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

SHELL_DIR = Path(__file__).resolve().parents[1]
SCRIPT = SHELL_DIR / "scripts" / "loop-task.sh"

TASK = """---
id: {id}
title: "Ship: the {id} thing"
status: {status}
depends_on: []
scope: demo
---
## Objective
x
"""


def _project(shell_env, status: str = "review", tid: str = "T0007", archived: bool = False) -> Path:
    root = shell_env.cwd
    folder = root / "tasks" / ("archive" if archived else "")
    folder.mkdir(parents=True, exist_ok=True)
    (root / "ops-wiki").mkdir(exist_ok=True)
    log = root / "ops-wiki" / "log.md"
    if not log.exists():
        log.write_text("# log\n")
    path = folder / f"{tid}-thing.md"
    path.write_text(TASK.format(id=tid, status=status))
    return path


def _task(shell_env, *args: str):
    return shell_env.run("scripts/loop-task.sh", *args, as_human=True)


def _log(shell_env) -> list[str]:
    return [
        ln for ln in (shell_env.cwd / "ops-wiki" / "log.md").read_text().splitlines() if ln.startswith("## [")
    ]


@pytest.mark.parametrize("start", ["open", "in-progress", "review"])
def test_done_moves_to_the_archive_and_logs(shell_env, start):
    src = _project(shell_env, start)
    proc = _task(shell_env, "done", "T0007")
    assert proc.returncode == 0, proc.stderr
    dst = shell_env.cwd / "tasks" / "archive" / src.name
    assert not src.exists() and dst.is_file()
    text = dst.read_text()
    assert "\nstatus: done\n" in text and 'title: "Ship: the T0007 thing"' in text  # every other byte kept
    assert _log(shell_env)[-1].endswith("] task | T0007 done")
    assert f"{start} -> done" in proc.stdout


def test_drop_with_a_reason_then_reopen_as_open_json(shell_env):
    src = _project(shell_env, "open")
    proc = _task(shell_env, "drop", "7", "--reason", "not needed any more", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "dropped" and doc["from_status"] == "open" and doc["id"] == "T0007"
    assert doc["path"] == str(shell_env.cwd / "tasks" / "archive" / src.name)
    assert doc["log_line"].endswith("task | T0007 dropped (reason: not needed any more)")
    again = _task(shell_env, "--json", "reopen", "T0007")
    assert again.returncode == 0, again.stderr
    back = json.loads(again.stdout)
    assert back["status"] == "open" and back["path"] == str(src) and src.is_file()
    assert "\nstatus: open\n" in src.read_text()
    assert not (shell_env.cwd / "tasks" / "archive" / src.name).exists()
    assert [ln.split("| ")[1] for ln in _log(shell_env)] == [
        "T0007 dropped (reason: not needed any more)",
        "T0007 reopened",
    ]
    from loop_schemas.task import TaskChange

    TaskChange.model_validate(doc)
    TaskChange.model_validate(back)


def test_wrong_state_not_found_and_usage(shell_env):
    _project(shell_env, "done", archived=True)
    twice = _task(shell_env, "done", "T0007")
    assert twice.returncode == 1 and "already done" in twice.stderr and twice.stderr.count("\n") == 1
    _project(shell_env, "open", tid="T0008")
    assert "nothing to reopen" in _task(shell_env, "reopen", "8").stderr
    missing = _task(shell_env, "done", "T0099")
    assert missing.returncode == 1 and "no task T0099" in missing.stderr
    for args in (("done",), ("finish", "T0007"), ("done", "x9"), ("done", "T0007", "--bogus"), ()):
        proc = _task(shell_env, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    nodir = _task(shell_env, "done", "T0007", "--project-root", str(shell_env.cwd / "nope"))
    assert nodir.returncode == 1 and "project root not found" in nodir.stderr
    assert _log(shell_env) == []


def test_a_half_moved_task_is_finished_by_running_the_verb_again(shell_env):
    """A crash between the status write and the move leaves `status: done` in tasks/: done finishes it."""
    src = _project(shell_env, "done")
    proc = _task(shell_env, "done", "T0007")
    assert proc.returncode == 0, proc.stderr
    assert (shell_env.cwd / "tasks" / "archive" / src.name).is_file() and not src.exists()


def test_never_over_an_existing_archive_file(shell_env):
    src = _project(shell_env, "review")
    clash = shell_env.cwd / "tasks" / "archive" / src.name
    clash.parent.mkdir()
    clash.write_text("someone else's\n")
    proc = _task(shell_env, "done", "T0007")
    assert proc.returncode == 1 and "more than one file" in proc.stderr
    assert clash.read_text() == "someone else's\n" and "status: review" in src.read_text()


@pytest.mark.parametrize("verb", ["done", "drop", "reopen"])
def test_refused_under_an_ai_harness_process(shell_env, verb):
    """The ADR gate's check: an agent's process among the ancestors refuses every verb, nothing moves."""
    src = _project(shell_env, "done" if verb == "reopen" else "review", archived=verb == "reopen")
    before = src.read_text()
    inner = " ".join(shlex.quote(a) for a in ("bash", str(SCRIPT), verb, "T0007")) + "; exit $?"
    proc = subprocess.run(
        ["bash", "-c", f"exec -a claude bash -c {shlex.quote(inner)}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=shell_env.cwd,
        env=shell_env.env,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"loop-task: refusing '{verb}': an AI harness is among its ancestors")
    assert src.is_file() and src.read_text() == before
    assert _log(shell_env) == []


def test_help_and_version(shell_env):
    assert shell_env.run("scripts/loop-task.sh", "--help").stdout.startswith(
        "Usage: loop-task done|drop|reopen"
    )
    version = shell_env.run("scripts/loop-task.sh", "--version")
    assert version.returncode == 0 and version.stdout.startswith("loop-task, version ")
