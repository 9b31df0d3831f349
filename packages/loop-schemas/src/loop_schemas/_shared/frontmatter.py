#!/usr/bin/env python3
"""frontmatter.py: the YAML-subset frontmatter reader and writer rules (stdlib only, py3.8+).

The one source of the subset (CONTRACT.md "The frontmatter subset"): the bash substrate's helpers use this
file, and loop-schemas carries a byte-identical copy (loop_schemas/_shared/frontmatter.py, `make shared`).
Accepted between a leading `---` line and the next `---` line (fences may carry trailing spaces/tabs):
  key: value        a bare scalar (format: bare_ok), 'single' or "double" quoted; blank or a bare YAML
                    null (~, null, Null, NULL) is the empty value ""
  key: [a, "b c"]   an inline list of bare or quoted non-empty items
  key:              followed by `- item` lines (one indentation of spaces): a block list
  # comment         whole-line comments; ` #` starts a trailing comment after a value
Anything else (a tab, a control character, a line break other than \n or \r\n, a bare value YAML would
read as something else, an escape YAML does not know, a key twice) is an error with the line number.
Values stay strings (no YAML type coercion), so `jira: 0012` and `id: T0001` keep their exact text.
Inside the subset, full safe YAML (loop-schemas, plain scalars kept as text) reads the same values.

CLI:  frontmatter.py get FILE KEY       print the value (lists one item per line); exit 1 if absent
      frontmatter.py json FILE          print {"frontmatter": {...}, "body": "..."} as JSON
      frontmatter.py check FILE         exit 0 if the frontmatter parses, else one line and exit 1
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the digest's start-up; annotations are strings here
    from typing import Dict, List, Optional, Set, Tuple, Union

    Value = Union[str, List[str]]


_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
# A key, bare or quoted (loop_schemas quotes a key YAML would read as something else), then `:` and either
# the end of the line or a space: `key:value` is one plain scalar in YAML, not a key.
# The two patterns of a line (read by hand in match_key / match_item: a reader never imports re; a test
# holds them equal; KEY_RE and ITEM_RE are these compiled, on first use).
KEY_PATTERN = r"^(?:\"(" + _NAME + r")\"|'(" + _NAME + r")'|(" + _NAME + r")) *:(?:( .*)|)$"
ITEM_PATTERN = r"^( *)-(?: (.*)|)$"
_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789-"  # _NAME's [A-Za-z0-9_-]
_NAME_FIRST = frozenset(_NAME_CHARS[:53])  # [A-Za-z_]


def __getattr__(name: str) -> "object":
    """KEY_RE and ITEM_RE (KEY_PATTERN, ITEM_PATTERN compiled) for a caller that asks, on first use."""
    if name in ("KEY_RE", "ITEM_RE"):
        import re

        globals().update(KEY_RE=re.compile(KEY_PATTERN), ITEM_RE=re.compile(ITEM_PATTERN))
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# What YAML reads as null when bare: in the subset, the empty value.
NULLS = frozenset(("~", "null", "Null", "NULL"))
# Every character str.splitlines() or YAML treats as a line break.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# A bare scalar never starts with one of these (YAML reads them as syntax)...
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# ...and a bare item of an inline list never holds one of these.
_FLOW_STOP = frozenset(",[]{}:?#'\"")
# The escapes of a "double-quoted" value: YAML's own (PyYAML's table), one character each...
_ESCAPES = {
    "0": "\x00", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "\\": "\\", "/": "/", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
# ...and \xXX, \uXXXX, \UXXXXXXXX.
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


class FrontmatterError(ValueError):
    """The text has no frontmatter block, or a line in it is outside the accepted subset."""


def printable(ch: str) -> bool:
    """A character YAML accepts in a stream (its `printable` set, line breaks aside)."""
    code = ord(ch)
    return (
        code in (0x9, 0xA, 0xD, 0x85)
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


# Plain scalars YAML 1.1 types (PyYAML's implicit resolvers: bool, int, float, timestamp, merge, value):
# the subset and loop-schemas' text reader keep them as text, its typed reader does not: a writer quotes them.
# The pattern text: only a writer matches it (typed()), so a reader does not pay its compilation (~1 ms).
_TYPED_PATTERN = (
    r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
    r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?"
    r"|<<|=)$"
)


def typed(text: str) -> bool:
    """True when typed YAML reads the plain scalar `text` as something other than a string."""
    import re  # a writer's: a reader never imports it

    return re.match(_TYPED_PATTERN, text) is not None  # compiled on first use, then re's own cache


def bare_ok(text: str, flow: bool = False) -> bool:
    """True when a writer may write `text` bare: the subset reads it back as itself, and so does YAML,
    typed or not (so `yes` and `12` are quoted; a real date `2024-01-01` is not, loop-schemas reads it back
    as that text). `flow`: as an item of an inline [list]."""
    # no Unicode space at either end either: a writer's line.rstrip() must not eat part of the value
    if not bare_readable(text, flow) or text != text.strip():
        return False
    return not typed(text) or _iso_date(text)


def _iso_date(text: str) -> bool:
    """A real date spelled YYYY-MM-DD: typed YAML reads a date that loop-schemas gives back as this text."""
    import re

    if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text) is None:
        return False
    import datetime  # only a writer gets here

    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def bare_readable(text: str, flow: bool = False) -> bool:
    """True when the subset reads bare `text` as itself, and YAML (plain scalars kept as text) does too.

    `flow`: as an item of an inline [list]. A YAML null spelling is not (it reads as the empty value).
    """
    if not text or text in NULLS or text != text.strip(" "):
        return False
    if any(ch == "\t" or ch in LINE_BREAKS or not printable(ch) for ch in text):
        return False
    if text[0] in _INDICATORS and not (text[0] == "-" and len(text) > 1 and text[1] != " "):
        return False
    if ": " in text or text.endswith(":") or " #" in text:
        return False
    return not (flow and any(ch in _FLOW_STOP for ch in text))


def _quoted_end(s: str, q: str) -> int:
    """The index of the quote closing the scalar opened at s[0]; -1 when it is not closed."""
    i = 1
    while i < len(s):
        ch = s[i]
        if q == '"' and ch == "\\":
            i += 2
            continue
        if ch == q:
            if q == "'" and i + 1 < len(s) and s[i + 1] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def _unescape(inner: str, lineno: int) -> str:
    out = []
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = inner[i + 1 : i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
            continue
        width = _HEX_ESCAPES.get(code, 0)
        digits = inner[i + 2 : i + 2 + width]
        if not width or len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise FrontmatterError(f"line {lineno}: unknown escape '\\{code}' in a double-quoted value")
        value = int(digits, 16)
        if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
            raise FrontmatterError(f"line {lineno}: escape '\\{code}{digits}' is not a character")
        out.append(chr(value))
        i += 2 + width
    return "".join(out)


def scalar(raw: str, lineno: int, flow: bool = False) -> str:
    """The value of one scalar as written after `key:`, after `- ` or between the commas of a [list].

    Blank and a bare YAML null are ""; FrontmatterError when it is outside the subset.
    """
    s = raw.strip(" ")
    if not s:
        return ""
    if s[0] in "'\"":
        q = s[0]
        end = _quoted_end(s, q)
        if end < 0:
            kind = "double" if q == '"' else "single"
            raise FrontmatterError(f"line {lineno}: unterminated {kind}-quoted value")
        rest = s[end + 1 :]
        comment = rest[:1] == " " and rest.lstrip(" ")[:1] == "#"  # r" +#" at its start, by hand
        if rest and not (flow and not rest.strip(" ")) and not comment:
            raise FrontmatterError(f"line {lineno}: text after a quoted value")
        inner = s[1:end]
        return _unescape(inner, lineno) if q == '"' else inner.replace("''", "'")
    if not flow:
        hash_at = s.find(" #")
        if hash_at >= 0:
            s = s[:hash_at].rstrip(" ")
    if s in NULLS:
        return ""
    if not bare_readable(s, flow):
        raise FrontmatterError(f"line {lineno}: bare value {s!r} is read otherwise by YAML: quote it")
    return s


def _split_inline_list(inner: str, lineno: int) -> List[str]:
    items: List[str] = []
    buf = ""
    quote = ""
    i = 0
    while i < len(inner):
        ch = inner[i]
        if quote:
            buf += ch
            if ch == "\\" and quote == '"' and i + 1 < len(inner):
                buf += inner[i + 1]
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf += ch
        elif ch == ",":
            items.append(buf)
            buf = ""
        else:
            buf += ch
        i += 1
    if quote:
        raise FrontmatterError(f"line {lineno}: unterminated quote in list")
    if buf.strip(" ") or items:
        items.append(buf)
    out = []
    for item in items:
        if not item.strip(" ") or (item.strip(" ") in NULLS):
            raise FrontmatterError(f"line {lineno}: empty item in list")
        out.append(scalar(item, lineno, flow=True))
    return out


def split(text: str) -> Tuple[List[str], str]:
    """Return (frontmatter lines, body). Raises FrontmatterError when there is no block."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    # a fence is '---' plus optional trailing spaces/tabs (and CR), the same rule as loop_schemas
    if not lines or lines[0].rstrip("\r").rstrip(" \t") != "---":
        raise FrontmatterError("no frontmatter: the file must start with a '---' line")
    for idx in range(1, len(lines)):
        if lines[idx].rstrip("\r").rstrip(" \t") == "---":
            return [ln[:-1] if ln.endswith("\r") else ln for ln in lines[1:idx]], "\n".join(lines[idx + 1 :])
    raise FrontmatterError("frontmatter is not closed by a '---' line")


