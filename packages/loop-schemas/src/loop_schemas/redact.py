"""Secrets out of everything we print or write: one function, given the secret values, redacts every form
a server (or a log, or a proxy) may echo them in.

A value is found as itself and also:
- in any letter case (the whole upper-cased, lower-cased, or mixed);
- URL-encoded, wholly or in part (`%2F` or `%2f`, `+` or `%20` for a space);
- split by whitespace or line breaks anywhere inside it (a wrapped or spaced-out echo);
- base64-encoded (standard or URL-safe alphabet, with or without padding, wrapped or not) on its own,
  and inside any longer base64 text (e.g. `Basic base64(email:token)`): at each of the three byte
  alignments, the run of base64 characters that depends on the secret's bytes alone is redacted.

Whitespace inside a value is matched loosely (as any run of whitespace, `+` or `%20`, or none), and the
base64 run of a short value is only looked for when it is at least 4 characters long. Values are
normally tokens, long and random: matching generously costs nothing but a few more `***`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any, TypeVar

MASK = "***"
_SEP = r"\s*"
_B64_CORE_MIN = 4
_URLSAFE = {"+": "-", "/": "_"}
T = TypeVar("T")


def _pct(ch: str) -> str:
    """The URL-encoding of one character (its UTF-8 bytes as %XX), hex digits in any case."""
    return "".join(f"%{_hex_class(b)}" for b in ch.encode("utf-8", "surrogatepass"))


def _hex_class(byte: int) -> str:
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{byte:02x}")


def _unit(ch: str) -> str:
    """One character, or its URL-encoding (URL encoders leave letters, digits and -_.~ as they are)."""
    if ch.isascii() and (ch.isalnum() or ch in "-_.~"):
        return re.escape(ch)
    return f"(?:{re.escape(ch)}|{_pct(ch)})"


def _text_form(value: str) -> str | None:
    """A case-insensitive pattern for `value`, each character also URL-encoded, whitespace anywhere."""
    pieces: list[str] = []
    gap = False  # the value had whitespace here: match any run of whitespace, '+' or %20 (or none)
    for ch in value:
        if ch.isspace():
            gap = True
            continue
        if pieces:
            pieces.append(r"(?:\s|\+|%(?:20|09|0[aA]|0[dD]))*" if gap else _SEP)
        gap = False
        pieces.append(_unit(ch))
    return "(?i:" + "".join(pieces) + ")" if pieces else None


def _b64_unit(ch: str) -> str:
    unit = [re.escape(ch)]
    if ch in _URLSAFE:
        unit.append(re.escape(_URLSAFE[ch]))
    if not ch.isalnum():
        unit.append(_pct(ch))
    return unit[0] if len(unit) == 1 else "(?:" + "|".join(unit) + ")"


def _b64_forms(value: str) -> list[str]:
    """Patterns for `value` base64-encoded: whole (with its padding), then its run at each alignment."""
    import base64  # here: every CLI imports this module (loop_schemas), few of them redact

    data = value.encode("utf-8", "surrogatepass")
    whole = base64.b64encode(data).decode("ascii")
    forms = [_SEP.join(_b64_unit(c) for c in whole.rstrip("=")) + rf"(?:{_SEP}(?:=|%3[dD]))*"]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data).decode("ascii")
        start = -(-8 * pad // 6)  # the first character past the padding's bits
        end = 8 * (pad + len(data)) // 6  # the characters whose bits are all the value's
        core = encoded[start:end]
        if len(core) >= _B64_CORE_MIN:
            forms.append(_SEP.join(_b64_unit(c) for c in core))
    return forms


@functools.lru_cache(maxsize=32)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    forms: list[str] = []
    for value in sorted({s.strip() for s in secrets if s and s.strip()}, key=len, reverse=True):
        # (?i:) matches any letter case; a case mapping that changes the length (ß -> SS) is added as is
        variants = [value] + [v for v in (value.upper(), value.lower()) if len(v) != len(value)]
        forms.extend(f for f in (_text_form(v) for v in variants) if f)
        forms.extend(_b64_forms(value))
    return re.compile("|".join(forms)) if forms else None


def redact(text: str, secrets: Iterable[str], *, mask: str = MASK) -> str:
    """`text` with every form of every secret value replaced by `mask`."""
    pattern = _pattern(tuple(secrets))
    if pattern is None or not text:
        return text
    return pattern.sub(mask, text)


def redact_data(value: T, secrets: Iterable[str], *, mask: str = MASK) -> T:
    """A decoded JSON document (dicts, lists, strings…) with `redact` applied to every string in it,
    keys included. Other values are returned as they are."""
    frozen = tuple(secrets)
    if _pattern(frozen) is None:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return redact(item, frozen, mask=mask)
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return type(item)(walk(v) for v in item)
        return item

    result: T = walk(value)
    return result


__all__ = ["MASK", "redact", "redact_data"]
