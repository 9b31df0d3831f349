"""A brain call's token usage and cost, from its harness's machine-readable output (pure: no I/O).

Each brain one-shot attempt is recorded as a `brain-usage` event (CONTRACT "Brain usage and cost"):

  claude  `--output-format json` (one `result` object) or, with `brain.stream`, `stream-json` (its
          `result` event): `usage` {input_tokens, cache_creation_input_tokens, cache_read_input_tokens,
          output_tokens} and `total_cost_usd` -> cost_source `provider` (no cost reported: `unpriced`);
          total_tokens = the four parts added up.
  codex   `codex exec --json`: the `turn.completed` events' `usage` summed -- input_tokens (cached
          included), cached_input_tokens -> cache_read_input_tokens, cache_write_input_tokens ->
          cache_creation_input_tokens (null when codex does not report it), output_tokens (which already
          holds reasoning_output_tokens: the Responses API counts reasoning inside the output, so adding
          the two, as the original does, would count it twice); total = input + output. The cost is
          computed from `engine.codex_pricing` (USD per 1M tokens, `codex_cost`) -> `computed`, or
          `unpriced`.
  other   no usage: cost_source `unavailable`, every token count null -- never a 0 that means unknown.

The decoders also give the answer text (claude's `result`; codex's last agent message) and the text the
live transcript shows; output that is not the expected JSON is the answer as printed, with no usage.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

CostSource = Literal["provider", "unpriced", "unavailable", "computed"]
OutputFormat = Literal["text", "claude-json", "claude-stream-json", "codex-json"]
CLAUDE_FORMATS: dict[str, OutputFormat] = {"json": "claude-json", "stream-json": "claude-stream-json"}
PER_MTOK = 1_000_000
LONG_CONTEXT_THRESHOLD = 272_000
LONG_INPUT_FACTOR = 2.0  # input and cached rates above the long-context threshold
LONG_OUTPUT_FACTOR = 1.5
TOKEN_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "total_tokens",
)


@dataclass(frozen=True)
class Usage:
    """One attempt's usage: what `brain-usage` carries besides harness, attempt and status."""

    usage_source: str
    cost_source: CostSource
    cost_usd: float | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    total_tokens: int | None = None

    def fields(self) -> dict[str, Any]:
        return asdict(self)


UNAVAILABLE = Usage(usage_source="none", cost_source="unavailable")
# the built-in brain calls no model: its tokens and cost are known to be zero
BUILTIN_USAGE = Usage(
    usage_source="builtin",
    cost_source="computed",
    cost_usd=0.0,
    input_tokens=0,
    output_tokens=0,
    cache_creation_input_tokens=0,
    cache_read_input_tokens=0,
    total_tokens=0,
)


def _option(words: list[str], name: str) -> str | None:
    """The value `words` give option `name` (`--name value` or `--name=value`), or None."""
    for i, word in enumerate(words):
        if word == name:
            return words[i + 1] if i + 1 < len(words) else ""
        if word.startswith(name + "="):
            return word[len(name) + 1 :]
    return None


def output_format(harness: str, stream: bool, words: list[str]) -> tuple[OutputFormat, list[str]]:
    """The machine-readable output a brain call of `harness` gives, and the options to add for it.

    claude: `--output-format json`, or stream-json with `brain.stream`; codex: `codex exec --json`. A
    template or extra args that already choose claude's output format keep it (a format other than json
    or stream-json gives text, whose usage is unavailable); any other harness prints text."""
    if harness == "claude":
        chosen = _option(words, "--output-format")
        if chosen is None:
            fmt: OutputFormat = "claude-stream-json" if stream else "claude-json"
            return fmt, format_args(fmt)
        return CLAUDE_FORMATS.get(chosen, "text"), []
    if harness == "codex" and "exec" in words:
        given = "--json" in words or "--experimental-json" in words
        return "codex-json", [] if given else format_args("codex-json")
    return "text", []


def format_args(fmt: OutputFormat) -> list[str]:
    """The options that make the harness print `fmt`."""
    if fmt == "claude-json":
        return ["--output-format", "json"]
    if fmt == "claude-stream-json":
        return ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]
    if fmt == "codex-json":
        return ["--json"]
    return []


