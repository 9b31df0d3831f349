"""The thinking room: the brain's prompt, the call (retries, transcripts, failure classes), the answer
parsed to a Decision, and the headless ingest that is a call of the same harness.

The checkpoint prompt is loop-checkpoint's output under the engine header with every untrusted part
spotlighted; the builtin brain (or an in-process `brain_fn`) answers without a prompt or a process.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from loop_schemas import Decision, DecisionParseError, atomic_write, parse_decision_block, read_project_text
from loop_schemas.fsread import WIKI_CAP

from loop_engine import drive, outage
from loop_engine import policy as policy_mod
from loop_engine.asks import AskBook
from loop_engine.basics import one_line
from loop_engine.brain import BrainAnswer, BrainError, build_argv, quota_answer, run_oneshot
from loop_engine.budget import BrainBudget
from loop_engine.config import BUILTIN, EffectiveConfig
from loop_engine.early import header_path
from loop_engine.early import start_prompt as start_early_prompt
from loop_engine.events import EventLog, new_id
from loop_engine.execute import read_uncertain
from loop_engine.fleet import Fleet
from loop_engine.ingest import run_ingest
from loop_engine.observe import Observation, SubstrateLike
from loop_engine.paths import EnginePaths
from loop_engine.store import read_json
from loop_engine.tasks import TaskView
from loop_engine.usage import BUILTIN_USAGE, UNAVAILABLE, Usage, output_format

# loop-checkpoint's exit code above its token ceiling (CONTRACT "loop-checkpoint")
CHECKPOINT_OVERFLOW_EXIT = 3
OVERFLOW_ORDER = (
    "The checkpoint prompt is over loop-checkpoint's token ceiling, so this call carries the header only: "
    "no wiki page, no mail summary, no observation. Your one job now is to get it back under: dispatch "
    "the docs lane to trim ops-wiki/checkpoint.md and ops-wiki/index.md (fold settled detail into the "
    "loop and lane pages, keep only what is in flight and what needs a decision), or escalate when no "
    "lane can. Start nothing else until the prompt fits again."
)

ANSWER_NOW = "Answer now with exactly one ```decision block.\n"

# A brain given in-process (tests, benchmarks): prompt in, answer text out.
BrainFn = Callable[[str], str]


class OneshotFn(Protocol):
    """One call of a harness's one-shot CLI: (harness, prompt, timeout_s, transcript) -> its answer;
    `ingest=True` for the headless ingest (its harness, its auto-approve)."""

    def __call__(
        self, harness: str, prompt: str, timeout: float, transcript: Path, *, ingest: bool = False
    ) -> BrainAnswer: ...


def spotlight(name: str, text: str, token: str) -> str:
    """Wrap untrusted text as delimited data; the random token cannot be forged from inside."""
    body = text.replace(token, "[tag removed]")
    return f"<<<BEGIN DATA {name} tag={token}>>>\n{body.rstrip()}\n<<<END DATA {name} tag={token}>>>\n"


class Thinker:
    """`oneshot` is how a harness is called: the engine passes its own (patchable) method, which runs
    `run_oneshot` below."""

    def __init__(
        self,
        paths: EnginePaths,
        substrate: SubstrateLike,
        config: EffectiveConfig,
        events: EventLog,
        asks: AskBook,
        fleet: Fleet,
        budget: BrainBudget,
        *,
        oneshot: OneshotFn,
        abort: Callable[[], bool] | None = None,
        brain_env: dict[str, str] | None = None,
        brain_fn: BrainFn | None = None,
    ) -> None:
        self.paths = paths
        self.substrate = substrate
        self.config = config
        self.events = events
        self.asks = asks
        self.fleet = fleet
        self.budget = budget
        self.oneshot = oneshot
        # run while a brain call's process runs (not the ingest's): the engine prepares reading its answer
        self.while_brain_thinks: Callable[[], None] | None = None
        self.abort = abort
        self.brain_env = brain_env
        self.brain_fn = brain_fn
        # [policy] this cycle's harness-policy view (set by the engine; None: the all-default policy)
        self.policy_view: policy_mod.PolicyView | None = None
        # the checkpoint prompt's size (bytes / 4) when this engine last assembled it (snapshot.json)
        self.checkpoint_tokens: int | None = None

    @property
    def harness(self) -> str:
        return self.config.brain_harness

    def blocked(self) -> str | None:
        """Why this cycle may not call its brain now; None when it may (the builtin brain always may)."""
        if self.harness != BUILTIN or self.brain_fn is not None:
            return self.budget.blocked()
        return None

    def ingest_harness(self) -> str:
        """The headless ingest's harness: `ingest.harness`, "" = the brain's."""
        return str(self.config.model.ingest.harness or "") or self.harness

    def ingest(self, obs: Observation) -> None:
        icfg = self.config.model.ingest
        harness = self.ingest_harness()
        runner: Callable[[str, float, str], Any] | None = None
        blocked = self.budget.blocked() if harness != BUILTIN else None
        if harness != BUILTIN and blocked is None:

            def runner(prompt: str, timeout: float, action_id: str) -> Any:
                # a headless ingest is a one-shot call like the brain's: it spends the same hourly budget
                # and waits out the same quota back-off
                transcript = self.paths.transcripts / f"ingest-{action_id}.log"
                self.budget.spend()
                try:
                    return self.oneshot(harness, prompt, timeout, transcript, ingest=True)
                except BrainError as exc:
                    # on the brain's own harness, the cycle's brain call waits it out too
                    if exc.failure_class in outage.HELD_KINDS and harness == self.harness:
                        self.budget.back_off(exc, failover=self.failover(harness))
                    raise

        run_ingest(
            mode=str(icfg.mode),
            lane_name=str(icfg.lane),
            timeout_s=float(icfg.timeout_s),
            observation=obs,
            substrate=self.substrate,
            events=self.events,
            state_path=self.paths.ingest_state,
            headless_runner=runner,
            spotlight=lambda name, text: spotlight(name, text, secrets.token_hex(8)),
            **({"no_runner_reason": f"headless ingest waits: {blocked}"} if blocked else {}),
        )

    def start_prompt(self) -> None:
        """Start loop-checkpoint now, at the cycle's start, when this cycle is likely to ask the brain
        (early.start_prompt): it runs while the cycle observes and ingests, and prompt() takes its answer
        only if nothing it read changed meanwhile, else runs it again. `once` has usually started it
        already, before the cycle code loaded: then this is a no-op."""
        start_early_prompt(self.paths, self.substrate, self.harness, in_process=self.brain_fn is not None)

    def prompt(self, obs: Observation, tasks: list[TaskView]) -> str:
        """The brain's prompt: loop-checkpoint's output under the engine header, plus the observation."""
        header = header_path(self.paths)
        header_text = read_project_text(header, WIKI_CAP)
        try:
            raw = self.substrate.checkpoint_prompt(header_file=header)
        except Exception as exc:
            if getattr(exc, "returncode", None) != CHECKPOINT_OVERFLOW_EXIT:
                raise
            # over the ceiling: the brain still runs, on the header and the order to trim
            self.events.emit("checkpoint-overflow", error=one_line(exc))
            return f"{header_text.rstrip()}\n\n{OVERFLOW_ORDER}\n\n{ANSWER_NOW}"
        self.checkpoint_tokens = len(raw.encode()) // 4
        # everything loop-checkpoint adds after the (trusted) header is data, whatever it says
        body = raw[len(header_text.rstrip("\n")) :] if raw.startswith(header_text.rstrip("\n")) else raw
        token = secrets.token_hex(8)
        lines = ["lanes (name status detail harness agent base):"]
        for name, v in sorted(obs.lanes.items()):
            lines.append(
                f"  {name} {v.status} {v.detail or '-'} {v.harness or '-'} "
                f"{'agent' if v.agent else 'not-agent'} {'base' if v.base else 'worker'}"
            )
        lines.append("tasks (id status depends_on title):")
        for t in sorted(tasks, key=lambda t: t.id):
            lines.append(f"  {t.id} {t.status} [{', '.join(t.depends_on)}] {t.title}")
        open_asks = {k: v for k, v in self.asks.all().items() if v.get("state") == "open"}
        lines.append("open asks (id lane asked_at):")
        lines.extend(f"  {k} {v.get('lane')} {v.get('asked_at')}" for k, v in sorted(open_asks.items()))
        return (
            header_text.rstrip()
            + "\n\n"
            + spotlight("checkpoint", body, token)
            + "\n"
            + spotlight("engine-observation", "\n".join(lines), token)
            + ("\n" + policy_mod.prompt_block(self.policy_view) if self.policy_view is not None else "")
            + self._drive_block(obs, token)
            + "\n"
            + ANSWER_NOW
        )

    def _drive(self, obs: Observation) -> list[drive.LaneDrive]:
        return drive.lanes(self.paths, str(self.config.model.verify.base), sorted(obs.lanes))

    def _drive_block(self, obs: Observation, token: str) -> str:
        """The `--- verify drive ---` section ('' without worktree lanes); the lanes are data."""
        block = drive.prompt_block(
            self._drive(obs),
            int(self.config.model.max_fix_rounds),
            lambda name, text: spotlight(name, text, token),
        )
        return "\n" + block if block else ""

    def run_oneshot(
        self, harness: str, prompt: str, timeout: float, transcript: Path, *, ingest: bool = False
    ) -> BrainAnswer:
        """One call of the harness's one-shot CLI from the registry (brain.run_oneshot does the process).
        The brain's model, extra_args and stream apply to the brain's harness only; the headless ingest
        (`ingest`) adds the harness's auto-approve flag when `ingest.auto_approve` is on."""
        h = self.fleet.harness(harness)
        if h is None:
            raise BrainError("exit", f"harness {harness!r} is not in the registry")
        if not h.has_oneshot:
            raise BrainError("exit", f"harness {harness!r} has no one-shot template in the registry")
        bcfg = self.config.model.brain
        brains = harness == self.harness
        extra = [str(a) for a in bcfg.extra_args] if brains else []
        if ingest and self.config.model.ingest.auto_approve and h.auto_approve_flag:
            extra += shlex.split(h.auto_approve_flag)
        try:
            argv = build_argv(
                h.oneshot_template,
                prompt,
                # [outage] a human's re-pin wins over brain.model
                model=self.budget.model(harness) if brains else None,
                model_flag=h.model_flag or None,
                extra_args=extra,
                stream=bcfg.stream and brains,
                harness=harness,
            )
            words = [*shlex.split(h.oneshot_template), *extra]
            fmt = output_format(harness, bcfg.stream and brains, words)[0]
        except ValueError as exc:
            raise BrainError("exit", str(exc)) from None
        header = f"harness: {harness}\nprompt bytes: {len(prompt.encode())}\n"
        return run_oneshot(
            argv,
            timeout_s=timeout,
            transcript=transcript,
            header=header,
            stream=bcfg.stream and brains,
            abort=self.abort,
            env=self.brain_env,
            cwd=self.paths.project_root,
            children=self.paths.children,
            output=fmt,
            pricing=self._codex_pricing(),
            while_waiting=None if ingest else self.while_brain_thinks,
        )

    def _codex_pricing(self) -> dict[str, Any]:
        """`engine.codex_pricing` as rates (USD per 1M tokens); {} when unset (codex calls are unpriced)."""
        pricing = self.config.model.codex_pricing
        return pricing.model_dump(exclude_none=True) if pricing is not None else {}

    def _usage(self, cycle_id: str, call_id: str, harness: str, attempt: int, ok: bool, usage: Usage) -> None:
        """`brain-usage` after each attempt: its tokens and cost as the harness's output reported them."""
        fields = usage.fields()
        fields["model"] = fields["model"] or self.budget.model(harness)
        self.events.emit(
            "brain-usage",
            cycle_id=cycle_id,
            call_id=call_id,
            harness=harness,
            attempt=attempt,
            attempt_status="success" if ok else "failed",
            **fields,
        )

    def call(
        self, cycle_id: str, obs: Observation, tasks: list[TaskView]
    ) -> tuple[Decision, dict[str, Any], float]:
        """The brain's decision, with its call record and the seconds spent; BrainError when every
        attempt failed (its duration_s the total)."""
        harness = self.harness
        bcfg = self.config.model.brain
        internal = harness == BUILTIN and self.brain_fn is None
        attempts = 1 if internal else 1 + max(0, int(bcfg.max_retries))
        prompt: str | None = None
        if not internal:
            try:
                prompt = self.prompt(obs, tasks)
            except Exception as exc:
                self.events.emit(
                    "brain-failed",
                    cycle_id=cycle_id,
                    harness=harness,
                    failure_class="exit",
                    failure_kind="exit",
                    stderr_excerpt="",
                    stage="prompt",
                    error=one_line(exc),
                )
                raise BrainError("exit", f"cannot assemble the checkpoint prompt: {one_line(exc)}") from None
        last: BrainError | None = None
        total = 0.0
        call_harness = "fn" if self.brain_fn is not None else harness
        for attempt in range(1, attempts + 1):
            if attempt > 1 and not internal:
                blocked = self.budget.blocked()  # a retry is a call too: it never goes over the budget
                if blocked:
                    break
            call_id = new_id("b")
            transcript = self.paths.transcripts / f"{call_id}.log"
            self.events.emit(
                "brain-call",
                cycle_id=cycle_id,
                call_id=call_id,
                harness=call_harness,
                attempt=attempt,
                transcript=str(transcript),
            )
            t0 = time.monotonic()
            try:
                answer = self._answer(harness, prompt, transcript, internal, obs, tasks)
                try:
                    decision = parse_decision_block(answer.text)
                except DecisionParseError as exc:
                    failed = quota_answer(answer) or BrainError(
                        "parse",
                        f"no valid decision block: {one_line(exc)}",
                        duration_s=answer.duration_s,
                        transcript=answer.transcript,
                    )
                    failed.usage = answer.usage  # the answer was paid for, decision or not
                    raise failed from None
            except BrainError as exc:
                total += time.monotonic() - t0
                last = exc
                extra: dict[str, Any] = {}
                if exc.failure_class in outage.HELD_KINDS:
                    extra["reset_at"] = self.budget.deadline(exc)
                self._usage(cycle_id, call_id, call_harness, attempt, False, exc.usage or UNAVAILABLE)
                self.events.emit(
                    "brain-failed",
                    cycle_id=cycle_id,
                    call_id=call_id,
                    harness=harness,
                    attempt=attempt,
                    failure_class=exc.failure_class,
                    failure_kind=exc.failure_kind,
                    stderr_excerpt=exc.stderr_excerpt,
                    error=one_line(exc),
                    duration_s=round(time.monotonic() - t0, 4),
                    exit_code=exc.exit_code,
                    transcript=exc.transcript,
                    **extra,
                )
                if exc.failure_class in outage.HELD_KINDS:  # [outage] recorded after its brain-failed
                    self._hold_brain(cycle_id, harness, exc, extra["reset_at"])
                if exc.failure_class in outage.HELD_KINDS or (self.abort is not None and self.abort()):
                    break
                continue
            duration = time.monotonic() - t0
            total += duration
            self._usage(cycle_id, call_id, call_harness, attempt, True, answer.usage)
            self.events.emit(
                "brain-answered",
                cycle_id=cycle_id,
                call_id=call_id,
                harness=harness,
                attempt=attempt,
                duration_s=round(duration, 4),
                transcript=answer.transcript,
                actions=len(decision.actions),
            )
            brain = {
                "harness": harness,
                "call_id": call_id,
                "transcript": answer.transcript,
                "duration_s": round(duration, 4),
            }
            return decision, brain, total
        assert last is not None
        last.duration_s = total
        raise last

    def failover(self, harness: str) -> str:
        """The harness's declared model_failover in the registry ("" when none)."""
        h = self.fleet.harness(harness)
        return str((h.model_dump().get("model_failover") if h is not None else None) or "")

    def _hold_brain(self, cycle_id: str, harness: str, exc: BrainError, deadline: str) -> None:
        """Back off; after a model-unavailable failure with a declared failover, propose the re-pin."""
        failover = self.failover(harness)
        self.budget.back_off(exc, failover=failover, deadline=deadline)
        if exc.failure_class == "model-unavailable" and failover:
            outage.propose_repin(
                self.paths,
                self.events,
                cycle_id=cycle_id,
                harness=harness,
                model=self.budget.model(harness),
                failover=failover,
                deadline=deadline,
            )

    def _answer(
        self,
        harness: str,
        prompt: str | None,
        transcript: Path,
        internal: bool,
        obs: Observation,
        tasks: list[TaskView],
    ) -> BrainAnswer:
        t0 = time.monotonic()
        if internal:
            text = self._builtin(obs, tasks)
            atomic_write(transcript, f"harness: builtin\n--- output ---\n{text}", durable=False)
            return BrainAnswer(text, time.monotonic() - t0, str(transcript), "builtin", BUILTIN_USAGE)
        assert prompt is not None
        self.budget.spend()
        if self.brain_fn is not None:
            text = self.brain_fn(prompt)
            atomic_write(transcript, f"harness: (in-process)\n--- output ---\n{text}", durable=False)
            return BrainAnswer(text, time.monotonic() - t0, str(transcript), "fn")
        return self.oneshot(harness, prompt, float(self.config.model.brain.timeout_s), transcript)

    def _builtin(self, obs: Observation, tasks: list[TaskView]) -> str:
        from loop_engine import builtin  # only a cycle whose brain is the builtin one loads it

        assignments: dict[str, Any] = read_json(self.paths.assignments, {})
        open_lanes = {str(v.get("lane")) for v in self.asks.all().values() if v.get("state") == "open"}
        uncertain = {str(u.get("task")) for u in read_uncertain(self.paths) if u.get("task")}
        inp = builtin.BuiltinInput(
            observation=obs,
            tasks=tasks,
            assignments=assignments,
            open_ask_lanes=open_lanes,
            uncertain_tasks=uncertain,
            max_dispatches=int(self.config.model.destructive.max_dispatches_per_cycle),
            project_root=self.paths.project_root,
            drive=self._drive(obs),
        )
        text = builtin.decide(inp)
        # the drive's states it answered: proposed once each (a rejected merge is not proposed again)
        drive.mark_answered(
            self.paths, {lane.window: lane.signature for lane, _ in builtin.drive_actions(inp)}
        )
        return text
