#!/usr/bin/env python3
"""restart.py: the two questions bin/loop-restart asks python (stdlib only, python 3.8+).

restart.py adapters --lane-config P
    print the loop's configured PM adapters (engine.pm.adapters: bare names or {name: ...} mappings),
    one per line, each once; nothing when none.
    A host overlay <P's name>.<short-hostname>.yaml beside P replaces engine top-level keys whole,
    so its engine.pm (when present) wins. PyYAML is used when importable; otherwise a small reader
    of just that key handles block and flow style, and anything it cannot read is one clear error.
restart.py check NAME...  (stdin: the output of `loop-pm list-adapters --json`)
    exit 0 when every NAME is listed as available, else one line per problem and exit 1.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, List, Optional, Tuple

PROG = "loop-restart"
ADAPTER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RestartError(Exception):
    """A one-line, user-facing error."""


# ---- a minimal reader for engine.pm.adapters ------------------------------------------------------

_KEY_RE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_-]*|\"[^\"]*\"|'[^']*')\s*:(?:\s+(.*))?$")
_UNSUPPORTED = re.compile(r"(^|\s)[&*!][A-Za-z0-9_]|^[|>][-+0-9]*$")


def _strip_comment(line: str) -> str:
    out = []
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


def _scalar(text: str) -> Optional[str]:
    s = text.strip()
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


class _Flow:
    """A recursive-descent reader for one-line flow collections: {a: [b, 'c'], d: e}."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def parse(self) -> Any:
        value = self._value()
        self._ws()
        if self.i != len(self.s):
            raise RestartError("unexpected text after a flow collection")
        return value

    def _ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def _value(self) -> Any:
        self._ws()
        if self.i >= len(self.s):
            raise RestartError("unterminated flow collection")
        ch = self.s[self.i]
        if ch == "[":
            return self._seq()
        if ch == "{":
            return self._map()
        return self._plain(",]}")

    def _plain(self, stops: str) -> Optional[str]:
        self._ws()
        if self.i < len(self.s) and self.s[self.i] in "'\"":
            q = self.s[self.i]
            end = self.s.find(q, self.i + 1)
            if end < 0:
                raise RestartError("unterminated quote")
            out = self.s[self.i + 1 : end]
            self.i = end + 1
            return out
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in stops:
            self.i += 1
        return _scalar(self.s[start : self.i])

    def _seq(self) -> List[Any]:
        self.i += 1
        items: List[Any] = []
        while True:
            self._ws()
            if self.i < len(self.s) and self.s[self.i] == "]":
                self.i += 1
                return items
            items.append(self._value())
            self._ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
            elif self.i < len(self.s) and self.s[self.i] == "]":
                continue
            else:
                raise RestartError("malformed flow list")

    def _map(self) -> dict:
        self.i += 1
        out = {}
        while True:
            self._ws()
            if self.i < len(self.s) and self.s[self.i] == "}":
                self.i += 1
                return out
            key = self._plain(":,}")
            self._ws()
            if self.i >= len(self.s) or self.s[self.i] != ":":
                raise RestartError("malformed flow mapping")
            self.i += 1
            out[key] = self._value()
            self._ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
            elif self.i < len(self.s) and self.s[self.i] == "}":
                continue
            else:
                raise RestartError("malformed flow mapping")


