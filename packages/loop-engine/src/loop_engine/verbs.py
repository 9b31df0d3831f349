"""The human gate's verbs: approve (run what a human saw queued), reject, and resolve an uncertain action.

Every verb first closes out a crash's leftovers (recovery), works under the queue lock, and gates a
queued action again by its shape before it runs: the file on disk may have changed since it was queued.
"""

from __future__ import annotations

from typing import Any

from loop_engine import queue as q
from loop_engine.basics import EngineError
from loop_engine.events import EventLog
from loop_engine.execute import Executor, shape_context
from loop_engine.fleet import Fleet
from loop_engine.gate import gate_actions
from loop_engine.paths import EnginePaths
from loop_engine.recovery import Recovery
from loop_engine.store import updating


class HumanGate:
    def __init__(
        self,
        paths: EnginePaths,
        fleet: Fleet,
        events: EventLog,
        executor: Executor,
        recovery: Recovery,
    ) -> None:
        self.paths = paths
        self.fleet = fleet
        self.events = events
        self.executor = executor
        self.recovery = recovery

    def _pending_for(self, decision_id: str) -> dict[str, Any]:
        doc = q.read_pending(self.paths)
        if doc is None:
            raise EngineError("no pending decision")
        if doc.get("id") != decision_id:
            raise EngineError(f"{decision_id} is not the pending decision (pending: {doc.get('id')})")
        return doc

    def require_session(self, *, observe_next: bool = False) -> None:
        """EngineError unless the session's tmux server answers (its windows listed by the substrate).
        `observe_next`: a cycle follows, so the lane statuses are read alongside for its observation."""
        try:
            self.fleet.probe(statuses=observe_next)
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
        self.recovery.recover()
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
            self.events.emit(
                "decision-approved", decision_id=decision_id, indices=indices, decided_by="human"
            )
            outcomes = self.executor.execute(doc, indices, approved_by="human")
            q.archive(self.paths, doc, "approved", outcomes=outcomes)
            q.clear_pending(self.paths)
            filed = q.file_decision(
                self.paths, doc, outcomes, approved_by="human", keep=self.executor.config.keep_decisions
            )
            if not filed:
                self.events.emit(
                    "checkpoint-not-filed",
                    decision_id=decision_id,
                    reason=q.checkpoint_problem(self.paths) or "ops-wiki/checkpoint.md changed while filing",
                )
        return {"contract_version": 1, "decision_id": decision_id, "outcomes": outcomes, "filed": filed}

    def _approvable(self, doc: dict[str, Any]) -> list[int]:
        """The queued actions a human approval may run. The file may have changed on disk since the gate
        classified it, so its actions are gated again by shape: a blocked shape (coord, `loop-adr accept`,
        a target that is not a plain lane name, an unknown kind) never runs, whatever the file says."""
        actions = doc["decision"].get("actions", [])
        shapes = gate_actions(actions, shape_context(self.paths))
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
        self.recovery.recover()
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
                self.executor.after(
                    dict(entry.get("action") or {}),
                    stub,
                    int(entry.get("index", 0)),
                    started_at=entry.get("started_at") or entry.get("since"),
                )
            self.events.emit(
                "action-resolved", id=uncertain_id, decision_id=entry.get("decision_id"), sent=sent
            )
        return {"contract_version": 1, "id": uncertain_id, "sent": sent}
