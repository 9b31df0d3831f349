"""Untrusted text shown as data: no markup, and no byte that a terminal would act on.

Mail subjects and bodies, window names, the state file's objective, CLI output and brain transcripts
come from outside the deck. Textual passes an ESC (or a C1 CSI) inside a string straight to the
terminal, so a subject like `\\e[2J\\e]0;title\\a` would clear the screen and retitle the terminal:
every control character is replaced by a visible stand-in before it reaches a widget (one rule for
the whole project: `loop_schemas.plain.printable`, which loop-pm also applies to what a PM tool sends).
"""

from __future__ import annotations

from typing import Any

from loop_schemas.plain import printable
from textual.visual import VisualType
from textual.widgets import Log, Static

__all__ = ["PlainLog", "PlainStatic", "printable"]


class PlainStatic(Static):
    """A Static that never reads markup and shows control characters as visible stand-ins."""

    def __init__(self, content: str = "", **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().__init__(printable(content), **kwargs)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(printable(content) if isinstance(content, str) else content, layout=layout)


class PlainLog(Log):
    """A Log whose lines show control characters as visible stand-ins (a transcript is untrusted)."""

    def write(self, data: str, scroll_end: bool | None = None) -> PlainLog:
        super().write(printable(data), scroll_end)
        return self
