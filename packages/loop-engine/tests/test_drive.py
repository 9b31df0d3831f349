"""The verify drive through the real cycle (contract-later §10), with stub verify and build runners.

A real git repository is the project (main), a worktree lane `w1` has its ledger branch loop/s/w1. The
stub `loop-verify` on PATH writes the report a plan file asks for (and can wait for a release file); the
stub build runner (engine.build.cmd) commits in the worktree and prints codex --json usage lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_fakes import Project, retry_until
from loop_engine import drive, runs
from loop_engine.brain import CHILD_TOKEN_ENV
from loop_engine.cycle import Engine
from loop_engine.gate import GateContext, gate_actions, runnable
from loop_schemas.drive import DriveEvent

STUB_VERIFY = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, time
    args = sys.argv[1:]
    out = args[args.index("--out") + 1]
    plan_file = os.environ["STUB_VERIFY_PLAN"]
    with open(plan_file + ".calls", "a") as fh:
        fh.write(json.dumps(args) + "\\n")
    plan = json.load(open(plan_file))
    while plan.get("wait_for") and not os.path.exists(plan["wait_for"]):
        time.sleep(0.05)
    report = {{
        "overall": plan["overall"],
        "gate": {{"passed": plan["gate"], "output_tail": ""}},
        "lenses": [],
        "findings": [{{"lens": "code-review", "severity": s, "title": "t", "detail": "d"}}
                     for s in plan.get("severities", [])],
    }}
    with open(out, "w") as fh:
        json.dump(report, fh)
    sys.exit(0 if plan["overall"] == "pass" else 1)
    """
)

