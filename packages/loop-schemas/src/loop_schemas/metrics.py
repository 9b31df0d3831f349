"""`loop-metrics --json` (one session, `Metrics`; the fleet, `FleetMetrics`) and the one line
`loop-metrics --log` appends to ops-wiki/log.md.

The v1 fields are required as they always were; every field added since is optional, so a v1 document
still validates. A cost is a number of USD or null (unknown: no price configured, no usage reported),
never 0 for unknown; a ratio is a number or null (nothing to divide by).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loop_schemas.errors import SchemaError

LINE_KEYS = ("checkpoint_tokens", "pending", "restarts", "giveups", "ingests", "lints", "checkpoints")
# the tokens whose value is text, not a number: the log line's source tag and the compact dispatch map
LINE_TEXT_KEYS = ("source", "dispatches_per_lane_7d")
_LINE_RE = re.compile(r"^## \[(\d{4}-\d{2}-\d{2})\] metrics \| (.*)$")
_DECIMAL_RE = re.compile(r"^\d+\.\d+$")

Usd = float | None
Ratio = float | None
LineValue = int | float | str | None


class DailyMetrics(BaseModel):
    """One UTC day of a session's series (`daily`, oldest first): enough to draw a sparkline."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    date: str
    autonomy_ratio: Ratio = Field(ge=0, le=1)
    cost_usd: Usd = Field(ge=0)
    brain_calls: int = Field(ge=0)
    decisions: int = Field(ge=0)


