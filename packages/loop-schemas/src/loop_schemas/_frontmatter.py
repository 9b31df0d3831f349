"""Split a Markdown document into its YAML frontmatter and body; safe YAML (no aliases, no tags).

yaml is imported by the first reading that needs it: a frontmatter inside the subset (the shell's
reader, loop_schemas._shared.frontmatter) is read without it when YAML would read it the same (see
parse_frontmatter), so a cycle reads its task files without loading yaml at all.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import math
import re
from typing import Any

from loop_schemas._shared import frontmatter as subset
from loop_schemas.errors import Problem, SchemaError

_FENCE = re.compile(r"^---[ \t]*$")


@functools.cache
def _loaders() -> tuple[type[Any], type[Any]]:
    """(a SafeLoader that refuses anchors and aliases, so a tiny document cannot expand into a huge one;
    the same keeping plain scalars as text), made on first use."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, "YAML aliases are not allowed", event.start_mark
                )
            return super().compose_node(parent, index)

    class TextLoader(NoAliasLoader):
        """Plain scalars stay the text they are (`yes`, `0012`, `12:30`), as the shell's frontmatter
        reader keeps them; only a null (`~`, `null`, nothing) is None."""

    TextLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return (NoAliasLoader, TextLoader)


def no_alias_loader() -> type[Any]:
    """The SafeLoader subclass that refuses anchors and aliases (yaml.load(text, Loader=...))."""
    return _loaders()[0]


def safe_yaml(text: str, *, keep_text: bool = False) -> Any:
    """yaml.safe_load without aliases; raises SchemaError with the YAML problem on one line.

    `keep_text`: plain scalars are not typed (no bools, numbers or dates), only nulls are None.
    """
    import yaml

    no_alias, as_text = _loaders()
    loader = as_text if keep_text else no_alias
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
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


def parse_frontmatter(
    text: str, *, required: bool = True, keep_text: bool = False
) -> tuple[dict[str, Any], str]:
    """The frontmatter as a mapping (dates as ISO text) and the body. SchemaError when malformed.

    `keep_text`: plain scalars stay text, as written (see safe_yaml). Such a reading of a frontmatter
    inside the subset is the subset reader's, without YAML: inside the subset YAML reads the very same
    values (tests/test_one_truth.py holds the two readers to it), but for one difference, a blank or a
    null spelling (YAML's None, the subset's ""), so a frontmatter holding an empty value anywhere is
    read by YAML. Anything the subset refuses is read by YAML too, with YAML's errors.
    """
    if keep_text:
        try:
            data, body = subset.parse(text)
        except subset.FrontmatterError:
            pass
        else:
            if all(v != "" and not (isinstance(v, list) and "" in v) for v in data.values()):
                return dict(data), body
    return yaml_frontmatter(text, required=required, keep_text=keep_text)


def yaml_frontmatter(
    text: str, *, required: bool = True, keep_text: bool = False
) -> tuple[dict[str, Any], str]:
    """parse_frontmatter's reading by YAML alone (what the subset reader is held to)."""
    raw, body = split_frontmatter(text)
    if raw is None:
        if required:
            raise SchemaError("frontmatter: missing (the file must start with a '---' line)")
        return {}, body
    data = safe_yaml(raw, keep_text=keep_text) if raw.strip() else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError("frontmatter: must be a mapping of key: value lines")
    return _plain(data), body


def format_scalar(value: object, *, flow: bool = False) -> str:
    """A value as it is written in our frontmatter: bare when YAML reads it back unchanged, else quoted.

    `flow` renders an item of an inline `[list]` or `{mapping}`, where `,`, `[`, `]`, `{`, `}` and a bare
    null (an empty item) would read back as something else.
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "null" if flow else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_scalar(v, flow=True) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{format_scalar(k, flow=True)}: {format_scalar(v, flow=True)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    # a string as the subset writes it (shell/lib/frontmatter.py, the one rule for every writer)
    return subset.format_scalar(str(value), flow)


def _format_float(value: float) -> str:
    """A float YAML 1.1 reads back as the same float (PyYAML's own spelling: .inf, .nan, 1.0e+20)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _value_end(lines: list[str], index: int) -> int:
    """The index of the first line after the value of the key on lines[index].

    A value goes on over indented lines (a block scalar, a nested mapping, a folded plain scalar), over
    `- item` lines (a block list, which YAML allows at the key's own indent) and over blank lines and
    comments between those; blank lines and comments after the last of them stay where they are.
    """
    end = index + 1
    probe = index + 1
    while probe < len(lines):
        current = lines[probe].rstrip("\r\n")
        if _FENCE.match(current):
            break
        if (current[:1] in (" ", "\t") and current.strip()) or re.match(r"-(?:[ \t]|$)", current):
            probe += 1
            end = probe
        elif not current.strip() or current.startswith("#"):
            probe += 1
        else:
            break
    return end


def set_frontmatter_key(text: str, key: str, value: object) -> str:
    """Set one top-level frontmatter key, leaving every other byte of the document as it was (a leading
    byte-order mark, which the parser accepts, included)."""
    if text.startswith("\ufeff"):
        return "\ufeff" + _set_key(text[1:], key, value)
    return _set_key(text, key, value)


def _set_key(text: str, key: str, value: object) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        raise SchemaError(f"frontmatter: bad key {key!r}")
    rendered = format_scalar(value)
    written_key = format_scalar(key)  # `on`, `no`, `null`… are quoted: bare, YAML reads True, False, None
    line = (f"{written_key}: {rendered}" if rendered else f"{written_key}:") + "\n"
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        raise SchemaError("frontmatter: missing (the file must start with a '---' line)")
    key_re = re.compile(rf"^(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')[ \t]*:")
    for index in range(1, len(lines)):
        current = lines[index]
        if _FENCE.match(current.rstrip("\r\n")):
            return "".join([*lines[:index], line, *lines[index:]])
        if key_re.match(current):
            eol = "\r\n" if current.endswith("\r\n") else "\n"
            end = _value_end(lines, index)
            return "".join([*lines[:index], line.rstrip("\n") + eol, *lines[end:]])
    raise SchemaError("frontmatter: opening '---' has no closing '---'")