STUB_BUILD = textwrap.dedent(
    """\
    import json, os, subprocess, sys, time
    worktree, brief = sys.argv[1], sys.argv[2]
    plan = json.load(open(os.environ["STUB_BUILD_PLAN"]))
    with open(os.environ["STUB_BUILD_PLAN"] + ".briefs", "a") as fh:
        fh.write(json.dumps(brief) + "\\n")
    while plan.get("wait_for") and not os.path.exists(plan["wait_for"]):
        time.sleep(0.05)
    print(json.dumps({"type": "thread.started", "model": "gpt-5-codex"}))
    if plan.get("commit", True):
        n = len(os.listdir(worktree))
        with open(os.path.join(worktree, "fix%d.txt" % n), "w") as fh:
            fh.write("fixed\\n")
        subprocess.run(["git", "-C", worktree, "add", "-A"], check=True)
        subprocess.run(["git", "-C", worktree, "commit", "-qm", "fix"], check=True)
    print(json.dumps({"type": "turn.completed",
                      "usage": {"input_tokens": 1000, "cached_input_tokens": 400, "output_tokens": 50}}))
    sys.exit(plan.get("exit", 0))
    """
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


class Drive:
    """The project as a git repo with one worktree lane, the stubs, and the plans that steer them."""

    def __init__(self, project: Project, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.project = project
        root = project.root
        for key, value in {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(tmp),
        }.items():
            monkeypatch.setenv(key, value)
        (root / ".gitignore").write_text(".loop/\n")
        (root / "README").write_text("hello\n")
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "init")
        self.tree = root / ".loop" / "worktrees" / "s" / "w1"
        git(root, "worktree", "add", "-q", "-b", "loop/s/w1", str(self.tree))
        state = root / ".loop" / "orchestrator-state.json"
        state.write_text(json.dumps({"schema_version": 2, "loops": {"w1": {"branch": "loop/s/w1"}}}))
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        verify = bin_dir / "loop-verify"
        verify.write_text(STUB_VERIFY.format(python=sys.executable))
        verify.chmod(0o755)
        self.build_script = tmp / "stub_build.py"
        self.build_script.write_text(STUB_BUILD)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        self.verify_plan = tmp / "verify-plan.json"
        self.build_plan = tmp / "build-plan.json"
        monkeypatch.setenv("STUB_VERIFY_PLAN", str(self.verify_plan))
        monkeypatch.setenv("STUB_BUILD_PLAN", str(self.build_plan))
        self.plan_verify("pass")
        self.plan_build()

    def plan_verify(
        self, overall: str, gate: bool = True, severities: tuple[str, ...] = (), wait_for: Path | None = None
    ) -> None:
        plan = {"overall": overall, "gate": gate, "severities": list(severities)}
        if wait_for is not None:
            plan["wait_for"] = str(wait_for)
        self.verify_plan.write_text(json.dumps(plan))

    def plan_build(self, commit: bool = True, exit_code: int = 0, wait_for: Path | None = None) -> None:
        plan: dict[str, Any] = {"commit": commit, "exit": exit_code}
        if wait_for is not None:
            plan["wait_for"] = str(wait_for)
        self.build_plan.write_text(json.dumps(plan))

    def commit_in_lane(self, name: str = "work.txt") -> str:
        (self.tree / name).write_text("work\n")
        git(self.tree, "add", "-A")
        git(self.tree, "commit", "-qm", f"work {name}")
        return git(self.tree, "rev-parse", "HEAD")

    def engine(self, **overrides: Any) -> Engine:
        # sandbox: false -- the stub runner lives under pytest's tmp_path (/tmp), which the build sandbox's
        # private /tmp hides (test_build_sandbox.py runs builds in the real sandbox)
        cfg: dict[str, Any] = {
            "build": {
                "cmd": [sys.executable, str(self.build_script), "{worktree}", "{brief}"],
                "sandbox": False,
            }
        }
        cfg.update(overrides)
        return self.project.engine(**cfg)

    def wait_runs(self) -> None:
        """Until every run in flight has its result (the next cycle reaps it)."""
        retry_until(lambda: all(Path(e["result"]).exists() for e in self.in_progress()), timeout=30)

    def in_progress(self) -> list[dict[str, Any]]:
        paths = self.project.paths
        return drive.running(paths, "verify") + drive.running(paths, "build")

    def names(self) -> list[str]:
        return [
            e["event"]
            for e in self.project.events()
            if e["event"].startswith(("verify-", "build-", "merge-", "fix-"))
        ]


@pytest.fixture
def dv(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Drive]:
    d = Drive(project, tmp_path, monkeypatch)
    yield d
    for entry in d.in_progress():  # a failed test leaves no run behind (only its own, proven by token)
        for pid in _token_pids(str(entry.get("token"))):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _decide(*actions: dict[str, Any]) -> str:
    block = yaml.safe_dump({"version": 1, "critique": "test", "actions": list(actions)}, sort_keys=False)
    return f"```decision\n{block}```\n"


def _valid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for e in events:
        DriveEvent.model_validate(e)
    return events


# ------------------------------------------------------------------ the whole drive, built-in brain


def _escalated(dv: Drive, engine: Any) -> dict[str, Any]:
    """The drive's escalation waits for a human in every mode (an escalate is never run by a cycle):
    it is queued, destructive; the human approves it, and only then is the `escalation` event recorded."""
    pending = json.loads(dv.project.paths.pending.read_text())
    kinds = [a["kind"] for a in pending["decision"]["actions"]]
    assert "escalate" in kinds, kinds
    i = kinds.index("escalate")
    assert pending["gates"][i]["gate_class"] == "destructive" and pending["gates"][i]["state"] == "queued"
    assert not dv.project.events("escalation")
    engine.approve(pending["id"])
    (escalation,) = dv.project.events("escalation")
    assert escalation["summary"] == pending["decision"]["actions"][i]["summary"]
    return dict(escalation)


def test_fail_then_fix_then_pass_then_merge_proposed_approved_and_fast_forwarded(dv: Drive) -> None:
    tip = dv.commit_in_lane()
    dv.plan_verify("fail", gate=False)
    engine = dv.engine(approval_mode="auto")

    engine.cycle()  # ready to verify -> verify (safe, runs detached)
    (started,) = dv.project.events("verify-started")
    assert started["tip"] == tip and started["base"] == "main"
    assert started["report"].startswith(str(dv.project.paths.session_dir / "verify" / "w1-"))
    dv.wait_runs()

    dv.plan_verify("pass")
    engine.cycle()  # reaps verify-failed -> builds a fix
    (failed,) = _valid(dv.project.events("verify-failed"))
    assert failed["gate_passed"] is False and failed["fix_rounds"] == 1
    assert dv.project.events("build-started")
    dv.wait_runs()
    brief = json.loads(dv.build_plan.with_suffix(".json.briefs").read_text().splitlines()[0])
    assert "never merge" in brief and failed["report"] in brief

    engine.cycle()  # reaps build-done -> the new tip is verified
    (done,) = _valid(dv.project.events("build-done"))
    assert done["head"] != done["pre_build_sha"]
    (usage,) = _valid(dv.project.events("build-usage"))
    assert usage["input_tokens"] == 1000 and usage["usage_source"] == "codex-json"
    assert len(dv.project.events("verify-started")) == 2
    dv.wait_runs()

    result = engine.cycle()  # reaps verify-passed -> merge proposed, queued for a human
    (passed,) = _valid(dv.project.events("verify-passed"))
    assert passed["fix_rounds"] == 0
    assert result.outcome == "queued"
    pending = json.loads(dv.project.paths.pending.read_text())
    (merge,) = pending["decision"]["actions"]
    assert merge["kind"] == "merge" and merge["lane"] == "w1"
    assert pending["gates"][0]["gate_class"] == "destructive"

    head = git(dv.tree, "rev-parse", "HEAD")
    engine.approve(pending["id"])
    (merged,) = _valid(dv.project.events("merge-done"))
    assert merged["how"] == "fast-forward" and merged["tip"] == head
    assert git(dv.project.root, "rev-parse", "main") == head
    # merged: nothing beyond the base, so no second merge proposal (the passed verify is history)
    assert [lane.state for lane in drive.lanes(dv.project.paths, "main")] == ["awaiting-build"]
    assert dv.names() == [
        "verify-started",
        "verify-failed",
        "build-started",
        "build-done",
        "build-usage",
        "verify-started",
        "verify-passed",
        "merge-done",
    ]


def test_a_merge_is_never_run_by_a_cycle_even_in_full_mode(dv: Drive) -> None:
    dv.commit_in_lane()
    engine = dv.engine(
        approval_mode="full", brain_fn=lambda _p: _decide({"kind": "merge", "lane": "w1", "rationale": "r"})
    )
    result = engine.cycle()
    assert result.outcome == "queued"
    assert not dv.project.events("merge-done") and not dv.project.events("merge-refused")
    assert not runnable("destructive", "full", "merge")


def test_an_approved_merge_of_an_unverified_tip_is_refused(dv: Drive) -> None:
    dv.commit_in_lane()
    engine = dv.engine(brain_fn=lambda _p: _decide({"kind": "merge", "lane": "w1", "rationale": "r"}))
    engine.cycle()
    pending = json.loads(dv.project.paths.pending.read_text())
    out = engine.approve(pending["id"])
    assert out["outcomes"][0]["state"] == "failed"
    (refused,) = _valid(dv.project.events("merge-refused"))
    assert refused["reason"] == "not-verified"
    assert git(dv.project.root, "rev-parse", "main") != git(dv.tree, "rev-parse", "HEAD")


def test_a_merge_into_a_dirty_main_checkout_is_refused_and_a_diverged_base_gets_a_merge_commit(
    dv: Drive,
) -> None:
    dv.commit_in_lane()
    verify = {"kind": "verify", "lane": "w1", "rationale": "r"}
    merge = {"kind": "merge", "lane": "w1", "rationale": "r"}
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(verify)).cycle()
    dv.wait_runs()
    engine = dv.engine(brain_fn=lambda _p: _decide(merge))
    engine.cycle()
    assert dv.project.events("verify-passed")
    # a human's edit of a file the branch changes too: the merge would touch it -> refused
    (dv.project.root / "work.txt").write_text("a human's draft\n")
    git(dv.project.root, "add", "-N", "work.txt")  # tracked (intent to add): no longer an untracked file
    pending = json.loads(dv.project.paths.pending.read_text())
    engine.approve(pending["id"])
    refused = dv.project.events("merge-refused")[-1]
    assert refused["reason"] == "main-dirty" and "work.txt" in refused["detail"]
    assert (dv.project.root / "work.txt").read_text() == "a human's draft\n"
    git(dv.project.root, "rm", "-q", "--cached", "work.txt")
    (dv.project.root / "work.txt").unlink()
    # staged work would ride along in a merge commit -> refused too
    (dv.project.root / "README").write_text("a human's edit\n")
    git(dv.project.root, "add", "README")
    engine.cycle()
    engine.approve(json.loads(dv.project.paths.pending.read_text())["id"])
    refused = dv.project.events("merge-refused")[-1]
    assert refused["reason"] == "main-dirty" and "staged" in refused["detail"]
    # main moves on (the human committed): the verified tip no longer contains main -> a merge commit,
    # and a modified file the branch does not touch (a task the engine moved, say) stays as it was
    git(dv.project.root, "commit", "-qm", "human work")
    (dv.project.root / "README").write_text("the human's next edit\n")
    engine.cycle()
    pending = json.loads(dv.project.paths.pending.read_text())
    engine.approve(pending["id"])
    (merged,) = dv.project.events("merge-done")
    assert merged["how"] == "merge-commit"
    assert git(dv.project.root, "rev-parse", "HEAD^2") == merged["tip"]
    assert (dv.project.root / "README").read_text() == "the human's next edit\n"


