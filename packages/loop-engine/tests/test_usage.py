"""loop_engine.usage: a brain call's tokens and cost from its harness's JSON output, with exact figures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from loop_engine.usage import (
    UNAVAILABLE,
    OutputDecoder,
    claude_usage,
    codex_cost,
    codex_usage,
    output_format,
)
from loop_schemas import parse_decision_block

PRICES = {"input": 1.25, "cached": 0.125, "output": 10.0}
DECISION = "```decision\nversion: 1\ncritique: fine\nactions:\n  - kind: stop\n    rationale: quiet\n```"


@pytest.mark.parametrize(
    ("tokens", "pricing", "expected"),
    [
        # (100000 - 40000)*1.25 + 40000*0.125 + 5000*10, per 1M tokens
        ((100_000, 40_000, 5_000), PRICES, (0.13, "computed")),
        # cached unset: the input rate
        ((100_000, 40_000, 5_000), {"input": 1.25, "output": 10.0}, (0.175, "computed")),
        # long context (input > 272000): input and cached x2, output x1.5
        ((300_000, 100_000, 10_000), PRICES, (0.675, "computed")),
        # exactly at the threshold: not above it
        ((272_000, 0, 0), PRICES, (0.34, "computed")),
        ((272_001, 0, 0), PRICES, (0.6800025, "computed")),
        # a threshold of its own, and <= 0 = off
        ((300_000, 100_000, 10_000), dict(PRICES, long_context_threshold=0), (0.3625, "computed")),
        ((300_000, 100_000, 10_000), dict(PRICES, long_context_threshold=-5), (0.3625, "computed")),
        ((2_000, 0, 1_000), dict(PRICES, long_context_threshold=1_000), (0.02, "computed")),
        # {} / null / a missing rate: unpriced, never 0
        ((100_000, 40_000, 5_000), {}, (None, "unpriced")),
        ((100_000, 40_000, 5_000), None, (None, "unpriced")),
        ((100_000, 40_000, 5_000), {"input": 1.25, "cached": 0.1}, (None, "unpriced")),
        ((100_000, 40_000, 5_000), {"output": 10.0}, (None, "unpriced")),
        # a zero rate is a price (free), not a missing one
        ((100_000, 40_000, 5_000), {"input": 0, "output": 0}, (0.0, "computed")),
        # unknown counts: unavailable
        ((None, 0, 5), PRICES, (None, "unavailable")),
    ],
)
def test_codex_cost(
    tokens: tuple[int | None, int | None, int | None],
    pricing: dict[str, Any] | None,
    expected: tuple[float | None, str],
) -> None:
    cost, source = codex_cost(*tokens, pricing)
    assert source == expected[1]
    if expected[0] is None:
        assert cost is None
    else:
        assert cost == pytest.approx(expected[0], abs=1e-12)


def test_codex_usage_sums_the_turns() -> None:
    turns = [
        {
            "input_tokens": 1_000,
            "cached_input_tokens": 200,
            "cache_write_input_tokens": 0,
            "output_tokens": 50,
            "reasoning_output_tokens": 30,
        },
        {
            "input_tokens": 2_000,
            "cached_input_tokens": 1_500,
            "cache_write_input_tokens": 10,
            "output_tokens": 70,
            "reasoning_output_tokens": 0,
        },
    ]
    got = codex_usage(turns, PRICES)
    assert (got.usage_source, got.cost_source) == ("codex-json", "computed")
    assert (got.input_tokens, got.cache_read_input_tokens, got.cache_creation_input_tokens) == (
        3_000,
        1_700,
        10,
    )
    # reasoning is inside output_tokens (the Responses API's rule): counted once; total = input + output
    assert (got.output_tokens, got.total_tokens) == (120, 3_120)
    # (3000 - 1700)*1.25 + 1700*0.125 + 120*10 = 1625 + 212.5 + 1200
    assert got.cost_usd == pytest.approx(0.0030375, abs=1e-12)
    unpriced = codex_usage(turns, {})
    assert (unpriced.cost_source, unpriced.cost_usd, unpriced.total_tokens) == ("unpriced", None, 3_120)
    # no turn completed: nothing to count (null, not 0)
    none = codex_usage([], PRICES)
    assert (none.cost_source, none.input_tokens, none.total_tokens) == ("unavailable", None, None)
    # a count that is not a number makes its sum unknown
    bad = codex_usage([{"input_tokens": "many", "output_tokens": 5}], PRICES)
    assert (bad.input_tokens, bad.total_tokens, bad.cost_source) == (None, None, "unavailable")
    # codex without cache-write counts: that one is unknown
    assert codex_usage([{"input_tokens": 5, "output_tokens": 1}], PRICES).cache_creation_input_tokens is None


def claude_result(text: str = DECISION, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": text,
        "total_cost_usd": 0.0123,
        "usage": {
            "input_tokens": 1_200,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 5_000,
            "output_tokens": 345,
            "server_tool_use": {"web_search_requests": 0},
        },
        "modelUsage": {
            "claude-haiku-4-5": {"inputTokens": 30, "outputTokens": 5, "costUSD": 0.0001},
            "claude-sonnet-4-6": {"inputTokens": 1_200, "outputTokens": 340, "costUSD": 0.0122},
        },
    }
    doc.update(extra)
    return doc


def test_claude_usage_reads_the_result_object() -> None:
    got = claude_usage(claude_result(), "claude-json")
    assert got.fields() == {
        "usage_source": "claude-json",
        "cost_source": "provider",
        "cost_usd": 0.0123,
        "model": "claude-sonnet-4-6",
        "input_tokens": 1_200,
        "output_tokens": 345,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 5_000,
        "total_tokens": 6_645,
    }
    no_cost = claude_usage(claude_result(total_cost_usd=None), "claude-json")
    assert (no_cost.cost_source, no_cost.cost_usd, no_cost.total_tokens) == ("unpriced", None, 6_645)
    partial = claude_usage(claude_result(usage={"input_tokens": 3, "output_tokens": 4}), "claude-json")
    assert (partial.input_tokens, partial.cache_read_input_tokens, partial.total_tokens) == (3, None, None)
    assert claude_usage(claude_result(usage=None), "claude-json").cost_source == "unavailable"


@pytest.mark.parametrize(
    ("harness", "stream", "words", "expected"),
    [
        ("claude", False, ["claude", "-p", "{prompt}"], ("claude-json", ["--output-format", "json"])),
        (
            "claude",
            True,
            ["claude", "-p", "{prompt}"],
            (
                "claude-stream-json",
                ["--output-format", "stream-json", "--verbose", "--include-partial-messages"],
            ),
        ),
        ("claude", False, ["claude", "-p", "{prompt}", "--output-format", "text"], ("text", [])),
        (
            "claude",
            False,
            ["claude", "-p", "{prompt}", "--output-format=stream-json"],
            ("claude-stream-json", []),
        ),
        ("codex", False, ["codex", "exec", "{prompt}"], ("codex-json", ["--json"])),
        ("codex", False, ["codex", "exec", "--json", "{prompt}"], ("codex-json", [])),
        ("codex", False, ["codex", "{prompt}"], ("text", [])),
        ("pi", True, ["pi", "-p", "{prompt}"], ("text", [])),
    ],
)
def test_output_format(harness: str, stream: bool, words: list[str], expected: tuple[str, list[str]]) -> None:
    assert output_format(harness, stream, words) == expected


def feed(decoder: OutputDecoder, lines: list[str]) -> str:
    return "".join(decoder.feed(line + "\n") for line in lines)


def test_claude_json_answer_is_the_result_text_and_parses() -> None:
    dec = OutputDecoder("claude-json")
    shown = feed(dec, [json.dumps(claude_result())])
    assert dec.answer() == DECISION and "critique: fine" in shown and '"type"' not in shown
    assert parse_decision_block(dec.answer()).actions[0].kind == "stop"
    assert (dec.usage().cost_usd, dec.usage().total_tokens, dec.is_error) == (0.0123, 6_645, False)
    err = OutputDecoder("claude-json")
    feed(err, [json.dumps(claude_result("API Error: 529 Overloaded", is_error=True))])
    assert err.is_error and err.usage().cost_source == "provider"


def test_claude_stream_json_result_event_carries_the_usage() -> None:
    dec = OutputDecoder("claude-stream-json")
    pieces = [DECISION[:20], DECISION[20:]]
    lines = [json.dumps({"type": "system", "subtype": "init", "model": "claude-sonnet-4-6"})]
    lines += [
        json.dumps({"type": "stream_event", "event": {"delta": {"type": "text_delta", "text": p}}})
        for p in pieces
    ]
    lines.append(json.dumps(claude_result()))
    shown = feed(dec, lines)
    assert dec.answer() == DECISION and shown.startswith(DECISION)
    usage = dec.usage()
    assert (usage.usage_source, usage.cost_source, usage.output_tokens) == (
        "claude-stream-json",
        "provider",
        345,
    )


CODEX_LINES = [
    {"type": "thread.started", "thread_id": "t-1"},
    {
        "type": "item.completed",
        "item": {"id": "item_0", "type": "error", "message": "Model metadata not found"},
    },
    {"type": "turn.started"},
    {"type": "item.completed", "item": {"id": "item_1", "type": "reasoning", "text": "thinking"}},
    {"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": "looking first"}},
    {"type": "item.completed", "item": {"id": "item_3", "type": "agent_message", "text": DECISION}},
    {
        "type": "turn.completed",
        "usage": {
            "input_tokens": 12_000,
            "cached_input_tokens": 8_000,
            "cache_write_input_tokens": 0,
            "output_tokens": 700,
            "reasoning_output_tokens": 300,
        },
    },
]


def test_codex_json_answer_is_the_last_agent_message_and_parses() -> None:
    dec = OutputDecoder("codex-json", PRICES)
    shown = feed(dec, [json.dumps(line) for line in CODEX_LINES])
    assert dec.answer() == DECISION and "looking first" in shown and "[codex] Model metadata" in shown
    assert parse_decision_block(dec.answer()).critique == "fine"
    usage = dec.usage()
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens, usage.total_tokens) == (
        12_000,
        8_000,
        700,
        12_700,
    )
    # 4000*1.25 + 8000*0.125 + 700*10 (the 300 reasoning tokens are inside the 700)
    assert (usage.cost_source, usage.cost_usd) == ("computed", pytest.approx(0.013, abs=1e-12))
    failed = OutputDecoder("codex-json", PRICES)
    feed(failed, [json.dumps({"type": "turn.failed", "error": {"message": "stream error"}})])
    assert failed.is_error and failed.answer() == "" and failed.usage().cost_source == "unavailable"


@pytest.mark.parametrize("fmt", ["claude-json", "claude-stream-json", "codex-json", "text"])
def test_output_that_is_not_the_json_is_the_answer_as_printed_with_no_usage(fmt: Any) -> None:
    dec = OutputDecoder(fmt, PRICES)
    shown = feed(dec, ["thinking...", DECISION, "[1, 2]"])
    assert dec.answer() == f"thinking...\n{DECISION}\n[1, 2]\n" == shown
    assert dec.usage() == UNAVAILABLE
    assert UNAVAILABLE.fields() == {
        "usage_source": "none",
        "cost_source": "unavailable",
        "cost_usd": None,
        "model": None,
        "input_tokens": None,
        "output_tokens": None,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
        "total_tokens": None,
    }
