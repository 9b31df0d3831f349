"""The kill -9 harness: kill the engine at random points of its cycles, restart it, check nothing is lost.

A chain of trials runs in one project whose substrate CLIs are loop-substrate's recording fakes (every
`loop-dispatch` lands in calls.jsonl) and whose brain is the instant built-in one. Each trial starts
the engine — usually the watch daemon in auto mode, sometimes `approve` of a queued decision — lets it
run for a random moment, kills it with SIGKILL and checks, after the next start has recovered:

- no mail lost: every message ever written is pending or in processed/;
- no action sent twice: no task's text was dispatched more than once, in the whole chain;
- the state file validates (loop_schemas.load_state);
- a pending decision, when there is one, validates (PendingDecision) and holds no `running` action.

Between trials the harness plays the lanes: it mails completion reports for dispatched tasks, adds
new tasks (some marked so the gate queues them for a human) and new mail.
Used by tests-integration/test_engine_kill.py (200 trials) and by `make bench` (the counts).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loop_schemas import PendingDecision, load_state
from loop_substrate.testing import FakeSubstrate

SESSION = "kill"
LANES = ("web", "infra", "w1", "w2")
TASK = """---
id: {id}
title: task {n}
status: open
depends_on: []
scope: one thing
---

## Objective
Do task {n}. {marker}

## Context you need
None.

## Deliverables
A thing.

## Acceptance criteria
It works.

## Verification
Run it.

## Out of scope
Everything else.
"""
CONFIG = """engine:
  approval_mode: auto
  checkpoint_interval_s: 0.2
  poll_interval_s: 0.05
  min_cycle_interval_s: 0
  brain: {harness: builtin}
  destructive: {payload_patterns: ["NEEDS-HUMAN"]}