# ------------------------------------------------------------------ stale, cap


def test_a_stale_verify_escalates_a_rebase_and_never_proposes_a_merge(dv: Drive) -> None:
    dv.commit_in_lane()
    (dv.project.root / "other.txt").write_text("main moved\n")
    git(dv.project.root, "add", "other.txt")
    git(dv.project.root, "commit", "-qm", "main moves on")
    engine = dv.engine(approval_mode="auto")
    engine.cycle()
    dv.wait_runs()
    engine.cycle()
    (stale,) = _valid(dv.project.events("verify-stale"))
    assert "rebase" in stale["reason"]
    escalation = _escalated(dv, engine)
    assert "rebase" in escalation["summary"] and "w1" in escalation["summary"]
    assert not dv.project.paths.pending.exists()
    engine.cycle()  # answered once: the same state is not escalated again
    assert len(dv.project.events("escalation")) == 1 and not dv.project.paths.pending.exists()


def test_after_max_fix_rounds_a_proposed_build_becomes_an_escalation_and_a_pass_resets(dv: Drive) -> None:
    dv.commit_in_lane()
    dv.plan_verify("fail", severities=("high",))
    engine = dv.engine(approval_mode="auto", max_fix_rounds=1)
    engine.cycle()
    dv.wait_runs()
    engine.cycle()  # verify-failed (a high finding): 1 round; the builtin's build is capped
    (failed,) = dv.project.events("verify-failed")
    assert failed["blocking"] == 1 and failed["gate_passed"] is True
    (cap,) = _valid(dv.project.events("fix-round-cap"))
    assert cap["window"] == "w1" and cap["rounds"] == 1 and cap["max_fix_rounds"] == 1
    assert not dv.project.events("build-started")
    escalation = _escalated(dv, engine)
    assert "max_fix_rounds" in escalation["summary"]
    # a human commits a fix on the branch; it passes: the count resets and builds are no longer capped
    dv.plan_verify("pass")
    dv.commit_in_lane("human-fix.txt")
    engine.cycle()
    dv.wait_runs()
    engine.cycle()
    assert dv.project.events("verify-passed")[-1]["fix_rounds"] == 0
    pending = json.loads(dv.project.paths.pending.read_text())  # the builtin's merge proposal: not now
    engine.reject(pending["id"], "not yet")
    build = {"kind": "build", "window": "w1", "brief": "more work", "rationale": "r"}
    dv.engine(approval_mode="auto", max_fix_rounds=1, brain_fn=lambda _p: _decide(build)).cycle()
    assert len(dv.project.events("fix-round-cap")) == 1
    assert dv.project.events("build-started")


