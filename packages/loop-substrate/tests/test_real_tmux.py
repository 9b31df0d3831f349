"""The client against the real scripts on a private tmux server, with fake agents in the lanes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from loop_substrate import Substrate, SubstrateError, script_path
from loop_substrate.pytest_plugin import FakeAgentKit

pytestmark = pytest.mark.tmux


def _wait(predicate, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail("condition not met in time")


def test_boot_status_dispatch_capture(
    loop_tmux_server: str, fake_agent: FakeAgentKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_AGENT_WELCOME_S", "0.2")
    monkeypatch.setenv("FAKE_AGENT_BUSY_S", "0.2")
    monkeypatch.setenv("LOOP_DISPATCH_PASTE_DELAY", "0.1")
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(
        [
            "bash",
            str(script_path("loop-tmux")),
            "--project",
            "sub",
            "--project-root",
            str(root),
            "--preset",
            "all-pi",
            "--no-attach",
        ],
        check=True,
        capture_output=True,
    )
    sub = Substrate("sub", root)
    assert sub.socket == loop_tmux_server

    def web_idle() -> bool:
        return any(s.lane == "web" and s.status == "idle" for s in sub.lane_status())

    _wait(web_idle)
    statuses = {s.lane: s for s in sub.lane_status()}
    assert {"coord", "web", "infra", "docs"} <= set(statuses)
    assert statuses["web"].kind == "fixed" and statuses["web"].harness == "pi"
    prompt = fake_agent.tricky_prompt()
    sub.dispatch("web", prompt, wait_ready=20)
    _wait(lambda: fake_agent.submissions("pi"))
    assert fake_agent.submissions("pi")[0] == prompt.encode()
    _wait(lambda: "Done. (fake pi)" in sub.capture("web", 60))
    windows = {lane.window for lane in sub.list_lanes()}
    assert {"coord", "web", "infra", "validate", "ops", "docs"} <= windows

    sub.add_lane("w2", harness="pi", role="impl", wait_ready=20)
    assert any(lane.window == "w2" and lane.base is False for lane in sub.list_lanes())
    with pytest.raises(SubstrateError) as info:
        sub.drop_lane("web")
    assert info.value.returncode == 1 and "force" in info.value.stderr_line
    sub.drop_lane("w2")
    assert all(lane.window != "w2" for lane in sub.list_lanes())


def test_unknown_session_is_a_substrate_error(loop_tmux_server: str, tmp_path: Path) -> None:
    with pytest.raises(SubstrateError) as info:
        Substrate("nope", tmp_path).lane_status()
    assert info.value.returncode not in (0, None)
