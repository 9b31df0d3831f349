"""loop-deck for real: its wheel `uv tool install`ed into an empty tool dir, run in the coord pane of a live
session (fake agents, a recording `loop-engine` on PATH), read with capture-pane and driven with
send-keys. Shows the fleet, the loops and the pending decision; approving runs `loop-engine approve`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_session import REPO, SHELL, fake_bin, make_project, retry_until
from loop_substrate.pytest_plugin import start_hermetic_server

pytestmark = [pytest.mark.slow, pytest.mark.tmux]

SESSION = "deckl"
DECISION = "d-20261125-0007"
PENDING = {
    "contract_version": 1,
    "id": DECISION,
    "session": SESSION,
    "created_at": "2026-11-25T10:05:00Z",
    "approval_mode": "manual",
    "decision": {
        "version": 1,
        "critique": "web is idle and loop-1 waits on its canary",
        "actions": [
            {
                "kind": "dispatch",
                "lane": "web",
                "payload": "check the canary",
                "mode": "text",
                "rationale": "the canary decides loop-1",
            }
        ],
    },
    "gates": [{"gate_class": "safe", "reasons": [], "state": "queued"}],
}
ENGINE = """#!/usr/bin/env bash
# a stand-in loop-engine: records its argv, answers like the real one
printf '%s\\n' "$*" >> "{calls}"
for a in "$@"; do last=$a; done
case " $* " in
  *" approve "*) all="$*"; id=${all##* approve }; echo "approved ${id%% *}: 1 action(s) run, 0 failed" ;;
  *) echo ok ;;
esac
"""


@dataclass
class Deck:
    socket: str
    root: Path
    calls: Path
    tool_bin: Path

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=False)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", f"={SESSION}:coord").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", f"={SESSION}:coord", *keys)


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deck]:
    uv = shutil.which("uv")
    if shutil.which("tmux") is None or uv is None:
        pytest.skip("needs tmux and uv")
    base = tmp_path_factory.mktemp("deck")
    dist = base / "dist"
    for package in ("loop-schemas", "loop-substrate", "loop-deck"):
        subprocess.run(
            [uv, "build", "--package", package, "--wheel", "--out-dir", str(dist)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    tool_env = dict(os.environ, UV_TOOL_DIR=str(base / "tools"), UV_TOOL_BIN_DIR=str(base / "toolbin"))
    install = subprocess.run(
        [uv, "tool", "install", "--offline", "--find-links", str(dist), "loop-deck"],
        env=tool_env,
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:  # no cached dependencies: let uv fetch them
        install = subprocess.run(
            [uv, "tool", "install", "--find-links", str(dist), "loop-deck"],
            env=tool_env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert install.returncode == 0, install.stderr
    tool_bin = base / "toolbin"
    assert (tool_bin / "loop-deck").exists()
    root = base / "proj"
    root.mkdir()
    make_project(root)
    engine_dir = root / ".loop" / "sessions" / SESSION / "engine"
    engine_dir.mkdir(parents=True)
    (engine_dir / "pending-decision.json").write_text(json.dumps(PENDING))
    bindir = fake_bin(base)
    calls = base / "engine-calls"
    (bindir / "loop-engine").write_text(ENGINE.replace("{calls}", str(calls)))
    (bindir / "loop-engine").chmod(0o755)
    sockdir = Path(os.path.realpath("/tmp")) / f"ld-{os.getpid()}"
    sockdir.mkdir(exist_ok=True)
    socket = str(sockdir / "s")
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE", "VIRTUAL_ENV")}
    env.update(
        {
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(sockdir),
            "FAKE_AGENT_WELCOME_S": "0.2",
            "PATH": f"{bindir}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
    )
    # the deck must start at its final size: a resize racing its start-up can leave it painting 80 columns,
    # where the critique wraps. So the server exists first, with every new window 170x45.
    # (its pane shells also read none of this machine's rc files)
    start_hermetic_server(socket, base / "home", env)
    subprocess.run(["tmux", "-S", socket, "set-option", "-g", "default-size", "170x45"], env=env, check=True)
    coord = shlex.join([str(tool_bin / "loop-deck"), "--project-root", str(root), "--session", SESSION])
    boot = subprocess.run(
        [
            "bash",
            str(SHELL / "loop-tmux.sh"),
            "--project",
            SESSION,
            "--project-root",
            str(root),
            "--preset",
            "all-pi",
            "--coord-cmd",
            coord,
            "--no-attach",
        ],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    d = Deck(socket, root, calls, tool_bin)
    try:
        assert boot.returncode == 0, boot.stderr
        size = d.tmux("display-message", "-p", "-t", f"={SESSION}:coord", "#{window_width}x#{window_height}")
        assert size.stdout.strip() == "170x45", size
        yield d
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)


def shows_critique(screen: str, text: str) -> bool:
    """The decision panel shows the critique `text`: its words in order (a narrow panel wraps them, with
    other columns' text between)."""
    words = ["critique:", *text.split()]
    return re.search(r"[\s\S]*?".join(re.escape(w) for w in words), screen) is not None


def test_the_deck_shows_fleet_loops_and_the_pending_decision(deck: Deck) -> None:
    retry_until(lambda: "FLEET — " in deck.screen() and "infra" in deck.screen(), timeout=30)

    critique = PENDING["decision"]["critique"]  # type: ignore[index]

    seen: list[str] = [""]

    def ready() -> str:
        # capture-pane can catch the deck between two paints (a resize repaints the whole screen), so wait
        # for one whole frame holding the decision and its detail, then check everything on that frame
        text = seen[0] = deck.screen()
        whole = DECISION in text and "Verify checkout flow" in text and shows_critique(text, critique)
        return text if whole else ""

    try:
        screen = retry_until(ready, timeout=20)
    except pytest.fail.Exception:
        pytest.fail("no frame held the decision, its loop and its critique; the last frame was:\n" + seen[0])
    assert isinstance(screen, str)
    assert "coord (this deck)" in screen  # it knows it runs in the coord pane
    for lane in ("web", "infra", "docs"):
        assert lane in screen
    assert "Verify checkout flow" in screen and "canary" in screen
    assert "engine off — live dashboard" in screen  # loop-engine is installed, no daemon runs
    assert shows_critique(screen, "web is idle and loop-1 waits on its canary")


def test_approving_from_the_deck_runs_loop_engine_approve(deck: Deck) -> None:
    retry_until(lambda: DECISION in deck.screen(), timeout=30)
    deck.keys("y")
    retry_until(lambda: "Its queued actions run now" in deck.screen(), timeout=10)
    assert not deck.calls.exists()  # nothing runs before the confirmation
    deck.keys("y")
    retry_until(lambda: deck.calls.exists() and "approve" in deck.calls.read_text(), timeout=15)
    pending = deck.root / ".loop" / "sessions" / SESSION / "engine" / "pending-decision.json"
    digest = hashlib.sha256(pending.read_bytes()).hexdigest()  # what the confirmation showed
    assert deck.calls.read_text().splitlines() == [
        f"--project-root {deck.root} --session {SESSION} approve {DECISION} --expect-digest {digest}"
    ]
    retry_until(lambda: f"ok: approved {DECISION}" in deck.screen(), timeout=10)


def test_quitting_leaves_no_crash_log(deck: Deck) -> None:
    deck.keys("q")
    retry_until(lambda: "FLEET" not in deck.screen(), timeout=10)
    assert not (deck.root / ".loop" / "sessions" / SESSION / "deck-crash.log").exists()
