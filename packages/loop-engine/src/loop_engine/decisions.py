"""The decision room: a brain's decision gated action by action, then run, queued, or archived.

Steers that expect a reply get an ask id and reply instructions; the gate classifies each action
against the fleet; the approval mode says what runs now (through the execution room) and what waits
in pending-decision.json for a human; a decision of only stops (a noop) or only blocked actions is
archived and never executed.
"""

from __future__ import annotations

from typing import Any

from loop_schemas import Decision

from loop_engine import asks as asks_mod
from loop_engine import drive
from loop_engine import policy as policy_mod
from loop_engine import queue as q
from loop_engine.basics import CycleResult, target_of
from loop_engine.config import EffectiveConfig
from loop_engine.events import EventLog, iso, new_id
from loop_engine.execute import Executor
from loop_engine.gate import GateContext, adr_dirs, compile_patterns, gate_actions, runnable
from loop_engine.observe import Observation
from loop_engine.paths import EnginePaths
from loop_engine.stopguard import StopGuard

PAYLOAD_MAX = 16384


class Decisions:
    def __init__(
        self, paths: EnginePaths, config: EffectiveConfig, events: EventLog, executor: Executor
    ) -> None:
        self.paths = paths
        self.config = config
        self.events = events
        self.executor = executor
        # [policy] this cycle's harness-policy view (set by the engine; None: the all-default policy)
        self.policy_view: policy_mod.PolicyView | None = None
        # the defensive stop, checked before a stop is obeyed (set by the engine; None: obeyed as is)
        self.stop_guard: StopGuard | None = None

    def payload_patterns(self) -> list[str]:
        return [str(p) for p in self.config.model.destructive.payload_patterns]

    def prepare(self) -> None:
        """What handle() builds for any decision, built ahead (the engine calls this while the brain
        thinks): the gate's payload patterns (re keeps what it compiled) and the queued decision's
        validator."""
        from loop_schemas.pending import PendingDecision

        compile_patterns(self.payload_patterns())
        PendingDecision.model_rebuild()

    def gate_context(self, obs: Observation) -> GateContext:
        d = self.config.model.destructive
        return GateContext(
            lanes=obs.lane_facts(),
            ai_harnesses=obs.ai_harnesses,
            max_dispatches_per_cycle=int(d.max_dispatches_per_cycle),
            max_lanes=int(d.max_lanes),
            payload_patterns=self.payload_patterns(),
            adr_dirs=adr_dirs(self.paths.project_root),
            sandboxed_text_safe=bool(self.config.model.gate.sandboxed_text_safe),
            ledger_branches=drive.ledger_windows(self.paths),
        )

    def handle(
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
                note = asks_mod.reply_instructions(ask_id, str(action.get("lane")), self.paths.project_root)
                payload = str(action.get("payload") or "")
                action["payload"] = payload[: PAYLOAD_MAX - len(note)] + note
                asks[str(i)] = ask_id
        # the verify drive: a build for a lane at the fix-round cap becomes an escalate
        cap = int(self.config.model.max_fix_rounds)
        drive.cap_builds(actions, self.paths, cap, self.events, cycle_id=cycle_id, decision_id=decision_id)
        if self.policy_view is not None:  # [policy] rewrite disallowed harnesses, then gate both ways
            for record in policy_mod.rewrite(actions, self.policy_view):
                self.events.emit("governance", cycle_id=cycle_id, governance=record)
            data["actions"] = actions
        verdicts = gate_actions(actions, self.gate_context(obs))
        if self.policy_view is not None:
            extra = policy_mod.gate(actions, self.policy_view)
            verdicts = [policy_mod.merge(v, e) for v, e in zip(verdicts, extra, strict=True)]
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
            {"index": i, "kind": a.get("kind"), "target": target_of(a), "gate_class": g["gate_class"]}
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
            why = "; ".join(" ".join(str(a.get("rationale", "")).split()) for a in actions) or None
            suspect = self.stop_guard.suspect(cycle_id, obs) if self.stop_guard is not None else None
            if suspect is not None:  # not obeyed: the next trigger asks the brain again
                q.archive(self.paths, doc, suspect[0])
                return CycleResult(
                    suspect[0], cycle_id, decision_id, suspect[1], fp, True, summary, reason=why
                )
            q.archive(self.paths, doc, "noop")
            for i, a in enumerate(actions):  # the stop is obeyed: one `action` each (loop-metrics' stops)
                self.events.emit("action", decision_id=decision_id, index=i, kind=a.get("kind"), lane=None)
            self.events.emit("decision-noop", cycle_id=cycle_id, decision_id=decision_id)
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
            elif runnable(gate_class, approval, str(actions[i].get("kind"))):
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
            if now_idx:  # the engine decided these alone: loop-metrics' autonomy counts them
                self.events.emit(
                    "decision-approved",
                    decision_id=decision_id,
                    indices=now_idx,
                    decided_by="engine",
                    approval=approval,
                )
            outcomes = self.executor.execute(doc, now_idx, approved_by=by) if now_idx else []
            if queued:
                if now_idx:  # what ran changed its gates' states; with nothing run the file is current
                    q.write_pending(self.paths, doc)
            else:
                q.archive(self.paths, doc, "executed", outcomes=outcomes)
            if outcomes:
                q.file_decision(self.paths, doc, outcomes, approved_by=by, keep=self.config.keep_decisions)
        outcome = "executed" if not queued else ("partial" if now_idx else "queued")
        failed = sum(1 for o in outcomes if o["state"] != "done")
        detail = f"{len(now_idx)} run, {len(queued)} queued" + (f", {failed} failed" if failed else "")
        return CycleResult(outcome, cycle_id, decision_id, detail, fp, True, summary, outcomes=outcomes)
