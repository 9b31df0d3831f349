"""`… --json | head -c1`: a reader that goes away is not an error of ours. The JSON listings of lanes end
quietly (no traceback, no "Exception ignored" line), exit 0."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.tmux


@pytest.mark.parametrize(
    "argv",
    [
        ["loop-lane-status.sh", "--json", "--all", "cp"],
        ["loop-tmux.sh", "list-lanes", "--session", "cp", "--json"],
    ],
)
def test_a_json_listing_into_a_closed_pipe_is_quiet(tmux_server, shell_env, argv):
    boot = shell_env.run("loop-tmux.sh", "--session", "cp", "--no-attach", "--preset", "validation-only")
    assert boot.returncode == 0, boot.stderr
    assert shell_env.run(*argv).returncode == 0  # the listing itself works
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written
    try:
        proc = subprocess.run(
            ["bash", str(SHELL / argv[0]), *argv[1:]],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=shell_env.env,
            cwd=shell_env.cwd,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 0, err
