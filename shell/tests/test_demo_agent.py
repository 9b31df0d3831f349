"""The demo agent: a simulated harness that works on a prompt and reports back to coord by mail."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

SHELL_DIR = Path(__file__).resolve().parents[1]


def _conftest() -> Any:
    spec = importlib.util.spec_from_file_location("_demo_conftest", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_demo_conftest", module)
    spec.loader.exec_module(module)
    return module


retry_until = _conftest().retry_until
ShellEnv = Any
TmuxServer = Any

pytestmark = pytest.mark.tmux

TASK_PROMPT = """---
id: T0007
title: Wire the health probe
status: open
depends_on: []
scope: ops only
---
## Objective
Probe it.
"""


def _head(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text().split("---\n")[1])
    assert isinstance(data, dict)
    return data


def _pending(root: Path) -> list[Path]:
    return sorted((root / ".loop" / "messages").glob("*-to-coord*.md"))


def _boot(shell_env: ShellEnv, tmux_server: TmuxServer, root: Path) -> None:
    (root / ".loop" / "messages").mkdir(parents=True)
    agent = SHELL_DIR / "lib" / "demo_agent.py"
    tmux_server.tmux(
        "new-session",
        "-d",
        "-s",
        "demo",
        "-n",
        "web",
        "-x",
        "120",
        "-y",
        "40",
        "-c",
        str(root),
        f"python3 {agent} --work-s 0.3",
    )
    retry_until(lambda: "demo agent ready" in tmux_server.capture("=demo:web"))
    assert "a simulation" in tmux_server.capture("=demo:web")
    # its own process name: the registry tells it apart from any other python3 pane by this
    assert tmux_server.out("display", "-p", "-t", "=demo:web", "#{pane_current_command}").strip() == (
        "loop-demo-agent"
    )


def _send(shell_env: ShellEnv, text: str) -> None:
    proc = shell_env.run(
        "loop-dispatch.sh",
        "--window",
        "demo:web",
        "--mode",
        "text",
        "--",
        text,
        env={"LOOP_DISPATCH_PASTE_DELAY": "0.1"},
    )
    assert proc.returncode == 0, proc.stderr


def test_task_prompt_is_reported_done_for_review(
    shell_env: ShellEnv, tmux_server: TmuxServer, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    _boot(shell_env, tmux_server, root)
    _send(shell_env, TASK_PROMPT)
    messages = retry_until(lambda: _pending(root), timeout=15)
    assert isinstance(messages, list) and len(messages) == 1
    head = _head(messages[0])
    assert "-web-to-coord" in messages[0].name
    assert head["subject"] == "done T0007: Wire the health probe"
    assert head["task"] == "T0007"
    assert "simulation" in messages[0].read_text()


def test_ask_gets_a_re_reply(shell_env: ShellEnv, tmux_server: TmuxServer, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _boot(shell_env, tmux_server, root)
    _send(shell_env, "Status please. Reply by mail with subject re:ask-42 when you know.")
    messages = retry_until(lambda: _pending(root), timeout=15)
    assert isinstance(messages, list)
    assert _head(messages[0])["subject"] == "re:ask-42"


def test_an_ingest_nudge_is_ingested_and_acked_never_answered(
    shell_env: ShellEnv, tmux_server: TmuxServer, tmp_path: Path
) -> None:
    """The protocol, simulated: the pending mail is read, logged and acked into processed/ (it no longer
    stays "pending" forever); no reply mail (a reply would be new pending mail, another nudge, no end)."""
    root = tmp_path / "proj"
    (root / "ops-wiki").mkdir(parents=True)
    (root / "ops-wiki" / "log.md").write_text("# log\n")
    _boot(shell_env, tmux_server, root)
    waiting = root / ".loop" / "messages" / "20261125-100000-web-to-coord.md"
    waiting.write_text("---\nsubject: done T0001: a\n---\nbody\n")
    _send(shell_env, "Ingest: 1 pending message(s) in .loop/messages/. Run the ingest protocol.")
    processed = root / ".loop" / "messages" / "processed" / waiting.name
    retry_until(processed.is_file, timeout=15)
    retry_until(lambda: "1 acked into processed/" in tmux_server.capture("=demo:web"), timeout=5)
    assert _pending(root) == []  # acked, and no reply mail
    assert processed.read_text() == "---\nsubject: done T0001: a\n---\nbody\n"
    log = (root / "ops-wiki" / "log.md").read_text().splitlines()
    assert log[-1].startswith("## [")
    assert f"] ingest | 1 messages: {waiting.name} (simulated by the demo agent on web)" in log[-1]


def test_one_shot_build_refusals_are_one_line(tmp_path: Path) -> None:
    """--build outside a git worktree: one line from git's own reason and exit 1; without a brief: exit 2."""
    import subprocess

    agent = str(SHELL_DIR / "lib" / "demo_agent.py")
    (tmp_path / ".loop" / "messages").mkdir(parents=True)
    base = [sys.executable, agent, "--build", str(tmp_path), "--project-root", str(tmp_path)]
    env = {"PATH": "/usr/bin:/bin", "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    proc = subprocess.run([*base, TASK_PROMPT], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("demo_agent.py: git add: ")
    assert not _pending(tmp_path)  # no report of work that was not committed
    proc = subprocess.run(base, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr == "demo_agent.py: --build needs the brief as its last argument\n"