# ------------------------------------------------------------------ skips


def test_a_build_in_a_dirty_worktree_is_skipped(dv: Drive) -> None:
    (dv.tree / "scratch.txt").write_text("uncommitted\n")
    build = {"kind": "build", "window": "w1", "brief": "do it", "rationale": "r"}
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(build)).cycle()
    (skip,) = _valid(dv.project.events("build-skip"))
    assert skip["reason"] == "worktree-dirty"
    assert not dv.in_progress() and not dv.project.events("build-started")


def test_a_second_verify_or_build_while_one_runs_is_skipped_in_progress(dv: Drive, tmp_path: Path) -> None:
    dv.commit_in_lane()
    release = tmp_path / "release"
    dv.plan_verify("pass", wait_for=release)
    dv.plan_build(wait_for=release)
    verify = {"kind": "verify", "lane": "w1", "rationale": "r"}
    build = {"kind": "build", "window": "w1", "brief": "b", "rationale": "r"}
    for _ in range(2):
        dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(verify, build)).cycle()
    assert len(dv.project.events("verify-started")) == 1 and len(dv.project.events("build-started")) == 1
    skips = _valid(dv.project.events("verify-skip") + dv.project.events("build-skip"))
    assert sorted(s["reason"] for s in skips) == ["in-progress", "in-progress"]
    assert len(dv.in_progress()) == 2
    release.write_text("go\n")
    retry_until(
        lambda: (
            runs.finished_waiting(dv.project.paths)
            and all(Path(e["result"]).exists() for e in dv.in_progress())
        ),
        timeout=30,
    )
    dv.engine(brain_fn=lambda _p: _decide({"kind": "stop", "rationale": "r"})).cycle()
    assert not dv.in_progress()


def test_a_verify_of_a_branch_at_the_base_is_skipped(dv: Drive) -> None:
    verify = {"kind": "verify", "lane": "w1", "rationale": "r"}
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(verify)).cycle()
    (skip,) = dv.project.events("verify-skip")
    assert skip["reason"] == "at-base"


def test_a_verify_that_outlives_its_timeout_is_stopped_and_recorded(dv: Drive, tmp_path: Path) -> None:
    dv.commit_in_lane()
    dv.plan_verify("pass", wait_for=tmp_path / "never")
    verify = {"kind": "verify", "lane": "w1", "rationale": "r"}
    engine = dv.engine(approval_mode="auto", verify={"timeout_s": 0.5}, brain_fn=lambda _p: _decide(verify))
    engine.cycle()
    token = dv.in_progress()[0]["token"]
    dv.wait_runs()
    dv.engine(
        verify={"timeout_s": 0.5}, brain_fn=lambda _p: _decide({"kind": "stop", "rationale": "r"})
    ).cycle()
    (timeout,) = _valid(dv.project.events("verify-timeout"))
    assert timeout["window"] == "w1"
    retry_until(lambda: not _token_pids(token), timeout=10)


# ------------------------------------------------------------------ the prompt, the trigger, the gate


def test_the_prompt_has_the_verify_drive_section_with_each_lane_state(dv: Drive) -> None:
    dv.commit_in_lane()
    seen: list[str] = []

    def brain(prompt: str) -> str:
        seen.append(prompt)
        return _decide({"kind": "stop", "rationale": "r"})

    dv.engine(brain_fn=brain).cycle()
    assert "\n--- verify drive ---\nRule:" in seen[0] and "BEGIN DATA verify-drive" in seen[0]
    assert "w1 ready-to-verify branch loop/s/w1" in seen[0]
    assert "passed lane gets a `merge" in seen[0]


def test_no_verify_drive_section_without_worktree_lanes(project: Project) -> None:
    seen: list[str] = []
    project.engine(brain_fn=lambda p: seen.append(p) or _decide({"kind": "stop", "rationale": "r"})).cycle()
    assert "\n--- verify drive ---\nRule:" not in seen[0] and "BEGIN DATA verify-drive" not in seen[0]


