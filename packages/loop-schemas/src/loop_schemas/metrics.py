"""`loop-metrics --json` and the one line `loop-metrics --log` appends to ops-wiki/log.md."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from loop_schemas.errors import SchemaError

LINE_KEYS = ("checkpoint_tokens", "pending", "restarts", "giveups", "ingests", "lints", "checkpoints")
_LINE_RE = re.compile(r"^## \[(\d{4}-\d{2}-\d{2})\] metrics \| (.*)$")


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


class MetricsLineError(SchemaError):
    """A log line that is not a metrics line."""


def format_metrics_line(metrics: Metrics, day: date) -> str:
    values = " ".join(f"{k}={'n/a' if v is None else v}" for k, v in metrics.line_values().items())
    return f"## [{day.isoformat()}] metrics | {values}"


def parse_metrics_line(line: str) -> tuple[date, dict[str, int | None]]:
    m = _LINE_RE.match(line.rstrip("\n"))
    if not m:
        raise MetricsLineError("not a '## [YYYY-MM-DD] metrics | …' line")
    try:
        day = date.fromisoformat(m.group(1))
    except ValueError:
        raise MetricsLineError(f"bad date {m.group(1)!r}") from None
    values: dict[str, int | None] = {}
    for part in m.group(2).split():
        key, sep, raw = part.partition("=")
        if not sep:
            raise MetricsLineError(f"expected key=value, got {part!r}")
        if raw == "n/a":
            values[key] = None
        elif raw.isdigit():
            values[key] = int(raw)
        else:
            raise MetricsLineError(f"{key}: expected a whole number or n/a, got {raw!r}")
    return day, values
