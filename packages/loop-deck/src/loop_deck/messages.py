"""Messages the deck's worker threads post to the UI thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from loop_deck.commands import CommandResult

if TYPE_CHECKING:
    from loop_deck.snapshot import Snapshot


class SnapshotReady(Message):
    """A fresh read of the session (posted by the refresh worker)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class CommandFinished(Message):
    """A CLI the deck ran has exited."""

    def __init__(self, result: CommandResult) -> None:
        super().__init__()
        self.result = result


class TailReady(Message):
    """The text of a pane (lane tail) or of the brain transcript, read by a worker."""

    def __init__(self, source: str, text: str) -> None:
        super().__init__()
        self.source = source
        self.text = text
