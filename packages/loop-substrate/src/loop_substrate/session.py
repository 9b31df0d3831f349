"""The tmux session this process runs in: a module of its own (no model, no pydantic), so a CLI finds its
default session without importing the client."""

from __future__ import annotations

import os
import shutil
import subprocess


def current_session(socket: str | None = None) -> str | None:
    """The tmux session this process runs in (None outside tmux)."""
    if not os.environ.get("TMUX"):
        return None
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    argv = [tmux, *(["-S", socket] if socket else []), "display-message", "-p", "#{session_name}"]
    pane = os.environ.get("TMUX_PANE")
    if pane:
        argv[len(argv) - 2 : len(argv) - 2] = ["-t", pane]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None
