"""A live session on a private tmux server, played by fake agents: shared by the integration tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from loop_substrate.pytest_plugin import FakeAgentKit, start_hermetic_server

REPO = Path(__file__).resolve().parents[1]
SHELL = REPO / "shell"
SCHEMAS = REPO / "packages" / "loop-schemas" / "schemas"


def retry_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s (last value: {last!r})")


@dataclass
class Live:
    """A booted session: its name, project root, socket and the environment the scripts ran with."""

    session: str
    root: Path
    socket: str
    env: dict[str, str]

    def run(
        self, script: str, *args: str, check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        path = script if script.startswith("/") else str(SHELL / script)
        proc = subprocess.run(
            ["bash", path, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            input=input_text,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{script} {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def json(self, script: str, *args: str) -> object:
        return json.loads(self.run(script, *args).stdout)


def fake_bin(directory: Path) -> Path:
    """Shims that make every AI harness name run the fake agent TUI (loop-substrate's test kit)."""
    return FakeAgentKit(directory / "fakebin").bin


def make_project(root: Path) -> None:
    (root / ".loop" / "messages" / "processed").mkdir(parents=True)
    state = {
        "schema_version": 2,
        "updated_at": "2026-11-25T10:00:00Z",
        "objective": "ship the canary",
        "loops": {
            "loop-1": {
                "name": "Verify checkout flow",
                "status": "canary",
                "branch": "dev",
                "deployed_to": ["staging"],
                "canary_target": "test-target",
                "reconciliation_stance": "now",
                "artifacts": {"decision_record": "docs/adr/0001-queue.md"},
            }
        },
    }
    (root / ".loop" / "orchestrator-state.json").write_text(json.dumps(state))
    (root / ".loop" / "messages" / "20261125-100000-web-to-coord.md").write_text(
        "---\nsubject: Need staging token\n---\nbody\n"
    )
    (root / "docs" / "adr").mkdir(parents=True)
    (root / "docs" / "adr" / "0001-queue.md").write_text(
        "---\nstatus: Proposed\ndate: 2026-11-25\nverify_record:\nrollback:\n---\n# 1. Choose the queue\n"
    )
    (root / "ops-wiki").mkdir()
    (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n\n<!-- coord-decisions -->\n")
    (root / "ops-wiki" / "index.md").write_text("# index\n")
    (root / "ops-wiki" / "log.md").write_text("# log\n")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A session booted by loop-tmux (preset all-pi, fake agents) with one add-lane window."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    base = tmp_path_factory.mktemp("live")
    root = base / "proj"
    root.mkdir()
    make_project(root)
    sockdir = Path(os.path.realpath("/tmp")) / f"lc-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    sockdir.mkdir()
    socket = str(sockdir / "s")
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(
        {
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(sockdir),
            "FAKE_AGENT_WELCOME_S": "0.2",
            "FAKE_AGENT_BUSY_S": "0.3",
            "LOOP_DISPATCH_PASTE_DELAY": "0.1",
            "PATH": f"{fake_bin(base)}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    session = "contract"
    lv = Live(session=session, root=root, socket=socket, env=env)
    try:
        start_hermetic_server(socket, base / "home", env)  # pane shells read none of this machine's rc files
        lv.run(
            "loop-tmux.sh",
            "--project",
            session,
            "--project-root",
            str(root),
            "--preset",
            "all-pi",
            "--no-attach",
        )
        lv.run(
            "loop-tmux.sh",
            "add-lane",
            "--session",
            session,
            "--window",
            "w2",
            "--harness",
            "pi",
            "--role",
            "impl",
        )
        yield lv
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)
