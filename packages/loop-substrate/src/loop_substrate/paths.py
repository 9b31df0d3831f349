"""Where the bash substrate lives: bundled in the wheel, or the repository's shell/ in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

from loop_substrate.errors import SubstrateError

# Every console script this distribution installs, each running the bundled script of the same name.
SCRIPT_NAMES: tuple[str, ...] = (
    "loop-tmux",
    "loop-dispatch",
    "loop-digest",
    "loop-lane-status",
    "loop-adr",
    "loop-mail",
    "loop-init",
    "loop-restart",
    "loop-checkpoint",
    "loop-task-lint",
    "loop-wiki-pending",
    "loop-metrics",
    "loop-wiki-lint",
    "loop-jira-sync",
    "loop-lane-hook",
    "loop-task",
)
_CANDIDATES = ("{name}.sh", "scripts/{name}.sh", "bin/{name}", "hooks/{name}.sh", "lib/{name}.sh")


def shell_dir() -> Path:
    """The shell/ directory the client runs: LOOP_SHELL_DIR, the wheel's bundle, or the checkout's shell/."""
    override = os.environ.get("LOOP_SHELL_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    bundled = here / "shell"
    if (bundled / "CONTRACT_VERSION").is_file():
        return bundled
    for parent in here.parents:
        candidate = parent / "shell"
        if (candidate / "CONTRACT_VERSION").is_file() and (parent / "packages").is_dir():
            return candidate
    raise SubstrateError(
        ["loop-substrate"], None, "the bundled shell/ directory is missing; reinstall loop-substrate"
    )


def script_path(name: str) -> Path:
    """The installed path of a substrate CLI (`loop-dispatch`) or a lib script (`lib/harness-registry.sh`)."""
    root = shell_dir()
    if "/" in name:
        path = root / name
        if path.is_file():
            return path
    else:
        for pattern in _CANDIDATES:
            path = root / pattern.format(name=name)
            if path.is_file():
                return path
    raise SubstrateError([name], None, f"not found in {root} (an incomplete loop-substrate install?)")


def contract_version() -> int:
    """The CONTRACT major version the bundled shell speaks."""
    path = shell_dir() / "CONTRACT_VERSION"
    try:
        return int(path.read_text().strip().split(".")[0])
    except (OSError, ValueError):
        raise SubstrateError(["loop-substrate"], None, f"{path}: unreadable CONTRACT_VERSION") from None
