"""Untrusted text shown as data: no markup, and no byte that a terminal would act on.

Mail subjects and bodies, window names, the state file's objective, CLI output and brain transcripts
come from outside the deck. Textual passes an ESC (or a C1 CSI) inside a string straight to the
terminal, so a subject like `\\e[2J\\e]0;title\\a` would clear the screen and retitle the terminal:
every control character is replaced by a visible stand-in before it reaches a widget.
"""

from __future__ import annotations

from typing import Any

from textual.visual import VisualType
from textual.widgets import Log, Static

# C0 controls and DEL become their Unicode control pictures (ESC shows as ␛); C1 controls, which some
# terminals also obey (0x9b is a CSI), show as their escaped code point.
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
_MULTILINE = dict(_TABLE)
del _MULTILINE[0x0A], _MULTILINE[0x09]


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` with every control character made visible; newlines and tabs kept when `multiline`."""
    if multiline:
        return text.replace("\r\n", "\n").translate(_MULTILINE)
    return text.translate(_TABLE)


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