def match_key(line: str) -> Union[Tuple[str, str], None]:
    """(key, the text after its colon) for a `key: value` line, the key unquoted; None otherwise: KEY_PATTERN
    (a line holds no line break) read by hand."""
    quote = line[:1]
    if quote in ('"', "'"):
        end = line.find(quote, 1)
        if end < 0:
            return None
        key = line[1:end]
        if key.strip(_NAME_CHARS):
            return None
        rest = line[end + 1 :]
    else:
        rest = line.lstrip(_NAME_CHARS)
        key = line[: len(line) - len(rest)]
    if key[:1] not in _NAME_FIRST:  # also an empty key
        return None
    rest = rest.lstrip(" ")
    if rest[:1] != ":":
        return None
    value = rest[1:]
    if value and value[0] != " ":
        return None  # `key:value` is one plain scalar in YAML, not a key
    return key, value


def match_item(line: str) -> Union[Tuple[str, str], None]:
    """(its indent, the text after `- `) of a list item line, None otherwise: ITEM_PATTERN read by hand."""
    item = line.lstrip(" ")
    if item[:1] != "-":
        return None
    after = item[1:]
    if after and after[0] != " ":
        return None
    return line[: len(line) - len(item)], after[1:]


def parse(text: str) -> Tuple[Dict[str, Value], str]:
    """Parse frontmatter + body. Duplicate keys are an error (the second would silently win in YAML)."""
    fm_lines, body = split(text)
    return parse_lines(fm_lines), body


