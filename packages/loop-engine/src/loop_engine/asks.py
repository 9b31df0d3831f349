"""Asks: a steer with expects_reply asks the lane to answer by mail with `subject: re:<ask-id>`.

asks.json holds every ask: lane, decision, when asked, its timeout, and whether it was answered (by
which message) or timed out. A reply triggers the next cycle; an unanswered ask times out after its
reply_timeout_s and is recorded as an `ask-timeout` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from loop_engine.events import EventLog, iso, new_id, parse_iso, utcnow
from loop_engine.handoff import mail_command
from loop_engine.mailhead import reply_to
from loop_engine.observe import MailItem
from loop_engine.store import read_json, updating


def new_ask_id() -> str:
    return new_id("a")


def reply_instructions(ask_id: str, lane: str, root: Path) -> str:
    """The footer of a steer that expects a reply; it names the project's main mailbox absolutely."""
    return (
        "\n\n---\nPlease answer by mail (not here): run\n"
        + mail_command(root, lane, f"re:{ask_id}", "<your answer>")
        + f"The subject must be exactly re:{ask_id}."
    )


@dataclass
class AskBook:
    """The engine's asks by id (asks.json): lane, decision, timeout, answer."""

    path: Path

    def all(self) -> dict[str, dict[str, Any]]:
        value: dict[str, dict[str, Any]] = read_json(self.path, {})
        return value

    def open_for(self, lane: str) -> list[str]:
        return [
            aid for aid, ask in self.all().items() if ask.get("lane") == lane and ask.get("state") == "open"
        ]

    def record(self, ask_id: str, *, lane: str, decision_id: str, timeout_s: int, task: str | None) -> None:
        with updating(self.path, {}) as asks:
            asks[ask_id] = {
                "lane": lane,
                "decision_id": decision_id,
                "asked_at": iso(),
                "timeout_s": int(timeout_s),
                "state": "open",
                "task": task,
                "answered_by": None,
                "closed_at": None,
            }

    def settle(self, mail: list[MailItem], events: EventLog) -> list[str]:
        """Mark asks answered by pending replies and time out overdue ones; return the answered ids."""
        answered: list[str] = []
        if not self.path.exists():
            return answered
        replies = {aid: item for item in mail if (aid := reply_to(item.subject))}
        now = utcnow()
        with updating(self.path, {}) as asks:
            for aid, ask in asks.items():
                if ask.get("state") != "open":
                    continue
                item = replies.get(aid)
                if item is not None:
                    ask.update(state="answered", answered_by=item.name, closed_at=iso(now))
                    answered.append(aid)
                    events.emit(
                        "ask-answered",
                        ask_id=aid,
                        lane=ask.get("lane"),
                        mail=item.name,
                        decision_id=ask.get("decision_id"),
                    )
                    continue
                try:
                    deadline = parse_iso(str(ask.get("asked_at"))) + timedelta(
                        seconds=int(ask.get("timeout_s", 1800))
                    )
                except (ValueError, TypeError):
                    continue
                if now >= deadline:
                    ask.update(state="timed-out", closed_at=iso(now))
                    events.emit(
                        "ask-timeout",
                        ask_id=aid,
                        lane=ask.get("lane"),
                        decision_id=ask.get("decision_id"),
                        timeout_s=ask.get("timeout_s"),
                        task=ask.get("task"),
                    )
        return answered
