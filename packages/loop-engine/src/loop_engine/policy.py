"""Governed lanes: `engine.harness_policy` in the gate, the brain's roster, retire proposals, the boot check.

The all-default policy is a no-op: no roster call, no rule below. Under a policy, each cycle takes ONE
roster snapshot (the substrate's `roster --json`) and the lane-config once, and:

- an add_lane whose harness its role disallows is rewritten to the role's `role_defaults` harness when
  that one is allowed (event `governance {event: harness-rewrite, window, role, from_harness, to_harness}`);
- every action gets the policy's verdict on top of the shape gate's (blocked > destructive > safe):
  add_lane BLOCKED: harness denied, not in the roster, or still disallowed for its role; DESTRUCTIVE:
  not present (or a `health` other than ok), cost over `cost_ceiling`, autonomy over `autonomy_cap`, high
  drift with auto_approve for a high-risk role, or reuse-before-spawn (the role already has an idle
  worker lane and at least `concurrency_allowance` live ones);
  a text dispatch or steer BLOCKED when the target lane or its harness is unknown, DESTRUCTIVE when the
  harness is `shell` or not an agent (loop_schemas.is_agent);
  drop_lane of a standing lane BLOCKED (kind: lane-config `kind:`, else the window's, else base lanes
  standing and added lanes worker);
- a lane's harness is its `@loop_lane_harness` tag, else its `harness` in lane-config (+ host overlay);
- the brain's prompt gets the roster block (allowed + present + healthy) and a rubric;
- a worker lane idle for its role's `retire_after_idle_cycles` cycles gets a PROPOSED drop_lane (a
  pending decision only a human approves), at most one per lane until its status changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop_schemas import (
    ROSTER_HEADING,
    EngineConfig,
    Harness,
    HarnessPolicy,
    SchemaError,
    is_agent,
    load_lane_config,
    printable,
)
from loop_schemas.policy import AUTONOMY_ORDER, COST_ORDER
from pydantic import BaseModel

from loop_engine.gate import GateClass, GateVerdict

RANK = {"safe": 0, "destructive": 1, "blocked": 2}
RosterFn = Callable[[], Any]


@dataclass(frozen=True)
class RosterEntry:
    """One harness of `roster --json` (the fields the policy reads)."""

    name: str
    present: bool
    capability_tags: tuple[str, ...] = ()
    cost_tier: str = ""
    autonomy_class: str = ""
    auth_requirement: str = ""
    drift_pins: str = ""
    oneshot_template: str = ""
    health: str | None = None  # a `health` key, when the roster carries one

    @property
    def agent(self) -> bool:
        return is_agent(
            {"capability_tags": list(self.capability_tags), "oneshot_template": self.oneshot_template}
        )

    @property
    def healthy(self) -> bool:
        return self.present and (self.health is None or self.health == "ok")


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(t).strip() for t in value if str(t).strip())
    return ()


def roster_entries(raw: Any) -> dict[str, RosterEntry]:
    """The roster by name, from `roster --json`'s document, its `harnesses` list, or a list of models."""
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    items = raw.get("harnesses", []) if isinstance(raw, dict) else raw
    out: dict[str, RosterEntry] = {}
    for item in items if isinstance(items, (list, tuple)) else ():
        data = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            continue
        health = data.get("health")
        out[data["name"]] = RosterEntry(
            name=data["name"],
            present=data.get("present") is True,
            capability_tags=_tags(data.get("capability_tags")),
            cost_tier=str(data.get("cost_tier") or ""),
            autonomy_class=str(data.get("autonomy_class") or ""),
            auth_requirement=str(data.get("auth_requirement") or ""),
            drift_pins=str(data.get("drift_pins") or ""),
            oneshot_template=str(data.get("oneshot_template") or ""),
            health=str(health) if isinstance(health, str) else None,
        )
    return out


@dataclass(frozen=True)
class PolicyLane:
    """One lane as the harness policy sees it: its harness, kind, role and status."""

    name: str
    harness: str | None
    kind: str  # standing | worker
    role: str | None
    status: str


