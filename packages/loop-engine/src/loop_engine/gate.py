"""The gate: every action of a decision is classified by its SHAPE as safe, destructive or blocked.

- blocked, always, in every approval mode and even after a human approves: anything aimed at the
  coord lane, anything carrying `loop-adr accept`, a target that is not a plain lane name, an unknown kind.
- destructive (runs only in `full` mode or after a human approves): any raw command (a dispatch or
  steer in command mode, add_lane with cmd or with a non-agent harness), text pasted into a pane that
  does not run an AI agent (a bare shell, a command, a dead pane, a lane we cannot see) — such text IS a
  command —, an add_lane with auto-approve, drop_lane of a base lane, anything over the `destructive`
  caps, a payload with control characters (they could end a bracketed paste) or matching a payload pattern.
- safe: everything else (text to an idle-able agent lane, an agent lane added without auto-approve,
  a worker lane dropped, stop, escalate).

The classification only ever moves an action UP (safe → destructive → blocked): no field of an action
and no context can make a destructive shape safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

GateClass = Literal["safe", "destructive", "blocked"]
_RANK: dict[str, int] = {"safe": 0, "destructive": 1, "blocked": 2}

LANE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")  # fullmatch: `$` would accept a trailing newline
ADR_ACCEPT_RE = re.compile(r"loop[-_]adr(?:\.sh)?\b.{0,200}?\baccept\b", re.IGNORECASE | re.DOTALL)
# Any C0 control character other than tab and newline, DEL, and C1 controls: ESC can end a bracketed
# paste early and turn the rest of the payload into keystrokes.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
COORD = "coord"
KINDS = ("dispatch", "add_lane", "drop_lane", "steer", "stop", "escalate")

# Always on, whatever the config adds: shapes of commands nobody wants run unattended.
BUILTIN_PAYLOAD_PATTERNS: tuple[str, ...] = (
    r"\brm\s+-[a-z]*r[a-z]*f|\brm\s+-[a-z]*f[a-z]*r",
    r"\bgit\s+push\b[^\n]*(?:\s-f\b|--force)",
    r"\bgit\s+reset\s+--hard\b",
    r"\bgit\s+clean\s+-[a-z]*f",
    r"\bdrop\s+(?:table|database|schema)\b",
    r"\btruncate\s+table\b",
    r"\bmkfs\b",
    r"\bdd\s+if=",
    r":\(\)\s*\{\s*:\|:&\s*\};:",
    r"\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z|k)?sh\b",
    r"\bsudo\b",
    r"\bchmod\s+-R\s+0?777\b",
    r"--force\b",
    r"--no-verify\b",
    r"\bkubectl\s+delete\b",
    r"\bterraform\s+(?:apply|destroy)\b",
)


BASE_LANES = frozenset(
    {
        "coord",
        "web",
        "infra",
        "validate",
        "validate-left",
        "validate-right",
        "ops",
        "ops-top",
        "ops-bottom",
        "docs",
    }
)


@dataclass(frozen=True)
class LaneFacts:
    """What the gate needs to know about one lane of the live fleet."""

    name: str
    base: bool
    agent: bool  # its pane runs an AI agent (not a bare shell, a command or a dead pane)
    window_exists: bool = True


@dataclass(frozen=True)
class GateContext:
    lanes: Mapping[str, LaneFacts]
    ai_harnesses: frozenset[str]
    max_dispatches_per_cycle: int = 4
    max_lanes: int = 12
    payload_patterns: Sequence[str] = ()
    base_lanes: frozenset[str] = BASE_LANES


@dataclass(frozen=True)
class GateVerdict:
    gate: GateClass
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "reasons": list(self.reasons)}


class _Verdict:
    def __init__(self) -> None:
        self.gate: GateClass = "safe"
        self.reasons: list[str] = []

    def raise_to(self, gate: GateClass, reason: str) -> None:
        if _RANK[gate] > _RANK[self.gate]:
            self.gate = gate
        if _RANK[gate] > 0:
            self.reasons.append(f"{gate}: {reason}")

    def freeze(self) -> GateVerdict:
        return GateVerdict(self.gate, tuple(self.reasons))


def _get(action: Any, name: str) -> Any:
    if isinstance(action, Mapping):
        return action.get(name)
    return getattr(action, name, None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _is_coord(target: str) -> bool:
    head = re.split(r"[.:]", target.strip().lstrip("="), maxsplit=1)[0]
    return head.lower() == COORD or target.strip().lower().startswith(COORD)


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """Config patterns are regexes; one that does not compile is matched literally instead."""
    out: list[re.Pattern[str]] = []
    for pat in (*BUILTIN_PAYLOAD_PATTERNS, *patterns):
        try:
            out.append(re.compile(pat, re.IGNORECASE))
        except re.error:
            out.append(re.compile(re.escape(pat), re.IGNORECASE))
    return out


def gate_actions(actions: Sequence[Any], ctx: GateContext) -> list[GateVerdict]:
    """Classify each action of one decision (caps count across the whole decision)."""
    patterns = compile_patterns(ctx.payload_patterns)
    verdicts: list[GateVerdict] = []
    text_sends = 0
    lanes_after = sum(1 for facts in ctx.lanes.values() if facts.window_exists)
    for action in actions:
        v = _Verdict()
        kind = _text(_get(action, "kind"))
        if kind not in KINDS:
            v.raise_to("blocked", f"unknown action kind {kind!r}")
            verdicts.append(v.freeze())
            continue
        texts = [_text(_get(action, key)) for key in ("payload", "brief", "cmd")]
        for text in texts:
            if text and ADR_ACCEPT_RE.search(text):
                v.raise_to("blocked", "carries `loop-adr accept`, which only a human runs")
        target = _text(_get(action, "lane") if kind in ("dispatch", "steer") else _get(action, "window"))
        if kind in ("dispatch", "steer", "add_lane", "drop_lane"):
            if not target or _is_coord(target):
                v.raise_to("blocked", "aimed at the coord lane" if target else "no target lane")
            elif not LANE_NAME_RE.fullmatch(target):
                v.raise_to("blocked", f"target {target!r} is not a plain lane name")
        for text in texts:
            if text and CONTROL_RE.search(text):
                v.raise_to("destructive", "control characters in the text")
                break
        for text in texts:
            hit = next((p.pattern for p in patterns if text and p.search(text)), None)
            if hit is not None:
                v.raise_to("destructive", f"matches payload pattern {hit!r}")
                break
        if kind in ("dispatch", "steer"):
            mode = _text(_get(action, "mode") or "text")
            if mode != "text":
                v.raise_to("destructive", f"a raw command (mode {mode})")
            facts = ctx.lanes.get(target)
            if facts is None:
                v.raise_to("destructive", f"lane {target!r} is not in the observed fleet")
            elif not facts.agent:
                v.raise_to(
                    "destructive", f"lane {target!r} does not run an AI agent: text there is a command"
                )
            text_sends += 1
            if text_sends > ctx.max_dispatches_per_cycle:
                v.raise_to("destructive", f"over max_dispatches_per_cycle ({ctx.max_dispatches_per_cycle})")
        elif kind == "add_lane":
            if _text(_get(action, "cmd")):
                v.raise_to("destructive", "add_lane with a raw cmd")
            harness = _text(_get(action, "harness"))
            if not harness and not _text(_get(action, "cmd")):
                v.raise_to("destructive", "add_lane with neither harness nor cmd")
            elif harness and harness not in ctx.ai_harnesses:
                v.raise_to("destructive", f"harness {harness!r} is not an AI agent")
            if _get(action, "auto_approve"):
                v.raise_to("destructive", "auto-approve lets the agent run commands unattended")
            if target in ctx.lanes:
                v.raise_to("destructive", f"a lane named {target!r} already exists")
            lanes_after += 1
            if lanes_after > ctx.max_lanes:
                v.raise_to("destructive", f"over max_lanes ({ctx.max_lanes})")
        elif kind == "drop_lane":
            facts = ctx.lanes.get(target)
            if target in ctx.base_lanes or facts is None or facts.base:
                v.raise_to("destructive", f"drops {target!r}, a base lane or one we cannot see")
        verdicts.append(v.freeze())
    return verdicts


def runnable(gate: str, approval: str) -> bool:
    """Whether an action of this gate class runs without a human in this approval mode."""
    if gate == "blocked":
        return False
    if approval == "full":
        return True
    if approval == "auto":
        return gate == "safe"
    return False
