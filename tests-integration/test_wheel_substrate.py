"""loop-substrate installed ALONE in a fresh venv is a working substrate: every CLI, a boot, the client."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_session import REPO
from loop_substrate.pytest_plugin import start_hermetic_server

pytestmark = [pytest.mark.slow, pytest.mark.tmux]

CLIS = (
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


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    return uv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    uv = _uv()
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    for package in ("loop-schemas", "loop-substrate"):
        subprocess.run(
            [uv, "build", "--package", package, "--wheel", "--out-dir", str(dist)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    env_dir = base / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", "python3", str(env_dir)], check=True)
    wheel = next(dist.glob("loop_substrate-*.whl"))
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(env_dir / "bin" / "python"),
            "--find-links",
            str(dist),
            str(wheel),
        ],
        check=True,
    )
    yield env_dir


def _env(venv: Path, **extra: str) -> dict[str, str]:
    # only the venv and the system tools on PATH: no checkout, no workspace
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def test_only_the_wheel_is_installed(venv: Path) -> None:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list"], capture_output=True, text=True, check=False
    )
    names = proc.stdout.lower()
    assert "loop-engine" not in names and "loop-deck" not in names


@pytest.mark.parametrize("cli", CLIS)
def test_every_cli_answers_help(venv: Path, cli: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(venv / "bin" / cli), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(venv),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage" in proc.stdout.lower()


def test_boot_monitor_and_read_lane_status(venv: Path, tmp_path: Path) -> None:
    sockdir = tempfile.mkdtemp(prefix="lw-", dir="/tmp")
    socket = os.path.join(sockdir, "s")
    env = _env(venv, LOOP_TMUX_SOCKET=socket, TMUX_TMPDIR=sockdir)
    root = tmp_path / "proj"
    root.mkdir()
    try:
        start_hermetic_server(
            socket, tmp_path / "home", env
        )  # pane shells read none of this machine's rc files
        boot = subprocess.run(
            [
                str(venv / "bin" / "loop-tmux"),
                "--project",
                "wheelmon",
                "--project-root",
                str(root),
                "--preset",
                "monitor",
                "--no-attach",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert boot.returncode == 0, boot.stderr
        code = (
            "import sys; from pathlib import Path; from loop_substrate import Substrate\n"
            "lanes = Substrate('wheelmon', Path(sys.argv[1])).lane_status()\n"
            "print(' '.join(sorted(f'{l.lane}={l.status}' for l in lanes)))\n"
        )
        proc = subprocess.run(
            [str(venv / "bin" / "python"), "-c", code, str(root)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        found = dict(item.split("=") for item in proc.stdout.split())
        assert {"coord", "web"} <= set(found)
        assert all(
            v in ("working", "awaiting-approval", "idle", "errored", "unknown") for v in found.values()
        )
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)
