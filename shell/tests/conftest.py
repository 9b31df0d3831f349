"""Fixtures for the bash substrate's tests.

Scripts run with a PATH whose python3 is a bare venv (stdlib only), so a test proves the substrate
needs no Python packages. Tests that touch tmux get their own server socket, killed afterwards, and
never the user's server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SHELL_DIR = Path(__file__).resolve().parents[1]
# The stdlib helpers import their siblings by name (`import fsread`), as they do when run from
# shell/lib/; a test that loads one in-process finds them the same way, whatever ran before it.
if str(SHELL_DIR / "lib") not in sys.path:
    sys.path.insert(0, str(SHELL_DIR / "lib"))
TESTS_DIR = Path(__file__).resolve().parent
FAKE_AGENT = TESTS_DIR / "fake_agent.py"

# Every AI harness the registry knows; tests put a shim for each on PATH that runs the fake agent.
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


def retry_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> object:
    """Poll predicate until it returns something truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s (last value: {last!r})")


@pytest.fixture(scope="session")
def bare_python_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv bin/ whose python3 has the standard library only (no PyYAML, no pydantic).

    LOOP_TEST_PYTHON names the interpreter it is made from (default: the one running pytest), so the
    suite can prove the helpers on the oldest python3 the docs promise (e.g. a pyenv 3.8)."""
    root = tmp_path_factory.mktemp("barepy")
    base = os.environ.get("LOOP_TEST_PYTHON") or sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    return root / "venv" / "bin"


@pytest.fixture(scope="session")
def yaml_only_pythonpath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only PyYAML, for PYTHONPATH: the bare python3 plus PyYAML and nothing else."""
    import yaml

    root = tmp_path_factory.mktemp("yamlonly")
    src = Path(yaml.__file__).parent
    shutil.copytree(src, root / "yaml")
    return root


@dataclass
class ShellEnv:
    """The environment a script runs in: bare python3 first on PATH, a private HOME, no TMUX."""

    env: dict[str, str]
    home: Path
    cwd: Path
    extra_path: list[Path] = field(default_factory=list)

    def run(
        self,
        script: str,
        *args: str,
        input: str | bytes | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        check: bool = False,
        as_human: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run shell/<script> (e.g. 'loop-tmux.sh', 'scripts/loop-metrics.sh') and capture text output.

        as_human: run it outside the test runner's process ancestry (tests/detached.py), as a human's
        command at their own shell: a human-only command (loop-adr accept) refuses a caller that descends
        from an AI harness, and an agent may be the one running this suite."""
        path = SHELL_DIR / script
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        data = input.decode() if isinstance(input, bytes) else input
        detach = [sys.executable, str(TESTS_DIR / "detached.py")] if as_human else []
        return subprocess.run(
            [*detach, "bash", str(path), *args],
            input=data,
            capture_output=True,
            text=True,
            cwd=str(cwd or self.cwd),
            env=full_env,
            timeout=timeout,
            check=check,
        )

    def prepend_path(self, directory: Path) -> None:
        self.env["PATH"] = f"{directory}{os.pathsep}{self.env['PATH']}"


@pytest.fixture
def shell_env(tmp_path: Path, bare_python_dir: Path) -> ShellEnv:
    home = tmp_path / "home"
    home.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    env = {
        "PATH": f"{bare_python_dir}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
        "SHELL": "/bin/bash",
    }
    return ShellEnv(env=env, home=home, cwd=project)


@dataclass
class TmuxServer:
    """A private tmux server on its own socket. `.env` carries LOOP_TMUX_SOCKET for the scripts."""

    socket: str
    tmpdir: str
    env: dict[str, str] | None = None
    """shell_env's environment (the same dict): a server that raw tmux starts gets it, as loop-tmux's would.
    Its HOME is private and empty, so pane shells read none of this machine's rc files (a pyenv rehash lock
    left by a killed shell once stalled every `bash -i` for a minute)."""

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
            env=self.env,
        )

    def out(self, *args: str) -> str:
        return self.tmux(*args).stdout

    def capture(self, target: str, lines: int = 200) -> str:
        return self.out("capture-pane", "-p", "-J", "-t", target, "-S", f"-{lines}")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30, check=False
        )


@pytest.fixture
def tmux_server(shell_env: ShellEnv) -> Iterator[TmuxServer]:
    """A tmux server on an isolated socket; shell_env is pointed at it (LOOP_TMUX_SOCKET, TMUX_TMPDIR)."""
    tmpdir = tempfile.mkdtemp(prefix="lt-")  # short: unix socket paths are limited to ~100 bytes
    server = TmuxServer(socket=os.path.join(tmpdir, "sock"), tmpdir=tmpdir, env=shell_env.env)
    shell_env.env["LOOP_TMUX_SOCKET"] = server.socket
    shell_env.env["TMUX_TMPDIR"] = tmpdir
    shell_env.env.pop("TMUX", None)
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture
def fake_harnesses(shell_env: ShellEnv, tmp_path: Path) -> Path:
    """Put a shim for every AI harness name on PATH that runs the fake agent TUI playing that harness.

    Each fake agent appends the lines it receives to <returned dir>/received/<harness>.log.
    Behaviour is steered per test with FAKE_AGENT_* variables in shell_env.env (see fake_agent.py).
    """
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    received = tmp_path / "fakebin" / "received"
    received.mkdir()
    for name in AI_HARNESSES:
        shim = bindir / name
        shim.write_text(
            f'#!/usr/bin/env bash\nexec python3 "{FAKE_AGENT}" --play {name} --log-dir "{received}" "$@"\n'
        )
        shim.chmod(0o755)
    shell_env.prepend_path(bindir)
    return bindir
