"""The decision block: exactly one fenced block, strict YAML, at most 8 actions (coord is the gate's call)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loop_schemas import (
    AddLaneAction,
    DecisionParseError,
    DispatchAction,
    SteerAction,
    parse_decision_block,
)


def block(body: str, info: str = "decision") -> str:
    return f"Thinking out loud first.\n\n```{info}\n{body}\n```\n\nDone."


GOOD = """\
version: 1
critique: |
  web finished T0001 but nothing proves the canary; infra is idle.
actions:
  - kind: dispatch
    lane: infra
    payload: "Implement T0002.\\nRun the tests."
    rationale: T0002 is ready and infra is idle
  - kind: steer
    lane: web
    payload: What evidence do you have that the canary is green?
    expects_reply: true
    rationale: unproven claim
  - kind: add_lane
    window: opt-app
    harness: pi
    role: option auditor
    rationale: a lasting decision surfaced
  - kind: drop_lane
    window: web2
    rationale: its work is merged
  - kind: escalate
    summary: Need a human call on the queue vendor.
    rationale: irreversible
  - kind: stop
    rationale: nothing else to do this cycle
"""


def test_a_full_decision_parses_into_typed_actions() -> None:
    d = parse_decision_block(block(GOOD))
    assert d.version == 1 and "canary" in d.critique
    kinds = [a.kind for a in d.actions]
    assert kinds == ["dispatch", "steer", "add_lane", "drop_lane", "escalate", "stop"]
    dispatch, steer, add = d.actions[0], d.actions[1], d.actions[2]
    assert isinstance(dispatch, DispatchAction) and dispatch.mode == "text"
    assert dispatch.payload == "Implement T0002.\nRun the tests."
    assert isinstance(steer, SteerAction) and steer.expects_reply and steer.reply_timeout_s == 1800
    assert isinstance(add, AddLaneAction) and add.harness == "pi" and add.cmd is None


def test_an_action_aimed_at_coord_parses_and_keeps_its_neighbours() -> None:
    # policy is the gate's (it blocks that action alone): one coord action no longer sinks the decision
    decision = parse_decision_block(
        block(
            "version: 1\ncritique: c\nactions:\n"
            "  - {kind: dispatch, lane: web, payload: a, rationale: r}\n"
            "  - {kind: steer, lane: COORD, payload: b, rationale: r}\n"
            "  - {kind: drop_lane, window: coord, rationale: r}\n"
        )
    )
    assert [a.kind for a in decision.actions] == ["dispatch", "steer", "drop_lane"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no block at all", "no ```decision block"),
        (block(GOOD) + block(GOOD), "2 ```decision blocks"),
        ("```decision\nversion: 1\n", "not closed"),
        (block("version: 2\ncritique: x\nactions: []"), "version"),
        (block("version: true\ncritique: x\nactions: []"), "version must be the number 1"),  # True == 1
        (block("version: yes\ncritique: x\nactions: []"), "version must be the number 1"),
        (block("version: 1\ncritique: '   '\nactions: []"), "critique must not be blank"),
        (block("version: 1\nactions: []"), "critique"),
        (block("- just a list"), "must be a YAML mapping"),
        (block("version: 1\ncritique: c\nactions: [{kind: dispatch, lane: web, payload: x}]"), "rationale"),
        (
            block(
                "version: 1\ncritique: c\n"
                "actions: [{kind: dispatch, lane: 'web; rm', payload: x, rationale: r}]"
            ),
            "lane",
        ),
        (
            block("version: 1\ncritique: c\nactions: [{kind: add_lane, window: w2, rationale: r}]"),
            "exactly one of harness or cmd",
        ),
        (
            block(
                "version: 1\ncritique: c\n"
                "actions: [{kind: add_lane, window: '9w', harness: pi, rationale: r}]"
            ),
            "window",
        ),
        (block("version: 1\ncritique: c\nactions: [{kind: reboot, rationale: r}]"), "kind"),
        (block("version: 1\ncritique: c\nactions: [{kind: stop, rationale: r, extra: 1}]"), "extra"),
        (
            block(
                "version: 1\ncritique: c\nactions: [{kind: dispatch, lane: web, payload: 5, rationale: r}]"
            ),
            "payload",
        ),
        (block("version: 1\ncritique: &a c\nactions: []\nnote: *a"), "aliases are not allowed"),
        (block("version: 1\ncritique: [unclosed"), "not valid YAML"),
    ],
)
def test_malformed_blocks_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(DecisionParseError) as info:
        parse_decision_block(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_more_than_eight_actions_is_a_parse_failure_not_a_truncation() -> None:
    actions = "\n".join(f"  - {{kind: stop, rationale: r{i}}}" for i in range(9))
    with pytest.raises(DecisionParseError, match="9 actions, at most 8"):
        parse_decision_block(block(f"version: 1\ncritique: c\nactions:\n{actions}"))


def test_payload_cap_is_16384_characters() -> None:
    ok = "x" * 16384
    d = parse_decision_block(
        block(
            f"version: 1\ncritique: c\nactions: [{{kind: dispatch, lane: web, payload: {ok}, rationale: r}}]"
        )
    )
    assert len(d.actions[0].payload) == 16384  # type: ignore[union-attr]
    with pytest.raises(DecisionParseError, match="payload"):
        parse_decision_block(
            block(
                "version: 1\ncritique: c\n"
                f"actions: [{{kind: dispatch, lane: web, payload: {ok}y, rationale: r}}]"
            )
        )


def test_other_fences_are_ignored_and_tildes_work() -> None:
    text = "```yaml\nversion: 1\n```\n" + block(
        "version: 1\ncritique: c\nactions: []", info="decision"
    ).replace("```", "~~~~")
    assert parse_decision_block(text).actions == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_is_a_decision_or_a_clean_error(text: str) -> None:
    try:
        parse_decision_block(text)
    except DecisionParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_block_bodies_never_escape_as_other_exceptions(body: str) -> None:
    try:
        parse_decision_block(block(body.replace("```", "")))
    except DecisionParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=20,
    )
)
def test_arbitrary_yaml_structures_are_rejected_cleanly(value: object) -> None:
    import yaml

    try:
        parse_decision_block(block(yaml.safe_dump({"version": 1, "critique": "c", "actions": [value]})))
    except DecisionParseError:
        pass


@pytest.mark.parametrize("odd", ["\x1e", "\x0c", "\x85", "\u2028", "\u2029", "a\rb"])
def test_block_bodies_are_the_exact_lines_between_the_fences(odd: str) -> None:
    from loop_schemas import extract_fenced_blocks

    # str.splitlines() once split at these too, so the body YAML saw had a newline the brain never wrote
    body = f"payload: 'x{odd}y'\nnext: 1"
    for eol in ("\n", "\r\n"):
        text = eol.join(["before", "```improve", *body.split("\n"), "```", "after"])
        assert extract_fenced_blocks(text, "improve") == [body]
