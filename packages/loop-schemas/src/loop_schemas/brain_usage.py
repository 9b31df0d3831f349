"""The `brain-usage` event: one brain one-shot attempt's token usage and cost (CONTRACT "Brain usage and
cost"). The engine writes one per attempt, just before that attempt's `brain-answered` / `brain-failed`.

A count or cost that the harness did not report is null, never 0: `cost_source` says where the cost
came from -- `provider` (the harness reported it: claude's `total_cost_usd`), `computed` (the engine
priced the tokens: codex with `engine.codex_pricing`; the built-in brain's zero), `unpriced` (tokens
known, no price: codex without rates, a claude result without a cost) or `unavailable` (no usage could
be read: another harness, an in-process brain, output that is not the expected JSON)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Tokens = Annotated[int, Field(ge=0)] | None


class BrainUsageEvent(BaseModel):
    """`brain-usage {harness, model, usage_source, cost_source, cost_usd, attempt, attempt_status,
    input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, total_tokens}`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1] = 1
    id: str
    timestamp: str
    session: str
    event: Literal["brain-usage"]
    cycle_id: str | None = None
    call_id: str | None = None
    harness: str
    """The brain's harness (`fn` for an in-process brain), as its `brain-call` names it."""
    model: str | None = None
    """The model the harness reported, else the one the engine asked for (brain.model or a pin), else null."""
    usage_source: str
    """Where the counts were read: `claude-json`, `claude-stream-json`, `codex-json`, `builtin`, or `none`."""
    cost_source: Literal["provider", "unpriced", "unavailable", "computed"]
    cost_usd: Annotated[float, Field(ge=0)] | None = None
    attempt: Annotated[int, Field(ge=1)]
    attempt_status: Literal["success", "failed"]
    input_tokens: Tokens = None
    """claude: uncached input; codex: all input, cached included."""
    output_tokens: Tokens = None
    """codex: output plus reasoning."""
    cache_creation_input_tokens: Tokens = None
    cache_read_input_tokens: Tokens = None
    total_tokens: Tokens = None
    """claude: the four counts added up; codex: input + output."""


__all__ = ["BrainUsageEvent"]
