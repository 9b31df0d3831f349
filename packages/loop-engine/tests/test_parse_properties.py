"""hypothesis on the brain-output path: any text gives a Decision or a one-line DecisionParseError, and
whatever parses, the gate never classifies a raw command, coord, or `loop-adr accept` as safe."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from loop_engine.gate import GateContext, LaneFacts, gate_actions
from loop_schemas import DecisionParseError, parse_decision_block

CTX = GateContext(
    lanes={
        "web": LaneFacts("web", base=True, agent=True),
        "sh": LaneFacts("sh", base=False, agent=False),
        "w2": LaneFacts("w2", base=False, agent=True),
    },
    ai_harnesses=frozenset({"pi", "claude"}),
)

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
lanes = st.sampled_from(["web", "sh", "w2", "coord", "COORD", "nosuch", "ops-top"])
payloads = st.one_of(
    texts,
    st.sampled_from(["loop-adr accept 3", "rm -rf /", "\x1b[201~\rls\r", "C-c", "git push --force", "ok"]),
)
actions = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("dispatch"),
            "lane": lanes,
            "payload": payloads,
            "mode": st.sampled_from(["text", "command"]),
            "rationale": st.just("r"),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("steer"),
            "lane": lanes,
            "payload": payloads,
            "mode": st.sampled_from(["text", "command"]),
            "expects_reply": st.booleans(),
            "rationale": st.just("r"),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("add_lane"),
            "window": st.sampled_from(["w3", "coord", "web"]),
            "cmd": payloads,
            "rationale": st.just("r"),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("drop_lane"),
            "window": st.sampled_from(["web", "w2", "docs"]),
            "rationale": st.just("r"),
        }
    ),
    st.fixed_dictionaries({"kind": st.just("stop"), "rationale": st.just("r")}),
)


@settings(max_examples=300, deadline=None)
@given(prefix=texts, body=texts, suffix=texts)
def test_arbitrary_brain_output_parses_or_fails_cleanly(prefix: str, body: str, suffix: str) -> None:
    text = f"{prefix}\n```decision\n{body}\n```\n{suffix}"
    try:
        decision = parse_decision_block(text)
    except DecisionParseError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert decision.version == 1 and len(decision.actions) <= 8


def _dangerous(action: dict[str, Any]) -> bool:
    target = str(action.get("lane") or action.get("window") or "")
    payload = str(action.get("payload") or action.get("cmd") or "")
    return (
        action.get("mode") == "command"
        or action["kind"] == "add_lane"  # always with a raw cmd here
        or target.lower() == "coord"
        or target == "sh"
        or "loop-adr accept" in payload
        or (action["kind"] == "drop_lane" and target in ("web", "docs"))
    )


@settings(max_examples=300, deadline=None)
@given(acts=st.lists(actions, min_size=1, max_size=10))
def test_no_parsed_decision_makes_a_dangerous_shape_safe(acts: list[dict[str, Any]]) -> None:
    block = yaml.safe_dump({"version": 1, "critique": "c", "actions": acts}, allow_unicode=True)
    try:
        decision = parse_decision_block(f"```decision\n{block}```\n")
    except DecisionParseError:
        return  # over 8 actions, coord, a bad window...: nothing at all runs
    dumped = [a.model_dump(mode="json") for a in decision.actions]
    for action, verdict in zip(dumped, gate_actions(dumped, CTX), strict=True):
        if _dangerous(action):
            assert verdict.gate != "safe", (action, verdict)
        if "loop-adr accept" in str(action.get("payload") or action.get("cmd") or ""):
            assert verdict.gate == "blocked"
