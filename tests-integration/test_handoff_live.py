"""A lane handoff round trip on a real tmux server (contract-later §3), through the engine's real cycle
and the real substrate: a code-writer lane is added (auto-isolated into a worktree: another worker
code-writer is live), works, is dropped with a flush into its wiki page, is re-added with another
harness (the demo agent), the recovery brief arrives in its pane, and the demo agent's ack mail
(`re:handoff:<w>`) closes the handoff."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from live_session import SHELL, Live, retry_until
from loop_engine.config import EffectiveConfig
from loop_engine.cycle import Engine
from loop_engine.events import EventLog
from loop_engine.paths import EnginePaths
from loop_schemas import EngineConfig
from loop_schemas.handoff import HandoffEvent
from loop_substrate import Substrate

pytestmark = pytest.mark.tmux

WINDOW = "hw"
WORK = "parser step 3 of 5: tokens done, next the grammar"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def _decide(*actions: dict[str, Any]) -> str:
    block = yaml.safe_dump({"version": 1, "critique": "test", "actions": list(actions)}, sort_keys=False)
    return f"```decision\n{block}```\n"


def _status(live: Live, lane: str) -> str:
    proc = live.run("loop-lane-status.sh", "--json", live.session, lane, check=False)
    try:
        return str(json.loads(proc.stdout)["lanes"][lane]["status"])
    except (ValueError, KeyError):
        return ""


def test_handoff_round_trip(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in live.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LOOP_SHELL_DIR", str(SHELL))
    monkeypatch.setenv("LOOP_DEMO_WORK_S", "0.3")
    monkeypatch.setenv("LOOP_WORKTREE_SKIP_VENV", "1")
    root = live.root
    (root / ".gitignore").write_text(".loop/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "init")

    paths = EnginePaths(root, live.session)
    substrate = Substrate(live.session, root, socket=live.socket)
    events = EventLog(paths.events, live.session)

    def cycle(*actions: dict[str, Any]) -> None:
        answer = _decide(*actions) if actions else _decide({"kind": "stop", "rationale": "quiet"})
        engine = Engine(
            paths, substrate, EffectiveConfig(model=EngineConfig(), source=None), brain_fn=lambda _p: answer
        )
        result = engine.cycle(approval="full")
        # a stop while the demo agent still works is not obeyed (the defensive stop): the cycle did its part
        assert result.outcome in ("executed", "noop", "stop-suspected-idle-stall"), result

    def handoff_events(name: str) -> list[dict[str, Any]]:
        found = [e for e in events.read() if e["event"] == name]
        for e in found:
            HandoffEvent.model_validate(e)
        return found

    def screen() -> str:
        return subprocess.run(
            ["tmux", "-S", live.socket, "capture-pane", "-p", "-J", "-t", f"={live.session}:{WINDOW}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    # 1. a code-writer lane; w2 (pi, a worker) is live, so this one gets its own worktree
    cycle({"kind": "add_lane", "window": WINDOW, "harness": "claude", "rationale": "parser work"})
    tree = root / ".loop" / "worktrees" / live.session / WINDOW
    assert _git(tree, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"loop/{live.session}/{WINDOW}"
    ledger = json.loads((root / ".loop" / "orchestrator-state.json").read_text())
    assert ledger["loops"][WINDOW] == {"branch": f"loop/{live.session}/{WINDOW}"}
    assert ledger["loops"]["loop-1"]["status"] == "canary"  # the rest of the ledger is kept

    # 2. it works: a dispatch lands, and work in flight sits uncommitted in its tree
    retry_until(lambda: _status(live, WINDOW) == "idle", timeout=30)
    cycle({"kind": "dispatch", "lane": WINDOW, "payload": WORK, "rationale": "go"})
    (tree / "parser.py").write_text("# half done\n")
    retry_until(lambda: WORK[:40] in screen(), timeout=30)
    retry_until(lambda: _status(live, WINDOW) == "idle", timeout=30)

    # 3. dropped through the engine: the breadcrumb is flushed first, the tree (dirty) and the row kept
    cycle({"kind": "drop_lane", "window": WINDOW, "rationale": "swap the harness"})
    assert [e["harness"] for e in handoff_events("handoff-flush")] == ["claude"]
    page = (root / "ops-wiki" / "lanes" / f"{WINDOW}.md").read_text()
    lines = page.splitlines()
    assert "## Handoff state" in lines
    assert any(
        line.startswith("### [") and line.endswith(f"{WINDOW} handoff — claude (drop_lane flush)")
        for line in lines
    )
    assert any(line.startswith("    ") and WORK[:40] in line for line in lines)  # the pane tail, indented
    assert f"- working-tree: {tree} on branch loop/{live.session}/{WINDOW} (1 uncommitted change(s))" in lines
    assert (tree / "parser.py").read_text() == "# half done\n"
    windows = subprocess.run(
        ["tmux", "-S", live.socket, "list-windows", "-t", f"={live.session}:", "-F", "#{window_name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert WINDOW not in windows

    # 4. re-added with another harness: the predecessor's branch carries the same tree, the brief arrives
    cycle({"kind": "add_lane", "window": WINDOW, "harness": "demo", "rationale": "resume the parser"})
    rec = handoff_events("handoff-recovery")
    assert [(e["window"], e["worktree_carry"]) for e in rec] == [(WINDOW, True)]
    pane = subprocess.run(
        [
            "tmux",
            "-S",
            live.socket,
            "display",
            "-p",
            "-t",
            f"={live.session}:{WINDOW}",
            "#{pane_current_path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert pane == str(tree) and (tree / "parser.py").is_file()

    retry_until(lambda: f"Handoff: you take over lane `{WINDOW}`" in screen(), timeout=30)

    # 5. the demo agent acks by mail into the MAIN mailbox; the next cycle closes the handoff
    def ack() -> list[Path]:
        return [
            p
            for p in (root / ".loop" / "messages").glob(f"*-{WINDOW}-to-coord.md")
            if f"re:handoff:{WINDOW}" in p.read_text()
        ]

    mail = retry_until(ack, timeout=30)
    assert isinstance(mail, list)
    assert not (tree / ".loop").exists()  # nothing landed in the worktree's own .loop/
    cycle()
    acked = handoff_events("handoff-acked")
    assert [(e["window"], e["mail"]) for e in acked] == [(WINDOW, mail[0].name)]
    closed = (root / "ops-wiki" / "lanes" / f"{WINDOW}.md").read_text().splitlines()
    assert "## Handoff state" not in closed
    assert any(line.startswith("## Handoff state (acked ") for line in closed)
