"""Model outages and quota: the brain's back-off, the model pins a human approves, engine proposals.

The back-off (engine/backoff.json) holds only the brain (its calls and the headless ingest, which runs
the brain's harness); observation, reports, asks and PM go on. It is per (harness, model):

- a `model-unavailable` failure holds the brain for `brain.quota_backoff_minutes` (60): event
  `model-unavailable-backoff-set {deadline, harness, model, model_failover}`;
- a `quota` failure holds it until the reset the harness printed (else the default back-off): event
  `quota-backoff-set {deadline, harness, model, resets}` (`resets`: the `resets <time>` hint, if any);
- a cycle it holds emits `cycle-skip {reason: model-unavailable-backoff | quota-backoff, deadline,
  harness}`; once the deadline passes, or the brain's (harness, model) is no longer the one held (a
  human re-pinned it), `…-backoff-cleared {harness, model, reason}` and the file is removed.

Beyond the original: when the harness declares a `model_failover` (registry), the engine proposes a
`repin_model` action as a pending decision. It is destructive and runs only by a human's approval; once
approved, engine/model-pins.json names the model the engine uses for that harness, with the decision
that authorised it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from loop_schemas import Decision, ModelPins, RepinRecord

from loop_engine import queue as q
from loop_engine.brain import BrainError
from loop_engine.events import EventLog, iso, new_id, parse_iso, utcnow
from loop_engine.lazyre import Lazy, served
from loop_engine.paths import EnginePaths
from loop_engine.store import read_json, write_json

# `resets 3pm`, `resets at 15:00 (UTC)`, `resets in 2h 30m`: the time as the harness printed it
_resets_re = Lazy(
    r"\bresets?\s+((?:at\s+|in\s+)?\d[\w:]*(?:\s+\d[\w:]*)*(?:\s*[ap]m\b)?(?:\s*\([^)\n]{1,40}\))?)",
    re.IGNORECASE,
)
HELD_KINDS = ("model-unavailable", "quota")


def pins_path(paths: EnginePaths) -> Any:
    return paths.engine_dir / "model-pins.json"


def read_pins(paths: EnginePaths) -> ModelPins:
    data = read_json(pins_path(paths), {})
    try:
        return ModelPins.model_validate(data if isinstance(data, dict) else {})
    except ValueError:
        return ModelPins()


def pinned_model(paths: EnginePaths, harness: str, configured: str | None) -> str | None:
    """The model the engine uses for `harness`: the one a human re-pinned, else the configured one."""
    pin = read_pins(paths).pins.get(harness)
    return pin.model if pin is not None else configured


def apply_repin(
    paths: EnginePaths, harness: str, model: str, from_model: str | None, decision_id: str | None
) -> None:
    """Record a human-approved re-pin (called only from an approved action)."""
    pins = read_pins(paths)
    pins.pins[harness] = RepinRecord(
        model=model, from_model=from_model, decision_id=decision_id or "", approved_by="human", at=iso()
    )
    write_json(pins_path(paths), pins.model_dump(mode="json"))


def resets_hint(text: str) -> str | None:
    m = _resets_re().search(text)
    return m.group(1).strip() if m else None


def deadline_for(exc: BrainError, minutes: float) -> str:
    """When a back-off for this failure ends: the quota's printed reset, else `minutes` from now."""
    if exc.failure_class == "quota" and exc.reset_at is not None:
        return iso(exc.reset_at)
    return iso(utcnow() + timedelta(minutes=minutes))


def set_backoff(
    paths: EnginePaths,
    events: EventLog,
    exc: BrainError,
    *,
    harness: str,
    model: str | None,
    minutes: float,
    failover: str | None,
    deadline: str | None = None,
) -> str:
    """Hold the brain after a model-unavailable or quota failure; the deadline, ISO (`deadline`: one
    already computed and reported for this failure)."""
    kind = "model-unavailable" if exc.failure_class == "model-unavailable" else "quota"
    deadline = deadline or deadline_for(exc, minutes)
    reason = " ".join(str(exc).split())[:300]
    write_json(
        paths.backoff,
        {
            "until": deadline,
            "reason": reason,
            "since": iso(),
            "kind": kind,
            "harness": harness,
            "model": model,
        },
    )
    extra: dict[str, Any] = {"model_failover": failover or None}
    if kind == "quota":
        extra = {"resets": resets_hint(exc.stderr_excerpt) or resets_hint(str(exc))}
    events.emit(f"{kind}-backoff-set", deadline=deadline, harness=harness, model=model, **extra)
    return deadline


