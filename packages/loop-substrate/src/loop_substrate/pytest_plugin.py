"""pytest plugin (entry point `pytest11`): fixtures for code that builds on the substrate.

- `loop_tmux_server`: a tmux server on its own socket (path in LOOP_TMUX_SOCKET for the test), killed after.
- `fake_substrate`: a FakeSubstrate with its environment applied, so Substrate calls hit recorders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from loop_substrate.testing import FakeSubstrate


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