def _inline(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith(("[", "{")):
        return _Flow(raw).parse()
    return _scalar(raw)


def _lines(text: str) -> List[Tuple[int, str]]:
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip() in ("---", "..."):
            continue
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise RestartError("tab indentation")
        stripped = _strip_comment(line)
        if stripped.strip():
            out.append((len(stripped) - len(stripped.lstrip(" ")), stripped))
    return out


def _child_block(lines: List[Tuple[int, str]], start: int, parent_indent: int) -> List[Tuple[int, str]]:
    block = []
    for indent, line in lines[start:]:
        if indent <= parent_indent and not (indent == parent_indent and line.lstrip().startswith("- ")):
            break
        block.append((indent, line))
    return block


def _block_list(child: List[Tuple[int, str]], key: str) -> List[Any]:
    """A block list: `- jira` items, and `- name: jira` items whose mapping goes on at the key's indent
    (`  project: X`); lines deeper than that belong to a nested value and are skipped."""
    items: List[Any] = []
    dash = child[0][0]
    current: Optional[dict] = None
    keys_at = -1
    for indent, item in child:
        body = item.lstrip()
        if indent == dash and body.startswith("- "):
            rest = body[2:].strip()
            m = None if rest[:1] in ("[", "{", "'", '"') else _KEY_RE.match(rest)
            if m:
                current = {_scalar(m.group(2)) or "": _inline(m.group(3) or "")}
                keys_at = indent + len(body) - len(body[2:].lstrip())
                items.append(current)
            else:
                current = None
                items.append(_inline(rest))
            continue
        m = _KEY_RE.match(body)
        if current is not None and indent == keys_at and m:
            current[_scalar(m.group(2)) or ""] = _inline(m.group(3) or "")
        elif current is None or indent <= keys_at:
            raise RestartError(f"unexpected line in the list under '{key}'")
    return items


def _lookup(lines: List[Tuple[int, str]], path: List[str]) -> Tuple[bool, Any]:
    """(found, value) for a key path in block-style YAML lines; flow values are parsed inline."""
    if not lines:
        return False, None
    indent0 = min(i for i, _ in lines)
    for n, (indent, line) in enumerate(lines):
        if indent != indent0:
            continue
        m = _KEY_RE.match(line)
        if not m:
            continue
        key = _scalar(m.group(2)) or ""
        if key != path[0]:
            continue
        raw = (m.group(3) or "").strip()
        if _UNSUPPORTED.search(raw):
            raise RestartError(f"'{key}' uses YAML anchors, aliases, tags or block scalars")
        child = _child_block(lines, n + 1, indent)
        if raw:
            value = _inline(raw)
            for step in path[1:]:
                if not isinstance(value, dict) or step not in value:
                    return False, None
                value = value[step]
            return True, value
        if len(path) == 1:
            if child and child[0][1].lstrip().startswith("- "):
                return True, _block_list(child, key)
            if child:
                return True, {}
            return True, None
        return _lookup(child, path[1:])
    return False, None


def read_adapters_minimal(text: str) -> Tuple[bool, Any]:
    return _lookup(_lines(text), ["engine", "pm", "adapters"])


def _read_yaml(path: str) -> Tuple[bool, Any, bool]:
    """(found, value, pm_present) for engine.pm.adapters in one file."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fsread

    text = fsread.read_file(path, fsread.CONFIG_CAP).decode("utf-8")
    try:
        import yaml  # type: ignore[import-not-found]
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            import lane_config as _lane_config

            doc = _lane_config.safe_load(yaml, text)
        except yaml.YAMLError as exc:
            raise RestartError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        except RecursionError:
            raise RestartError(f"{path}: nested too deeply to read") from None
        engine = doc.get("engine") if isinstance(doc, dict) else None
        pm = engine.get("pm") if isinstance(engine, dict) else None
        pm_present = isinstance(engine, dict) and "pm" in engine
        if isinstance(pm, dict) and "adapters" in pm:
            return True, pm["adapters"], pm_present
        return False, None, pm_present
    try:
        lines = _lines(text)
        found, value = _lookup(lines, ["engine", "pm", "adapters"])
        pm_present, _ = _lookup(lines, ["engine", "pm"])
    except RecursionError:
        raise RestartError(f"{path}: nested too deeply to read") from None
    except RestartError as exc:
        raise RestartError(
            f"{path}: cannot read engine.pm.adapters without PyYAML ({exc}); "
            "install it (python3 -m pip install pyyaml) or simplify that key"
        ) from None
    return found, value, pm_present


def _names(value: Any, path: str) -> List[str]:
    """The adapter names of engine.pm.adapters: each entry a bare name or a mapping {name: jira, ...}
    (its other keys ignored; a mapping without a name skipped), each name once, in order -- the rule of
    loop_schemas.pm_adapter_names."""
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise RestartError(
            f"{path}: engine.pm.adapters must be a list of adapter names or {{name: ...}} mappings"
        )
    names: List[str] = []
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and not (isinstance(name, str) and name.strip()):
            continue  # nameless: skipped, as the engine skips it
        if not isinstance(name, str) or not name:
            raise RestartError(
                f"{path}: engine.pm.adapters must be a list of adapter names or {{name: ...}} mappings"
            )
        if not ADAPTER_RE.match(name):
            raise RestartError(f"{path}: engine.pm.adapters: {name!r} is not an adapter name")
        if name not in names:
            names.append(name)
    return names


def configured_adapters(lane_config: str) -> List[str]:
    if not os.path.isfile(lane_config):
        return []
    try:
        found, value, _ = _read_yaml(lane_config)
        result = _names(value if found else None, lane_config)
        # the same host overlay loop-tmux merges (LANE_CONFIG_HOSTNAME, .yaml or .yml): lane_config's rule
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import lane_config as _lane_config

        overlay = _lane_config.overlay_path(lane_config)
        if overlay is not None:
            o_found, o_value, o_pm = _read_yaml(overlay)
            if o_pm:  # the overlay replaces engine.pm whole
                result = _names(o_value if o_found else None, overlay)
    except UnicodeDecodeError:
        raise RestartError(f"{lane_config}: not valid UTF-8") from None
    except OSError as exc:
        raise RestartError(f"{exc.filename or lane_config}: cannot read: {exc.strerror or exc}") from None
    return result


def check(names: List[str], listing: str) -> List[str]:
    """Problems (one line each) for the named adapters given `loop-pm list-adapters --json` output."""
    try:
        doc = json.loads(listing)
    except ValueError:
        # a third-party adapter that prints while it is imported puts text ahead of the document,
        # which loop-pm prints as its last line
        lines = [line for line in listing.splitlines() if line.strip()]
        try:
            doc = json.loads(lines[-1]) if lines else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return ["loop-pm list-adapters --json did not print JSON"]
    entries = doc.get("adapters") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        return ["loop-pm list-adapters --json: no 'adapters' list"]
    by_name = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            by_name[entry["name"]] = entry
    problems = []
    for name in names:
        entry = by_name.get(name)
        if entry is None:
            problems.append(f"adapter '{name}' is not installed (loop-pm list-adapters does not list it)")
        elif entry.get("available") is not True:
            why = ""
            for key in ("reason", "why_not", "detail", "error"):
                if isinstance(entry.get(key), str) and entry[key]:
                    why = ": " + " ".join(entry[key].split())
                    break
            problems.append(f"adapter '{name}' is not available{why}")
    return problems


def main(argv: List[str]) -> int:
    try:
        if len(argv) == 3 and argv[0] == "adapters" and argv[1] == "--lane-config":
            for name in configured_adapters(argv[2]):
                sys.stdout.write(name + "\n")
            return 0
        if len(argv) >= 2 and argv[0] == "check":
            problems = check(argv[1:], sys.stdin.read())
            for p in problems:
                sys.stderr.write(f"{PROG}: {p}\n")
            return 1 if problems else 0
    except RestartError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"{PROG}: {exc.filename or ''}: {exc.strerror}\n")
        return 1
    sys.stderr.write("usage: restart.py adapters --lane-config P | check NAME... < list-adapters.json\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
