"""What the benches share: the fake agent TUI (shell/tests/fake_agent.py) as a module, and a poll helper."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

FAKE_AGENT = Path(__file__).resolve().parents[1] / "shell" / "tests" / "fake_agent.py"


def fake_agent() -> Any:
    """shell/tests/fake_agent.py loaded as a module (spawn_window, tricky_prompt, read_submissions…)."""
    spec = importlib.util.spec_from_file_location("fake_agent_bench", FAKE_AGENT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(pred: Any, timeout: float = 20.0) -> bool:
    """Poll `pred` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False
