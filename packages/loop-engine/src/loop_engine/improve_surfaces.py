"""The surfaces `improve` may edit, and the edits it knows how to make — nothing else is writable.

- `header`: the project's engine checkpoint header, `.loop/engine-header.md` (created from the packaged
  header when the project has none). Edits: `append` a paragraph, or `replace` one exact passage.
- `agents`: `AGENTS.md` at the project root, append-only: a new `### Experiment <YYYY-MM-DD> <name>`
  subsection inserted at the end of one `## ` section. Every byte already there stays where it was.
- `config`: the lane-config's `engine:` section (the file `loop-engine config` reads; created when there
  is none): `set` one numeric key from a short list. The file's other bytes are kept (a line-level edit,
  verified by re-parsing: the engine config must differ in exactly that key).
- `none`: report only (a crash needs a code fix); there is nothing to apply.

Every function here is pure text → text; the caller reads and writes the files.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop_schemas import EngineConfig, SchemaError, parse_lane_config, read_project_file
from loop_schemas.fsread import WIKI_CAP

from loop_engine import config as config_mod
from loop_engine.early import PACKAGED_HEADER
from loop_engine.paths import EnginePaths

SURFACES = ("header", "agents", "config", "none")
EDIT_TEXT_MAX = 4000
# the engine keys a recommendation may set: (type, lowest, highest)
CONFIG_KEYS: dict[str, tuple[type, float, float]] = {
    "checkpoint_interval_s": (float, 10, 86400),
    "poll_interval_s": (float, 1, 3600),
    "min_cycle_interval_s": (float, 0, 86400),
    "brain.timeout_s": (float, 5, 7200),
    "brain.max_retries": (int, 0, 5),
    "brain.max_calls_per_hour": (int, 1, 240),
    "ingest.timeout_s": (float, 5, 7200),
}
EXPERIMENT_RE = re.compile(r"^### Experiment \d{4}-\d{2}-\d{2} \S.*$")
_SECTION_RE = re.compile(r"^(#{1,2}) +\S")
_SPOTLIGHT = ("<<<BEGIN DATA", "<<<END DATA")


class EditError(Exception):
    """An edit that cannot be made to this surface (one line, for the user and the events)."""


def bundled_header() -> str:
    """The packaged checkpoint header's text (the file a cycle's prompt uses when the project has none)."""
    return PACKAGED_HEADER.read_text(encoding="utf-8")


def surface_path(paths: EnginePaths, surface: str) -> Path | None:
    """The one file a surface may change (None for the report-only `none`)."""
    if surface == "header":
        return paths.header_override
    if surface == "agents":
        return paths.project_root / "AGENTS.md"
    if surface == "config":
        return config_mod.lane_config_path(paths.project_root) or paths.project_root / "lane-config.yaml"
    return None


def rel(paths: EnginePaths, path: Path) -> str:
    try:
        return str(path.relative_to(paths.project_root))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class SurfaceText:
    path: Path
    text: str  # what the edit starts from
    existed: bool  # the file was there (False: the header starts from the packaged one, a config from "")


def read_surface(paths: EnginePaths, surface: str) -> SurfaceText:
    path = surface_path(paths, surface)
    if path is None:
        raise EditError("the `none` surface is report-only: there is no file to edit")
    try:
        return SurfaceText(path, read_project_file(path, WIKI_CAP).decode("utf-8"), True)
    except FileNotFoundError:
        pass
    except UnicodeDecodeError:
        raise EditError(f"{rel(paths, path)}: not UTF-8 text; not editing it") from None
    except OSError as exc:
        raise EditError(f"{rel(paths, path)}: unreadable: {exc.strerror or exc}") from None
    if surface == "header":
        return SurfaceText(path, bundled_header(), False)
    if surface == "config":
        return SurfaceText(path, "", False)
    raise EditError(f"{rel(paths, path)} does not exist: an experiment is appended to an existing AGENTS.md")


def diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# ------------------------------------------------------------------ checks shared with the parser
def check_text(value: object, what: str, *, limit: int = EDIT_TEXT_MAX) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EditError(f"{what}: must be non-empty text")
    if len(value) > limit:
        raise EditError(f"{what}: {len(value)} characters, at most {limit} (edits are minimal)")
    if any(marker in value for marker in _SPOTLIGHT):
        raise EditError(f"{what}: must not carry the data-spotlight markers")
    if "\x00" in value or any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise EditError(f"{what}: control characters are not allowed")
    return value


def check_config_value(key: object, value: object) -> tuple[str, int | float]:
    if not isinstance(key, str) or key not in CONFIG_KEYS:
        raise EditError(f"config key {key!r} is not one improve may set ({', '.join(CONFIG_KEYS)})")
    kind, low, high = CONFIG_KEYS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EditError(f"engine.{key}: the value must be a number")
    if kind is int and value != int(value):
        raise EditError(f"engine.{key}: the value must be a whole number")
    if not low <= value <= high:
        raise EditError(f"engine.{key}: {value} is outside {low:g}..{high:g}")
    number: int | float = int(value) if kind is int or value == int(value) else float(value)
    return key, number


def check_experiment(text: str) -> str:
    """An AGENTS.md experiment: one `### Experiment <date> <name>` heading first, no `#`/`##` heading."""
    lines = text.strip("\n").splitlines()
    if not lines or not EXPERIMENT_RE.match(lines[0]):
        raise EditError("an AGENTS.md experiment must start with `### Experiment YYYY-MM-DD <name>`")
    for line in lines[1:]:
        if _SECTION_RE.match(line) or line.startswith("### "):
            raise EditError("an AGENTS.md experiment is one subsection: no other `#`, `##` or `###` heading")
    return "\n".join(lines)


# ------------------------------------------------------------------ the edits
def apply_edit(surface: str, text: str, edit: dict[str, Any]) -> str:
    """The surface's new text after `edit` (EditError when the edit does not fit this surface)."""
    op = edit.get("op")
    if surface == "header":
        if op == "append":
            addition = check_text(edit.get("text"), "edit.text").strip("\n")
            base = text.rstrip("\n")
            return f"{base}\n\n{addition}\n" if base else f"{addition}\n"
        if op == "replace":
            old = check_text(edit.get("old"), "edit.old")
            new = check_text(edit.get("new"), "edit.new")
            found = text.count(old)
            if found != 1:
                raise EditError(f"edit.old occurs {found} times in the header; it must occur exactly once")
            return text.replace(old, new, 1)
        raise EditError(f"header edits are `append` or `replace`, not {op!r}")
    if surface == "agents":
        if op != "append":
            raise EditError(f"AGENTS.md is append-only: `{op}` is not allowed (only `append`)")
        block = check_experiment(check_text(edit.get("text"), "edit.text"))
        section = edit.get("section")
        if section is not None and not isinstance(section, str):
            raise EditError("edit.section must be a `## ` heading of AGENTS.md")
        return insert_experiment(text, block, section)
    if surface == "config":
        if op != "set":
            raise EditError(f"config edits are `set`, not {op!r}")
        key, value = check_config_value(edit.get("key"), edit.get("value"))
        return set_engine_key(text, key, value)
    raise EditError(f"{surface!r} is not a surface improve may edit")