def test_the_gate_blocks_drive_kinds_at_coord_a_bad_name_or_a_lane_without_a_ledger_branch() -> None:
    ctx = GateContext(lanes={}, ai_harnesses=frozenset(), ledger_branches=frozenset({"w1"}))
    actions = [
        {"kind": "verify", "lane": "w1", "rationale": "r"},
        {"kind": "build", "window": "w1", "brief": "b", "rationale": "r"},
        {"kind": "verify", "lane": "coord", "rationale": "r"},
        {"kind": "build", "window": "w2", "brief": "b", "rationale": "r"},
        {"kind": "verify", "lane": "w", "rationale": "r"},
        {"kind": "merge", "lane": "w1", "rationale": "r"},
        {"kind": "build", "window": "w1", "brief": "git push --force", "rationale": "r"},
    ]
    got = [v.gate for v in gate_actions(actions, ctx)]
    assert got == ["safe", "safe", "blocked", "blocked", "blocked", "destructive", "destructive"]
    assert "no ledger branch" in gate_actions([actions[3]], ctx)[0].reasons[0]


def test_drive_pending_says_when_a_run_ended(dv: Drive) -> None:
    dv.commit_in_lane()
    assert not runs.finished_waiting(dv.project.paths)
    verify = {"kind": "verify", "lane": "w1", "rationale": "r"}
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(verify)).cycle()
    retry_until(lambda: runs.finished_waiting(dv.project.paths), timeout=30)
    dv.engine(brain_fn=lambda _p: _decide({"kind": "stop", "rationale": "r"})).cycle()
    assert not runs.finished_waiting(dv.project.paths)


# ------------------------------------------------------------------ kill -9 of a real engine process

ENGINE_PROC = textwrap.dedent(
    """\
    import sys, time, yaml
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from engine_fakes import FakeSubstrate
    from loop_engine.config import EffectiveConfig
    from loop_engine.cycle import Engine
    from loop_engine.paths import EnginePaths
    from loop_schemas import EngineConfig
    root = Path({root!r})
    substrate = FakeSubstrate(project_root=root)
    action = {action!r}
    block = yaml.safe_dump({{"version": 1, "critique": "c", "actions": [action]}})
    cfg = EffectiveConfig(model=EngineConfig.model_validate({cfg!r}), source=None)
    answer = "```decision\\n" + block + "```\\n"
    engine = Engine(EnginePaths(root, "s"), substrate, cfg, brain_fn=lambda _p: answer)
    engine.cycle(approval="auto")
    print("started", flush=True)
    time.sleep(600)
    """
)


def _token_pids(token: str) -> list[int]:
    needle = f"{CHILD_TOKEN_ENV}={token}".encode()
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                env = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
                stat = Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if needle in env and stat[0] != "Z":
                out.append(int(name))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the run's processes")
