"""loop-demo for real on a private tmux server: loop-init's project, demo agents in the lanes, the engine's
watch daemon, the deck in coord. `--auto --until-done` takes every seeded task to review and exits 0;
manual mode waits for a human, and --keep leaves the loop running for one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_session import retry_until
from loop_schemas import VerifyReport, parse_mail, parse_task
from loop_substrate.pytest_plugin import start_hermetic_server

pytestmark = [pytest.mark.slow, pytest.mark.tmux]

IDS = ["T0001", "T0002", "T0003", "T0004"]
SESSION = "loop-demo"


@dataclass
class Run:
    base: Path
    socket: str
    env: dict[str, str]

    @property
    def root(self) -> Path:
        return self.base / "proj"

    def demo(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).parent / "loop-demo"
        argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "loop_engine.demo"]
        return subprocess.run(
            [*argv, "--project-root", str(self.root), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def engine(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "loop_engine",
                "--project-root",
                str(self.root),
                "--session",
                SESSION,
                *args,
            ],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def has_session(self) -> bool:
        argv = ["tmux", "-S", self.socket, "has-session", "-t", f"={SESSION}"]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0

    def statuses(self) -> dict[str, str]:
        out = {}
        for path in sorted((self.root / "tasks").glob("T*.md")):
            fm = parse_task(path.read_text()).frontmatter
            out[fm.id] = fm.status.value
        return out

    def events(self) -> list[dict[str, object]]:
        path = self.root / ".loop" / "sessions" / SESSION / "engine" / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    sockdir = Path(os.path.realpath("/tmp")) / f"ldemo-{os.getpid()}-{tmp_path.name[-12:]}"
    sockdir.mkdir()
    socket = str(sockdir / "s")
    env = {
        k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE") and not k.startswith("LOOP_")
    }
    env.update(
        {
            "LOOP_TMUX_SOCKET": socket,
            "TMUX_TMPDIR": str(sockdir),
            "LOOP_DEMO_WORK_S": "0.5",
            "LOOP_DISPATCH_PASTE_DELAY": "0.1",
            "TERM": "xterm-256color",
        }
    )
    r = Run(base=tmp_path, socket=socket, env=env)
    try:
        start_hermetic_server(
            socket, tmp_path / "home", env
        )  # pane shells read none of this machine's rc files
        yield r
    finally:
        r.engine("stop", "--timeout", "10")
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(sockdir, ignore_errors=True)


def test_auto_takes_every_seeded_task_to_review_and_tears_down(run: Run) -> None:
    proc = run.demo("--auto", "--no-attach", "--until-done", "180")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "every seeded task is in review (4 of 4)" in proc.stdout
    for tid in IDS:
        assert f"loop-demo: {tid} review" in proc.stdout
    # the finish line is review: the engine never marks a task done
    assert run.statuses() == dict.fromkeys(IDS, "review")
    # each task was reported by the demo agent of the lane that held it, by mail to coord
    events = run.events()
    held = {str(e["task"]): str(e["lane"]) for e in events if e["event"] == "task-in-progress"}
    reviewed = {str(e["task"]): str(e["lane"]) for e in events if e["event"] == "task-review"}
    assert set(held) == set(IDS) and reviewed == held
    assert set(held.values()) <= {"web", "infra"}
    box = run.root / ".loop" / "messages"
    for tid, lane in reviewed.items():
        mails = [
            parse_mail(p.read_text()).frontmatter
            for p in [*box.glob(f"*-{lane}-to-coord*.md"), *box.glob(f"processed/*-{lane}-to-coord*.md")]
        ]
        assert any(m.task == tid and (m.subject or "").startswith(f"done {tid}: ") for m in mails), tid
    # dependencies were honoured: T0003 only after T0001 and T0002 were reported, T0004 after T0003
    order = [str(e["task"]) for e in events if e["event"] in ("task-in-progress", "task-review")]
    kinds = [str(e["event"]) for e in events if e["event"] in ("task-in-progress", "task-review")]
    seq = list(zip(kinds, order, strict=True))
    assert seq.index(("task-in-progress", "T0003")) > seq.index(("task-review", "T0001"))
    assert seq.index(("task-in-progress", "T0003")) > seq.index(("task-review", "T0002"))
    assert seq.index(("task-in-progress", "T0004")) > seq.index(("task-review", "T0003"))
    # the docs lane ingested the mail the engine nudged it about: read, logged and acked (not pending forever)
    assert list(box.glob("processed/*-to-coord*.md"))
    assert "(simulated by the demo agent on docs)" in (run.root / "ops-wiki" / "log.md").read_text()
    # torn down: no session, no daemon
    assert not run.has_session()
    status = json.loads(run.engine("status", "--json").stdout)
    assert status["daemon"]["running"] is False


def test_manual_mode_waits_for_a_human_and_keep_leaves_the_loop_running(run: Run) -> None:
    proc = run.demo("--no-attach", "--until-done", "3", "--keep")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("loop-demo: timed out after 3s: 0 of 4 tasks in review (T0001 open")
    assert "waits for approval" in lines[0]
    assert "--keep: left running" in proc.stdout
    assert run.has_session()
    status = json.loads(run.engine("status", "--json").stdout)
    assert status["daemon"]["running"] is True and status["approval_mode"] == "manual"
    pending = status["pending"]
    assert [a["lane"] for a in pending["decision"]["actions"]] == ["infra", "web"]
    assert run.statuses() == dict.fromkeys(IDS, "open")
    # the human approves: the first wave flows to the demo lanes and comes back for review
    approved = run.engine("approve", pending["id"])
    assert approved.returncode == 0, approved.stderr
    retry_until(lambda: run.statuses()["T0001"] == run.statuses()["T0002"] == "review", timeout=60)
    assert run.statuses()["T0003"] == "open"  # the next wave waits for the next approval
    retry_until(lambda: (json.loads(run.engine("status", "--json").stdout)["pending"] or {}).get("id"), 30)


def git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_verify_story_builds_verifies_and_proposes_the_merge_a_human_approves(run: Run) -> None:
    """--story verify: the built-in brain builds T0001 headless on the pane-less worktree lane (the demo
    agent's one-shot build: a real commit), loop-verify runs the gate (make check) and the three lenses
    (the demo reviewer through LOOP_VERIFY_CMD), and the merge is proposed; --until-done ends there. Then
    the human's approve merges the branch (a fast-forward, by the engine)."""
    proc = run.demo("--story", "verify", "--auto", "--no-attach", "--until-done", "180", "--keep")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    said = [line.split(" window ")[0] for line in proc.stdout.splitlines() if " window builder" in line]
    assert said == [
        "loop-demo: build-started",
        "loop-demo: build-done",
        "loop-demo: verify-started",
        "loop-demo: verify-passed",
    ]
    branch = f"loop/{SESSION}/builder"
    tip = git_out(run.root, "rev-parse", branch)
    base = git_out(run.root, "rev-parse", "main")
    assert git_out(run.root, "rev-list", "--count", f"{base}..{tip}") == "1"  # the demo agent's one commit
    assert git_out(run.root, "show", "--name-only", "--format=", tip).split() == [
        "demo_t0001.py",
        "test_demo_t0001.py",
    ]
    # the finish line: a pending decision holding the merge, which no cycle runs
    status = json.loads(run.engine("status", "--json").stdout)
    pending = status["pending"]
    assert [(a["kind"], a["lane"]) for a in pending["decision"]["actions"]] == [("merge", "builder")]
    assert f"decision {pending['id']}" in proc.stdout
    # the report: the gate ran make check in the worktree; the lenses answered; the diffstat is the change
    reports = list((run.root / ".loop" / "sessions" / SESSION / "verify").glob("builder-*.json"))
    assert len(reports) == 1 and f"verify report: {reports[0]} (overall concerns)" in proc.stdout
    report = VerifyReport.model_validate_json(reports[0].read_text())
    assert report.tip == tip and report.base == base
    assert (
        report.gate.passed and report.gate.command == "make check" and "Ran 1 test" in report.gate.output_tail
    )
    assert [(lens.lens, lens.verdict) for lens in report.lenses] == [
        ("code-review", "pass"),
        ("silent-failure", "pass"),
        ("adversarial", "concerns"),
    ]
    assert [(f.lens, f.severity) for f in report.findings] == [("adversarial", "low")]
    assert report.overall == "concerns"
    assert report.diffstat is not None and "2 files changed" in report.diffstat
    # the build's completion report moved T0001 to review (only a human marks it done)
    assert run.statuses() == {"T0001": "review"}
    # the build ran in the lane sandbox (engine.build.sandbox: auto) unless the engine said it could not:
    # sandboxed, the report came through the lane's mail drop folder
    unboxed = [e for e in run.events() if e["event"] == "build-unsandboxed"]
    assert (run.root / ".loop" / "mail-drop" / "builder").is_dir() != bool(unboxed)
    # the human approves the merge (the deck's y runs this): the engine fast-forwards main to the tip
    approved = run.engine("approve", pending["id"])
    assert approved.returncode == 0, approved.stderr
    assert git_out(run.root, "rev-parse", "main") == tip
    done = [e for e in run.events() if e["event"] == "merge-done"]
    assert [(e["lane"], e["how"], e["tip"]) for e in done] == [("builder", "fast-forward", tip)]


def test_verify_story_in_manual_mode_waits_for_the_human_to_approve_the_build(run: Run) -> None:
    proc = run.demo("--story", "verify", "--no-attach", "--until-done", "8")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "loop-demo: timed out after 8s before the merge was proposed (last drive event: none"
    )
    assert lines[0].endswith("(manual mode: approve it in the deck, or use --auto)")
    # torn down (no --keep), the proposal is on file: a headless build of T0001 on the pane-less lane
    assert not run.has_session()
    pending = json.loads(
        (run.root / ".loop" / "sessions" / SESSION / "engine" / "pending-decision.json").read_text()
    )
    [action] = pending["decision"]["actions"]
    assert (action["kind"], action["window"]) == ("build", "builder") and "id: T0001" in action["brief"]
