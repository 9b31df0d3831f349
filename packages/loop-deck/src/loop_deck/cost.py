"""The cost and autonomy view: `loop-metrics --all --json` (loop_schemas.FleetMetrics) read when the view
opens, one row per loop session of the project, and the selected session's last 7 days as a sparkline.

Read-only like the rest of the deck: loop-metrics without --log writes nothing. An unknown cost stays
"n/a" (never 0): in a row, and as the day's label under the sparkline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # models the Substrate client returns: not imported before the deck's first paint
    from loop_schemas import FleetMetrics, Metrics

COST_COLUMNS = ("session", "autonomy 7d", "cost 7d (USD)", "interventions", "brain calls", "shipped")
Series = Literal["cost", "autonomy"]


class CostSource(Protocol):
    """The part of loop_substrate.Substrate the cost view reads with (tests pass a double)."""

    def fleet_metrics(self) -> FleetMetrics: ...


def usd(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6f}"


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class CostRow:
    session: str
    autonomy: str
    cost: str
    interventions: str
    brain_calls: str
    shipped: str
    days: tuple[str, ...]
    """The daily series' dates, oldest first."""
    cost_days: tuple[float | None, ...]
    autonomy_days: tuple[float | None, ...]

    def cells(self) -> tuple[str, ...]:
        return (self.session, self.autonomy, self.cost, self.interventions, self.brain_calls, self.shipped)

    def series(self, which: Series) -> tuple[float | None, ...]:
        return self.cost_days if which == "cost" else self.autonomy_days


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def cost_row(m: Metrics) -> CostRow:
    daily = m.daily or []
    autonomy = ratio(m.autonomy_ratio)
    if m.decisions_7d is not None:
        autonomy += f" ({m.engine_decisions_7d or 0}/{m.decisions_7d})"
    return CostRow(
        session=m.session or "none",
        autonomy=autonomy,
        cost=usd(m.cost_usd_7d),
        interventions=_count(m.interventions_7d),
        brain_calls=_count(m.brain_calls_7d),
        shipped=_count(m.shipped_7d),
        days=tuple(d.date for d in daily),
        cost_days=tuple(d.cost_usd for d in daily),
        autonomy_days=tuple(d.autonomy_ratio for d in daily),
    )


def cost_rows(fleet: FleetMetrics) -> list[CostRow]:
    return [cost_row(m) for m in fleet.sessions]


def spark_data(values: tuple[float | None, ...]) -> list[float]:
    """The sparkline's bars: an unknown day (n/a) draws at the baseline; its label says n/a."""
    return [0.0 if v is None else v for v in values]


def spark_caption(row: CostRow, which: Series) -> str:
    """`<session> · cost per day (USD), oldest first` and each day's value, n/a kept as n/a."""
    fmt = usd if which == "cost" else ratio
    unit = "cost per day (USD)" if which == "cost" else "autonomy per day"
    values = row.series(which)
    if not values:
        return f"{row.session} · {unit}: no daily series (an older loop-metrics)"
    pairs = "  ".join(f"{d[5:]} {fmt(v)}" for d, v in zip(row.days, values, strict=True))
    return f"{row.session} · {unit}, oldest first\n{pairs}"
