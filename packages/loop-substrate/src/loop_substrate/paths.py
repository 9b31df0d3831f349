"""Where the bash substrate lives: bundled in the wheel, or the repository's shell/ in a checkout."""

from __future__ import annotations

import os

from loop_substrate.errors import SubstrateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

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


# pathlib (and the re, fnmatch and urllib.parse it imports) is loaded only where a Path is returned: the
# console scripts (cli.py) find their script as text and exec bash without it.


def _pure(path: str) -> str:
    """str(PurePosixPath(path)) without pathlib: repeated slashes and '.' parts dropped ('..' kept), a
    leading '//' (exactly two) kept, '.' for nothing."""
    root = ""
    if path.startswith("/"):
        root = "//" if path.startswith("//") and not path.startswith("///") else "/"
    return root + "/".join(part for part in path.split("/") if part and part != ".") or "."


def _join(folder: str, name: str) -> str:
    """str(PurePosixPath(folder) / name)."""
    if not folder:
        return _pure(name)
    return _pure(folder + name if folder.endswith("/") else f"{folder}/{name}")


def shell_root() -> str:
    """shell_dir() as text (what str(shell_dir()) is)."""
    override = os.environ.get("LOOP_SHELL_DIR")
    if override:
        return _pure(override)
    here = os.path.dirname(os.path.realpath(__file__))
    bundled = _join(here, "shell")
    if os.path.isfile(_join(bundled, "CONTRACT_VERSION")):
        return bundled
    parent = here
    while True:  # here.parents: every folder above, up to the root
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
        candidate = _join(parent, "shell")
        if os.path.isfile(_join(candidate, "CONTRACT_VERSION")) and os.path.isdir(_join(parent, "packages")):
            return candidate
    raise SubstrateError(
        ["loop-substrate"], None, "the bundled shell/ directory is missing; reinstall loop-substrate"
    )


def shell_dir() -> Path:
    """The shell/ directory the client runs: LOOP_SHELL_DIR, the wheel's bundle, or the checkout's shell/."""
    from pathlib import Path

    return Path(shell_root())


def script_file(name: str) -> str:
    """script_path(name) as text (what str(script_path(name)) is)."""
    root = shell_root()
    if "/" in name:
        path = _join(root, name)
        if os.path.isfile(path):
            return path
    else:
        for pattern in _CANDIDATES:
            path = _join(root, pattern.format(name=name))
            if os.path.isfile(path):
                return path
    raise SubstrateError([name], None, f"not found in {root} (an incomplete loop-substrate install?)")


def script_path(name: str) -> Path:
    """The installed path of a substrate CLI (`loop-dispatch`) or a lib script (`lib/harness-registry.sh`)."""
    from pathlib import Path

    return Path(script_file(name))


def contract_version() -> int:
    """The CONTRACT major version the bundled shell speaks."""
    from pathlib import Path

    path = Path(shell_root()) / "CONTRACT_VERSION"
    try:
        return int(path.read_text().strip().split(".")[0])
    except (OSError, ValueError):
        raise SubstrateError(["loop-substrate"], None, f"{path}: unreadable CONTRACT_VERSION") from None
