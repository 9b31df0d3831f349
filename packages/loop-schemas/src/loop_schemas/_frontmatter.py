"""Split a Markdown document into its YAML frontmatter and body; safe YAML (no aliases, no tags)."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import yaml

from loop_schemas.errors import Problem, SchemaError

_FENCE = re.compile(r"^---[ \t]*$")


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases, so a tiny document cannot expand into a huge one."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def safe_yaml(text: str) -> Any:
    """yaml.safe_load without aliases; raises SchemaError with the YAML problem on one line."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SchemaError(f"YAML: {problem}{where}", [Problem("", f"YAML: {problem}{where}")]) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an out-of-range date
        raise SchemaError(f"YAML: {exc}".splitlines()[0]) from None


def split_frontmatter(text: str) -> tuple[str | None, str]:
    """(frontmatter text or None when the document has none, body)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        return None, text
    for index in range(1, len(lines)):
        if _FENCE.match(lines[index].rstrip("\r\n")):
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise SchemaError("frontmatter: opening '---' has no closing '---'")


def _plain(value: Any) -> Any:
    """Dates and datetimes YAML produced become ISO strings: our formats keep them as text."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_frontmatter(text: str, *, required: bool = True) -> tuple[dict[str, Any], str]:
    """The frontmatter as a mapping (dates as ISO text) and the body. SchemaError when malformed."""
    raw, body = split_frontmatter(text)
    if raw is None:
        if required:
            raise SchemaError("frontmatter: missing (the file must start with a '---' line)")
        return {}, body
    data = safe_yaml(raw) if raw.strip() else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError("frontmatter: must be a mapping of key: value lines")
    return _plain(data), body


def format_scalar(value: object) -> str:
    """A value as it is written in our frontmatter: bare when YAML reads it back unchanged, else quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_scalar(v) for v in value) + "]"
    text = str(value)
    if text and "\n" not in text and text == text.strip():  # str.strip: any Unicode space, e.g. U+00A0
        try:
            if yaml.safe_load(text) == text and not text.startswith(("[", "{", "'", '"')) and "#" not in text:
                return text
        except yaml.YAMLError:
            pass
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def _yaml_printable(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD, 0x85)
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _escape(ch: str) -> str:
    """One character inside a YAML double-quoted scalar."""
    if ch == "\\":
        return "\\\\"
    if ch == '"':
        return '\\"'
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    code = ord(ch)
    if not _yaml_printable(code) or code == 0x85:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def set_frontmatter_key(text: str, key: str, value: object) -> str:
    """Set one top-level frontmatter key, leaving every other byte of the document as it was."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        raise SchemaError(f"frontmatter: bad key {key!r}")
    rendered = format_scalar(value)
    line = (f"{key}: {rendered}" if rendered else f"{key}:") + "\n"
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        raise SchemaError("frontmatter: missing (the file must start with a '---' line)")
    key_re = re.compile(rf"^{re.escape(key)}[ \t]*:")
    for index in range(1, len(lines)):
        current = lines[index]
        if _FENCE.match(current.rstrip("\r\n")):
            return "".join([*lines[:index], line, *lines[index:]])
        if key_re.match(current):
            eol = "\r\n" if current.endswith("\r\n") else "\n"
            # a block value (indented continuation lines) belongs to this key and is replaced too
            end = index + 1
            while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
                end += 1
            return "".join([*lines[:index], line.rstrip("\n") + eol, *lines[end:]])
    raise SchemaError("frontmatter: opening '---' has no closing '---'")
