"""The execution room: run chosen actions at most once each, through the journal in executing/.

Each action is marked `started` on disk before it is sent and `done` / `failed` after; the bookkeeping
after a sent action (a dispatch's assignment, a steer's ask, an escalation's event) is idempotent, so
recovery can redo it. uncertain.json lists actions that may or may not have been sent (a crash between
`started` and `done`): a human resolves them, none is ever re-sent.
"""

from __future__ import annotations

from typing import Any

from loop_schemas import (
    AddLaneAction,
    BuildAction,
    Decision,
    DispatchAction,
    DropLaneAction,
    EscalateAction,
    MergeAction,
    RepinModelAction,
    SteerAction,
    VerifyAction,
)
from pydantic import ValidationError

from loop_engine import drive, outage
from loop_engine import queue as q
from loop_engine.asks import AskBook
from loop_engine.basics import WAIT_READY_S, EngineError, one_line, pm_adapters, target_of
from loop_engine.config import EffectiveConfig
from loop_engine.events import EventLog, iso
from loop_engine.gate import BASE_LANES, GateContext, adr_dirs, gate_actions
from loop_engine.handoff import Handoffs
from loop_engine.observe import SubstrateLike
from loop_engine.paths import EnginePaths
from loop_engine.runs import Runs
from loop_engine.store import read_json, updating
from loop_engine.tasks import TaskError, load_tasks, set_status, task_of_payload


def read_uncertain(paths: EnginePaths) -> list[dict[str, Any]]:
    """The actions a crash left uncertain (maybe sent), waiting for a human's `resolve`."""
    value: list[dict[str, Any]] = read_json(paths.uncertain, [])
    return value


def shape_context(paths: EnginePaths) -> GateContext:
    """The gate with no fleet: what an action's shape alone says (blocked needs no fleet facts)."""
    return GateContext(lanes={}, ai_harnesses=frozenset(), adr_dirs=adr_dirs(paths.project_root))


def escalation_mail(summary: str, rationale: str) -> tuple[str, str]:
    """(subject, body) of the mail an escalation sends to coord: the subject is one line of the summary."""
    first = next((line.strip() for line in summary.splitlines() if line.strip()), "")
    first = "".join(c if c.isprintable() else " " for c in first)[:120]
    body = f"The engine escalates to a human.\n\nSummary:\n{summary.rstrip()}\n\nWhy:\n{rationale.rstrip()}\n"
    return f"escalation: {first or 'a human is needed'}", body


def _wait(value: bool | float | None) -> float | None:
    if value is True:
        return WAIT_READY_S
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


class Executor:
    def __init__(
        self,
        paths: EnginePaths,
        substrate: SubstrateLike,
        config: EffectiveConfig,
        events: EventLog,
        asks: AskBook,
        handoffs: Handoffs,
    ) -> None:
        self.paths = paths
        self.substrate = substrate
        self.config = config
        self.events = events
        self.asks = asks
        self.handoffs = handoffs
        self.runs = Runs(paths, config, events)  # the verify drive's detached runs (runs.py)

    def execute(self, doc: dict[str, Any], indices: list[int], *, approved_by: str) -> list[dict[str, Any]]:
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
                target=target_of(action),
                approved_by=approved_by,
            )
            try:
                self.perform(action, doc["id"])
            except Exception as exc:
                q.mark_step(path, i, "failed", error=one_line(exc))
                doc["gates"][i]["state"] = "failed"
                self.events.emit(
                    "action-failed",
                    decision_id=doc["id"],
                    index=i,
                    kind=action.get("kind"),
                    target=target_of(action),
                    error=one_line(exc),
                    error_type=type(exc).__name__,
                )
                outcomes.append({"index": i, "state": "failed", "error": one_line(exc)})
                continue
            q.mark_step(path, i, "done")
            doc["gates"][i]["state"] = "done"
            self.events.emit(
                "action-done",
                decision_id=doc["id"],
                index=i,
                kind=action.get("kind"),
                target=target_of(action),
            )
            self.after(action, doc, i, started_at=started_at)
            outcomes.append({"index": i, "state": "done", "error": None})
        q.finish_execution(path)
        return outcomes

    def perform(self, raw: dict[str, Any], decision_id: str | None = None) -> None:
        """Send one action through the substrate (the action is re-validated against its model first)."""
        try:
            action = Decision.model_validate({"version": 1, "critique": "-", "actions": [raw]}).actions[0]
        except ValidationError as exc:
            raise EngineError(f"the action no longer validates: {exc.errors()[0].get('msg')}") from None
        shape = gate_actions([raw], shape_context(self.paths))[0]
        if shape.gate == "blocked":  # never sent, whoever asked: the last check before the substrate
            raise EngineError(f"refusing a blocked action: {shape.reasons[0]}")
        if isinstance(action, DispatchAction):
            payload = action.payload
            if action.mode == "text":  # a worktree lane gets the task specs it is named inline
                payload = self.handoffs.dispatch_text(action.lane, payload)
            self.substrate.dispatch(
                action.lane, payload, mode=action.mode, wait_ready=_wait(action.wait_ready)
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
            plan = self.handoffs.plan_add(action)  # worktree (carry / auto-isolation), recovery brief
            self.substrate.add_lane(
                action.window,
                harness=action.harness,
                cmd=action.cmd,
                model=action.model or None,
                role=action.role or None,
                worktree=plan.worktree,
                auto_approve=action.auto_approve,
                wait_ready=WAIT_READY_S if plan.brief else None,
            )
            if plan.brief:
                self.substrate.dispatch(action.window, plan.brief, mode="text", wait_ready=WAIT_READY_S)
        elif isinstance(action, DropLaneAction):
            self.handoffs.flush(action.window)  # the breadcrumb of an idle agent lane; never raises
            # a base lane needs --force; the gate made that destructive, so a human or `full` chose it
            self.substrate.drop_lane(action.window, force=action.window in BASE_LANES)
        elif isinstance(action, RepinModelAction):  # [outage] only a human's approval runs it (the gate)
            outage.apply_repin(self.paths, action.harness, action.model, action.from_model, decision_id)
        elif isinstance(action, VerifyAction):  # detached: its outcome comes in a later cycle's reap
            self.runs.verify(action.lane)
        elif isinstance(action, BuildAction):
            started = self.runs.build(action.window, action.brief)
            task_id = task_of_payload(action.brief)  # a whole task file as the brief: the lane holds it
            if started is not None and task_id:
                self._assign(task_id, action.window, decision_id or "-", started["started_at"])
        elif isinstance(action, MergeAction):  # only a human's approval runs it (the gate); git, no agent
            drive.merge(self.paths, action.lane, self.runs.base, self.events)
        elif isinstance(action, EscalateAction):
            # the human hears of it in the mailbox (the digest, the deck), through loop-mail like any mail
            subject, body = escalation_mail(action.summary, action.rationale)
            self.substrate.send_mail("engine", "coord", subject, body)

    def after(
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
                self.events.emit("task-update-failed", task=task_id, error=one_line(exc))
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
        adapters = pm_adapters(self.config)
        if adapters:  # the PM sync (loop_engine.pm) loads only in a project that names adapters
            from loop_engine import pm

            pm.sync(adapters, "push", events=self.events, cwd=str(self.paths.project_root))
