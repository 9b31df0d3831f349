"""Build hook: put the repository's shell/ (the single source of the bash substrate) into the wheel.

From a checkout shell/ is at ../../shell; from an sdist it sits beside this file. Tests and caches stay
out, except the fake agent TUI that the pytest plugin offers to the layers above.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SKIP_DIRS = {"tests", "__pycache__"}
# The one file of shell/tests the wheel carries: the fake agent TUI behind the `fake_agent` pytest fixture.
KEEP_FROM_TESTS = ("fake_agent.py",)


def shell_source(root: Path) -> Path:
    for candidate in (root / "shell", root.parent.parent / "shell"):
        if (candidate / "CONTRACT_VERSION").is_file():
            return candidate
    raise RuntimeError(f"shell/ not found beside {root} or at the repository root")


def shell_files(source: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out.extend(Path(dirpath) / name for name in sorted(filenames) if not name.endswith(".pyc"))
    out.extend(source / "tests" / name for name in KEEP_FROM_TESTS if (source / "tests" / name).is_file())
    return out


class ShellHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        source = shell_source(Path(self.root))
        prefix = "loop_substrate/shell" if self.target_name == "wheel" else "shell"
        for path in shell_files(source):
            build_data["force_include"][str(path)] = f"{prefix}/{path.relative_to(source).as_posix()}"
