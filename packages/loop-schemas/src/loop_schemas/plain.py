"""Untrusted text as data: no byte in it that a terminal (or an editor showing a task file) would act on.

Mail subjects, window names, brain transcripts and everything a PM tool sends (issue titles, statuses,
descriptions) come from outside. An ESC (or a C1 CSI) inside such a string reaches a terminal as a
command: `\\e[2J\\e]0;title\\a` clears the screen and retitles it. One rule, used by the deck for what it
shows and by loop-pm for what it writes into task files and prints: C0 controls and DEL become their
Unicode control pictures (ESC shows as ␛, U+241B); C1 controls, which some terminals also obey (0x9b is
a CSI), show as their escaped code point (`\\x9b`). Newlines and tabs are kept in multi-line text.
"""

from __future__ import annotations

_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
_MULTILINE = dict(_TABLE)
del _MULTILINE[0x0A], _MULTILINE[0x09]


def printable(text: str, *, multiline: bool = True) -> str:
    """`text` with every control character made visible; newlines and tabs kept when `multiline`
    (a CRLF line end becomes a plain newline; a lone CR shows as ␍)."""
    if multiline:
        return text.replace("\r\n", "\n").translate(_MULTILINE)
    return text.translate(_TABLE)


__all__ = ["printable"]
