"""pytest plugin (entry point `pytest11`): fixtures for code that builds on the substrate.

- `loop_tmux_server`: a tmux server on its own socket (path in LOOP_TMUX_SOCKET for the test), killed after;
  its panes' shells run with a private, empty HOME (see `start_hermetic_server`).
- `fake_substrate`: a FakeSubstrate with its environment applied, so Substrate calls hit recorders.
- `fake_agent`: harness shims on PATH that run the fake agent TUI (see FakeAgentKit).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loop_substrate.paths import shell_dir
from loop_substrate.testing import FakeSubstrate


def start_hermetic_server(socket: str, home: Path, env: dict[str, str] | None = None) -> None:
    """Start the tmux server on `socket` with HOME=`home` (created empty) and no tmux config.

    The panes' shells inherit the server's environment, so they read none of this machine's rc files: an
    rc that is slow or stuck (pyenv's rehash lock left behind by a killed shell makes every later
    `bash -i` wait a minute) cannot stall a lane's launch. The server stays up with no session
    (`exit-empty off`) until it is killed; `env` (default os.environ) is the rest of its environment."""
    home.mkdir(parents=True, exist_ok=True)
    server_env = {
        k: v for k, v in (os.environ if env is None else env).items() if k not in ("TMUX", "TMUX_PANE")
    }
    server_env["HOME"] = str(home)
    tmux = ["tmux", "-S", socket, "-f", "/dev/null"]
    for args in (["new-session", "-d", "-s", "_loop_boot"], ["set-option", "-s", "exit-empty", "off"]):
        subprocess.run([*tmux, *args], env=server_env, check=True, capture_output=True)
    subprocess.run(
        [*tmux, "kill-session", "-t", "=_loop_boot"], env=server_env, check=True, capture_output=True
    )


@pytest.fixture
def loop_tmux_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The socket path of a private tmux server; the server is killed when the test ends."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    # a short directory: tmux socket paths must fit in sun_path (~104 bytes)
    directory = tempfile.mkdtemp(prefix="lt-", dir="/tmp")
    socket = os.path.join(directory, "s")
    monkeypatch.setenv("LOOP_TMUX_SOCKET", socket)
    monkeypatch.setenv("TMUX_TMPDIR", directory)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    try:
        start_hermetic_server(socket, Path(directory) / "home")
        yield socket
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def fake_substrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSubstrate:
    fake = FakeSubstrate(tmp_path / "fake-substrate")
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    return fake


class FakeAgentKit:
    """The fake agent TUI (a stdlib program that plays any harness in a tmux pane) wired for a test.

    `bin` holds one shim per AI harness name running the fake agent; put it first on PATH (see `env`).
    Each agent records the exact bytes of every submission under `log_dir` (see `submissions`).
    """

    AI_HARNESSES = (
        "pi",
        "claude",
        "opencode",
        "codex",
        "cursor-agent",
        "hermes",
        "droid",
        "forge",
        "amp",
        "openclaw",
    )

    def __init__(self, root: Path) -> None:
        self.program = shell_dir() / "tests" / "fake_agent.py"
        if not self.program.is_file():
            pytest.skip("the fake agent is not bundled with this loop-substrate")
        self.bin = root  # the shims; their logs go to <root>/received
        self.log_dir = root / "received"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        python = shutil.which("python3") or "python3"
        for name in self.AI_HARNESSES:
            shim = self.bin / name
            shim.write_text(
                f'#!/usr/bin/env bash\nexec "{python}" "{self.program}" --play {name} '
                f'--log-dir "{self.log_dir}" "$@"\n'
            )
            shim.chmod(0o755)

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"}

    def submissions(self, harness: str) -> list[bytes]:
        """Every prompt the agent playing `harness` received, exactly as the bytes arrived."""
        module = _load_program(self.program)
        found: list[bytes] = module.read_submissions(self.log_dir, harness)
        return found

    def tricky_prompt(self) -> str:
        """4 KiB of quotes, $(…), backticks, tmux key names, tabs, unicode and newlines."""
        prompt: str = _load_program(self.program).tricky_prompt()
        return prompt


def _load_program(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("loop_substrate_fake_agent", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAgentKit:
    """Harness shims that run the fake agent TUI, first on PATH for this test."""
    kit = FakeAgentKit(tmp_path / "fake-agent")
    monkeypatch.setenv("PATH", kit.env["PATH"])
    return kit