@pytest.mark.parametrize("kind", ["verify", "build"])
def test_kill_9_of_the_engine_during_a_run_leaves_no_orphan_and_no_duplicate(
    dv: Drive, tmp_path: Path, kind: str
) -> None:
    dv.commit_in_lane()
    release = tmp_path / "release"
    dv.plan_verify("pass", wait_for=release)
    dv.plan_build(wait_for=release)
    action = (
        {"kind": "verify", "lane": "w1", "rationale": "r"}
        if kind == "verify"
        else {"kind": "build", "window": "w1", "brief": "b", "rationale": "r"}
    )
    # sandbox: false -- the stub runner under tmp_path is hidden by the sandbox's private /tmp
    # (see Drive.engine)
    stub = [sys.executable, str(dv.build_script), "{worktree}", "{brief}"]
    cfg = {"build": {"cmd": stub, "sandbox": False}}
    script = tmp_path / "engine_proc.py"
    script.write_text(
        ENGINE_PROC.format(
            tests=str(Path(__file__).parent), root=str(dv.project.root), action=action, cfg=cfg
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        (entry,) = drive.running(dv.project.paths, kind)
        assert entry["pid"] > 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    token = entry["token"]
    assert _token_pids(token)  # the run outlives the engine (detached on purpose) and stays tracked
    # a new engine, asked for the same run again: no second run
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(action)).cycle()
    assert len(dv.project.events(f"{kind}-started")) == 1
    assert dv.project.events(f"{kind}-skip")[-1]["reason"] == "in-progress"
    assert len(drive.running(dv.project.paths, kind)) == 1
    release.write_text("go\n")
    retry_until(lambda: runs.finished_waiting(dv.project.paths), timeout=30)
    dv.engine(brain_fn=lambda _p: _decide({"kind": "stop", "rationale": "r"})).cycle()
    outcome = "verify-passed" if kind == "verify" else "build-done"
    assert len(dv.project.events(outcome)) == 1
    assert not drive.running(dv.project.paths, kind)
    retry_until(lambda: not _token_pids(token), timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the run's processes")
def test_a_run_whose_wrapper_died_is_stopped_and_recorded_as_failed(dv: Drive, tmp_path: Path) -> None:
    dv.commit_in_lane()
    dv.plan_verify("pass", wait_for=tmp_path / "never")
    verify = {"kind": "verify", "lane": "w1", "rationale": "r"}
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(verify)).cycle()
    (entry,) = drive.running(dv.project.paths, "verify")
    retry_until(lambda: len(_token_pids(entry["token"])) >= 2, timeout=10)  # the wrapper and loop-verify
    os.kill(entry["pid"], signal.SIGKILL)  # the wrapper dies; the runner (its own group) lives on
    retry_until(lambda: runs.finished_waiting(dv.project.paths), timeout=10)
    dv.engine(brain_fn=lambda _p: _decide({"kind": "stop", "rationale": "r"})).cycle()
    (orphan,) = _valid(dv.project.events("run-orphan"))
    assert orphan["kind"] == "verify" and orphan["pids"]
    (failed,) = dv.project.events("verify-failed")
    assert "no readable report" in failed["reason"]
    assert not _token_pids(entry["token"])


def test_a_run_ending_triggers_a_drive_pending_cycle_of_the_watch_daemon(dv: Drive) -> None:
    import threading

    from loop_engine import watch
    from loop_engine.config import EffectiveConfig
    from loop_schemas import EngineConfig

    dv.commit_in_lane()
    verify = _decide({"kind": "verify", "lane": "w1", "rationale": "r"})
    answers = [verify]
    cfg = EffectiveConfig(
        model=EngineConfig.model_validate(
            {
                "poll_interval_s": 0.05,
                "checkpoint_interval_s": 3600,
                "min_cycle_interval_s": 0,
                "approval_mode": "auto",
            }
        )
    )

    def brain(_prompt: str) -> str:
        return answers.pop() if answers else _decide({"kind": "stop", "rationale": "r"})

    def factory(abort: Any) -> Engine:
        return Engine(dv.project.paths, dv.project.substrate, cfg, abort=abort, brain_fn=brain)

    daemon = watch.Daemon(dv.project.paths, factory)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        retry_until(lambda: dv.project.events("verify-passed"), timeout=30)
        starts = [e["trigger"] for e in dv.project.events("cycle-start")]
        assert "drive-pending" not in starts[0] and "drive-pending" in starts[-1]
    finally:
        daemon.stopping.set()
        thread.join(timeout=10)


def test_the_builtin_builds_a_ready_task_headless_then_verifies_then_proposes_the_merge(dv: Drive) -> None:
    """The demo's story with no AI CLI: a worktree lane with no pane gets the task as a build brief."""
    for lane in ("web", "infra"):  # no idle pane lane takes the task by dispatch
        dv.project.substrate.set(lane, "working", "pi", True)
    dv.project.task("T0001", "lexer")
    engine = dv.engine(approval_mode="auto")
    engine.cycle()
    (started,) = dv.project.events("build-started")
    assert started["window"] == "w1"
    assignments = json.loads(dv.project.paths.assignments.read_text())
    assert assignments["T0001"]["lane"] == "w1" and assignments["T0001"]["state"] == "in-progress"
    dv.wait_runs()
    brief = json.loads(dv.build_plan.with_suffix(".json.briefs").read_text().splitlines()[0])
    assert "id: T0001" in brief and brief.startswith("You build on the git worktree")
    engine.cycle()  # build-done -> verify
    dv.wait_runs()
    result = engine.cycle()  # verify-passed -> merge proposed
    assert result.outcome == "queued"
    pending = json.loads(dv.project.paths.pending.read_text())
    assert [a["kind"] for a in pending["decision"]["actions"]] == ["merge"]
    assert dv.names() == ["build-started", "build-done", "build-usage", "verify-started", "verify-passed"]


def test_a_lane_with_a_pane_gets_no_headless_build_and_a_failed_build_is_escalated(dv: Drive) -> None:
    dv.project.substrate.set("w1", "idle", "pi")
    dv.project.task("T0001", "lexer")
    dv.engine(approval_mode="auto").cycle()
    assert not dv.project.events("build-started")  # dispatched to the pane instead
    dv.project.substrate.lanes.pop("w1")
    dv.plan_build(commit=False)
    build = {"kind": "build", "window": "w1", "brief": "do it", "rationale": "r"}
    dv.engine(approval_mode="auto", brain_fn=lambda _p: _decide(build)).cycle()
    dv.wait_runs()
    engine = dv.engine(approval_mode="auto")
    engine.cycle()
    (failed,) = dv.project.events("build-failed")
    assert failed["reason"] == "the runner exited 0 but made no commit"
    escalation = _escalated(dv, engine)
    assert "build failed" in escalation["summary"]


# ------------------------------------------------------------------ units: argv, usage, price, config


def test_the_build_argv_keeps_the_brief_one_element_and_never_a_shell_string() -> None:
    brief = 'fix it; rm -rf / $(whoami) `id` "quoted"\nsecond line'
    tree = Path("/p/.loop/worktrees/s/w1")
    default = runs.build_argv(None, tree, brief)
    assert default[:6] == [
        "codex",
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "--cd",
        str(tree),
    ]
    assert default[6:] == [brief]
    assert runs.build_argv(["agent", "--in={worktree}"], tree, brief) == ["agent", f"--in={tree}", brief]
    assert runs.build_argv(["agent", "-p", "{brief}", "-C", "{worktree}"], tree, brief)[2] == brief
    from loop_schemas import EngineConfig
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        EngineConfig.model_validate({"build": {"cmd": "codex exec {brief}"}})
    with pytest.raises(ValidationError):
        EngineConfig.model_validate({"verify": {"base": "-main"}})


def test_codex_usage_sums_turns_or_reads_an_older_token_count_and_is_priced(tmp_path: Path) -> None:
    """A build's usage is counted and priced as a codex brain call's (loop_engine.usage: one truth)."""
    log = tmp_path / "codex.log"
    turn = {
        "type": "turn.completed",
        "usage": {
            "input_tokens": 1000,
            "cached_input_tokens": 200,
            "output_tokens": 10,
            "reasoning_output_tokens": 4,
        },
    }
    log.write_text(
        "not json\n"
        + json.dumps({"type": "thread.started", "model": "gpt-5-codex"})
        + "\n"
        + json.dumps(turn)
        + "\n"
        + json.dumps(turn)
        + "\n{broken\n"
    )
    usage = runs.codex_usage(log, {"input": 1.0, "cached": 0.1, "output": 10.0})
    assert usage is not None
    # reasoning is inside output_tokens: 20, not 28
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens, usage.total_tokens) == (
        2000,
        400,
        20,
        2020,
    )
    assert (usage.model, usage.usage_source, usage.cost_source) == ("gpt-5-codex", "codex-json", "computed")
    assert usage.cost_usd == pytest.approx((1600 * 1.0 + 400 * 0.1 + 20 * 10.0) / 1e6)
    unpriced = runs.codex_usage(log, {})
    assert unpriced is not None
    assert (unpriced.cost_source, unpriced.cost_usd, unpriced.total_tokens) == ("unpriced", None, 2020)
    old = tmp_path / "old.log"
    info = {"total_token_usage": {"input_tokens": 5, "cached_input_tokens": 0, "output_tokens": 7}}
    old.write_text(json.dumps({"id": "0", "msg": {"type": "token_count", "info": info}}) + "\n")
    older = runs.codex_usage(old, None)
    assert older is not None
    assert (older.input_tokens, older.output_tokens, older.total_tokens, older.model) == (5, 7, 12, None)
    (tmp_path / "none.log").write_text("plain text\n")
    assert runs.codex_usage(tmp_path / "none.log", None) is None
    assert runs.codex_usage(tmp_path / "missing.log", None) is None


