"""The ledger record of a worktree lane (contract-later §3, T0025): add-lane --worktree merges
loops.<window>.branch into the project's .loop/orchestrator-state.json; re-provision reuses the tree;
teardown keeps branch and row; two lanes provisioning at once both land; uv sync is best-effort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2", "LOOP_WORKTREE_SKIP_VENV": "1"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def project(shell_env) -> Path:
    """The session's project is a git repo with a commit (the worktrees branch from its HEAD)."""
    root = shell_env.cwd
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    (root / "README").write_text("hi\n")
    _git(root, "add", "README")
    _git(root, "commit", "-q", "-m", "init")
    return root


@pytest.fixture
def session(tmux_server, shell_env, project):
    shell_env.env.update(FAST)
    proc = shell_env.run("loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "monitor")
    assert proc.returncode == 0, proc.stderr
    return shell_env


def _add(env, window: str, *extra: str):
    return env.run(
        "loop-tmux.sh",
        "add-lane",
        "--session",
        "s",
        "--window",
        window,
        "--cmd",
        "sleep 300",
        "--worktree",
        *extra,
    )


def _ledger(project: Path) -> dict:
    return json.loads((project / ".loop" / "orchestrator-state.json").read_text())


@pytest.mark.tmux
def test_provision_creates_the_ledger_with_the_branch_row(session, project):
    assert not (project / ".loop" / "orchestrator-state.json").exists()
    proc = _add(session, "iso")
    assert proc.returncode == 0, proc.stderr
    assert _ledger(project) == {"schema_version": 2, "loops": {"iso": {"branch": "loop/s/iso"}}}


@pytest.mark.tmux
def test_provision_merges_the_branch_and_keeps_every_other_key(session, project):
    state = project / ".loop" / "orchestrator-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    before = {
        "schema_version": 2,
        "objective": "ship it ✓",
        "custom": {"kept": [1, 2]},
        "loops": {
            "auth": {"status": "implement", "name": "Auth", "commits": ["abc"]},
            "iso": {"status": "plan", "blast_radius": "low"},
        },
    }
    state.write_text(json.dumps(before))
    proc = _add(session, "iso")
    assert proc.returncode == 0, proc.stderr
    after = _ledger(project)
    assert after["objective"] == "ship it ✓" and after["custom"] == {"kept": [1, 2]}
    assert after["loops"]["auth"] == before["loops"]["auth"]
    assert after["loops"]["iso"] == {"status": "plan", "blast_radius": "low", "branch": "loop/s/iso"}
    from loop_schemas import load_state  # the engine's reader accepts what the shell wrote

    assert load_state(state).loops["iso"].branch == "loop/s/iso"


