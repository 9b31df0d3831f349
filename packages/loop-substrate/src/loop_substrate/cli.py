"""Console entry points: each one execs the bundled bash script of the same name."""

from __future__ import annotations

import os
import shutil
import sys

from loop_substrate.errors import SubstrateError
from loop_substrate.paths import script_path


def exec_script(name: str, argv: list[str] | None = None) -> None:
    """Replace this process with `bash <bundled script> ARGS` (exit 1 with one line when it cannot)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        path = script_path(name)
    except SubstrateError as exc:
        print(f"{name}: {exc.stderr_line}", file=sys.stderr)
        raise SystemExit(1) from None
    bash = shutil.which("bash") or "/bin/bash"
    try:
        os.execv(bash, [bash, str(path), *args])  # noqa: S606 - argv, never a shell string
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
