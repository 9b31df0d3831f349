"""An exported CDPATH (with `.` in it) makes `cd DIR` print DIR and may jump elsewhere: every CLI must still
find its own lib/ when run by a relative path, and answer --help."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1]
REPO = SHELL.parent
CLIS = sorted(
    [p for p in SHELL.glob("*.sh")]
    + [p for p in (SHELL / "scripts").glob("*.sh")]
    + [p for p in (SHELL / "hooks").glob("*.sh")]
    + [
        SHELL / "bin" / "loop-restart",
        SHELL / "lib" / "lane-health.sh",
        SHELL / "lib" / "lane-config-resolver.sh",
    ]
)


@pytest.mark.parametrize("script", CLIS, ids=lambda p: str(p.relative_to(SHELL)))
def test_every_cli_runs_with_an_exported_cdpath(script: Path, tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    (decoy / "shell" / "lib").mkdir(parents=True)  # a CDPATH entry holding a same-named folder
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["CDPATH"] = f".:{decoy}"
    proc = subprocess.run(
        ["bash", str(script.relative_to(REPO)), "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage" in proc.stdout.lower(), proc.stdout
    assert "No such file" not in proc.stderr
