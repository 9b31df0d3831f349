"""The harness roster view: `harness-registry.sh roster --json` read when the view opens, and each
harness's health asked only on demand (a probe may take seconds), kept with the time it was asked.

Read-only like the rest of the deck: the roster and health verbs write nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from loop_deck.core import ago

if TYPE_CHECKING:  # models the Substrate client returns: not imported before the deck's first paint
    from loop_schemas import HarnessHealth, HarnessRoster


class RosterSource(Protocol):
    """The part of loop_substrate.Substrate the roster view reads with (tests pass a double)."""

    def roster(self) -> HarnessRoster: ...

    def harness_health(self, harness: str) -> HarnessHealth: ...


ROSTER_COLUMNS = ("harness", "present", "health", "tags", "cost", "autonomy", "auth", "drift")


@dataclass(frozen=True)
class RosterRow:
    name: str
    present: bool
    health: str
    """The last health word asked for, with its age ("ok · 2m ago"); "-" when never asked."""
    tags: str
    cost: str
    autonomy: str
    auth: str
    drift: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.name,
            "present" if self.present else "missing",
            self.health,
            self.tags or "-",
            self.cost or "-",
            self.autonomy or "-",
            self.auth or "-",
            self.drift or "-",
        )


class HealthCache:
    """Health words by harness, each with the time it was asked (health is never asked on a refresh)."""

    def __init__(self) -> None:
        self.words: dict[str, tuple[str, float]] = {}

    def note(self, harness: str, word: str, at: float) -> None:
        self.words[harness] = (word, at)

    def shown(self, harness: str, now: float) -> str:
        got = self.words.get(harness)
        if got is None:
            return "-"
        word, at = got
        return f"{word} · {ago(max(0.0, now - at))} ago"


def roster_rows(roster: HarnessRoster, health: HealthCache, now: float) -> list[RosterRow]:
    return [
        RosterRow(
            name=h.name,
            present=h.present,
            health=health.shown(h.name, now),
            tags=h.capability_tags,
            cost=h.cost_tier,
            autonomy=h.autonomy_class,
            auth=h.auth_requirement,
            drift=h.drift_pins,
        )
        for h in roster.harnesses
    ]
