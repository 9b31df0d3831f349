"""Console entry points: each one execs the bundled bash script of the same name."""

from __future__ import annotations

import os
import sys

from loop_substrate.paths import script_file

# A console script starts python only to exec bash: it imports nothing heavy first (no shutil, pathlib or
# typing, each of which pulls in re, enum and collections), so a pip-installed CLI costs about one bare
# interpreter start more than the bash script itself.


def which(cmd: str) -> str | None:
    """shutil.which(cmd) for a bare command name on POSIX, without importing shutil: the first
    PATH entry (PATH unset: os.confstr("CS_PATH"), else os.defpath) where cmd exists, may be executed
    and is not a folder; each folder looked in once."""
    path = os.environ.get("PATH", None)
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen = set()
    for folder in os.fsdecode(path).split(os.pathsep):
        norm = os.path.normcase(folder)
        if norm in seen:
            continue
        seen.add(norm)
        name = os.path.join(folder, cmd)
        if os.path.exists(name) and os.access(name, os.F_OK | os.X_OK) and not os.path.isdir(name):
            return name
    return None


def exec_script(name: str, argv: list[str] | None = None) -> None:
    """Replace this process with `bash <bundled script> ARGS` (exit 1 with one line when it cannot)."""
    from loop_substrate.errors import SubstrateError

    args = sys.argv[1:] if argv is None else argv
    try:
        path = script_file(name)
    except SubstrateError as exc:
        print(f"{name}: {exc.stderr_line}", file=sys.stderr)
        raise SystemExit(1) from None
    bash = which("bash") or "/bin/bash"
    try:
        os.execv(bash, [bash, path, *args])  # noqa: S606 - argv, never a shell string
    except OSError as exc:
        print(f"{name}: cannot run bash ({exc.strerror})", file=sys.stderr)
        raise SystemExit(1) from None


def loop_tmux() -> None:
    exec_script("loop-tmux")


def loop_dispatch() -> None:
    exec_script("loop-dispatch")


def loop_digest() -> None:
    exec_script("loop-digest")


def loop_lane_status() -> None:
    exec_script("loop-lane-status")


def loop_adr() -> None:
    exec_script("loop-adr")


def loop_mail() -> None:
    exec_script("loop-mail")


def loop_init() -> None:
    exec_script("loop-init")


def loop_restart() -> None:
    exec_script("loop-restart")


def loop_checkpoint() -> None:
    exec_script("loop-checkpoint")


def loop_task_lint() -> None:
    exec_script("loop-task-lint")


def loop_wiki_pending() -> None:
    exec_script("loop-wiki-pending")


def loop_metrics() -> None:
    exec_script("loop-metrics")


def loop_wiki_lint() -> None:
    exec_script("loop-wiki-lint")


def loop_jira_sync() -> None:
    exec_script("loop-jira-sync")


def loop_lane_hook() -> None:
    exec_script("loop-lane-hook")


def loop_task() -> None:
    exec_script("loop-task")