"""


@dataclass
class ChainResult:
    trials: int = 0
    daemon_kills: int = 0
    approve_kills: int = 0
    uncertain_actions: int = 0
    dispatches: int = 0
    duplicate_sends: int = 0
    lost_mail: int = 0
    invalid_state: int = 0
    invalid_pending: int = 0
    running_left_pending: int = 0
    problems: list[str] = field(default_factory=list)


class Chain:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.root = workdir / "proj"
        self.fake = FakeSubstrate(workdir / "fake")
        self.mail_written: set[str] = set()
        self.task_n = 0
        self.mail_seq = 0
        self.result = ChainResult()
        self.startup_s = 0.5
        self.env = dict(os.environ)
        self.env.update(self.fake.env)
        self.env.pop("LOOP_LANE_CONFIG", None)
        self._setup()

    # -- the project -----------------------------------------------------------------------------
    def _setup(self) -> None:
        root = self.root
        (root / ".loop" / "messages" / "processed").mkdir(parents=True)
        (root / "tasks" / "archive").mkdir(parents=True)
        (root / "ops-wiki").mkdir()
        (root / "ops-wiki" / "checkpoint.md").write_text("# checkpoint\n\n<!-- coord-decisions -->\n")
        (root / "lane-config.yaml").write_text(CONFIG)
        state = {"schema_version": 2, "updated_at": "2026-01-01T00:00:00Z", "loops": {}, "mine": [1]}
        (root / ".loop" / "orchestrator-state.json").write_text(json.dumps(state))
        now = "2026-01-01T00:00:00Z"
        self.fake.respond(
            "loop-lane-status",
            {
                "contract_version": 1,
                "session": SESSION,
                "generated_at": now,
                "lanes": {
                    n: {
                        "status": "idle",
                        "target": f"%{i}",
                        "kind": "dynamic",
                        "harness": "pi",
                        "detail": "ready",
                    }
                    for i, n in enumerate(LANES)
                },
            },
        )
        self.fake.respond(
            "loop-tmux",
            {
                "contract_version": 1,
                "session": SESSION,
                "generated_at": now,
                "lanes": [
                    {
                        "window": n,
                        "harness": "pi",
                        "model": None,
                        "role": None,
                        "cmd": None,
                        "base": False,
                        "kind": "worker",
                    }
                    for n in LANES
                ],
            },
        )
        registry = {
            "contract_version": 1,
            "harnesses": [{"name": "pi", "kind": "ai"}, {"name": "shell", "kind": "shell"}],
        }
        base = self.fake.root / "responses" / "lib__harness-registry.sh"
        Path(f"{base}.out").write_text(json.dumps(registry) + "\n")
        Path(f"{base}.code").write_text("0")
        for _ in range(4):
            self.add_task()
        for _ in range(3):
            self.add_mail("web", "coord", "status")

    def add_task(self) -> None:
        self.task_n += 1
        n = self.task_n
        marker = "NEEDS-HUMAN review first." if n % 4 == 0 else ""
        tid = f"T{n:04d}"
        (self.root / "tasks" / f"{tid}-task-{n}.md").write_text(TASK.format(id=tid, n=n, marker=marker))

    def add_mail(self, sender: str, to: str, subject: str) -> None:
        # stamped now, as loop-mail stamps it: a report must be newer than the engine's record of the
        # dispatch it answers (CONTRACT "Completion reports"); the sequence suffix keeps names unique
        self.mail_seq += 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        name = f"{stamp}-{sender}-to-{to}.{self.mail_seq + 1}.md"
        (self.root / ".loop" / "messages" / name).write_text(f"---\nsubject: {subject}\n---\nbody\n")
        self.mail_written.add(name)

    def engine_argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "loop_engine",
            "--project-root",
            str(self.root),
            "--session",
            SESSION,
            *args,
        ]

    # -- reading the outcome ----------------------------------------------------------------------
    @property
    def engine_dir(self) -> Path:
        return self.root / ".loop" / "sessions" / SESSION / "engine"

    def pending(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.engine_dir / "pending-decision.json").read_text())
        except FileNotFoundError:
            return None
        return data

    def sent_tasks(self) -> list[str]:
        out = []
        for call in self.fake.calls("loop-dispatch"):
            args = call["args"]
            assert isinstance(args, list)
            payload = str(args[-1])
            for line in payload.splitlines()[:4]:
                if line.startswith("id: T"):
                    out.append(line[4:].strip())
        return out

    def check(self, label: str) -> None:
        r = self.result
        msgs = self.root / ".loop" / "messages"
        present = {p.name for p in msgs.iterdir()} | {p.name for p in (msgs / "processed").iterdir()}
        lost = self.mail_written - present
        if lost:
            r.lost_mail += len(lost)
            r.problems.append(f"{label}: mail lost: {sorted(lost)}")
        sent = self.sent_tasks()
        dups = len(sent) - len(set(sent))
        if dups > r.duplicate_sends:
            r.problems.append(f"{label}: a task was dispatched twice: {sorted(sent)}")
        r.duplicate_sends = dups
        r.dispatches = len(sent)
        try:
            load_state(self.root / ".loop" / "orchestrator-state.json")
        except Exception as exc:
            r.invalid_state += 1
            r.problems.append(f"{label}: state file invalid: {exc}")
        try:
            pending = self.pending()
        except ValueError as exc:
            r.invalid_pending += 1
            r.problems.append(f"{label}: pending decision unreadable: {exc}")
            pending = None
        if pending is not None:
            try:
                PendingDecision.model_validate(pending)
            except Exception as exc:
                r.invalid_pending += 1
                r.problems.append(f"{label}: pending decision invalid: {str(exc).splitlines()[0]}")

    def run_and_kill(self, argv: list[str], wait: float, *, daemon: bool) -> None:
        """Start `argv`, let it run `wait` seconds past its start-up (a daemon: once its pid file names
        it; a command: the last measured start-up time), then SIGKILL it."""
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            env=self.env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if daemon:
            pid_file = self.engine_dir / "daemon.pid"
            deadline = started + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if pid_file.read_text().split("\n", 1)[0].strip() == str(proc.pid):
                        self.startup_s = time.monotonic() - started
                        break
                except OSError:
                    pass
                time.sleep(0.01)
        else:
            wait += self.startup_s
        try:
            proc.wait(timeout=max(0.0, wait - (time.monotonic() - started) if not daemon else wait))
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL
            proc.wait()

    def play_lanes(self) -> None:
        """Report completion for in-progress tasks (as their lane would), add work and mail."""
        try:
            assignments = json.loads((self.engine_dir / "assignments.json").read_text())
        except (FileNotFoundError, ValueError):
            assignments = {}
        for tid, a in sorted(assignments.items()):
            if a.get("state") == "in-progress" and self.rng.random() < 0.7:
                self.add_mail(str(a["lane"]), "coord", f"done {tid}: finished")
        if self.rng.random() < 0.8:
            self.add_task()
        if self.rng.random() < 0.5:
            self.add_mail("infra", "coord", "note")

    def queue_one(self) -> None:
        """Run one cycle to its end in manual mode, so a decision waits for an approval to kill. Without
        it, how many trials find one depends on how far the killed daemons got: on a loaded machine,
        few do, and the approve path would go untested."""
        subprocess.run(
            self.engine_argv("once", "--approval", "manual"),
            env=self.env,
            cwd=self.root,
            capture_output=True,
            timeout=120,
            check=False,
        )

    def trial(self, i: int) -> None:
        r = self.result
        pending = self.pending()
        approve = self.rng.random() < 0.6
        if approve and pending is None:
            self.queue_one()
            pending = self.pending()
        if approve and pending is not None:
            r.approve_kills += 1
            self.run_and_kill(
                self.engine_argv("approve", str(pending["id"])), self.rng.uniform(-0.2, 0.5), daemon=False
            )
        else:
            r.daemon_kills += 1
            self.run_and_kill(
                self.engine_argv("watch", "--foreground"), self.rng.uniform(0.0, 0.9), daemon=True
            )
        r.trials += 1
        self.check(f"trial {i} (after the kill)")
        self.play_lanes()

    def finish(self) -> ChainResult:
        """One clean cycle recovers whatever the last kill left; then the final checks."""
        subprocess.run(
            self.engine_argv("once"), env=self.env, cwd=self.root, capture_output=True, check=False
        )
        self.check("final")
        pending = self.pending()
        if pending is not None and any(g.get("state") == "running" for g in pending.get("gates", [])):
            self.result.running_left_pending += 1
            self.result.problems.append("final: a pending decision still shows a running action")
        try:
            uncertain = json.loads((self.engine_dir / "uncertain.json").read_text())
        except FileNotFoundError:
            uncertain = []
        events = (self.engine_dir / "events.jsonl").read_text().splitlines()
        self.result.uncertain_actions = sum(1 for line in events if '"event": "action-uncertain"' in line)
        if len(uncertain) > self.result.uncertain_actions:
            self.result.problems.append("final: more uncertain entries than action-uncertain events")
        return self.result


def run_chains(trials: int, chains: int, seed: int = 7) -> ChainResult:
    """`trials` kills spread over `chains` projects run side by side; the summed counts."""
    per = [trials // chains + (1 if i < trials % chains else 0) for i in range(chains)]
    with tempfile.TemporaryDirectory(prefix="lk-") as tmp:

        def one(index: int) -> ChainResult:
            work = Path(tmp) / f"c{index}"
            work.mkdir()
            chain = Chain(work, seed + index)
            for i in range(per[index]):
                chain.trial(i)
            return chain.finish()

        with ThreadPoolExecutor(max_workers=chains) as pool:
            results = list(pool.map(one, range(chains)))
    total = ChainResult()
    for res in results:
        for key, value in asdict(res).items():
            if key == "problems":
                total.problems.extend(value)
            else:
                setattr(total, key, getattr(total, key) + value)
    return total


def run() -> list[dict[str, Any]]:
    started = time.monotonic()
    res = run_chains(200, 4)
    took = time.monotonic() - started
    bad = (
        res.lost_mail
        + res.duplicate_sends
        + res.invalid_state
        + res.invalid_pending
        + res.running_left_pending
    )
    detail = (
        f"{res.trials} kills ({res.daemon_kills} daemon, {res.approve_kills} mid-approve), {res.dispatches} "
        f"dispatches, {res.uncertain_actions} actions left uncertain for a human; lost mail {res.lost_mail}, "
        f"duplicate sends {res.duplicate_sends}, invalid state {res.invalid_state}, invalid pending "
        f"{res.invalid_pending}; {took:.0f}s"
    )
    return [
        {
            "name": "kill -9 trials with a violation",
            "value": bad,
            "unit": "violations",
            "goal": "0",
            "met": bad == 0,
            "detail": detail,
        },
        {
            "name": "kill -9 trials",
            "value": res.trials,
            "unit": "trials",
            "goal": ">= 200",
            "met": res.trials >= 200,
            "detail": "; ".join(res.problems[:3]),
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