def held(paths: EnginePaths, events: EventLog, *, harness: str, model: str | None) -> dict[str, Any] | None:
    """The back-off that holds the brain's (harness, model) now, or None. A back-off that expired, or that
    held another (harness, model), is cleared (event) and removed."""
    data: dict[str, Any] = read_json(paths.backoff, {})
    until = data.get("until") if isinstance(data, dict) else None
    if not until:
        return None
    kind = str(data.get("kind") or "quota")
    try:
        expired = parse_iso(str(until)) <= utcnow()
    except ValueError:
        expired = True
    moved = "harness" in data and (data.get("harness"), data.get("model")) != (harness, model)
    if not expired and not moved:
        return {**data, "kind": kind}
    paths.backoff.unlink(missing_ok=True)
    if kind in HELD_KINDS:
        events.emit(
            f"{kind}-backoff-cleared",
            harness=str(data.get("harness") or harness),
            model=data.get("model"),
            reason="expired" if expired else f"the brain now runs {harness} {model or '(default model)'}",
        )
    return None


def skip_event(events: EventLog, cycle_id: str, hold: dict[str, Any]) -> None:
    events.emit(
        "cycle-skip",
        cycle_id=cycle_id,
        reason=f"{hold['kind']}-backoff",
        deadline=hold.get("until"),
        harness=hold.get("harness"),
    )


def queue_proposal(
    paths: EnginePaths,
    events: EventLog,
    *,
    cycle_id: str,
    critique: str,
    action: dict[str, Any],
    reasons: list[str],
) -> str | None:
    """Queue one engine-authored action as the pending decision, destructive, for a human to approve or
    reject (never run by a cycle). None when a decision is already pending."""
    decision = Decision.model_validate({"version": 1, "critique": critique, "actions": [action]})
    decision_id = new_id("d")
    doc: dict[str, Any] = {
        "contract_version": 1,
        "id": decision_id,
        "session": paths.session,
        "created_at": iso(),
        "cycle_id": cycle_id,
        "trigger": "engine-proposal",
        "approval_mode": "manual",
        "decision": decision.model_dump(mode="json"),
        "gates": [{"gate_class": "destructive", "reasons": reasons, "state": "queued"}],
        "asks": {},
        "brain": {"harness": "engine", "proposal": True},
    }
    with q.locked(paths):
        if q.read_pending(paths) is not None:
            return None
        q.write_pending(paths, doc)
    target = action.get("window") or action.get("harness")
    events.emit(
        "proposal-queued",
        cycle_id=cycle_id,
        decision_id=decision_id,
        kind=action.get("kind"),
        target=target,
        reasons=reasons,
    )
    return decision_id


def propose_repin(
    paths: EnginePaths,
    events: EventLog,
    *,
    cycle_id: str,
    harness: str,
    model: str | None,
    failover: str,
    deadline: str,
) -> str | None:
    """After a model-unavailable back-off: propose re-pinning `harness` to its declared failover."""
    if not failover or failover == model:
        return None
    why = (
        f"the brain's model {model or '(the configured default)'} on {harness} is unavailable (the brain "
        f"waits until {deadline}); the registry names {failover} as its failover"
    )
    action = {
        "kind": "repin_model",
        "harness": harness,
        "model": failover,
        "from_model": model,
        "rationale": why,
    }
    return queue_proposal(
        paths,
        events,
        cycle_id=cycle_id,
        critique=f"engine proposal: re-pin {harness} to {failover}",
        action=action,
        reasons=["destructive: re-pins the model a harness uses: only a human's approval runs it"],
    )


# compiled on first use (loop_engine.lazyre): a plain cycle never reads them
_PUBLIC_PATTERNS = {
    "RESETS_RE": _resets_re,
}


def __getattr__(name: str) -> re.Pattern[str]:
    return served(__name__, _PUBLIC_PATTERNS, name)
