"""Lanes in git worktrees talk to the project they belong to (issue 15, item 12).

A `loop-tmux add-lane --worktree` lane works in <P>/.loop/worktrees/<s>/<w>. Before, `loop-mail send`
there wrote the worktree's own .loop/messages (the engine and the digest never saw it) and `loop-adr new`
filed the record on the lane's branch. loop-mail, loop-adr and loop-lane-hook now resolve the project
through one resolver (lib/worktree.py, `loop_main_root`)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHELL_DIR = TESTS.parent


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


retry_until = _load("_worktree_lanes_conftest", TESTS / "conftest.py").retry_until

FAST = {"FAKE_AGENT_WELCOME_S": "0", "FAKE_AGENT_BUSY_S": "0.2"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    (root / "README").write_text("hi\n")
    (root / ".gitignore").write_text(".loop/\n")
    _git(root, "add", "README", ".gitignore")
    _git(root, "commit", "-q", "-m", "init")
    (root / ".loop" / "messages").mkdir(parents=True)
    return root


def _lane_worktree(repo: Path, session: str = "s", window: str = "w") -> Path:
    wt = repo / ".loop" / "worktrees" / session / window
    wt.parent.mkdir(parents=True, exist_ok=True)
    _git(repo, "worktree", "add", "-q", "-b", f"loop/{session}/{window}", str(wt), "HEAD")
    return wt


def _messages(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.md")) if folder.is_dir() else []


def test_loop_mail_from_a_lane_worktree_lands_in_the_project_mailbox(shell_env, repo) -> None:
    """Fails on the old substrate: the message went to <worktree>/.loop/messages."""
    wt = _lane_worktree(repo)
    proc = shell_env.run(
        "scripts/loop-mail.sh", "send", "--from", "w", "--to", "coord", "--subject", "done T0001: x",
        "--body", "from the worktree", cwd=wt,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (name,) = _messages(repo / ".loop" / "messages")
    assert proc.stdout.strip() == str(repo / ".loop" / "messages" / name)
    assert not (wt / ".loop").exists()
    listed = shell_env.run("scripts/loop-mail.sh", "list", "--json", cwd=wt)
    assert [m["file"] for m in json.loads(listed.stdout)["pending"]] == [name]


def test_a_subdirectory_of_the_lane_worktree_maps_to_the_same_place_in_the_project(shell_env, repo) -> None:
    (repo / "app").mkdir()
    (repo / "app" / "keep").write_text("")
    _git(repo, "add", "app/keep")
    _git(repo, "commit", "-q", "-m", "app")
    (repo / "app" / ".loop" / "messages").mkdir(parents=True)
    wt = _lane_worktree(repo)
    proc = shell_env.run(
        "scripts/loop-mail.sh", "send", "--from", "w", "--to", "coord", "--subject", "hi", cwd=wt / "app"
    )
    assert proc.returncode == 0, proc.stderr
    assert len(_messages(repo / "app" / ".loop" / "messages")) == 1


def test_loop_adr_new_from_a_lane_worktree_files_in_the_project(shell_env, repo) -> None:
    """Fails on the old substrate: the record was written into the worktree (the lane's branch)."""
    wt = _lane_worktree(repo)
    proc = shell_env.run("loop-adr.sh", "new", "Pick the queue", cwd=wt)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (repo / "docs" / "adr").glob("0001-*.md")] == ["0001-pick-the-queue.md"]
    assert not (wt / "docs").exists()


def test_the_lane_hook_resolves_a_relative_hook_dir_in_the_project(shell_env, repo) -> None:
    """loop-lane-status, run in the project, reads a relative LOOP_LANE_HOOK_DIR there; the hook, run by a
    harness in the lane's worktree, writes there too (before: inside the worktree)."""
    wt = _lane_worktree(repo)
    env = {"TMUX_PANE": "%42", "TMUX": "/tmp/none,1,0", "LOOP_LANE_HOOK_DIR": ".loop/hooks"}
    proc = shell_env.run("hooks/loop-lane-hook.sh", "Stop", cwd=wt, env=env, input="{}")
    assert proc.returncode == 0, proc.stderr
    assert (repo / ".loop" / "hooks" / "pane-42.status").read_text().startswith("idle\t")
    assert not (wt / ".loop").exists()