def _count(value: Any) -> int | None:
    """A token count as reported: a non-negative integer, else None (never a guessed 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        return None
    return int(value) if value >= 0 else None


def _sum(values: list[int | None]) -> int | None:
    """The sum, or None when any part is unknown."""
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def claude_usage(result: dict[str, Any], source: str) -> Usage:
    """The usage of a claude `result` object (`--output-format json`, or stream-json's last event)."""
    raw = result.get("usage")
    if not isinstance(raw, dict):
        return Usage(usage_source=source, cost_source="unavailable")
    parts = {
        "input_tokens": _count(raw.get("input_tokens")),
        "output_tokens": _count(raw.get("output_tokens")),
        "cache_creation_input_tokens": _count(raw.get("cache_creation_input_tokens")),
        "cache_read_input_tokens": _count(raw.get("cache_read_input_tokens")),
    }
    total = _sum(list(parts.values()))
    cost = _usd(result.get("total_cost_usd"))
    return Usage(
        usage_source=source,
        cost_source="unpriced" if cost is None else "provider",
        cost_usd=cost,
        model=_claude_model(result.get("modelUsage")),
        total_tokens=total,
        **parts,
    )


def _usd(value: Any) -> float | None:
    """A reported cost: a finite number >= 0, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _claude_model(model_usage: Any) -> str | None:
    """The model that did most of the work (most tokens) in claude's `modelUsage`, or None."""
    if not isinstance(model_usage, dict) or not model_usage:
        return None

    def weight(item: tuple[Any, Any]) -> int:
        doc = item[1] if isinstance(item[1], dict) else {}
        return sum(_count(doc.get(k)) or 0 for k in ("inputTokens", "outputTokens"))

    name = max(model_usage.items(), key=weight)[0]
    return str(name) if name else None


def codex_usage(turns: list[dict[str, Any]], pricing: dict[str, Any] | None) -> Usage:
    """The summed `turn.completed` usages of one `codex exec --json` run, priced by `pricing`."""
    if not turns:
        return Usage(usage_source="codex-json", cost_source="unavailable")

    def total_of(key: str) -> int | None:
        return _sum([_count(t.get(key)) for t in turns])

    def reported(key: str) -> bool:
        return any(key in t for t in turns)

    inp = total_of("input_tokens")
    # codex always reports these two (0 when none); a turn without them had none
    cached = total_of("cached_input_tokens") if reported("cached_input_tokens") else 0
    output = total_of("output_tokens")  # reasoning_output_tokens is a part of it, never added again
    cost, source = codex_cost(inp, cached, output, pricing)
    return Usage(
        usage_source="codex-json",
        cost_source=source,
        cost_usd=cost,
        input_tokens=inp,
        output_tokens=output,
        cache_creation_input_tokens=total_of("cache_write_input_tokens")
        if reported("cache_write_input_tokens")
        else None,
        cache_read_input_tokens=cached,
        total_tokens=_sum([inp, output]),
    )


def codex_cost(
    input_tokens: int | None,
    cached_tokens: int | None,
    output_tokens: int | None,
    pricing: dict[str, Any] | None,
) -> tuple[float | None, CostSource]:
    """USD for a codex call from `engine.codex_pricing` {input, cached, output, long_context_threshold}
    (USD per 1M tokens): (input - cached)*input + cached*cached (the input rate when cached is unset) +
    output*output; when the input is above the threshold (272000 by default; <= 0 turns it off) the input
    and cached rates count twice and the output rate 1.5 times. A missing input or output rate (or {}):
    (None, "unpriced"); unknown token counts: (None, "unavailable")."""
    if input_tokens is None or cached_tokens is None or output_tokens is None:
        return None, "unavailable"
    prices = pricing or {}
    rate_in, rate_out = prices.get("input"), prices.get("output")
    if rate_in is None or rate_out is None:
        return None, "unpriced"
    rate_cached = prices.get("cached")
    rate_cached = rate_in if rate_cached is None else rate_cached
    threshold = prices.get("long_context_threshold")
    threshold = LONG_CONTEXT_THRESHOLD if threshold is None else threshold
    long_in, long_out = (
        (LONG_INPUT_FACTOR, LONG_OUTPUT_FACTOR) if 0 < threshold < input_tokens else (1.0, 1.0)
    )
    cached = min(cached_tokens, input_tokens)
    usd = (
        (input_tokens - cached) * float(rate_in) * long_in
        + cached * float(rate_cached) * long_in
        + output_tokens * float(rate_out) * long_out
    ) / PER_MTOK
    return round(usd, 9), "computed"


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


class OutputDecoder:
    """Feeds a brain's stdout line by line: the transcript text as it arrives, then the answer, whether the
    harness reported an error (`is_error`), and the usage. Plain text (no JSON event at all) is the answer
    as printed, with usage unavailable."""

    def __init__(self, fmt: OutputFormat, pricing: dict[str, Any] | None = None) -> None:
        self.fmt: OutputFormat = fmt
        self.pricing = pricing
        self.raw: list[str] = []
        self.events = 0
        self.partial: list[str] = []
        self.assistant: list[str] = []
        self.messages: list[str] = []
        self.result: str | None = None
        self.result_doc: dict[str, Any] | None = None
        self.turns: list[dict[str, Any]] = []
        self.is_error = False

    def feed(self, line: str) -> str:
        """One stdout line in; what the transcript shows for it out."""
        self.raw.append(line)
        if self.fmt == "text":
            return line
        doc = _json_object(line)
        if doc is None or not isinstance(doc.get("type"), str):
            return line
        self.events += 1
        kind = doc["type"]
        if self.fmt == "codex-json":
            return self._codex(kind, doc)
        if kind == "stream_event":
            inner = doc.get("event") or {}
            delta = inner.get("delta") if isinstance(inner, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("text"), str):
                self.partial.append(delta["text"])
                return str(delta["text"])
            return ""
        if kind == "assistant":
            message = doc.get("message") or {}
            content = message.get("content") if isinstance(message, dict) else None
            texts = [
                str(c.get("text")) for c in content or [] if isinstance(c, dict) and c.get("type") == "text"
            ]
            self.assistant.extend(texts)
            return "" if self.partial else "".join(texts)
        if kind == "result":
            self.result_doc = doc
            if isinstance(doc.get("result"), str):
                self.result = doc["result"]
            self.is_error = bool(doc.get("is_error"))
            shown = "" if (self.partial or self.assistant or self.result is None) else self.result
            return shown + "\n"
        return ""

    def _codex(self, kind: str, doc: dict[str, Any]) -> str:
        item = doc.get("item")
        if kind == "item.completed" and isinstance(item, dict):
            if item.get("type") == "agent_message" and isinstance(item.get("text"), str):
                self.messages.append(item["text"])
                return str(item["text"]) + "\n"
            if item.get("type") == "error" and isinstance(item.get("message"), str):
                return f"[codex] {item['message']}\n"
            return ""
        if kind == "turn.completed":
            usage = doc.get("usage")
            self.turns.append(usage if isinstance(usage, dict) else {})
            return ""
        if kind in ("turn.failed", "error"):  # `error` alone may be a retried stream error: shown only
            self.is_error = self.is_error or kind == "turn.failed"
            err = doc.get("error") if kind == "turn.failed" else doc
            msg = err.get("message") if isinstance(err, dict) else None
            return f"[codex] {msg}\n" if isinstance(msg, str) else ""
        return ""

    def answer(self) -> str:
        if self.events == 0:
            return "".join(self.raw)
        if self.fmt == "codex-json":
            return self.messages[-1] if self.messages else ""
        if self.result is not None:
            return self.result
        return "".join(self.assistant) or "".join(self.partial)

    def usage(self) -> Usage:
        if self.fmt == "codex-json" and self.events:
            return codex_usage(self.turns, self.pricing)
        if self.fmt in ("claude-json", "claude-stream-json") and self.result_doc is not None:
            return claude_usage(self.result_doc, self.fmt)
        return UNAVAILABLE
