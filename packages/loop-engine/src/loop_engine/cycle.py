"""One engine cycle, and the human gate's verbs (approve, reject, resolve) that act on its decisions.

observe lanes and mail → follow task reports and ask replies → (PM pull) → ingest → assemble the
checkpoint prompt with the engine header, untrusted text spotlighted → call the brain → parse the
```decision block → gate each action by shape → run what the approval mode allows, queue the rest →
record every step in events.jsonl.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from loop_schemas import (
    AddLaneAction,
    Decision,
    DecisionParseError,
    DispatchAction,
    DropLaneAction,
    EscalateAction,
    Harness,
    SchemaError,
    StateLane,
    SteerAction,
    atomic_write,
    file_lock,
    parse_decision_block,
    read_project_text,
    update_state,
)
from loop_schemas.fsread import ENGINE_CAP, WIKI_CAP
from pydantic import ValidationError

from loop_engine import asks as asks_mod
from loop_engine import builtin, pm
from loop_engine import queue as q
from loop_engine.brain import BrainAnswer, BrainError, build_argv, quota_answer, run_oneshot
from loop_engine.config import BUILTIN, EffectiveConfig
from loop_engine.events import EventLog, iso, new_id, parse_iso, utcnow
from loop_engine.gate import BASE_LANES, GateContext, adr_dirs, gate_actions, runnable
from loop_engine.ingest import run_ingest
from loop_engine.observe import (
    MailItem,
    Observation,
    SubstrateLike,
    acked_mail,
    mail_dropped,
    observe_lanes,
    pending_mail,
)
from loop_engine.paths import EnginePaths
from loop_engine.reports import reported_tasks
from loop_engine.store import read_json, updating, write_json
from loop_engine.tasks import TaskError, TaskView, load_tasks, set_status, task_of_payload

APPROVALS = ("manual", "auto", "full")
WAIT_READY_S = 60.0
PAYLOAD_MAX = 16384
# A brain given in-process (tests, benchmarks): prompt in, answer text out.
BrainFn = Callable[[str], str]


class EngineError(Exception):
    """A user-facing failure of an engine verb (one line)."""


@dataclass
class CycleResult:
    outcome: str  # queued | executed | partial | noop | skipped | brain-failed | dropped | blocked
    cycle_id: str
    decision_id: str | None = None
    detail: str = ""
    fingerprint: str | None = None
    brain_called: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)
    brain_s: float = 0.0
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # of the actions this cycle ran
    reason: str | None = None  # why nothing ran (noop: the stop's rationale; blocked: the gate's reasons)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [o for o in self.outcomes if o.get("state") != "done"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract_version": 1,
            "cycle_id": self.cycle_id,
            "outcome": self.outcome,
            "decision_id": self.decision_id,
            "detail": self.detail,
            "brain_called": self.brain_called,
            "actions": self.actions,
            "outcomes": self.outcomes,
            "reason": self.reason,
        }


def header_path(paths: EnginePaths) -> Path:
    """The engine's checkpoint header: the project's .loop/engine-header.md, else the packaged one."""
    if paths.header_override.is_file():
        return paths.header_override
    return Path(str(resources.files("loop_engine").joinpath("header.md")))


def spotlight(name: str, text: str, token: str) -> str:
    """Wrap untrusted text as delimited data; the random token cannot be forged from inside."""
    body = text.replace(token, "[tag removed]")
    return f"<<<BEGIN DATA {name} tag={token}>>>\n{body.rstrip()}\n<<<END DATA {name} tag={token}>>>\n"


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _wait(value: bool | float | None) -> float | None:
    if value is True:
        return WAIT_READY_S
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def escalation_mail(summary: str, rationale: str) -> tuple[str, str]:
    """(subject, body) of the mail an escalation sends to coord: the subject is one line of the summary."""
    first = next((line.strip() for line in summary.splitlines() if line.strip()), "")
    first = "".join(c if c.isprintable() else " " for c in first)[:120]
    body = f"The engine escalates to a human.\n\nSummary:\n{summary.rstrip()}\n\nWhy:\n{rationale.rstrip()}\n"
    return f"escalation: {first or 'a human is needed'}", body


def _held_by(assignments: dict[str, Any], lane: str) -> dict[str, datetime]:
    """The in-progress tasks `lane` holds, each with when the engine dispatched it (its authority on
    which mail can be that task's report); an entry whose dispatch time is unreadable takes no report."""
    held: dict[str, datetime] = {}
    for tid, a in assignments.items():
        if a.get("lane") == lane and a.get("state") == "in-progress":
            try:
                held[tid] = parse_iso(str(a.get("dispatched_at")))
            except ValueError:
                continue
    return held


def _target(action: dict[str, Any]) -> str | None:
    value = action.get("lane") or action.get("window")
    return str(value) if value is not None else None


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
    ) -> None:
        self.paths = paths
        self.substrate = substrate
        self.config = config
        self.events = EventLog(paths.events, paths.session)
        self.asks = asks_mod.AskBook(paths.asks)
        self.abort = abort
        self.brain_env = brain_env
        self.brain_fn = brain_fn
        self._registry: list[Harness] | None = None
        paths.ensure()

    # ------------------------------------------------------------------ observation
    def registry(self) -> list[Harness]:
        if self._registry is None:
            self._registry = list(self.substrate.registry())
        return self._registry

    def observe(self) -> Observation:
        lanes, ai, self._registry = observe_lanes(self.substrate, self._registry)
        if mail_dropped(self.paths.mailbox):
            try:
                self.substrate.sweep_mail(self.paths.mailbox)
            except Exception as exc:  # the drop stays where it is: the next cycle sweeps again
                self.events.emit("mail-sweep-failed", component="engine", error=_line(exc))
        mail = pending_mail(self.paths.mailbox)
        return Observation(lanes=lanes, mail=mail, ai_harnesses=ai)

    def _harness(self, name: str) -> Harness | None:
        return next((h for h in self.registry() if h.name == name), None)

    def _record_lanes(self, obs: Observation) -> None:
        """Mirror lane statuses into the state file's extended `lanes` (only when they changed)."""
        path = self.paths.state_file
        if not path.is_file():
            return
        wanted = {n: (v.status, v.harness) for n, v in obs.lanes.items()}
        seen: dict[str, Any] = read_json(self.paths.lanes_seen, {})
        if seen.get("lanes") == {n: list(v) for n, v in wanted.items()}:
            return

        def change(state: Any) -> None:
            now = iso()
            state.lanes = {
                n: StateLane(status=s, harness=h, updated_at=now) for n, (s, h) in sorted(wanted.items())
            }
            state.updated_at = now

        try:
            update_state(path, change)
        except SchemaError as exc:
            self.events.emit("state-invalid", file=str(path), error=_line(exc))
            return
        write_json(self.paths.lanes_seen, {"lanes": {n: list(v) for n, v in wanted.items()}})

    def _track(self, obs: Observation, tasks: list[TaskView]) -> list[str]:
        """Follow the fleet: lanes seen working, completion reports (→ review), ask replies, timeouts."""
        by_id = {t.id: t for t in tasks}
        changed: list[str] = []
        acked = self._acked_since_work_began()
        mail = [*obs.mail, *acked]
        if self.paths.assignments.exists():
            with updating(self.paths.assignments, {}) as assignments:
                for a in assignments.values():
                    if a.get("state") != "in-progress":
                        continue
                    lane = obs.lanes.get(str(a.get("lane")))
                    if lane is not None and lane.status == "working":
                        a["seen_working"] = True
                for item in mail:
                    held = _held_by(assignments, item.sender)
                    for tid in reported_tasks(item, held):
                        task = by_id.get(tid)
                        try:
                            moved = task is not None and set_status(
                                task.path, "review", only_from=("in-progress", "open")
                            )
                        except TaskError as exc:
                            self.events.emit("task-update-failed", task=tid, error=_line(exc))
                            continue
                        assignments[tid].update(state="review", report=item.name, reported_at=iso())
                        changed.append(tid)
                        self.events.emit(
                            "task-review", task=tid, lane=item.sender, mail=item.name, moved=moved
                        )
        self.asks.settle(mail, self.events)
        return changed

    def _acked_since_work_began(self) -> list[MailItem]:
        """Mail already acked (processed/) that may still be a report or a reply the engine has not seen:
        stamped no earlier than the oldest in-progress dispatch or open ask (less a two-minute margin
        for clocks). Nothing in flight: nothing is read, so an idle loop never lists processed/."""
        since: list[datetime] = []
        for path, key, live in (
            (self.paths.assignments, "dispatched_at", "in-progress"),
            (self.paths.asks, "asked_at", "open"),
        ):
            data = read_json(path, {})
            for entry in data.values() if isinstance(data, dict) else ():
                if isinstance(entry, dict) and entry.get("state") == live:
                    try:
                        since.append(parse_iso(str(entry.get(key))))
                    except ValueError:
                        continue
        if not since:
            return []
        # message names are stamped in UTC (loop-mail writes them so)
        stamp = (min(since) - timedelta(seconds=120)).astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return acked_mail(self.paths.mailbox, stamp)

    def _uncertain(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = read_json(self.paths.uncertain, [])
        return value

    def fingerprint(self, obs: Observation, tasks: list[TaskView]) -> str:
        try:
            st = self.paths.state_file.stat()
            state = f"{st.st_mtime_ns}:{st.st_size}"
        except OSError:
            state = "-"
        task_part = ",".join(f"{t.id}={t.status}" for t in sorted(tasks, key=lambda t: t.id))
        asks = ",".join(f"{k}={v.get('state')}" for k, v in sorted(self.asks.all().items()))
        return obs.fingerprint(f"{state}|{task_part}|{asks}|{len(self._uncertain())}")

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
            with file_lock(self.paths.cycle_lock):
                self.recover()
                result = self._cycle(cycle_id, approval, trigger, skip_if_fingerprint)
        except Exception as exc:
            self.events.emit(
                "cycle-crashed",
                cycle_id=cycle_id,
                component="engine",
                error_type=type(exc).__name__,
                error=_line(exc),
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
        )
        return result

    def _cycle(self, cycle_id: str, approval: str, trigger: str, skip_if: str | None) -> CycleResult:
        obs = self.observe()
        self.events.emit(
            "observed",
            cycle_id=cycle_id,
            lanes={n: v.status for n, v in obs.lanes.items()},
            pending_mail=len(obs.mail),
        )
        self._record_lanes(obs)
        tasks, problems = load_tasks(self.paths.tasks_dir)
        for problem in problems:
            self.events.emit("task-invalid", cycle_id=cycle_id, error=problem)
        adapters = self._adapters()
        if self._track(obs, tasks):
            pm.sync(adapters, "push", events=self.events, cwd=str(self.paths.project_root))
            tasks, _ = load_tasks(self.paths.tasks_dir)
        if adapters:
            pm.sync(adapters, "pull", events=self.events, cwd=str(self.paths.project_root))
            tasks, _ = load_tasks(self.paths.tasks_dir)
        self._ingest(obs)
        fp = self.fingerprint(obs, tasks)
        if q.read_pending(self.paths) is not None:
            self.events.emit("cycle-skipped", cycle_id=cycle_id, reason="a decision is pending")
            return CycleResult("skipped", cycle_id, detail="a decision is pending", fingerprint=fp)
        if skip_if is not None and skip_if == fp:
            return CycleResult(
                "skipped", cycle_id, detail="nothing changed since the last brain call", fingerprint=fp
            )
        harness = self.config.brain_harness
        if harness != BUILTIN or self.brain_fn is not None:
            blocked = self._brain_blocked()
            if blocked:
                self.events.emit("cycle-skipped", cycle_id=cycle_id, reason=blocked)
                return CycleResult("skipped", cycle_id, detail=blocked, fingerprint=fp)
        try:
            decision, brain, brain_s = self._call_brain(cycle_id, harness, obs, tasks)
        except BrainError as exc:
            return CycleResult(
                "brain-failed",
                cycle_id,
                detail=f"{exc.failure_class}: {exc}",
                fingerprint=fp,
                brain_called=True,
                brain_s=exc.duration_s,
            )
        result = self._handle_decision(cycle_id, decision, approval, trigger, obs, brain, fp)
        result.brain_s = brain_s
        return result

    def _adapters(self) -> list[str]:
        return [str(a) for a in self.config.model.pm.adapters]

    def _ingest(self, obs: Observation) -> None:
        icfg = self.config.model.ingest
        harness = self.config.brain_harness
        runner: Callable[[str, float, str], Any] | None = None
        blocked = self._brain_blocked() if harness != BUILTIN else None
        if harness != BUILTIN and blocked is None:

            def runner(prompt: str, timeout: float, action_id: str) -> Any:
                # a headless ingest is a call of the brain's harness: it spends the same hourly budget and
                # waits out the same quota back-off
                transcript = self.paths.transcripts / f"ingest-{action_id}.log"
                self._spend()
                try:
                    return self._oneshot(harness, prompt, timeout, transcript)
                except BrainError as exc:
                    if exc.failure_class == "quota":  # the cycle's brain call waits it out too
                        self._back_off(exc)
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

    # ------------------------------------------------------------------ brain
    def _brain_blocked(self) -> str | None:
        backoff: dict[str, Any] = read_json(self.paths.backoff, {})
        until = backoff.get("until")
        if until:
            try:
                if parse_iso(str(until)) > utcnow():
                    return f"brain backing off after a quota failure until {until}"
            except ValueError:
                pass
        limit = int(self.config.model.brain.max_calls_per_hour)
        calls = self.recent_calls()
        if len(calls) >= limit:
            return f"brain budget spent: {len(calls)} calls in the last hour (max_calls_per_hour {limit})"
        return None

    def _back_off(self, exc: BrainError) -> str:
        """Hold every call of the brain's harness until the quota resets; the reset time, ISO."""
        reset = iso(exc.reset_at or (utcnow() + timedelta(hours=1)))
        write_json(self.paths.backoff, {"until": reset, "reason": _line(exc), "since": iso()})
        return reset

    def recent_calls(self) -> list[str]:
        data: dict[str, Any] = read_json(self.paths.budget, {})
        cutoff = utcnow() - timedelta(hours=1)
        out = []
        for stamp in data.get("calls", []):
            try:
                if parse_iso(str(stamp)) > cutoff:
                    out.append(str(stamp))
            except ValueError:
                continue
        return out

    def _spend(self) -> None:
        with updating(self.paths.budget, {}) as data:
            data["calls"] = [*self.recent_calls(), iso()]

    def prompt(self, obs: Observation, tasks: list[TaskView]) -> str:
        """The brain's prompt: loop-checkpoint's output under the engine header, plus the observation."""
        header = header_path(self.paths)
        header_text = read_project_text(header, WIKI_CAP)
        raw = self.substrate.checkpoint_prompt(header_file=header)
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
            + "\nAnswer now with exactly one ```decision block.\n"
        )

    def _oneshot(self, harness: str, prompt: str, timeout: float, transcript: Path) -> BrainAnswer:
        h = self._harness(harness)
        if h is None:
            raise BrainError("exit", f"harness {harness!r} is not in the registry")
        if not h.has_oneshot:
            raise BrainError("exit", f"harness {harness!r} has no one-shot template in the registry")
        bcfg = self.config.model.brain
        try:
            argv = build_argv(
                h.oneshot_template,
                prompt,
                model=bcfg.model or None,
                model_flag=h.model_flag or None,
                extra_args=[str(a) for a in bcfg.extra_args],
                stream=bcfg.stream,
                harness=harness,
            )
        except ValueError as exc:
            raise BrainError("exit", str(exc)) from None
        header = f"harness: {harness}\nprompt bytes: {len(prompt.encode())}\n"
        return run_oneshot(
            argv,
            timeout_s=timeout,
            transcript=transcript,
            header=header,
            stream=bcfg.stream,
            abort=self.abort,
            env=self.brain_env,
            cwd=self.paths.project_root,
            children=self.paths.children,
        )

    def _call_brain(
        self, cycle_id: str, harness: str, obs: Observation, tasks: list[TaskView]
    ) -> tuple[Decision, dict[str, Any], float]:
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
                    stage="prompt",
                    error=_line(exc),
                )
                raise BrainError("exit", f"cannot assemble the checkpoint prompt: {_line(exc)}") from None
        last: BrainError | None = None
        total = 0.0
        for attempt in range(1, attempts + 1):
            if attempt > 1 and not internal:
                blocked = self._brain_blocked()  # a retry is a call too: it never goes over the budget
                if blocked:
                    break
            call_id = new_id("b")
            transcript = self.paths.transcripts / f"{call_id}.log"
            self.events.emit(
                "brain-call",
                cycle_id=cycle_id,
                call_id=call_id,
                harness="fn" if self.brain_fn is not None else harness,
                attempt=attempt,
                transcript=str(transcript),
            )
            t0 = time.monotonic()
            try:
                answer = self._answer(harness, prompt, transcript, internal, obs, tasks)
                try:
                    decision = parse_decision_block(answer.text)
                except DecisionParseError as exc:
                    raise quota_answer(answer) or BrainError(
                        "parse",
                        f"no valid decision block: {_line(exc)}",
                        duration_s=answer.duration_s,
                        transcript=answer.transcript,
                    ) from None
            except BrainError as exc:
                total += time.monotonic() - t0
                last = exc
                extra: dict[str, Any] = {}
                if exc.failure_class == "quota":
                    extra["reset_at"] = self._back_off(exc)
                self.events.emit(
                    "brain-failed",
                    cycle_id=cycle_id,
                    call_id=call_id,
                    harness=harness,
                    attempt=attempt,
                    failure_class=exc.failure_class,
                    error=_line(exc),
                    duration_s=round(time.monotonic() - t0, 4),
                    exit_code=exc.exit_code,
                    transcript=exc.transcript,
                    **extra,
                )
                if exc.failure_class == "quota" or (self.abort is not None and self.abort()):
                    break
                continue
            duration = time.monotonic() - t0
            total += duration
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
            atomic_write(transcript, f"harness: builtin\n--- output ---\n{text}")
            return BrainAnswer(text, time.monotonic() - t0, str(transcript), "builtin")
        assert prompt is not None
        self._spend()
        if self.brain_fn is not None:
            text = self.brain_fn(prompt)
            atomic_write(transcript, f"harness: (in-process)\n--- output ---\n{text}")
            return BrainAnswer(text, time.monotonic() - t0, str(transcript), "fn")
        return self._oneshot(harness, prompt, float(self.config.model.brain.timeout_s), transcript)

    def _builtin(self, obs: Observation, tasks: list[TaskView]) -> str:
        assignments: dict[str, Any] = read_json(self.paths.assignments, {})
        open_lanes = {str(v.get("lane")) for v in self.asks.all().values() if v.get("state") == "open"}
        uncertain = {str(u.get("task")) for u in self._uncertain() if u.get("task")}
        return builtin.decide(
            builtin.BuiltinInput(
                observation=obs,
                tasks=tasks,
                assignments=assignments,
                open_ask_lanes=open_lanes,
                uncertain_tasks=uncertain,
                max_dispatches=int(self.config.model.destructive.max_dispatches_per_cycle),
            )
        )

    # ------------------------------------------------------------------ decisions
    def _gate_context(self, obs: Observation) -> GateContext:
        d = self.config.model.destructive
        return GateContext(
            lanes=obs.lane_facts(),
            ai_harnesses=obs.ai_harnesses,
            max_dispatches_per_cycle=int(d.max_dispatches_per_cycle),
            max_lanes=int(d.max_lanes),
            payload_patterns=[str(p) for p in d.payload_patterns],
            adr_dirs=adr_dirs(self.paths.project_root),
            sandboxed_text_safe=bool(self.config.model.gate.sandboxed_text_safe),
        )

    def _handle_decision(
        self,
        cycle_id: str,
        decision: Decision,
        approval: str,
        trigger: str,
        obs: Observation,
        brain: dict[str, Any],
        fp: str,
    ) -> CycleResult:
        data: dict[str, Any] = decision.model_dump(mode="json")
        actions: list[dict[str, Any]] = data.get("actions", [])
        decision_id = new_id("d")
        asks: dict[str, str] = {}
        for i, action in enumerate(actions):
            if action.get("kind") == "steer" and action.get("expects_reply"):
                ask_id = asks_mod.new_ask_id()
                note = asks_mod.reply_instructions(ask_id, str(action.get("lane")))
                payload = str(action.get("payload") or "")
                action["payload"] = payload[: PAYLOAD_MAX - len(note)] + note
                asks[str(i)] = ask_id
        verdicts = gate_actions(actions, self._gate_context(obs))
        gates = [{"gate_class": v.gate, "reasons": list(v.reasons), "state": "queued"} for v in verdicts]
        doc: dict[str, Any] = {
            "contract_version": 1,
            "id": decision_id,
            "session": self.paths.session,
            "created_at": iso(),
            "cycle_id": cycle_id,
            "trigger": trigger,
            "approval_mode": approval,
            "decision": data,
            "gates": gates,
            "asks": asks,
            "brain": brain,
        }
        summary = [
            {"index": i, "kind": a.get("kind"), "target": _target(a), "gate_class": g["gate_class"]}
            for i, (a, g) in enumerate(zip(actions, gates, strict=True))
        ]
        self.events.emit(
            "decision",
            cycle_id=cycle_id,
            decision_id=decision_id,
            critique=data.get("critique"),
            actions=summary,
        )
        if {a.get("kind") for a in actions} <= {"stop"}:
            q.archive(self.paths, doc, "noop")
            self.events.emit("decision-noop", cycle_id=cycle_id, decision_id=decision_id)
            why = "; ".join(" ".join(str(a.get("rationale", "")).split()) for a in actions) or None
            return CycleResult(
                "noop", cycle_id, decision_id, "nothing to do (stop)", fp, True, summary, reason=why
            )
        blocked = [i for i, g in enumerate(gates) if g["gate_class"] == "blocked"]
        if all(i in blocked or a.get("kind") == "stop" for i, a in enumerate(actions)):
            # nothing left to run or to ask a human about: recorded, archived, never executed
            for i in blocked:
                gates[i]["state"] = "blocked"
                self.events.emit(
                    "action-blocked",
                    decision_id=decision_id,
                    index=i,
                    kind=actions[i].get("kind"),
                    reasons=gates[i]["reasons"],
                )
            q.archive(self.paths, doc, "blocked")
            self.events.emit("decision-blocked", cycle_id=cycle_id, decision_id=decision_id, blocked=blocked)
            detail = f"every action blocked ({len(blocked)})"
            why = "; ".join(" ".join(r.split()) for i in blocked for r in gates[i]["reasons"]) or None
            return CycleResult("blocked", cycle_id, decision_id, detail, fp, True, summary, reason=why)
        now_idx: list[int] = []
        for i, g in enumerate(gates):
            gate_class = str(g["gate_class"])
            if gate_class == "blocked":
                g["state"] = "blocked"
                self.events.emit(
                    "action-blocked",
                    decision_id=decision_id,
                    index=i,
                    kind=actions[i].get("kind"),
                    reasons=g["reasons"],
                )
            elif runnable(gate_class, approval):
                g["state"] = "running"
                now_idx.append(i)
        queued = [i for i, g in enumerate(gates) if g["state"] == "queued"]
        with q.locked(self.paths):
            if q.read_pending(self.paths) is not None:
                q.archive(self.paths, doc, "dropped", reason="another decision was already pending")
                self.events.emit(
                    "decision-dropped", decision_id=decision_id, reason="another decision is pending"
                )
                return CycleResult(
                    "dropped", cycle_id, decision_id, "another decision is pending", fp, True, summary
                )
            if queued:
                q.write_pending(self.paths, doc)
                self.events.emit(
                    "decision-queued",
                    decision_id=decision_id,
                    queued=queued,
                    running=now_idx,
                    approval=approval,
                )
            by = f"policy ({approval})"
            outcomes = self._execute(doc, now_idx, approved_by=by) if now_idx else []
            if queued:
                q.write_pending(self.paths, doc)
            else:
                q.archive(self.paths, doc, "executed", outcomes=outcomes)
            if outcomes:
                q.file_decision(self.paths, doc, outcomes, approved_by=by)
        outcome = "executed" if not queued else ("partial" if now_idx else "queued")
        failed = sum(1 for o in outcomes if o["state"] != "done")
        detail = f"{len(now_idx)} run, {len(queued)} queued" + (f", {failed} failed" if failed else "")
        return CycleResult(outcome, cycle_id, decision_id, detail, fp, True, summary, outcomes=outcomes)

    def _execute(self, doc: dict[str, Any], indices: list[int], *, approved_by: str) -> list[dict[str, Any]]:
        """Run the chosen actions at most once each: `started` is on disk before anything is sent."""
        actions = doc["decision"].get("actions", [])
        path = q.begin_execution(self.paths, doc, indices)
        outcomes = []
        for i in indices:
            action = actions[i]
            started_at = iso()  # before anything is sent: a dispatch's report must be newer than this
            q.mark_step(path, i, "started", at=started_at)
            self.events.emit(
                "action-started",
                decision_id=doc["id"],
                index=i,
                kind=action.get("kind"),
                target=_target(action),
                approved_by=approved_by,
            )
            try:
                self._perform(action)
            except Exception as exc:
                q.mark_step(path, i, "failed", error=_line(exc))
                doc["gates"][i]["state"] = "failed"
                self.events.emit(
                    "action-failed",
                    decision_id=doc["id"],
                    index=i,
                    kind=action.get("kind"),
                    target=_target(action),
                    error=_line(exc),
                    error_type=type(exc).__name__,
                )
                outcomes.append({"index": i, "state": "failed", "error": _line(exc)})
                continue
            q.mark_step(path, i, "done")
            doc["gates"][i]["state"] = "done"
            self.events.emit(
                "action-done", decision_id=doc["id"], index=i, kind=action.get("kind"), target=_target(action)
            )
            self._after(action, doc, i, started_at=started_at)
            outcomes.append({"index": i, "state": "done", "error": None})
        q.finish_execution(path)
        return outcomes

    def _perform(self, raw: dict[str, Any]) -> None:
        """Send one action through the substrate (the action is re-validated against its model first)."""
        try:
            action = Decision.model_validate({"version": 1, "critique": "-", "actions": [raw]}).actions[0]
        except ValidationError as exc:
            raise EngineError(f"the action no longer validates: {exc.errors()[0].get('msg')}") from None
        shape = gate_actions([raw], self._shape_context())[0]
        if shape.gate == "blocked":  # never sent, whoever asked: the last check before the substrate
            raise EngineError(f"refusing a blocked action: {shape.reasons[0]}")
        if isinstance(action, DispatchAction):
            self.substrate.dispatch(
                action.lane, action.payload, mode=action.mode, wait_ready=_wait(action.wait_ready)
            )
        elif isinstance(action, SteerAction):
            self.substrate.dispatch(
                action.lane,
                action.payload,
                mode=action.mode,
                interrupt=action.interrupt,
                wait_ready=_wait(action.wait_for_idle),
            )
        elif isinstance(action, AddLaneAction):
            self.substrate.add_lane(
                action.window,
                harness=action.harness,
                cmd=action.cmd,
                model=action.model or None,
                role=action.role or None,
                auto_approve=action.auto_approve,
                wait_ready=WAIT_READY_S if action.brief else None,
            )
            if action.brief:
                self.substrate.dispatch(action.window, action.brief, mode="text", wait_ready=WAIT_READY_S)
        elif isinstance(action, DropLaneAction):
            # a base lane needs --force; the gate made that destructive, so a human or `full` chose it
            self.substrate.drop_lane(action.window, force=action.window in BASE_LANES)
        elif isinstance(action, EscalateAction):
            # the human hears of it in the mailbox (the digest, the deck), through loop-mail like any mail
            subject, body = escalation_mail(action.summary, action.rationale)
            self.substrate.send_mail("engine", "coord", subject, body)

    def _after(
        self, action: dict[str, Any], doc: dict[str, Any], index: int, *, started_at: str | None = None
    ) -> None:
        """Bookkeeping after a sent action; idempotent, so recovery can redo it. `started_at`: when the
        action was marked started, before it was sent (now, when no record says)."""
        kind = action.get("kind")
        if kind == "dispatch":
            task_id = task_of_payload(str(action.get("payload") or ""))
            if task_id:
                self._assign(task_id, str(action.get("lane")), doc["id"], started_at or iso())
        elif kind == "steer" and str(index) in doc.get("asks", {}):
            ask_id = doc["asks"][str(index)]
            lane = str(action.get("lane"))
            if ask_id not in self.asks.all():
                task = None
                with updating(self.paths.assignments, {}) as assignments:
                    for tid, a in assignments.items():
                        if a.get("lane") == lane and a.get("state") == "in-progress":
                            a["ask"] = ask_id
                            task = tid
                self.asks.record(
                    ask_id,
                    lane=lane,
                    decision_id=doc["id"],
                    timeout_s=int(action.get("reply_timeout_s") or 1800),
                    task=task,
                )
                self.events.emit("ask", ask_id=ask_id, lane=lane, decision_id=doc["id"], task=task)
        elif kind == "escalate":
            self.events.emit("escalation", decision_id=doc["id"], summary=str(action.get("summary") or ""))

    def _assign(self, task_id: str, lane: str, decision_id: str, dispatched_at: str) -> None:
        tasks, _ = load_tasks(self.paths.tasks_dir)
        task = next((t for t in tasks if t.id == task_id and not t.archived), None)
        if task is not None:
            try:
                set_status(task.path, "in-progress", only_from=("open",))
            except TaskError as exc:
                self.events.emit("task-update-failed", task=task_id, error=_line(exc))
        with updating(self.paths.assignments, {}) as assignments:
            if task_id not in assignments or assignments[task_id].get("state") != "in-progress":
                assignments[task_id] = {
                    "lane": lane,
                    "decision_id": decision_id,
                    "dispatched_at": dispatched_at,
                    "state": "in-progress",
                    "seen_working": False,
                    "ask": None,
                }
        self.events.emit("task-in-progress", task=task_id, lane=lane, decision_id=decision_id)
        pm.sync(self._adapters(), "push", events=self.events, cwd=str(self.paths.project_root))

    # ------------------------------------------------------------------ crash recovery
    def recover(self) -> list[dict[str, Any]]:
        """Close out executions a crash interrupted: started actions become uncertain, never re-sent."""
        found: list[dict[str, Any]] = []
        with q.locked(self.paths):
            for path in q.interrupted(self.paths):
                try:
                    record: dict[str, Any] = json.loads(read_project_text(path, ENGINE_CAP))
                except (OSError, ValueError, RecursionError):
                    os.replace(path, path.with_suffix(".corrupt"))
                    self.events.emit("recovery-corrupt", file=str(path))
                    continue
                found.extend(self._recover_one(path, record))
            # a pending decision still showing `running` actions lost its executing record: never re-run
            pending = q.read_pending(self.paths)
            if pending is not None and any(g.get("state") == "running" for g in pending.get("gates", [])):
                for g in pending["gates"]:
                    if g.get("state") == "running":
                        g["state"] = "uncertain"
                q.write_pending(self.paths, pending)
        return found

    def _recover_one(self, path: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        actions = record.get("decision", {}).get("actions", [])
        states: dict[int, str] = {}
        for step in record.get("steps", []):
            i = int(step.get("index", -1))
            if not 0 <= i < len(actions):
                continue
            action = actions[i]
            state = step.get("state")
            if state == "started":
                entry = {
                    "id": f"{record['id']}#{i}",
                    "decision_id": record["id"],
                    "index": i,
                    "kind": action.get("kind"),
                    "target": _target(action),
                    "task": task_of_payload(str(action.get("payload") or "")),
                    "action": action,
                    "started_at": step.get("started_at"),
                    "since": iso(),
                }
                with updating(self.paths.uncertain, []) as uncertain:
                    if all(u.get("id") != entry["id"] for u in uncertain):
                        uncertain.append(entry)
                states[i] = "uncertain"
                found.append(entry)
                self.events.emit(
                    "action-uncertain",
                    decision_id=record["id"],
                    index=i,
                    kind=action.get("kind"),
                    target=entry["target"],
                    reason="the engine stopped after this action started: it may have been sent; "
                    "a human must check (loop-engine resolve)",
                )
            elif state == "done":
                self._after(action, record, i, started_at=step.get("started_at"))
                states[i] = "done"
            elif state == "failed":
                states[i] = "failed"
            else:
                # never started, so certainly never sent: it goes back to the queue for a human
                states[i] = "queued"
                self.events.emit(
                    "action-abandoned",
                    decision_id=record["id"],
                    index=i,
                    kind=action.get("kind"),
                    reason="not started before the engine stopped; back in the queue",
                )
        for i, state in states.items():
            record["gates"][i]["state"] = state
        record.pop("steps", None)
        pending = q.read_pending(self.paths)
        if pending is not None and pending.get("id") == record.get("id"):
            for i, state in states.items():
                pending["gates"][i]["state"] = state
            if any(g.get("state") == "queued" for g in pending["gates"]):
                q.write_pending(self.paths, pending)
            else:
                q.archive(self.paths, pending, "interrupted")
                q.clear_pending(self.paths)
        elif pending is None and any(s == "queued" for s in states.values()):
            q.write_pending(self.paths, record)  # the never-sent rest waits for a human
        else:
            q.archive(self.paths, record, "interrupted")
        q.finish_execution(path)
        self.events.emit(
            "recovered", decision_id=record.get("id"), states={str(k): v for k, v in states.items()}
        )
        return found

    # ------------------------------------------------------------------ the human gate
    def _pending_for(self, decision_id: str) -> dict[str, Any]:
        doc = q.read_pending(self.paths)
        if doc is None:
            raise EngineError("no pending decision")
        if doc.get("id") != decision_id:
            raise EngineError(f"{decision_id} is not the pending decision (pending: {doc.get('id')})")
        return doc

    def require_session(self) -> None:
        """EngineError unless the session's tmux server answers (asked through the substrate)."""
        try:
            self.substrate.list_lanes()
        except Exception as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            session = self.paths.session
            # loop-tmux names a session after --project with every byte outside A-Za-z0-9_- made '_'
            booted = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in session)
            hint = f" (loop-tmux names that project's session {booted!r})" if booted != session else ""
            raise EngineError(f"session {session!r} cannot be reached: {first}{hint}") from None

    def approve(self, decision_id: str, expect_digest: str | None = None) -> dict[str, Any]:
        """Run the queued actions. `expect_digest` (the sha256 of pending-decision.json as reviewed): when
        the file changed since, nothing runs — the human approves what they saw, never a later edit."""
        self.recover()
        self._pending_for(decision_id)  # a wrong id is reported before the session is asked
        try:
            self.require_session()
        except EngineError as exc:  # nothing is sent and the decision is not consumed
            raise EngineError(f"{exc}; nothing was run, {decision_id} stays pending") from None
        with q.locked(self.paths):
            doc = self._pending_for(decision_id)
            if expect_digest is not None and q.pending_digest(self.paths) != expect_digest.strip().lower():
                raise EngineError(
                    f"{decision_id} changed on disk since it was reviewed; nothing was run, it stays "
                    "pending: review it again"
                )
            try:  # every file the approval will write, before any action runs: never a half-done approval
                q.preflight(self.paths, (self.paths.assignments, self.paths.asks, self.paths.uncertain))
            except q.QueueError as exc:
                raise EngineError(
                    f"cannot approve {decision_id}: {exc}; nothing was run, it stays pending"
                ) from None
            indices = self._approvable(doc)
            for i in indices:
                doc["gates"][i]["state"] = "running"
            q.write_pending(self.paths, doc)
            self.events.emit("decision-approved", decision_id=decision_id, indices=indices)
            outcomes = self._execute(doc, indices, approved_by="human")
            q.archive(self.paths, doc, "approved", outcomes=outcomes)
            q.clear_pending(self.paths)
            filed = q.file_decision(self.paths, doc, outcomes, approved_by="human")
            if not filed:
                self.events.emit(
                    "checkpoint-not-filed",
                    decision_id=decision_id,
                    reason=q.checkpoint_problem(self.paths) or "ops-wiki/checkpoint.md changed while filing",
                )
        return {"contract_version": 1, "decision_id": decision_id, "outcomes": outcomes, "filed": filed}

    def _shape_context(self) -> GateContext:
        """The gate with no fleet: what an action's shape alone says (blocked needs no fleet facts)."""
        return GateContext(lanes={}, ai_harnesses=frozenset(), adr_dirs=adr_dirs(self.paths.project_root))

    def _approvable(self, doc: dict[str, Any]) -> list[int]:
        """The queued actions a human approval may run. The file may have changed on disk since the gate
        classified it, so its actions are gated again by shape: a blocked shape (coord, `loop-adr accept`,
        a target that is not a plain lane name, an unknown kind) never runs, whatever the file says."""
        actions = doc["decision"].get("actions", [])
        shapes = gate_actions(actions, self._shape_context())
        indices: list[int] = []
        for i, g in enumerate(doc["gates"]):
            if g.get("state") != "queued":
                continue
            if g.get("gate_class") == "blocked" or shapes[i].gate == "blocked":
                reasons = [r for r in shapes[i].reasons if r.startswith("blocked")]
                reasons = reasons or list(g.get("reasons") or [])
                g.update(gate_class="blocked", state="blocked", reasons=reasons)
                self.events.emit(
                    "action-blocked",
                    decision_id=doc["id"],
                    index=i,
                    kind=actions[i].get("kind"),
                    reasons=reasons,
                )
                continue
            indices.append(i)
        return indices

    def reject(self, decision_id: str, reason: str | None) -> dict[str, Any]:
        self.recover()
        with q.locked(self.paths):
            doc = self._pending_for(decision_id)
            for g in doc["gates"]:
                if g.get("state") == "queued":
                    g["state"] = "rejected"
            q.archive(self.paths, doc, "rejected", reason=reason)
            q.clear_pending(self.paths)
            actions = doc["decision"].get("actions", [])
            self.events.emit(
                "decision-rejected",
                decision_id=decision_id,
                reason=reason,
                kinds=[a.get("kind") for a in actions],
                gates=[g.get("gate_class") for g in doc["gates"]],
                harness=(doc.get("brain") or {}).get("harness"),
            )
        return {"contract_version": 1, "decision_id": decision_id, "resolution": "rejected", "reason": reason}

    def resolve(self, uncertain_id: str, *, sent: bool) -> dict[str, Any]:
        with q.locked(self.paths):
            with updating(self.paths.uncertain, []) as uncertain:
                entry = next((u for u in uncertain if u.get("id") == uncertain_id), None)
                if entry is None:
                    raise EngineError(f"no uncertain action {uncertain_id!r}")
                uncertain.remove(entry)
            if sent:
                stub = {"id": entry["decision_id"], "asks": {}}
                self._after(
                    dict(entry.get("action") or {}),
                    stub,
                    int(entry.get("index", 0)),
                    started_at=entry.get("started_at") or entry.get("since"),
                )
            self.events.emit(
                "action-resolved", id=uncertain_id, decision_id=entry.get("decision_id"), sent=sent
            )
        return {"contract_version": 1, "id": uncertain_id, "sent": sent}