def test_the_layout_alone_maps_a_lane_directory_without_git(shell_env, tmp_path) -> None:
    """No repository at all (git cannot answer): the .loop/worktrees/<s>/<w> layout names the project."""
    project = tmp_path / "plain"
    lane = project / ".loop" / "worktrees" / "s" / "w"
    lane.mkdir(parents=True)
    proc = shell_env.run(
        "scripts/loop-mail.sh", "send", "--from", "w", "--to", "coord", "--subject", "hi", cwd=lane
    )
    assert proc.returncode == 0, proc.stderr
    assert len(_messages(project / ".loop" / "messages")) == 1


def test_a_hand_made_worktree_maps_to_a_main_checkout_that_runs_the_loop(shell_env, repo, tmp_path) -> None:
    elsewhere = tmp_path / "web-tree"
    _git(repo, "worktree", "add", "-q", "-b", "web", str(elsewhere), "HEAD")
    proc = shell_env.run(
        "scripts/loop-mail.sh", "send", "--from", "web", "--to", "coord", "--subject", "hi", cwd=elsewhere
    )
    assert proc.returncode == 0, proc.stderr
    assert len(_messages(repo / ".loop" / "messages")) == 1 and not (elsewhere / ".loop").exists()


def test_a_worktree_that_runs_its_own_loop_keeps_its_mailbox(shell_env, repo, tmp_path) -> None:
    """A project booted inside a git worktree of some checkout is its own project: nothing moves."""
    own = tmp_path / "own-loop"
    _git(repo, "worktree", "add", "-q", "-b", "own", str(own), "HEAD")
    (own / ".loop").mkdir()
    proc = shell_env.run(
        "scripts/loop-mail.sh", "send", "--from", "web", "--to", "coord", "--subject", "hi", cwd=own
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(Path(".loop/messages") / _messages(own / ".loop" / "messages")[0])
    assert _messages(repo / ".loop" / "messages") == []


def test_a_main_checkout_is_unchanged(shell_env, repo) -> None:
    proc = shell_env.run(
        "scripts/loop-mail.sh", "send", "--from", "web", "--to", "coord", "--subject", "hi", cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(".loop/messages/")  # relative, as it always was


@pytest.mark.tmux
def test_mail_sent_in_a_real_worktree_lane_reaches_the_project(
    tmux_server, shell_env, fake_harnesses, repo
) -> None:
    """End to end on a real tmux server: `add-lane --worktree` runs its command in the lane's worktree, and
    the loop-mail it runs there lands in the project's mailbox."""
    shell_env.env.update(FAST)
    boot = shell_env.run(
        "loop-tmux.sh", "--session", "s", "--no-attach", "--preset", "monitor", "--project-root", str(repo)
    )
    assert boot.returncode == 0, boot.stderr
    mail = SHELL_DIR / "scripts" / "loop-mail.sh"
    cmd = f"bash {mail} send --from iso --to coord --subject 'done T0001: from the lane' --body ok; sleep 300"
    proc = shell_env.run(
        "loop-tmux.sh", "add-lane", "--session", "s", "--window", "iso", "--cmd", cmd, "--repo", str(repo),
        "--worktree",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    wt = repo / ".loop" / "worktrees" / "s" / "iso"
    assert wt.is_dir()
    (name,) = retry_until(lambda: _messages(repo / ".loop" / "messages"), timeout=20)  # type: ignore[misc]
    assert name.endswith("-iso-to-coord.md")
    assert not (wt / ".loop").exists()