def parse_lines(fm_lines: List[str]) -> Dict[str, Value]:
    """The data of frontmatter lines as split() returns them (for a reader that also needs the lines)."""
    data: Dict[str, Value] = {}
    pending_list: Optional[str] = None
    indent: Optional[str] = None
    blank_heads: Set[str] = set()
    for offset, line in enumerate(fm_lines, start=2):
        bad = next((ch for ch in line if ch == "\t" or ch in LINE_BREAKS or not printable(ch)), None)
        if bad is not None:
            raise FrontmatterError(f"line {offset}: character {bad!r} is outside the frontmatter subset")
        stripped = line.strip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        item = match_item(line)
        if item is not None:
            if pending_list is None or (indent is not None and item[0] != indent):
                raise FrontmatterError(f"line {offset}: unexpected list item")
            indent, raw_item = item
            if not raw_item.strip(" ") or raw_item.strip(" ").startswith("#"):
                raise FrontmatterError(f"line {offset}: empty list item")
            current = data[pending_list]
            if not isinstance(current, list):  # pragma: no cover - a list head is always a list
                raise FrontmatterError(f"line {offset}: unexpected list item")
            value = scalar(raw_item, offset)
            if not value and raw_item.strip(" ")[:1] not in "'\"":
                # a bare null (`- ~`, `- null`): YAML reads None, not text; refused as in an inline list
                raise FrontmatterError(f"line {offset}: empty list item")
            current.append(value)
            continue
        if line[:1] == " ":
            raise FrontmatterError(f"line {offset}: unexpected indented line")
        pair = match_key(line)
        if pair is None:
            raise FrontmatterError(f"line {offset}: expected 'key: value'")
        key, raw = pair[0], pair[1].strip(" ")
        if key in data:
            raise FrontmatterError(f"line {offset}: duplicate key '{key}'")
        if key in NULLS and line[:1] not in "'\"":
            raise FrontmatterError(f"line {offset}: bare key '{key}' is a null in YAML: quote it")
        pending_list, indent = None, None
        if raw.startswith("["):
            if not raw.endswith("]"):
                raise FrontmatterError(f"line {offset}: inline list for '{key}' is not closed by ']'")
            data[key] = _split_inline_list(raw[1:-1], offset)
        elif raw == "" or raw.startswith("#"):
            # Either a blank scalar or the head of a block list; items (if any) follow.
            data[key] = []
            pending_list = key
            blank_heads.add(key)
        else:
            data[key] = scalar(raw, offset)
    for key in blank_heads:
        if data[key] == []:
            data[key] = ""
    return data


def format_scalar(value: str, flow: bool = False) -> str:
    """A string as the subset writes it: bare when bare_ok, else double-quoted with YAML escapes."""
    return value if bare_ok(value, flow) else quote(value)


def quote(value: str) -> str:
    """A string always double-quoted, with the escapes the subset and YAML read back as the same text."""
    return '"' + "".join(_escape(ch) for ch in value) + '"'