# ------------------------------------------------------------------ the build sandbox (real bwrap)

STUB_BOXED_BUILD = textwrap.dedent(
    """\
    import subprocess, sys
    worktree, targets = sys.argv[1], sys.argv[2:-1]
    for target in targets:  # writes the sandbox must refuse (or keep off the host)
        try:
            with open(target, "w") as fh:
                fh.write("written by the build\\n")
            print("wrote", target)
        except OSError as exc:
            print("refused", target, exc.strerror)
    with open(worktree + "/built.txt", "w") as fh:
        fh.write("built\\n")
    subprocess.run(["git", "-C", worktree, "add", "built.txt"], check=True)
    subprocess.run(["git", "-C", worktree, "commit", "-qm", "built in the sandbox"], check=True)
    """
)


def _need_bwrap() -> None:
    """Skip where bwrap cannot run (not Linux, not installed, no user namespaces); under CI=true on Linux
    fail instead, as tests-integration/test_sandbox.py does (CI installs bubblewrap)."""
    why = runs.sandbox_unusable()
    if not why:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and sys.platform.startswith("linux"):
        pytest.fail(f"CI on Linux must run the build sandbox tests: {why}")
    pytest.skip(why)


def _no_bwrap_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH holding git and nothing else: no bwrap to find."""
    bin_dir = tmp_path / "bin-no-bwrap"
    bin_dir.mkdir()
    git_bin = shutil.which("git")
    assert git_bin is not None
    (bin_dir / "git").symlink_to(git_bin)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("LOOP_SANDBOX_BWRAP", raising=False)


@pytest.mark.parametrize("sandbox", [None, True], ids=["auto", "true"])
def test_a_build_runs_in_the_lane_sandbox_commits_and_cannot_write_the_gates_or_home(
    dv: Drive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: bool | None
) -> None:
    _need_bwrap()
    root = dv.project.root
    host_home = tmp_path / "host-home"
    host_home.mkdir()
    monkeypatch.setenv("HOME", str(host_home))
    for folder in (root / "tasks", root / "docs" / "adr", dv.tree / "tasks"):
        folder.mkdir(parents=True, exist_ok=True)
    task = root / "tasks" / "T0001-first.md"
    task.write_text("---\nid: T0001\nstatus: todo\n---\n")
    targets = [
        task,  # the main checkout's task file
        root / "docs" / "adr" / "0001-new.md",  # a new ADR in the main checkout
        dv.tree / "tasks" / "T0002-new.md",  # the worktree's own tasks/ (a gate inside the tree too)
        host_home / "pwned.txt",  # the host's $HOME
        root / "outside.txt",  # the main checkout, outside the worktree (not mounted)
    ]
    # the stub inside the worktree's .loop/ (ignored, readable in the sandbox): tmp_path's /tmp is
    # private there
    stub = dv.tree / ".loop" / "stub_boxed_build.py"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text(STUB_BOXED_BUILD)
    pre = git(dv.tree, "rev-parse", "HEAD")
    build = {"kind": "build", "window": "w1", "brief": "build it", "rationale": "r"}
    argv = [sys.executable, str(stub), "{worktree}", *map(str, targets), "{brief}"]
    cfg = {"cmd": argv, "sandbox": sandbox}
    engine = dv.engine(approval_mode="auto", build=cfg, brain_fn=lambda _p: _decide(build))
    engine.cycle()
    assert not dv.project.events("build-unsandboxed") and not dv.project.events("build-skip")
    dv.wait_runs()
    engine.cycle()
    log = Path(dv.project.events("build-started")[0]["log"]).read_text()
    (done,) = _valid(dv.project.events("build-done"))
    assert done["head"] != pre and git(dv.tree, "log", "-1", "--format=%s") == "built in the sandbox"
    for target in targets[:3]:  # the gates: not there, or read-only (home and the rest land in a tmpfs)
        assert f"refused {target} " in log, log
    assert task.read_text() == "---\nid: T0001\nstatus: todo\n---\n"
    assert not (root / "docs" / "adr" / "0001-new.md").exists()
    assert not (dv.tree / "tasks" / "T0002-new.md").exists()
    assert not (root / "outside.txt").exists()
    assert not (host_home / "pwned.txt").exists()  # inside, $HOME is a private tmpfs


def test_sandbox_true_without_bwrap_refuses_the_build(
    dv: Drive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_bwrap_path(tmp_path, monkeypatch)
    build = {"kind": "build", "window": "w1", "brief": "build it", "rationale": "r"}
    cfg = {"cmd": [sys.executable, str(dv.build_script), "{worktree}", "{brief}"], "sandbox": True}
    dv.engine(approval_mode="auto", build=cfg, brain_fn=lambda _p: _decide(build)).cycle()
    (skip,) = _valid(dv.project.events("build-skip"))
    assert skip["reason"] == "sandbox-unavailable" and "bwrap" in skip["detail"]
    assert not dv.in_progress() and not dv.project.events("build-started")


def test_sandbox_auto_without_bwrap_builds_unsandboxed_and_says_so(
    dv: Drive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_bwrap_path(tmp_path, monkeypatch)
    build = {"kind": "build", "window": "w1", "brief": "build it", "rationale": "r"}
    cfg = {"cmd": [sys.executable, str(dv.build_script), "{worktree}", "{brief}"]}  # sandbox: auto
    engine = dv.engine(approval_mode="auto", build=cfg, brain_fn=lambda _p: _decide(build))
    engine.cycle()
    (unboxed,) = _valid(dv.project.events("build-unsandboxed"))
    assert unboxed["window"] == "w1" and "bwrap" in unboxed["reason"]
    assert dv.names()[:2] == ["build-unsandboxed", "build-started"]
    dv.wait_runs()
    engine.cycle()
    assert _valid(dv.project.events("build-done"))


def test_the_lanes_tips_come_from_one_git_process_whatever_the_lane_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """drive.revs answers what rev() answers for each ref (a branch, a tag, a tree, a missing or odd
    ref), and asks one git for all of them: the cycle's drive section costs one git call, not one per lane."""
    root = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for args in (
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "a"],
        ["branch", "loop/s/w1"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "-m", "x", "v2"],
    ):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    refs = ["main", "loop/s/w1", "v2", "nope", "HEAD^{tree}", "-x", "a b", "main\nHEAD", ""]
    expected = {r: drive.rev(root, r) for r in refs}
    assert expected["main"] and expected["v2"] == expected["main"]
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting(argv: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(drive.subprocess, "run", counting)
    assert drive.revs(root, refs) == expected
    assert len(calls) == 1
    # outside a repository git cannot batch: each ref is asked alone, with rev()'s answers
    calls.clear()
    assert drive.revs(tmp_path, ["main", "nope"]) == {"main": None, "nope": None}


def test_the_drive_section_asks_git_for_every_lanes_tip_at_once(
    dv: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four ledger lanes, three of them on branches that are not there: one cat-file for the tips, then
    the one `rev-list --count` of the lane whose branch exists; each lane's state as before."""
    loops = {"w1": {"branch": "loop/s/w1"}, **{f"w{n}": {"branch": f"loop/s/w{n}"} for n in (2, 3, 4)}}
    dv.project.paths.state_file.write_text(json.dumps({"schema_version": 2, "loops": loops}))
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting(argv: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(drive.subprocess, "run", counting)
    views = drive.lanes(dv.project.paths, "main")
    assert [(v.window, v.state) for v in views] == [
        ("w1", "awaiting-build"),
        ("w2", "no-branch"),
        ("w3", "no-branch"),
        ("w4", "no-branch"),
    ]
    assert [c[3] for c in calls] == ["cat-file", "rev-list"]
