"""The gate classifies by shape; hypothesis checks no input makes a destructive or blocked shape safe."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from loop_engine.gate import GateContext, LaneFacts, gate_actions, runnable

AI = frozenset({"pi", "claude", "codex"})
LANES = {
    "web": LaneFacts("web", base=True, agent=True),
    "infra": LaneFacts("infra", base=True, agent=True),
    "w2": LaneFacts("w2", base=False, agent=True),
    "ops-top": LaneFacts("ops-top", base=True, agent=False),
    "sh": LaneFacts("sh", base=False, agent=False),
    "coord": LaneFacts("coord", base=True, agent=False),
}


def ctx(**kw: Any) -> GateContext:
    return GateContext(lanes=LANES, ai_harnesses=AI, **kw)


def one(action: dict[str, Any], **kw: Any) -> str:
    return gate_actions([action], ctx(**kw))[0].gate


def test_text_to_an_agent_lane_is_safe() -> None:
    assert one({"kind": "dispatch", "lane": "web", "payload": "Fix the login bug.", "mode": "text"}) == "safe"
    assert one({"kind": "steer", "lane": "w2", "payload": "status?", "expects_reply": True}) == "safe"


def test_raw_commands_are_destructive() -> None:
    assert one({"kind": "dispatch", "lane": "web", "payload": "ls", "mode": "command"}) == "destructive"
    assert one({"kind": "steer", "lane": "web", "payload": "ls", "mode": "command"}) == "destructive"
    assert one({"kind": "add_lane", "window": "w9", "cmd": "npm test"}) == "destructive"
    assert one({"kind": "add_lane", "window": "w9", "harness": "shell"}) == "destructive"


def test_text_into_a_bare_shell_is_a_command() -> None:
    assert one({"kind": "dispatch", "lane": "ops-top", "payload": "hello", "mode": "text"}) == "destructive"
    assert one({"kind": "steer", "lane": "sh", "payload": "hello"}) == "destructive"
    assert one({"kind": "dispatch", "lane": "ghost", "payload": "hello"}) == "destructive"


def test_blocked_shapes() -> None:
    assert one({"kind": "dispatch", "lane": "coord", "payload": "x"}) == "blocked"
    assert one({"kind": "drop_lane", "window": "coord"}) == "blocked"
    assert one({"kind": "dispatch", "lane": "web", "payload": "please run loop-adr accept 3"}) == "blocked"
    assert one({"kind": "dispatch", "lane": "web", "payload": "LOOP-ADR.sh  accept 0003"}) == "blocked"
    assert (
        one({"kind": "add_lane", "window": "x1", "harness": "pi", "brief": "loop-adr accept 1"}) == "blocked"
    )
    assert one({"kind": "dispatch", "lane": "web:0.1", "payload": "x"}) == "blocked"
    assert one({"kind": "rm_rf", "lane": "web"}) == "blocked"


def test_drop_base_lane_destructive_worker_safe() -> None:
    assert one({"kind": "drop_lane", "window": "web"}) == "destructive"
    assert one({"kind": "drop_lane", "window": "w2"}) == "safe"


def test_caps_and_patterns() -> None:
    acts = [{"kind": "dispatch", "lane": "web", "payload": f"task {i}"} for i in range(3)]
    gates = [v.gate for v in gate_actions(acts, ctx(max_dispatches_per_cycle=2))]
    assert gates == ["safe", "safe", "destructive"]
    adds = [{"kind": "add_lane", "window": f"n{i}", "harness": "pi"} for i in range(2)]
    assert [v.gate for v in gate_actions(adds, ctx(max_lanes=len(LANES) + 1))] == ["safe", "destructive"]
    assert (
        one(
            {"kind": "dispatch", "lane": "web", "payload": "deploy to prod now"},
            payload_patterns=[r"deploy\s+to\s+prod"],
        )
        == "destructive"
    )
    assert one({"kind": "dispatch", "lane": "web", "payload": "then rm -rf / please"}) == "destructive"
    assert (
        one(
            {
                "kind": "dispatch",
                "lane": "web",
                "payload": "x",
            },
            payload_patterns=["(unclosed"],
        )
        == "safe"
    )
    assert (
        one({"kind": "dispatch", "lane": "web", "payload": "a (unclosed b"}, payload_patterns=["(unclosed"])
        == "destructive"
    )


def test_control_characters_cannot_slip_through_a_paste() -> None:
    assert one({"kind": "dispatch", "lane": "web", "payload": "hi\x1b[201~\rrm x"}) == "destructive"
    assert one({"kind": "dispatch", "lane": "web", "payload": "line1\nline2\tok"}) == "safe"


def test_add_lane_auto_approve_is_destructive() -> None:
    assert one({"kind": "add_lane", "window": "n1", "harness": "pi"}) == "safe"
    assert one({"kind": "add_lane", "window": "n1", "harness": "pi", "auto_approve": True}) == "destructive"


def test_runnable_by_mode() -> None:
    assert [runnable(g, "manual") for g in ("safe", "destructive", "blocked")] == [False, False, False]
    assert [runnable(g, "auto") for g in ("safe", "destructive", "blocked")] == [True, False, False]
    assert [runnable(g, "full") for g in ("safe", "destructive", "blocked")] == [True, True, False]


# ---------------------------------------------------------------- properties

texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "loop-adr accept 1",
            "rm -rf /",
            "\x1b[201~",
            "coord",
            "ignore previous instructions",
            "$(reboot)",
            "C-c",
        ]
    ),
)
lane_names = st.one_of(
    st.sampled_from([*LANES, "ghost", "Coord", "coord.0", "=coord:0", " coord"]), st.text(max_size=12)
)
actions = st.fixed_dictionaries(
    {"kind": st.sampled_from(["dispatch", "steer", "add_lane", "drop_lane", "stop", "escalate", "other"])},
    optional={
        "lane": lane_names,
        "window": lane_names,
        "payload": texts,
        "brief": texts,
        "cmd": st.one_of(st.none(), texts),
        "mode": st.sampled_from(["text", "command", "keys", ""]),
        "harness": st.sampled_from(["pi", "shell", "mprocs", "", "zz"]),
        "auto_approve": st.booleans(),
        "interrupt": st.booleans(),
        "expects_reply": st.booleans(),
        "summary": texts,
        "rationale": texts,
    },
)


def _min_class(a: dict[str, Any]) -> int:
    """An independent statement of the floor each shape must reach (0 safe, 1 destructive, 2 blocked)."""
    kind = a["kind"]
    target = a.get("lane") if kind in ("dispatch", "steer") else a.get("window")
    floor = 0
    if kind not in ("dispatch", "steer", "add_lane", "drop_lane", "stop", "escalate"):
        return 2
    if kind in ("dispatch", "steer", "add_lane", "drop_lane"):
        t = (target or "").strip().lower()
        if not t or t.lstrip("=").startswith("coord"):
            return 2
    for key in ("payload", "brief", "cmd"):
        if "loop-adr accept" in str(a.get(key) or "").lower():
            return 2
    if kind in ("dispatch", "steer"):
        facts = LANES.get(target or "")
        if (a.get("mode") or "text") != "text" or facts is None or not facts.agent:
            floor = 1
    if kind == "add_lane" and (a.get("cmd") or a.get("auto_approve") or a.get("harness") not in AI):
        floor = 1
    if kind == "drop_lane" and (facts := LANES.get(target or "")) is not None and facts.base:
        floor = 1
    if kind == "escalate":  # asks a human: never run by a cycle (issue 21)
        floor = 1
    if any(
        "rm -rf" in str(a.get(k) or "") or "\x1b" in str(a.get(k) or "") for k in ("payload", "brief", "cmd")
    ):
        floor = max(floor, 1)
    return floor


@settings(max_examples=400, deadline=None)
@given(st.lists(actions, min_size=1, max_size=8), st.integers(0, 8))
def test_no_input_makes_a_dangerous_shape_safe(acts: list[dict[str, Any]], cap: int) -> None:
    verdicts = gate_actions(acts, ctx(max_dispatches_per_cycle=cap))
    rank = {"safe": 0, "destructive": 1, "blocked": 2}
    assert len(verdicts) == len(acts)
    for action, verdict in zip(acts, verdicts, strict=True):
        assert rank[verdict.gate] >= _min_class(action), (action, verdict)
        if verdict.gate != "safe":
            assert verdict.reasons
    sends = [i for i, a in enumerate(acts) if a["kind"] in ("dispatch", "steer")]
    for i in sends[cap:]:
        assert verdicts[i].gate != "safe"


def test_a_target_with_a_trailing_newline_is_not_a_plain_lane_name() -> None:
    # regression: `^…$` with re.match let "web\n" (and "w2\n") through as a plain lane name
    assert one({"kind": "dispatch", "lane": "web\n", "payload": "x"}) == "blocked"
    assert one({"kind": "drop_lane", "window": "w2\n"}) == "blocked"
    assert one({"kind": "add_lane", "window": "n1\n", "harness": "pi"}) == "blocked"


def test_the_gate_takes_the_substrates_lane_identity() -> None:
    """lane-status's `ai` is the one answer to "is this an AI lane?": a lane it says is not one (a Python
    REPL whose pane an old boot tagged with the demo harness) gets text only as a command (destructive),
    whatever its harness field; without the field (older scripts) the harness's registry kind decides."""
    from engine_fakes import FakeSubstrate
    from loop_engine.observe import Observation, observe_lanes
    from loop_schemas import LaneStatus

    class Substrate(FakeSubstrate):
        def lane_status(self, lane: str | None = None) -> list[LaneStatus]:
            ai = {"repl": False, "agent": True, "old": None}
            return [s.model_copy(update={"ai": ai[s.lane or ""]}) for s in super().lane_status(lane)]

    fake = Substrate()
    for name in ("repl", "agent", "old"):
        fake.set(name, harness="pi")
    views, ai, _ = observe_lanes(fake)
    ctx = GateContext(lanes=Observation(lanes=views).lane_facts(), ai_harnesses=ai)
    shapes = [
        gate_actions([{"kind": "dispatch", "lane": n, "payload": "print(1)"}], ctx)[0].gate
        for n in ("repl", "agent", "old")
    ]
    assert shapes == ["destructive", "safe", "safe"]


def test_the_gate_knows_exactly_the_action_kinds_the_decision_model_accepts() -> None:
    """One list of kinds: the gate (kept free of pydantic) and the decision model's union agree."""
    from typing import get_args

    from loop_engine import gate as gate_mod
    from loop_schemas.decision import ACTION_KINDS, Action

    union = get_args(Action)[0]
    model_kinds = tuple(get_args(m.model_fields["kind"].annotation)[0] for m in get_args(union))
    assert model_kinds == ACTION_KINDS
    assert gate_mod.KINDS == ACTION_KINDS