def _sections(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, heading text) of every `#`/`##` heading outside fenced code."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            fence = None if fence == mark else (fence or mark)
            continue
        if fence is None and _SECTION_RE.match(line):
            out.append((i, line.lstrip("#").strip()))
    return out


def section_headings(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    return [h for i, h in _sections(lines) if lines[i].startswith("## ")]


def _match_section(headings: list[tuple[int, str]], wanted: str) -> int:
    want = wanted.lstrip("#").strip().lower()
    if not want:
        raise EditError("edit.section is empty")
    exact = [i for i, h in headings if h.lower() == want]
    if len(exact) == 1:
        return exact[0]
    loose = [i for i, h in headings if want in h.lower()]
    if len(loose) == 1:
        return loose[0]
    if not loose and not exact:
        raise EditError(f"AGENTS.md has no `## ` section {wanted!r}")
    raise EditError(f"edit.section {wanted!r} matches {len(loose) or len(exact)} sections; name exactly one")


def insert_experiment(text: str, block: str, section: str | None) -> str:
    """Insert `block` at the end of `section` (default: the end of the file); the rest stays byte for byte."""
    lines = text.splitlines(keepends=True)
    heads = [(i, h) for i, h in _sections(lines) if lines[i].startswith("## ")]
    if section is None:
        cut = len(text)
    else:
        start = _match_section(heads, section)
        after = [i for i, _ in _sections(lines) if i > start]
        cut = sum(len(line) for line in lines[: after[0]]) if after else len(text)
    before, rest = text[:cut], text[cut:]
    lead = "" if not before or before.endswith("\n\n") else ("\n" if before.endswith("\n") else "\n\n")
    tail = "\n\n" if rest else "\n"
    new = before + lead + block + tail + rest
    assert new.startswith(before) and new.endswith(rest)
    return new


# ------------------------------------------------------------------ config: one key of engine:
_KEY_LINE = r"^(?P<ind>[ ]*)(?P<key>{key}):(?P<sp>[ ]*)(?P<val>[^#\n]*?)(?P<rest>[ ]*(?:#.*)?)(?P<nl>\r?\n?)$"


def _fmt(value: int | float) -> str:
    return str(int(value)) if value == int(value) else repr(float(value))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _block_end(lines: list[str], start: int, parent_indent: int) -> int:
    """Index after the last content line of the block under lines[start] (children indented deeper)."""
    end = start + 1
    last = start + 1
    while end < len(lines):
        if _content(lines[end]):
            if _indent(lines[end]) <= parent_indent:
                break
            last = end + 1
        end += 1
    return last


def _find_child(lines: list[str], start: int, stop: int, name: str) -> tuple[int | None, int | None]:
    """(index of `name:` among the direct children of lines[start], the children's indent)."""
    indent: int | None = None
    for i in range(start + 1, stop):
        if not _content(lines[i]):
            continue
        if indent is None:
            indent = _indent(lines[i])
        if _indent(lines[i]) == indent and re.match(_KEY_LINE.format(key=re.escape(name)), lines[i]):
            return i, indent
    return None, indent


def _config_dump(text: str) -> dict[str, Any]:
    """The whole lane-config as data, its engine section with every default filled in."""
    try:
        parsed = parse_lane_config(text, "lane-config") if text.strip() else parse_lane_config("{}")
    except SchemaError as exc:
        raise EditError(f"the lane-config does not parse: {str(exc).splitlines()[0]}") from None
    data: dict[str, Any] = parsed.model_dump(mode="json")
    data["engine"] = (parsed.engine or EngineConfig()).model_dump(mode="json")
    return data


def _dotted_set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def set_engine_key(text: str, key: str, value: int | float) -> str:
    """Set engine.<key> with a line-level edit; the parsed config must change in exactly that key."""
    expected = _config_dump(text)
    _dotted_set(expected["engine"], key, value)
    shown = _fmt(value)
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    parts = key.split(".")
    top = next((i for i, line in enumerate(lines) if re.match(r"^engine:[ ]*(#.*)?\r?\n?$", line)), None)
    if top is None:
        if any(re.match(r"^engine\s*:", line) for line in lines):
            raise EditError("the lane-config's engine: section is not a block mapping; set it by hand")
        body = f"engine:{nl}"
        for depth, part in enumerate(parts[:-1]):
            body += f"{'  ' * (depth + 1)}{part}:{nl}"
        body += f"{'  ' * len(parts)}{parts[-1]}: {shown}{nl}"
        sep = nl if lines and lines[-1].strip() else ""
        new = "".join(lines) + sep + body
    else:
        new = _set_under(lines, top, parts, shown, nl)
    if _config_dump(new) != expected:
        raise EditError(f"cannot set engine.{key} in this lane-config safely; set it to {shown} by hand")
    return new


def _set_under(lines: list[str], top: int, parts: list[str], shown: str, nl: str) -> str:
    parent = top
    parent_indent = 0
    for depth, part in enumerate(parts):
        stop = _block_end(lines, parent, parent_indent)
        index, indent = _find_child(lines, parent, stop, part)
        child_indent = indent if indent is not None else parent_indent + 2
        last = depth == len(parts) - 1
        if index is None:
            body = ""
            for d, rest in enumerate(parts[depth:-1]):
                body += f"{' ' * (child_indent + 2 * d)}{rest}:{nl}"
            body += f"{' ' * (child_indent + 2 * (len(parts) - 1 - depth))}{parts[-1]}: {shown}{nl}"
            lines.insert(stop, body)
            return "".join(lines)
        m = re.match(_KEY_LINE.format(key=re.escape(part)), lines[index])
        assert m is not None
        value = m.group("val").strip()
        if last:
            if not value or value.startswith(("{", "[", "&", "*", "|", ">")):
                raise EditError(f"engine.{'.'.join(parts)} is not a plain value here; set it by hand")
            sp = m.group("sp") or " "
            lines[index] = f"{m.group('ind')}{m.group('key')}:{sp}{shown}{m.group('rest')}{m.group('nl')}"
            return "".join(lines)
        if value:
            raise EditError(
                f"engine.{part} is not a block mapping here; set engine.{'.'.join(parts)} by hand"
            )
        parent, parent_indent = index, child_indent
    raise EditError("unreachable")  # pragma: no cover
