"""loop-demo run from INSIDE tmux, with a real client: an outer isolated server A whose pane runs a real tmux
client attached to server B (the user's tmux); the demo is started in B's pane, as a user would.

- LOOP_TMUX_SOCKET unset (the demo boots on B, the client's own server): it switches that client to the
  demo, shows in the demo session how to go back, and going back (C-b L) ends the demo.
- LOOP_TMUX_SOCKET naming a third server C: it attaches in the foreground, nested, with the demo
  session's prefix set to C-a (B's is C-b), so C-a d detaches the demo and ends it — not B's client.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_session import retry_until
from loop_substrate.pytest_plugin import start_hermetic_server

pytestmark = [pytest.mark.slow, pytest.mark.tmux]

SESSION = "loop-demo"


@dataclass
class Nest:
    base: Path
    env: dict[str, str]

    def sock(self, name: str) -> str:
        return str(self.base / name)

    def tmux(self, server: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.sock(server), *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )

    def clients(self, server: str) -> list[str]:
        return self.tmux(server, "list-clients", "-F", "#{client_session}").stdout.split()

    def has_demo(self, server: str) -> bool:
        return self.tmux(server, "has-session", "-t", f"={SESSION}").returncode == 0

    def start_demo(self, root: Path, done: Path, extra_env: str = "") -> None:
        exe = Path(sys.executable).parent / "loop-demo"
        argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "loop_engine.demo"]
        cmd = shlex.join([*argv, "--auto", "--project-root", str(root)])
        # the pane keeps its last screen after the demo ends (read), so the test can look at it
        line = f"{extra_env} {cmd}; echo rc=$? > {shlex.quote(str(done))}; read -r _"
        self.tmux("B", "respawn-pane", "-k", "-t", "=user:0.0", line)

    def screen(self, server: str, target: str) -> str:
        return self.tmux(server, "capture-pane", "-p", "-J", "-S", "-200", "-t", target).stdout


@pytest.fixture
def nest() -> Iterator[Nest]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    base = Path(tempfile.mkdtemp(prefix="ldt-", dir="/tmp"))
    env = {
        k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE") and not k.startswith("LOOP_")
    }
    env.update(
        {
            "TMUX_TMPDIR": str(base),
            "LOOP_DEMO_WORK_S": "0.5",
            "LOOP_DISPATCH_PASTE_DELAY": "0.1",
            "TERM": "xterm-256color",
        }
    )
    n = Nest(base=base, env=env)
    try:
        for server in ("A", "B", "C"):
            start_hermetic_server(n.sock(server), base / f"home-{server}", env)
        n.tmux("B", "new-session", "-d", "-s", "user", "-x", "150", "-y", "40")
        # a real client of B, attached inside a pane of A (tmux refuses to nest while TMUX is set)
        attach = f"env -u TMUX tmux -S {shlex.quote(n.sock('B'))} attach -t =user"
        n.tmux("A", "new-session", "-d", "-s", "outer", "-x", "160", "-y", "45", attach)
        retry_until(lambda: n.clients("B") == ["user"], timeout=15)
        yield n
    finally:
        for root in base.glob("proj-*"):
            stop = ["stop", "--timeout", "10"]
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "loop_engine",
                    "--project-root",
                    str(root),
                    "--session",
                    SESSION,
                    *stop,
                ],
                capture_output=True,
                env=env,
                check=False,
            )
        for server in ("A", "B", "C"):
            n.tmux(server, "kill-server")
        shutil.rmtree(base, ignore_errors=True)


def test_inside_tmux_it_switches_your_client_and_going_back_ends_it(nest: Nest) -> None:
    done = nest.base / "done-1"
    nest.start_demo(nest.base / "proj-1", done)
    retry_until(lambda: nest.clients("B") == [SESSION], timeout=150)
    # the way out is shown where the human now is: the demo session's status line
    hint = nest.tmux("B", "show-options", "-v", "-t", f"={SESSION}:", "status-right").stdout
    assert "C-b L goes back to user and ends the demo" in hint
    left = nest.screen("B", "=user:0.0")
    assert "going back (C-b L) ends the demo" in left
    # the human presses C-b L in their (real) client
    nest.tmux("A", "send-keys", "-t", "=outer:0.0", "C-b", "L")
    retry_until(lambda: done.is_file() and done.read_text().strip(), timeout=90)
    assert done.read_text().strip() == "rc=0"
    assert nest.clients("B") == ["user"] and not nest.has_demo("B")
    after = nest.screen("B", "=user:0.0")
    assert f"stopped the engine daemon and session {SESSION}" in after
    assert f"rm -rf {nest.base / 'proj-1'}" in after


def test_inside_tmux_with_another_server_it_nests_with_its_own_prefix(nest: Nest) -> None:
    done = nest.base / "done-2"
    nest.start_demo(nest.base / "proj-2", done, f"LOOP_TMUX_SOCKET={shlex.quote(nest.sock('C'))}")
    retry_until(lambda: nest.clients("C") == [SESSION], timeout=150)
    assert nest.clients("B") == ["user"]  # the user's client stays where it was; the demo runs nested in it
    assert nest.tmux("C", "show-options", "-v", "-t", f"={SESSION}:", "prefix").stdout.strip() == "C-a"
    hint = nest.tmux("C", "show-options", "-v", "-t", f"={SESSION}:", "status-right").stdout
    assert "C-a d detaches and ends the demo" in hint
    # C-a d reaches the nested client (B's prefix is C-b, so B's client passes it through)
    nest.tmux("A", "send-keys", "-t", "=outer:0.0", "C-a", "d")
    retry_until(lambda: done.is_file() and done.read_text().strip(), timeout=90)
    assert done.read_text().strip() == "rc=0"
    assert not nest.has_demo("C") and nest.clients("B") == ["user"]
    assert f"rm -rf {nest.base / 'proj-2'}" in nest.screen("B", "=user:0.0")
