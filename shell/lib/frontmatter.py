#!/usr/bin/env python3
"""frontmatter.py: the YAML-subset frontmatter reader the bash substrate uses (stdlib only, py3.8+).

Accepted between a leading `---` line and the next `---` line:
  key: value        bare, 'single' or "double" quoted scalars; a blank value is ""
  key: [a, "b c"]   inline lists
  key:              followed by `  - item` lines: a block list
  # comment         whole-line comments; ` #` starts a trailing comment on a bare scalar
Anything else is an error with the line number. Values stay strings (no YAML type coercion), so
`jira: 0012` and `id: T0001` keep their exact text.

CLI:  frontmatter.py get FILE KEY       print the value (lists one item per line); exit 1 if absent
      frontmatter.py json FILE          print {"frontmatter": {...}, "body": "..."} as JSON
      frontmatter.py check FILE         exit 0 if the frontmatter parses, else one line and exit 1
"""

from __future__ import annotations

import json
import re
import sys
from typing import Dict, List, Tuple, Union

Value = Union[str, List[str]]

# A key, bare or quoted: loop_schemas quotes a key YAML would read as something else (no, on, null).
KEY_RE = re.compile(
    r"^(?:\"([A-Za-z_][A-Za-z0-9_-]*)\"|'([A-Za-z_][A-Za-z0-9_-]*)'|([A-Za-z_][A-Za-z0-9_-]*))\s*:(.*)$"
)


class FrontmatterError(ValueError):
    """The text has no frontmatter block, or a line in it is outside the accepted subset."""


def _unquote(raw: str, lineno: int) -> str:
    s = raw.strip()
    if not s:
        return ""
    if s[0] == '"':
        end = _closing_quote(s, '"')
        if end < 0:
            raise FrontmatterError(f"line {lineno}: unterminated double-quoted value")
        rest = s[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise FrontmatterError(f"line {lineno}: text after a quoted value")
        try:
            return json.loads(s[: end + 1])
        except ValueError:
            return s[1:end]
    if s[0] == "'":
        end = _closing_quote(s, "'")
        if end < 0:
            raise FrontmatterError(f"line {lineno}: unterminated single-quoted value")
        rest = s[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise FrontmatterError(f"line {lineno}: text after a quoted value")
        return s[1:end].replace("''", "'")
    hash_at = s.find(" #")
    if hash_at >= 0:
        s = s[:hash_at]
    return s.strip()


def _closing_quote(s: str, q: str) -> int:
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
    if buf.strip() or items:
        items.append(buf)
    out = [_unquote(item, lineno) for item in items]
    if any(item == "" for item in out):
        raise FrontmatterError(f"line {lineno}: empty item in list")
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
            return [ln.rstrip("\r") for ln in lines[1:idx]], "\n".join(lines[idx + 1 :])
    raise FrontmatterError("frontmatter is not closed by a '---' line")


def match_key(line: str) -> Union[Tuple[str, str], None]:
    """(key, the text after its colon) for a `key: value` line, the key unquoted; None otherwise."""
    m = KEY_RE.match(line)
    if m is None:
        return None
    return m.group(1) or m.group(2) or m.group(3), m.group(4)


def parse(text: str) -> Tuple[Dict[str, Value], str]:
    """Parse frontmatter + body. Duplicate keys are an error (the second would silently win in YAML)."""
    fm_lines, body = split(text)
    data: Dict[str, Value] = {}
    pending_list: Union[str, None] = None
    blank_heads = set()
    for offset, line in enumerate(fm_lines, start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[:1] in (" ", "\t") or stripped.startswith("- "):
            if pending_list is not None and stripped.startswith("-"):
                item = _unquote(stripped[1:], offset)
                current = data[pending_list]
                assert isinstance(current, list)
                current.append(item)
                continue
            raise FrontmatterError(f"line {offset}: unexpected indented line")
        pair = match_key(line)
        if pair is None:
            raise FrontmatterError(f"line {offset}: expected 'key: value'")
        key, raw = pair[0], pair[1].strip()
        if key in data:
            raise FrontmatterError(f"line {offset}: duplicate key '{key}'")
        pending_list = None
        if raw.startswith("["):
            if not raw.rstrip().endswith("]"):
                raise FrontmatterError(f"line {offset}: inline list for '{key}' is not closed by ']'")
            data[key] = _split_inline_list(raw.rstrip()[1:-1], offset)
        elif raw == "" or raw.startswith("#"):
            # Either a blank scalar or the head of a block list; items (if any) follow.
            data[key] = []
            pending_list = key
            blank_heads.add(key)
        else:
            data[key] = _unquote(raw, offset)
    for key in blank_heads:
        if data[key] == []:
            data[key] = ""
    return data, body


def _fm_value(value: str) -> str:
    if (
        re.match(r"^[A-Za-z0-9][A-Za-z0-9 ._/:@+-]*$", value)
        and " #" not in value
        and not value.endswith(":")
    ):
        return value
    return json.dumps(value, ensure_ascii=False)


def set_keys(text: str, values: Dict[str, str]) -> str:
    """The text with frontmatter keys replaced (or added before the closing ---); every other byte kept.

    The one frontmatter writer of shell/lib (ADRs, tasks): a value is written bare when the reader
    reads it back as the same text, else JSON-quoted. A leading byte-order mark is kept.
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
        pair = match_key(lines[i])
        if pair is not None and pair[0] in todo:
            key = pair[0]
            # a block list under the key would be left dangling: refuse rather than corrupt
            if i + 1 < end and lines[i + 1][:1] in (" ", "\t", "-"):
                raise FrontmatterError(f"frontmatter key '{key}' holds a block list; edit it by hand")
            cr = "\r" if lines[i].endswith("\r") else ""
            lines[i] = f"{key}: {_fm_value(todo.pop(key))}{cr}"
    if todo:
        lines[end:end] = [f"{k}: {_fm_value(v)}" for k, v in todo.items()]
    return "\n".join(lines)


def _read(path: str) -> str:
    import fsread  # only the CLI reads files: the parser stays import-free for the digest

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