@pytest.mark.tmux
def test_a_corrupt_ledger_is_left_alone_and_the_lane_still_starts(session, project):
    state = project / ".loop" / "orchestrator-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("{not json")
    proc = _add(session, "iso")
    assert proc.returncode == 0, proc.stderr
    assert state.read_text() == "{not json"
    assert "not recorded in the ledger" in proc.stderr


@pytest.mark.tmux
def test_teardown_keeps_branch_and_row_and_reprovision_reuses_the_kept_tree(session, project, tmux_server):
    assert _add(session, "iso").returncode == 0
    wt = project / ".loop" / "worktrees" / "s" / "iso"
    (wt / "wip.txt").write_text("in flight\n")  # uncommitted: the drop keeps the tree
    drop = session.run("loop-tmux.sh", "drop-lane", "--session", "s", "--window", "iso")
    assert drop.returncode == 0, drop.stderr
    assert _ledger(project)["loops"]["iso"] == {"branch": "loop/s/iso"}
    assert "loop/s/iso" in _git(project, "branch", "--list", "loop/s/iso")
    again = _add(session, "iso")
    assert again.returncode == 0, again.stderr
    assert (wt / "wip.txt").read_text() == "in flight\n"  # the same tree, work intact
    path = tmux_server.out("display", "-p", "-t", "=s:iso", "#{pane_current_path}").strip()
    assert path == str(wt)
    assert _ledger(project)["loops"]["iso"] == {"branch": "loop/s/iso"}


@pytest.mark.tmux
def test_a_failed_add_into_a_kept_tree_never_removes_it(session, project):
    assert _add(session, "iso").returncode == 0
    wt = project / ".loop" / "worktrees" / "s" / "iso"
    (wt / "wip.txt").write_text("in flight\n")
    assert session.run("loop-tmux.sh", "drop-lane", "--session", "s", "--window", "iso").returncode == 0
    bad = session.run(
        "loop-tmux.sh",
        "add-lane",
        "--session",
        "s",
        "--window",
        "iso",
        "--cmd",
        "nosuch-binary-xyz",
        "--worktree",
    )
    assert bad.returncode == 1
    assert (wt / "wip.txt").read_text() == "in flight\n"


@pytest.mark.tmux
def test_a_path_that_is_not_the_lanes_worktree_is_refused(session, project):
    odd = project / ".loop" / "worktrees" / "s" / "iso"
    odd.mkdir(parents=True)
    proc = _add(session, "iso")
    assert proc.returncode == 1
    assert "is not a worktree on loop/s/iso" in proc.stderr


@pytest.mark.tmux
def test_uv_sync_runs_in_a_tree_with_a_pyproject_unless_skipped(session, project, tmp_path):
    (project / "pyproject.toml").write_text("[project]\nname='x'\nversion='0'\n")
    _git(project, "add", "pyproject.toml")
    _git(project, "commit", "-q", "-m", "py")
    fake = tmp_path / "uvbin"
    fake.mkdir()
    log = tmp_path / "uv.log"
    (fake / "uv").write_text(f'#!/bin/sh\necho "$PWD $*" >> {log}\n')
    (fake / "uv").chmod(0o755)
    session.prepend_path(fake)
    assert _add(session, "skipped").returncode == 0  # LOOP_WORKTREE_SKIP_VENV=1 (FAST)
    assert not log.exists()
    session.env.pop("LOOP_WORKTREE_SKIP_VENV")
    assert _add(session, "synced").returncode == 0
    assert log.read_text().split() == [
        str(project / ".loop" / "worktrees" / "s" / "synced"),
        "sync",
        "--quiet",
    ]
    (fake / "uv").write_text("#!/bin/sh\nexit 3\n")
    failed = _add(session, "failing")
    assert failed.returncode == 0 and "uv sync" in failed.stderr


def test_two_writers_at_once_both_land(tmp_path):
    """The read-modify-write holds the ledger's lock: 12 concurrent set-branch calls lose no row."""
    state = tmp_path / ".loop" / "orchestrator-state.json"

    def one(i: int) -> int:
        return subprocess.run(
            [
                sys.executable,
                str(LIB / "ledger.py"),
                "set-branch",
                f"--state-file={state}",
                f"--window=w{i}",
                f"--branch=loop/s/w{i}",
            ],
            capture_output=True,
            check=False,
        ).returncode

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert list(pool.map(one, range(12))) == [0] * 12
    loops = json.loads(state.read_text())["loops"]
    assert loops == {f"w{i}": {"branch": f"loop/s/w{i}"} for i in range(12)}


@pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="reads blocked flock waiters from /proc/locks")
def test_the_shell_writer_waits_for_the_engine_writers_lock(tmp_path):
    """While loop-schemas' lock on the ledger is held (as update_state holds it), the shell writer blocks
    on it (seen in /proc/locks), then merges into what the engine wrote."""
    from loop_schemas import atomic_write, file_lock

    state = tmp_path / "orchestrator-state.json"
    state.write_text(json.dumps({"schema_version": 2, "loops": {}}))
    argv = [sys.executable, str(LIB / "ledger.py"), "set-branch", "--state-file", str(state)]
    with file_lock(state):
        child = subprocess.Popen([*argv, "--window", "web", "--branch", "loop/s/web"])
        try:
            deadline = time.monotonic() + 30
            while not any(f" {child.pid} " in line and "->" in line for line in _locks()):
                assert child.poll() is None, "the shell writer finished without waiting for the lock"
                assert time.monotonic() < deadline, "the shell writer never waited for the lock"
                time.sleep(0.02)
            atomic_write(state, json.dumps({"schema_version": 2, "objective": "engine", "loops": {}}))
        except BaseException:
            child.kill()
            raise
    assert child.wait(timeout=30) == 0
    doc = json.loads(state.read_text())
    assert doc["objective"] == "engine" and doc["loops"]["web"] == {"branch": "loop/s/web"}


def _locks() -> list[str]:
    return Path("/proc/locks").read_text().splitlines()


@pytest.mark.parametrize(
    "text",
    ["[]", '{"schema_version": 1, "loops": {}}', '{"schema_version": 2, "loops": []}', "\xff"],
)
def test_a_ledger_that_is_not_v2_is_refused_in_one_line(tmp_path, text):
    state = tmp_path / "orchestrator-state.json"
    state.write_text(text, encoding="latin-1")
    proc = subprocess.run(
        [
            sys.executable,
            str(LIB / "ledger.py"),
            "set-branch",
            "--state-file",
            str(state),
            "--window",
            "w",
            "--branch",
            "b",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert state.read_text(encoding="latin-1") == text


def test_the_digest_shows_a_branch_only_row_as_no_status_not_a_bad_one():
    sys.path.insert(0, str(LIB))
    import digest

    rows = digest.loop_rows({"w": {"branch": "loop/s/w"}, "x": {"status": "weird"}})
    assert rows[0][:3] == ["w", "-", "loop/s/w"]
    assert rows[1][1] == "weird?"