@dataclass
class PolicyView:
    """One cycle's policy facts: the policy, the roster snapshot and the fleet as the policy sees it."""

    policy: HarnessPolicy
    roster: dict[str, RosterEntry]
    lanes: dict[str, PolicyLane]
    roster_error: str | None = None
    rewrites: list[dict[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------------- harness rules
def allowed(policy: HarnessPolicy, harness: str) -> bool:
    """Empty allow = every harness; deny wins."""
    if harness in policy.deny:
        return False
    return not policy.allow or harness in policy.allow


def role_allows(view: PolicyView, role: str | None, harness: str) -> bool:
    """The harness is allowed, in the roster, and (when the role has a tag list) has one of its tags."""
    entry = view.roster.get(harness)
    if entry is None or not allowed(view.policy, harness):
        return False
    wanted = view.policy.role_tag_map.get(role or "") if role else None
    return not wanted or any(t in entry.capability_tags for t in wanted)


def rewrite(actions: list[dict[str, Any]], view: PolicyView) -> list[dict[str, str]]:
    """Rewrite, in place, each add_lane whose harness its role disallows to the role's allowed default."""
    done: list[dict[str, str]] = []
    for action in actions:
        if action.get("kind") != "add_lane" or not action.get("harness") or not action.get("role"):
            continue
        role, harness = str(action["role"]), str(action["harness"])
        target = view.policy.role_defaults.get(role)
        if role_allows(view, role, harness) or not target or target == harness:
            continue
        if role_allows(view, role, target):
            action["harness"] = target
            done.append(
                {
                    "event": "harness-rewrite",
                    "window": str(action.get("window") or ""),
                    "role": role,
                    "from_harness": harness,
                    "to_harness": target,
                }
            )
    return done


def _above(value: str, cap: str, order: Sequence[str]) -> bool:
    if not cap or cap not in order:
        return False
    # an unknown tier is above any cap: the policy cannot vouch for it
    return value not in order or order.index(value) > order.index(cap)


class _Up:
    """A verdict that only moves up (safe -> destructive -> blocked), each reason kept."""

    def __init__(self) -> None:
        self.level: GateClass = "safe"
        self.reasons: list[str] = []

    def up(self, to: GateClass, why: str) -> None:
        if RANK[to] > RANK[self.level]:
            self.level = to
        self.reasons.append(f"{to}: harness policy: {why}")


def gate(actions: Sequence[Mapping[str, Any]], view: PolicyView) -> list[GateVerdict]:
    """The policy's verdict on each action (merged with the shape gate's by `merge`)."""
    out: list[GateVerdict] = []
    p = view.policy
    for action in actions:
        verdict = _Up()
        up = verdict.up
        kind = action.get("kind")
        if kind == "add_lane" and action.get("harness"):
            harness = str(action["harness"])
            role = str(action.get("role") or "") or None
            entry = view.roster.get(harness)
            if harness in p.deny:
                up("blocked", f"harness {harness!r} is denied")
            elif entry is None:
                up("blocked", f"harness {harness!r} is not in the roster" + _why_no_roster(view))
            elif not role_allows(view, role, harness):
                up("blocked", f"harness {harness!r} is not allowed for role {role or '-'!r}")
            if entry is not None:
                if not entry.present:
                    up("destructive", f"harness {harness!r} is not installed here")
                elif entry.health is not None and entry.health != "ok":
                    up("destructive", f"harness {harness!r} health is {entry.health}")
                if _above(entry.cost_tier, p.cost_ceiling, COST_ORDER):
                    up("destructive", f"cost {entry.cost_tier or '?'} is over cost_ceiling {p.cost_ceiling}")
                if _above(entry.autonomy_class, p.autonomy_cap, AUTONOMY_ORDER):
                    up(
                        "destructive",
                        f"autonomy {entry.autonomy_class or '?'} is over autonomy_cap {p.autonomy_cap}",
                    )
                if entry.drift_pins == "high" and action.get("auto_approve") and role in p.high_risk_roles:
                    up("destructive", f"high-drift {harness!r} with auto-approve for high-risk role {role!r}")
            if role is not None:
                rule = p.role_rules.get(role)
                allowance = rule.concurrency_allowance if rule is not None else 1
                workers = [ln for ln in view.lanes.values() if ln.kind == "worker" and ln.role == role]
                idle = [ln for ln in workers if ln.status == "idle"]
                if idle and len(workers) >= allowance:
                    up(
                        "destructive",
                        f"reuse before spawn: role {role!r} has {len(idle)} idle worker lane(s) "
                        f"({', '.join(ln.name for ln in idle)}) and {len(workers)} live "
                        f"(concurrency_allowance {allowance})",
                    )
        elif kind in ("dispatch", "steer") and str(action.get("mode") or "text") == "text":
            lane = view.lanes.get(str(action.get("lane") or ""))
            if lane is None:
                up("blocked", f"lane {action.get('lane')!r} is unknown")
            elif not lane.harness:
                up("blocked", f"lane {lane.name!r} has no known harness")
            elif lane.harness not in view.roster:
                up(
                    "blocked",
                    f"lane {lane.name!r} runs {lane.harness!r}, not in the roster" + _why_no_roster(view),
                )
            elif lane.harness == "shell" or not view.roster[lane.harness].agent:
                up(
                    "destructive",
                    f"lane {lane.name!r} runs {lane.harness!r}, not an agent: text there is a command",
                )
        elif kind == "drop_lane":
            lane = view.lanes.get(str(action.get("window") or ""))
            if lane is not None and lane.kind == "standing":
                up("blocked", f"lane {lane.name!r} is a standing lane")
        out.append(GateVerdict(verdict.level, tuple(verdict.reasons)))
    return out


def _why_no_roster(view: PolicyView) -> str:
    return f" (the roster could not be read: {view.roster_error})" if view.roster_error else ""


def merge(base: GateVerdict, extra: GateVerdict) -> GateVerdict:
    """Only ever up: the higher class, every reason."""
    level: GateClass = base.gate if RANK[base.gate] >= RANK[extra.gate] else extra.gate
    return GateVerdict(level, base.reasons + extra.reasons)


# ---------------------------------------------------------------------------- the cycle's view
def lane_config_lanes(config_file: Path | None) -> dict[str, dict[str, Any]]:
    """lane-config's lanes (host overlay merged): name -> {harness, kind, role}; {} when unreadable."""
    if config_file is None or not config_file.is_file():
        return {}
    try:
        loaded = load_lane_config(config_file)
    except SchemaError:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in loaded.config.lanes.items():
        data = spec.model_dump(mode="json")
        out[str(name)] = {k: data.get(k) for k in ("harness", "kind", "role")}
    return out


def build_view(
    policy: HarnessPolicy,
    roster: RosterFn | None,
    lanes: Iterable[Any],
    config_lanes: Mapping[str, Mapping[str, Any]],
) -> PolicyView:
    """The cycle's policy view: ONE roster call. `lanes`: the observed LaneViews (name, status, base,
    role, tag_harness, kind)."""
    error: str | None = None
    entries: dict[str, RosterEntry] = {}
    if roster is None:
        error = "this substrate has no roster verb"
    else:
        try:
            entries = roster_entries(roster())
        except Exception as exc:  # the roster is a subprocess: any failure is "no roster", gated closed
            text = str(exc).strip()
            error = text.splitlines()[0][:200] if text else type(exc).__name__
    out: dict[str, PolicyLane] = {}
    for lane in lanes:
        conf = config_lanes.get(lane.name, {})
        kind = conf.get("kind") or getattr(lane, "kind", None) or ("standing" if lane.base else "worker")
        harness = getattr(lane, "tag_harness", None) or conf.get("harness") or None
        out[lane.name] = PolicyLane(
            name=lane.name,
            harness=str(harness) if harness else None,
            kind=str(kind),
            role=lane.role or (str(conf["role"]) if conf.get("role") else None),
            status=lane.status,
        )
    return PolicyView(policy=policy, roster=entries, lanes=out, roster_error=error)


def prompt_block(view: PolicyView) -> str:
    """The roster the brain may pick from (allowed + present + healthy) and the rubric."""
    p = view.policy
    lines = [ROSTER_HEADING, "name tags cost autonomy auth drift agent"]
    for name, e in sorted(view.roster.items()):
        if not allowed(p, name) or not e.healthy:
            continue
        lines.append(
            printable(
                f"{name} {','.join(e.capability_tags) or '-'} {e.cost_tier or '-'} {e.autonomy_class or '-'} "
                f"{e.auth_requirement or '-'} {e.drift_pins or '-'} {'agent' if e.agent else 'not-agent'}",
                multiline=False,
            )
        )
    if len(lines) == 2:
        lines.append("(none: no harness is allowed, installed and healthy)")
    lines.append("rubric:")
    lines.append("- add_lane only with a harness above; a harness outside it is blocked.")
    for role, tags in sorted(p.role_tag_map.items()):
        default = p.role_defaults.get(role)
        lines.append(
            printable(
                f"- role {role} needs a tag in [{', '.join(tags)}]"
                + (f"; its default harness is {default}" if default else ""),
                multiline=False,
            )
        )
    if p.cost_ceiling:
        lines.append(
            f"- cost over {p.cost_ceiling} waits for a human; prefer the cheapest harness that fits."
        )
    if p.autonomy_cap:
        lines.append(f"- autonomy over {p.autonomy_cap} waits for a human.")
    if p.high_risk_roles:
        lines.append(
            f"- roles {', '.join(p.high_risk_roles)}: a high-drift harness with auto_approve "
            "waits for a human."
        )
    lines.append("- reuse an idle worker lane of the role before adding one (concurrency_allowance).")
    lines.append("- dispatch text only to agent lanes; standing lanes are never dropped.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- retire proposals
def retire_candidates(view: PolicyView, idle: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Update the idle-cycle counts (in place) and return the (lane, role, cycles) to propose dropping:
    worker lanes idle for their role's retire_after_idle_cycles, not yet proposed since their status last
    changed. Lanes gone from the fleet are forgotten."""
    for name in [n for n in idle if n not in view.lanes]:
        del idle[name]
    out: list[tuple[str, str, int]] = []
    for name, lane in sorted(view.lanes.items()):
        entry = idle.setdefault(name, {"idle_cycles": 0, "proposed": False})
        if lane.status != "idle":
            entry.update(idle_cycles=0, proposed=False)
            continue
        entry["idle_cycles"] = int(entry.get("idle_cycles") or 0) + 1
        rule = view.policy.role_rules.get(lane.role or "") if lane.role else None
        if lane.kind != "worker" or rule is None or rule.retire_after_idle_cycles is None:
            continue
        if entry["idle_cycles"] >= rule.retire_after_idle_cycles and not entry.get("proposed"):
            out.append((name, str(lane.role), int(entry["idle_cycles"])))
    return out


def tracks_idle(policy: HarnessPolicy) -> bool:
    return any(r.retire_after_idle_cycles is not None for r in policy.role_rules.values())


# ---------------------------------------------------------------------------- boot check
def boot_problems(
    config: EngineConfig, registry: Sequence[Harness], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Why the brain's harness (and the headless ingest's) cannot serve: each must be in brain_allow
    (when set) and have a one-shot template. LOOP_ENGINE_BRAIN_CMD / LOOP_ENGINE_INGEST_CMD skip their
    check (a command given outright needs no harness)."""
    env = os.environ if environ is None else environ
    harness = config.brain.harness or "builtin"
    if harness == "builtin":
        return []
    ingest_harness = str(config.ingest.harness or "") or harness
    checks: list[tuple[str, str]] = []
    if not env.get("LOOP_ENGINE_BRAIN_CMD"):
        checks.append(("brain", harness))
    if config.ingest.mode == "headless" and not env.get("LOOP_ENGINE_INGEST_CMD"):
        checks.append(("headless ingest", ingest_harness))
    by_name = {h.name: h for h in registry}
    allow = config.harness_policy.brain_allow
    problems: list[str] = []
    for role, name in checks:
        if allow and name not in allow:
            problems.append(
                f"the {role} harness {name!r} is not in harness_policy.brain_allow ({', '.join(allow)})"
            )
        h = by_name.get(name)
        if h is None:
            problems.append(f"the {role} harness {name!r} is not in the harness registry")
        elif not h.has_oneshot:
            problems.append(f"the {role} harness {name!r} has no oneshot_template in the registry")
    return problems