def _escape(ch: str) -> str:
    """One character inside a double-quoted value."""
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
    if not printable(ch) or ch in LINE_BREAKS:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


# the `subject:` / `task:` line of a head the subset refuses (rare: compiled on first use, then re's cache)
_HEAD_KEY = r"^(subject|task)[ \t]*:[ \t]*(.*?)[ \t]*$"


def mail_head(text: str) -> Tuple[Optional[str], Optional[str]]:
    """(subject, task) of a message, as every reader of mail (loop-mail, loop-digest, the engine) sees them.

    Inside the subset: the parsed values (a list is no subject; "" is none). Hand-written frontmatter the
    subset refuses, such as `subject: re: a-12 port 8080` (a colon and a space inside a bare value), still
    has a subject: its raw text on the `subject:` line, quotes removed. No frontmatter at all: (None, None).
    """
    try:
        data, _ = parse(text)
    except FrontmatterError:
        pass
    else:
        got = [data.get(k) for k in ("subject", "task")]
        subject, task = (v if isinstance(v, str) and v else None for v in got)
        return subject, task
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r").rstrip(" \t") != "---":
        return None, None
    found: Dict[str, str] = {}
    for raw_line in lines[1:]:
        line = raw_line.rstrip("\r")
        if line.rstrip(" \t") == "---":
            break
        import re  # a head the subset refuses (rare)

        m = re.match(_HEAD_KEY, line)
        if m is None or m.group(1) in found:
            continue
        raw = m.group(2)
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        if raw and not raw.startswith(("[", "{")):
            found[m.group(1)] = raw
    else:
        return None, None  # never closed: no frontmatter
    return found.get("subject"), found.get("task")


def set_keys(text: str, values: Dict[str, str]) -> str:
    """The text with frontmatter keys replaced (or added before the closing ---); every other byte kept.

    The one frontmatter writer of shell/lib (ADRs, tasks): a value is written as the subset writes it
    (format_scalar: bare when it reads back as the same text, else double-quoted). A byte-order mark is kept.
    """
    if text.startswith("\ufeff"):
        return "\ufeff" + set_keys(text[1:], values)
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r").rstrip(" \t") != "---":  # fences as frontmatter.split reads them
        raise FrontmatterError("no frontmatter: the file must start with a '---' line")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r").rstrip(" \t") == "---"), -1)
    if end < 0:
        raise FrontmatterError("frontmatter is not closed by a '---' line")
    todo = dict(values)
    for i in range(1, end):
        pair = match_key(lines[i][:-1] if lines[i].endswith("\r") else lines[i])  # a CRLF line
        if pair is not None and pair[0] in todo:
            key = pair[0]
            # a block list under the key would be left dangling: refuse rather than corrupt
            if i + 1 < end and lines[i + 1][:1] in (" ", "\t", "-"):
                raise FrontmatterError(f"frontmatter key '{key}' holds a block list; edit it by hand")
            cr = "\r" if lines[i].endswith("\r") else ""
            lines[i] = f"{key}: {format_scalar(todo.pop(key))}{cr}"
    if todo:
        lines[end:end] = [f"{k}: {format_scalar(v)}" for k, v in todo.items()]
    return "\n".join(lines)


def _read(path: str) -> str:
    # only the CLI reads files: the parser stays import-free for the digest
    if __package__:  # the copy inside loop_schemas._shared
        from . import fsread
    else:
        import fsread  # type: ignore[no-redef,import-not-found]

    raw = fsread.read_file(path, fsread.DOC_CAP)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FrontmatterError("not valid UTF-8") from None


def main(argv: List[str]) -> int:
    prog = "frontmatter.py"
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    verb = argv[0]
    try:
        if verb == "get" and len(argv) == 3:
            data, _ = parse(_read(argv[1]))
            if argv[2] not in data:
                return 1
            value = data[argv[2]]
            if isinstance(value, list):
                for item in value:
                    sys.stdout.write(item + "\n")
            else:
                sys.stdout.write(value + "\n")
            return 0
        if verb == "json" and len(argv) == 2:
            import json  # only this verb writes JSON: the readers' start-up never imports json

            data, body = parse(_read(argv[1]))
            json.dump({"frontmatter": data, "body": body}, sys.stdout, ensure_ascii=False)
            sys.stdout.write("\n")
            return 0
        if verb == "check" and len(argv) == 2:
            parse(_read(argv[1]))
            return 0
    except FrontmatterError as exc:
        sys.stderr.write(f"{argv[1]}: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"{prog}: {argv[1]}: {exc.strerror}\n")
        return 1
    sys.stderr.write(f"{prog}: usage: get FILE KEY | json FILE | check FILE\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