class Metrics(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    generated_at: str
    session: str | None
    checkpoint_bytes: int | None
    checkpoint_tokens: int | None
    pending: int | None
    lane_restarts: int | None
    lane_giveups: int | None
    ingests: int | None
    lints: int | None
    checkpoints: int | None
    # added (contract-later section 5 and beyond); optional so v1 documents validate
    project_root: str | None = None
    engine_checkpoint_tokens: int | None = Field(default=None, ge=0)
    engine_checkpoint_source: Literal["snapshot", "checkpoint.md", "brain-prompt", "none"] | None = None
    engine_checkpoint_chars: int | None = Field(default=None, ge=0)
    restarts_24h: int | None = Field(default=None, ge=0)
    giveups_24h: int | None = Field(default=None, ge=0)
    autonomy_ratio: Ratio = Field(default=None, ge=0, le=1)
    engine_decisions_7d: int | None = Field(default=None, ge=0)
    decisions_7d: int | None = Field(default=None, ge=0)
    interventions_7d: int | None = Field(default=None, ge=0)
    shipped_7d: int | None = Field(default=None, ge=0)
    interventions_per_shipped_unit: Ratio = Field(default=None, ge=0)
    escalations_7d: int | None = Field(default=None, ge=0)
    rejects_7d: int | None = Field(default=None, ge=0)
    stops_7d: int | None = Field(default=None, ge=0)
    ingest_timeouts_7d: int | None = Field(default=None, ge=0)
    lane_restarts_7d: int | None = Field(default=None, ge=0)
    unsolicited_steers_7d: int | None = Field(default=None, ge=0)
    brain_calls_7d: int | None = Field(default=None, ge=0)
    brain_tokens_7d: int | None = Field(default=None, ge=0)
    cost_usd_7d: Usd = Field(default=None, ge=0)
    build_tokens_7d: int | None = Field(default=None, ge=0)
    build_cost_usd_7d: Usd = Field(default=None, ge=0)
    cost_per_shipped_unit: Usd = Field(default=None, ge=0)
    cost_per_decision: Usd = Field(default=None, ge=0)
    dispatches_per_lane_7d: dict[str, int] | None = None
    distinct_lanes_used_7d: int | None = Field(default=None, ge=0)
    ingests_7d: int | None = Field(default=None, ge=0)
    lints_7d: int | None = Field(default=None, ge=0)
    checkpoints_7d: int | None = Field(default=None, ge=0)
    experiments: int | None = Field(default=None, ge=0)
    lanes_idle_with_backlog: int | None = Field(default=None, ge=0)
    events_7d: int | None = Field(default=None, ge=0)
    daily: list[DailyMetrics] | None = Field(default=None, min_length=7, max_length=7)
    notes: list[str] | None = None

    def line_values(self) -> dict[str, int | None]:
        return {
            "checkpoint_tokens": self.checkpoint_tokens,
            "pending": self.pending,
            "restarts": self.lane_restarts,
            "giveups": self.lane_giveups,
            "ingests": self.ingests,
            "lints": self.lints,
            "checkpoints": self.checkpoints,
        }


class FleetAggregate(BaseModel):
    """`fleet aggregate:` of `loop-metrics --all`: sums over the sessions; a token or cost total leaves
    the n/a sessions out (`partial` counts them per key) and is null only when every session is n/a."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    sessions: int = Field(ge=0)
    distinct_active_loops: int = Field(ge=0)
    engine_checkpoint_tokens: int = Field(ge=0)
    autonomy_ratio: Ratio = Field(ge=0, le=1)
    engine_decisions_7d: int = Field(ge=0)
    decisions_7d: int = Field(ge=0)
    interventions_7d: int = Field(ge=0)
    shipped_7d: int = Field(ge=0)
    interventions_per_shipped_unit: Ratio = Field(ge=0)
    escalations_7d: int = Field(ge=0)
    rejects_7d: int = Field(ge=0)
    stops_7d: int = Field(ge=0)
    ingest_timeouts_7d: int = Field(ge=0)
    lane_restarts_7d: int = Field(ge=0)
    unsolicited_steers_7d: int = Field(ge=0)
    brain_calls_7d: int = Field(ge=0)
    brain_tokens_7d: int | None = Field(ge=0)
    cost_usd_7d: Usd = Field(ge=0)
    build_tokens_7d: int | None = Field(ge=0)
    build_cost_usd_7d: Usd = Field(ge=0)
    ingests_7d: int = Field(ge=0)
    lints_7d: int = Field(ge=0)
    checkpoints_7d: int = Field(ge=0)
    experiments: int = Field(ge=0)
    lanes_idle_with_backlog: int = Field(ge=0)
    partial: dict[str, int]


class FleetMetrics(BaseModel):
    """`loop-metrics --all --json`: every session of every root, their aggregate, and the notes prefixed
    `<root>:<session>:`."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    contract_version: Literal[1]
    generated_at: str
    roots: list[str]
    sessions: list[Metrics]
    aggregate: FleetAggregate
    notes: list[str]


class MetricsLineError(SchemaError):
    """A log line that is not a metrics line."""


def format_metrics_line(metrics: Metrics, day: date) -> str:
    values = " ".join(f"{k}={'n/a' if v is None else v}" for k, v in metrics.line_values().items())
    return f"## [{day.isoformat()}] metrics | {values}"


def parse_metrics_line(line: str) -> tuple[date, dict[str, LineValue]]:
    """The day and the `key=value` tokens of a metrics line: a whole number (int), a decimal (float),
    `n/a` (None); text only for `source` and `dispatches_per_lane_7d`. v1 lines hold whole numbers
    and n/a only; the lines written since add decimals and end in `source=session-events-v2`."""
    m = _LINE_RE.match(line.rstrip("\n"))
    if not m:
        raise MetricsLineError("not a '## [YYYY-MM-DD] metrics | …' line")
    try:
        day = date.fromisoformat(m.group(1))
    except ValueError:
        raise MetricsLineError(f"bad date {m.group(1)!r}") from None
    values: dict[str, LineValue] = {}
    for part in m.group(2).split():
        key, sep, raw = part.partition("=")
        if not sep:
            raise MetricsLineError(f"expected key=value, got {part!r}")
        if raw == "n/a":
            values[key] = None
        elif raw.isascii() and raw.isdigit():
            values[key] = int(raw)
        elif raw.isascii() and _DECIMAL_RE.match(raw):
            values[key] = float(raw)
        elif key in LINE_TEXT_KEYS and raw:
            values[key] = raw
        else:
            raise MetricsLineError(f"{key}: expected a number or n/a, got {raw!r}")
    return day, values
