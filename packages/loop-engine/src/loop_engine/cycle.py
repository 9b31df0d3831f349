"""One engine cycle, and the human gate's verbs (approve, reject, resolve) that act on its decisions.

observe lanes and mail → follow task reports and ask replies → (PM pull) → ingest → assemble the
checkpoint prompt with the engine header, untrusted text spotlighted → call the brain → parse the
```decision block → gate each action by shape → run what the approval mode allows, queue the rest →
record every step in events.jsonl.

`Engine` wires the rooms that each own one concern, and reads one cycle top-down in `cycle()`:
fleet.Fleet (lanes, mail, reports, asks), budget.BrainBudget (calls per hour, quota and model
back-off), governance.Governance (the harness policy's roster snapshot, retire proposals),
thinking.Thinker (prompt, brain call, ingest), decisions.Decisions (gate, run or queue),
execute.Executor (at-most-once journal), recovery.Recovery (after a crash), verbs.HumanGate (approve,
reject, resolve).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loop_schemas import Harness, LockTimeoutError, file_lock
from loop_schemas.decision import parse_decision_block

from loop_engine import asks as asks_mod
from loop_engine import drive, outage
from loop_engine import queue as q
from loop_engine import snapshot as snapshot_mod
from loop_engine.basics import APPROVALS, WAIT_READY_S, CycleResult, EngineError, one_line, pm_adapters
from loop_engine.brain import BrainAnswer, BrainError
from loop_engine.budget import BrainBudget
from loop_engine.config import EffectiveConfig
from loop_engine.decisions import PAYLOAD_MAX, Decisions
from loop_engine.early import header_path
from loop_engine.events import EventLog, new_id
from loop_engine.execute import Executor, escalation_mail
from loop_engine.fleet import Fleet
from loop_engine.governance import Candidate, Governance
from loop_engine.handoff import Handoffs
from loop_engine.loops_sync import sync_loops
from loop_engine.observe import Observation, SubstrateLike
from loop_engine.paths import EnginePaths
from loop_engine.recovery import Recovery
from loop_engine.stopguard import StopGuard
from loop_engine.tasks import TaskView, load_tasks
from loop_engine.thinking import BrainFn, Thinker, spotlight
from loop_engine.verbs import HumanGate

__all__ = [
    "APPROVALS",
    "PAYLOAD_MAX",
    "WAIT_READY_S",
    "BrainFn",
    "CycleResult",
    "Engine",
    "EngineError",
    "escalation_mail",
    "header_path",
    "spotlight",
]


# the smallest valid decision block: parsing it builds what reading a brain's answer needs
EMPTY_DECISION = "```decision\nversion: 1\ncritique: none\nactions: []\n```\n"


class Engine:
    def __init__(
        self,
        paths: EnginePaths,
        substrate: SubstrateLike,
        config: EffectiveConfig,
        *,
        abort: Callable[[], bool] | None = None,
        brain_env: dict[str, str] | None = None,
        brain_fn: BrainFn | None = None,
        observe_timeout_s: float | None = None,
    ) -> None:
        self.paths = paths
        # the observation's timeout: None = adaptive, min(120, 30 + 5 x lanes) (loop_engine.snapshot)
        self.observe_timeout_s = observe_timeout_s
        self.substrate = substrate
        self.config = config
        self.events = EventLog(paths.events, paths.session)
        self.asks = asks_mod.AskBook(paths.asks)
        self.abort = abort
        self.brain_env = brain_env
        self.brain_fn = brain_fn

        # lane handoffs (loop_engine/handoff.py): the fleet settles their acks, the executor runs their
        # add/drop/dispatch hooks; they read the fleet's cached registry (the fleet is made just below)
        def registry() -> list[Harness]:
            return self.fleet.registry()

        self.handoffs = Handoffs(paths, substrate, self.events, registry)
        self.fleet = Fleet(paths, substrate, self.events, self.asks, self.handoffs)
        self.budget = BrainBudget(paths, config, self.events)
        self.governance = Governance(paths, substrate, config, self.events)
        self.thinker = Thinker(
            paths,
            substrate,
            config,
            self.events,
            self.asks,
            self.fleet,
            self.budget,
            oneshot=self._oneshot,
            abort=abort,
            brain_env=brain_env,
            brain_fn=brain_fn,
        )
        self.executor = Executor(paths, substrate, config, self.events, self.asks, self.handoffs)
        self.recovery = Recovery(paths, self.events, self.executor)
        self.decisions = Decisions(paths, config, self.events, self.executor)
        self.decisions.stop_guard = StopGuard(paths.mailbox, substrate, self.events)
        self.gate = HumanGate(paths, self.fleet, self.events, self.executor, self.recovery)
        self.thinker.while_brain_thinks = self._ready_for_answer
        paths.ensure()

    def _ready_for_answer(self) -> None:
        """While the brain thinks (its process runs): what reading any answer builds, built now, so the
        answer is read at once: the decision block's reader and validator (an empty decision parsed) and
        what handling a decision builds (Decisions.prepare)."""
        parse_decision_block(EMPTY_DECISION)
        self.decisions.prepare()

    # ------------------------------------------------------------------ the cycle
    def cycle(
        self, approval: str | None = None, trigger: str = "once", skip_if_fingerprint: str | None = None
    ) -> CycleResult:
        approval = approval or self.config.approval_mode
        if approval not in APPROVALS:
            raise EngineError(f"unknown approval mode {approval!r} (manual, auto or full)")
        cycle_id = new_id("c")
        started = time.monotonic()
        self.events.emit("cycle-start", cycle_id=cycle_id, trigger=trigger, approval=approval)
        try:
            with self._cycle_lock():
                self.recover()
                result = self._cycle(cycle_id, approval, trigger, skip_if_fingerprint)
        except Exception as exc:
            self.events.emit(
                "cycle-crashed",
                cycle_id=cycle_id,
                component="engine",
                error_type=type(exc).__name__,
                error=one_line(exc),
            )
            raise
        self.events.emit(
            "cycle-end",
            cycle_id=cycle_id,
            outcome=result.outcome,
            decision_id=result.decision_id,
            detail=result.detail,
            duration_s=round(time.monotonic() - started, 4),
            brain_s=round(result.brain_s, 4),
            brain_called=result.brain_called,
            **({"stale": True} if result.stale else {}),
        )
        return result

    def _cycle_lock(self) -> contextlib.ExitStack[Any]:
        """The cycle lock, held by one cycle at a time. Waiting for another cycle to end makes what
        require_session read before it stale: the observation then asks the substrate again."""
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(file_lock(self.paths.cycle_lock, timeout=0))
        except LockTimeoutError:
            self.fleet.forget()
            stack.enter_context(file_lock(self.paths.cycle_lock))
        return stack

    def _cycle(self, cycle_id: str, approval: str, trigger: str, skip_if: str | None) -> CycleResult:
        self.thinker.start_prompt()  # the checkpoint prompt builds while the cycle observes and ingests
        try:
            return self._run(cycle_id, approval, trigger, skip_if)
        finally:
            self.substrate.drop_early()  # what the cycle did not take is stale by the next one

    def _run(self, cycle_id: str, approval: str, trigger: str, skip_if: str | None) -> CycleResult:
        self.executor.runs.reap()  # the verify drive's detached runs that ended: their outcomes (runs.py)
        obs = self._observe(cycle_id)
        if isinstance(obs, str):
            return CycleResult("observe-failed", cycle_id, detail=f"{obs}; no snapshot to fall back on")
        result = self._decide(cycle_id, obs, approval, trigger, skip_if)
        result.stale = obs.stale
        tokens = self.thinker.checkpoint_tokens
        if tokens is not None and not obs.stale:
            snapshot_mod.note_checkpoint_tokens(self.paths, tokens)
        return result

    def _decide(
        self, cycle_id: str, obs: Observation, approval: str, trigger: str, skip_if: str | None
    ) -> CycleResult:
        retire = self._govern(obs)
        tasks = self._follow(cycle_id, obs)
        sync_loops(self.paths, tasks, self.events, cycle_id)
        self.thinker.ingest(obs)
        fp = self.fleet.fingerprint(obs, tasks) + drive.stamp(self.paths)
        skipped = self._skipped(cycle_id, fp, skip_if, retire)
        if skipped is not None:
            return skipped
        try:
            decision, brain, brain_s = self.thinker.call(cycle_id, obs, tasks)
        except BrainError as exc:
            return CycleResult(
                "brain-failed",
                cycle_id,
                detail=f"{exc.failure_class}: {exc}",
                fingerprint=fp,
                brain_called=True,
                brain_s=exc.duration_s,
            )
        result = self.decisions.handle(cycle_id, decision, approval, trigger, obs, brain, fp)
        result.brain_s = brain_s
        return result

    def _observe(self, cycle_id: str) -> Observation | str:
        """The lanes and the pending mail, recorded as an event, mirrored into the state file and kept
        as the snapshot; when the look fails or times out, the last snapshot (stale), else the error."""
        last = snapshot_mod.read(self.paths)
        timeout = self.observe_timeout_s
        if timeout is None:
            timeout = snapshot_mod.adaptive_timeout(len(last.lanes) if last is not None else 0)
        try:
            obs = snapshot_mod.within(self.observe, timeout)
        except Exception as exc:
            if last is None:
                self.events.emit("observe-failed", cycle_id=cycle_id, error=one_line(exc))
                return one_line(exc)
            age = snapshot_mod.age_s(last)
            self.events.emit(
                "observe-stale",
                cycle_id=cycle_id,
                lanes=len(last.lanes),
                mailbox_pending=len(last.mailbox_pending),
                age_s=round(age) if age is not None else None,
                adaptive_timeout_s=round(timeout),
                error=one_line(exc),
            )
            return snapshot_mod.observation(self.paths, last)
        snapshot_mod.write(self.paths, obs, last.checkpoint_tokens if last is not None else None)
        self.events.emit(
            "observed",
            cycle_id=cycle_id,
            lanes={n: v.status for n, v in obs.lanes.items()},
            pending_mail=len(obs.mail),
        )
        self.fleet.record_lanes(obs)
        return obs

    def _govern(self, obs: Observation) -> list[Candidate]:
        """Under a harness policy: this cycle's view for the prompt and the gate; the retire candidates."""
        view, retire = self.governance.observe(obs)
        self.thinker.policy_view = self.decisions.policy_view = view
        return retire

    def _follow(self, cycle_id: str, obs: Observation) -> list[TaskView]:
        """The tasks after following the fleet's reports and replies, and a PM push / pull around them."""
        tasks, problems = load_tasks(self.paths.tasks_dir)
        for problem in problems:
            self.events.emit("task-invalid", cycle_id=cycle_id, error=problem)
        adapters = pm_adapters(self.config)
        cwd = str(self.paths.project_root)
        if self.fleet.track(obs, tasks):
            if adapters:  # the PM sync (loop_engine.pm) loads only in a project that names adapters
                from loop_engine import pm

                pm.sync(adapters, "push", events=self.events, cwd=cwd)
            tasks, _ = load_tasks(self.paths.tasks_dir)
        if adapters:
            from loop_engine import pm

            pm.sync(adapters, "pull", events=self.events, cwd=cwd)
            tasks, _ = load_tasks(self.paths.tasks_dir)
        return tasks

    def _skipped(
        self, cycle_id: str, fp: str, skip_if: str | None, retire: list[Candidate]
    ) -> CycleResult | None:
        """Why this cycle calls no brain (a decision pending, nothing changed, a retire proposal queued,
        budget or back-off)."""
        if q.read_pending(self.paths) is not None:
            self.events.emit("cycle-skipped", cycle_id=cycle_id, reason="a decision is pending")
            return CycleResult("skipped", cycle_id, detail="a decision is pending", fingerprint=fp)
        proposed = self.governance.propose_retire(cycle_id, retire)
        if proposed is not None:  # the proposal takes the cycle (changed or not): a human decides it first
            return CycleResult("queued", cycle_id, proposed, "engine proposal: drop an idle worker lane", fp)
        if skip_if is not None and skip_if == fp:
            return CycleResult(
                "skipped", cycle_id, detail="nothing changed since the last brain call", fingerprint=fp
            )
        blocked = self.thinker.blocked()
        if blocked:
            if self.budget.hold is not None:  # a back-off holds only the brain: `cycle-skip {reason}`
                outage.skip_event(self.events, cycle_id, self.budget.hold)
            else:
                self.events.emit("cycle-skipped", cycle_id=cycle_id, reason=blocked)
            return CycleResult("skipped", cycle_id, detail=blocked, fingerprint=fp)
        return None

    # ------------------------------------------------------------------ the rooms, as the engine's verbs
    def registry(self) -> list[Harness]:
        return self.fleet.registry()

    def observe(self) -> Observation:
        return self.fleet.observe()

    def fingerprint(self, obs: Observation, tasks: list[TaskView]) -> str:
        return self.fleet.fingerprint(obs, tasks)

    def prompt(self, obs: Observation, tasks: list[TaskView]) -> str:
        return self.thinker.prompt(obs, tasks)

    def recent_calls(self) -> list[str]:
        return self.budget.recent_calls()

    def _oneshot(
        self, harness: str, prompt: str, timeout: float, transcript: Path, *, ingest: bool = False
    ) -> BrainAnswer:
        """Every call of a harness's one-shot CLI goes through here (the seam tests replace)."""
        return self.thinker.run_oneshot(harness, prompt, timeout, transcript, ingest=ingest)

    def _perform(self, raw: dict[str, Any], decision_id: str | None = None) -> None:
        self.executor.perform(raw, decision_id)

    def recover(self) -> list[dict[str, Any]]:
        return self.recovery.recover()

    def require_session(self) -> None:
        """EngineError unless the session answers; what it read serves the next cycle's observation."""
        self.gate.require_session(observe_next=True)

    def approve(self, decision_id: str, expect_digest: str | None = None) -> dict[str, Any]:
        return self.gate.approve(decision_id, expect_digest)

    def reject(self, decision_id: str, reason: str | None) -> dict[str, Any]:
        return self.gate.reject(decision_id, reason)

    def resolve(self, uncertain_id: str, *, sent: bool) -> dict[str, Any]:
        return self.gate.resolve(uncertain_id, sent=sent)
