"""One truth per file format (issue 23): the shell's frontmatter subset and loop-schemas' safe YAML agree.

- The stdlib helpers loop-schemas shares with the bash substrate are byte-identical copies of shell/lib.
- Differential: every generated document inside the subset (CONTRACT.md "The frontmatter subset") reads
  the same in shell/lib/frontmatter.py and in loop_schemas.parse_frontmatter (plain scalars kept as text),
  a blank or null value being "" in the shell and None in loop-schemas; every document the shell accepts
  at all reads the same in both; every document it refuses is refused in one line.
- Every writer of ours (set_frontmatter_key, format_task, the mail writer, the ADR writer) writes inside
  the subset, and both readers read back what was written.

At least 2,000 documents per property in `make test`; `make test-deep` (hypothesis profile "deep") more.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loop_schemas import _shared, parse_mail
from loop_schemas._frontmatter import parse_frontmatter, set_frontmatter_key
from loop_schemas.errors import SchemaError
from loop_schemas.task import format_task

REPO = Path(__file__).resolve().parents[3]
LIB = REPO / "shell" / "lib"
SHARED = Path(_shared.__file__).resolve().parent


def _load(name: str) -> ModuleType:
    """A shell/lib helper as the shell runs it: a top-level module, its siblings importable."""
    if str(LIB) not in sys.path:
        sys.path.insert(0, str(LIB))
    spec = importlib.util.spec_from_file_location(f"_shell_{name}", LIB / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fm = _load("frontmatter")
shell_mail = _load("mail")
shell_adr = _load("adr")

# At least 2,000 documents per reader pair; the "deep" profile (make test-deep) raises it.
_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much]
DIFF = settings(
    max_examples=max(2000, settings.default.max_examples), deadline=None, suppress_health_check=_HEALTH
)
# A writer's output is read by the same pair: fewer documents each (the pair is covered above).
WRITER = settings(
    max_examples=max(300, settings.default.max_examples), deadline=None, suppress_health_check=_HEALTH
)


# ---- one source ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _shared.SHARED)
def test_shared_copy_is_byte_identical_to_shell_lib(name: str) -> None:
    """`make shared` refreshes loop_schemas/_shared from shell/lib; a drifted copy fails here."""
    assert (SHARED / name).read_bytes() == (LIB / name).read_bytes(), f"run `make shared`: {name} drifted"


def test_every_shared_file_is_listed() -> None:
    on_disk = sorted(p.name for p in SHARED.glob("*.py") if p.name != "__init__.py")
    assert on_disk == sorted(_shared.SHARED)


# ---- generated documents inside the subset -------------------------------------------------------

# Tricky ASCII (YAML indicators, quotes, escapes, spaces) mixed with any Unicode character.
_TRICKY = st.sampled_from(list("ab-:#'\" ,[]{}?!&*|>%@`~.0123456789\\/eE+_=<xnNuULP\u00a0\u3000\ufeff"))
_ANY = st.characters(codec="utf-8", exclude_categories=("Cs",))
_CHAR = st.one_of(_TRICKY, _ANY)
# a character the subset allows on a line (no tab, no control character, no line break)
_LINE_CHAR = _CHAR.filter(lambda c: fm.printable(c) and c not in fm.LINE_BREAKS and c != "\t")
_LINE_TEXT = st.text(_LINE_CHAR, max_size=10)
_LEAD = st.one_of(st.sampled_from(list("aZ0_.~=<\u00e9")), _LINE_CHAR)


def _bare(flow: bool) -> st.SearchStrategy[str]:
    word = st.builds(lambda a, b: a + b, _LEAD, st.text(_LINE_CHAR, max_size=8))
    return word.filter(lambda t: fm.bare_readable(t, flow))


@st.composite
def _double(draw: st.DrawFn) -> tuple[str, str]:
    """A "double-quoted" scalar: raw characters and every escape YAML knows."""
    written, value = [], []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            ch = draw(_LINE_CHAR.filter(lambda c: c not in '\\"'))
            written.append(ch)
            value.append(ch)
        elif kind == 1:
            code = draw(st.sampled_from(sorted(fm._ESCAPES)))
            written.append("\\" + code)
            value.append(fm._ESCAPES[code])
        else:
            width = draw(st.sampled_from([2, 4, 8]))
            point = draw(
                st.integers(0, min(16**width - 1, 0x10FFFF)).filter(lambda n: not 0xD800 <= n <= 0xDFFF)
            )
            letter = {2: "x", 4: "u", 8: "U"}[width]
            written.append(f"\\{letter}{point:0{width}x}")
            value.append(chr(point))
    return '"' + "".join(written) + '"', "".join(value)


@st.composite
def _single(draw: st.DrawFn) -> tuple[str, str]:
    text = draw(_LINE_TEXT)
    return "'" + text.replace("'", "''") + "'", text


def _scalar(flow: bool) -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(_bare(flow).map(lambda t: (t, t)), _single(), _double())


_COMMENT = _LINE_TEXT.map(lambda t: " #" + t)
_SPACES = st.sampled_from(["", " ", "  "])


@st.composite
def _entry(draw: st.DrawFn, name: str) -> tuple[list[str], Any]:
    """The lines of one `key: value` entry and the value the subset means."""
    key = draw(
        st.sampled_from([f'"{name}"', f"'{name}'"] if name in fm.NULLS else [name, f'"{name}"', f"'{name}'"])
    )
    head = key + draw(_SPACES) + ":"
    kind = draw(st.integers(0, 4))
    trail = draw(st.one_of(st.just(""), _COMMENT))
    if kind == 0:  # a scalar
        written, value = draw(_scalar(False))
        return [f"{head} {written}{draw(_SPACES)}{trail}"], value
    if kind == 1:  # blank or a null spelling: the empty value
        null = draw(st.sampled_from(sorted(fm.NULLS)))
        return [head + draw(st.sampled_from(["", " "])) + trail] if draw(st.booleans()) else [
            f"{head} {null}{trail}"
        ], ""
    if kind == 2:  # an inline list
        items = draw(st.lists(_scalar(True), max_size=3))
        sep = draw(st.sampled_from([",", ", ", " , "]))
        inner = sep.join(w for w, _ in items)
        pad = draw(_SPACES) if items else ""
        return [f"{head} [{pad}{inner}{pad}]"], [v for _, v in items]
    # a block list (kind 3, 4), maybe with comments and blank lines between its items
    indent = " " * draw(st.integers(0, 3))
    items = draw(st.lists(_scalar(False), min_size=1, max_size=3))
    lines = [head + trail]
    for written, _ in items:
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "  # between", "# between"])))
        lines.append(f"{indent}- {written}{draw(_SPACES)}{draw(st.one_of(st.just(''), _COMMENT))}")
    return lines, [v for _, v in items]


_NAMES = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,6}\Z").filter(lambda n: n.lower() not in ("null",))
_NAMES = st.one_of(_NAMES, st.sampled_from(["null", "Null", "NULL", "yes", "no", "on", "subject", "id"]))


@st.composite
def subset_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """(document, the frontmatter it means, its body): always inside the subset."""
    names = draw(st.lists(_NAMES, max_size=4, unique=True))
    lines: list[str] = []
    expected: dict[str, Any] = {}
    for name in names:
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "# a comment", "  # indented comment", "#"])))
        entry, value = draw(_entry(name))
        lines.extend(entry)
        expected[name] = value
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    body = draw(st.text(max_size=30))
    opening = "---" + draw(st.sampled_from(["", " ", "\t"]))
    closing = "---" + draw(st.sampled_from(["", "  "]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    text = bom + eol.join([opening, *lines, closing]) + eol + body
    return text, expected, body


def _yaml_reads(text: str) -> tuple[dict[str, Any], str]:
    """loop-schemas' reading, a null ("key:", "key: null") shown as the subset's empty value."""
    data, body = parse_frontmatter(text, keep_text=True)
    return {k: ("" if v is None else v) for k, v in data.items()}, body


@DIFF
@given(subset_documents())
@example(("---\nsubject: re: a-8\n---\n", {}, ""))  # outside: the shell refuses it (see below)
def test_inside_the_subset_both_readers_read_the_same(doc: tuple[str, dict[str, Any], str]) -> None:
    text, expected, body = doc
    if "re: a-8" in text:
        with pytest.raises(fm.FrontmatterError):
            fm.parse(text)
        return
    assert fm.parse(text) == (expected, body)
    assert _yaml_reads(text) == (expected, body)


# Documents near the subset: lines built from the same pieces, then bent (a tab, a stray quote, a
# colon, a line break YAML knows and the shell's split does not, an indent, a control character).
_JUNK_LINE = st.text(
    st.one_of(_TRICKY, st.sampled_from(list("\t\r\x0b\x0c\x85\u2028\x00\x7f -:")), _ANY), max_size=16
)


@st.composite
def near_documents(draw: st.DrawFn) -> str:
    text, _, _ = draw(subset_documents())
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(1, max(1, len(lines) - 1)))
        how = draw(st.integers(0, 3))
        if how == 0:
            lines.insert(at, draw(_JUNK_LINE))
        elif how == 1 and at < len(lines):
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            lines[at] = line[:cut] + draw(_JUNK_LINE) + line[cut:]
        elif how == 2:
            lines.insert(at, draw(_NAMES) + ": " + draw(_JUNK_LINE))
        else:
            lines.insert(at, draw(st.sampled_from(["  - ", "- x", "\t- x", "  x", " -x", "key:value"])))
    return "\n".join(lines)


@DIFF
@given(near_documents())
@example("---\na: 0\x85b\n---\n")  # U+0085 is a line break to YAML: the shell read "0\x85b"
@example("---\na: x\tb\n---\n")  # YAML refuses a tab inside a plain scalar; the shell read it
@example("---\na: b: c\n---\n")  # YAML refuses it; the shell read "b: c"
@example("---\na: |\n---\n")  # a block scalar indicator: the shell read "|"
@example("---\na: null\n---\n")  # YAML: null; the shell read "null"
@example('---\na: "\\x41"\n---\n')  # YAML: "A"; the shell read "\\x41" (its JSON decoder failed)
@example('---\na: "\\U0001F600"\n---\n')  # what format_scalar writes for an emoji-range control char
@example("---\na:value\n---\n")  # YAML: one plain scalar, not a key
@example("---\na:\n - x\n  - y\n---\n")  # YAML refuses the second item's indent
@example("---\na: x\u3000\n---\n")  # the shell's str.strip() ate the ideographic space
def test_the_shell_accepts_only_what_yaml_reads_the_same(text: str) -> None:
    try:
        data, body = fm.parse(text)
    except fm.FrontmatterError as exc:
        assert "\n" not in str(exc) and str(exc)  # refused in one line
        return
    try:
        assert _yaml_reads(text) == (data, body)
    except SchemaError as exc:  # pragma: no cover - a failure's explanation
        raise AssertionError(f"the shell accepted what YAML refuses: {exc}") from None


# ---- our writers write inside the subset ---------------------------------------------------------

_VALUES = st.one_of(
    st.text(max_size=20),
    st.lists(st.text(max_size=10), max_size=4),
    st.none(),
    st.integers(-(10**6), 10**6),
    st.booleans(),
)


def _as_subset(value: object) -> object:
    """What the subset reads back for a value a writer wrote (it has strings and lists of strings)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def _both_read(text: str) -> dict[str, Any]:
    data, body = fm.parse(text)
    assert _yaml_reads(text) == (data, body)
    return data


@WRITER
@given(subset_documents(), _NAMES.filter(lambda n: n not in fm.NULLS), _VALUES)
def test_set_frontmatter_key_writes_inside_the_subset(
    doc: tuple[str, dict[str, Any], str], key: str, value: object
) -> None:
    text, expected, _ = doc
    written = set_frontmatter_key(text, key, value)
    expected[key] = _as_subset(value)
    assert _both_read(written) == expected


_ONE_LINE = st.text(max_size=30).filter(lambda t: t.strip() and "\n" not in t and "\r" not in t)


@WRITER
@given(
    title=_ONE_LINE,
    scope=st.text(max_size=20),
    depends=st.lists(st.from_regex(r"\AT[0-9]{4}\Z"), max_size=3),
    extra=st.one_of(st.none(), st.text(max_size=20), st.lists(st.text(max_size=8), max_size=3)),
)
def test_format_task_writes_inside_the_subset(
    title: str, scope: str, depends: list[str], extra: object
) -> None:
    front: dict[str, object] = {"id": "T0001", "title": title, "status": "todo", "depends_on": depends}
    front |= {"scope": scope, "jira": None, "estimate": extra}
    data = _both_read(format_task(front, "## Objective\n\nx\n"))
    assert data == {k: _as_subset(v) for k, v in front.items()}


_LANE = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,6}\Z")


@WRITER
@given(sender=_LANE, recipient=_LANE, subject=_ONE_LINE, task=st.text(max_size=12), body=st.text(max_size=20))
@example(sender="a", recipient="b", subject="x\u2028y\x85\x7f", task="", body="")  # json.dumps wrote them raw
def test_the_mail_writer_writes_inside_the_subset(
    sender: str, recipient: str, subject: str, task: str, body: str
) -> None:
    stamp = _dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.timezone.utc)
    text = shell_mail.render(sender, recipient, subject, body, stamp, {"task": task})
    data = _both_read(text)
    assert data["subject"] == subject and data["task"] == task
    assert data["from"] == sender and data["to"] == recipient
    assert parse_mail(text).frontmatter.subject == subject
    assert fm.mail_head(text) == (subject, task or None)


@WRITER
@given(subset_documents(), st.dictionaries(_NAMES.filter(lambda n: n not in fm.NULLS), st.text(max_size=20)))
@example(("---\nstatus: Proposed\n---\n", {"status": "Proposed"}, ""), {"status": "re: a-8"})  # was bare
@example(("---\r\nyes:\r\n---\r\n", {"yes": ""}, ""), {"yes": ""})  # CRLF: the key was written twice
def test_the_adr_writer_writes_inside_the_subset(
    doc: tuple[str, dict[str, Any], str], values: dict[str, str]
) -> None:
    text, expected, _ = doc
    if any(isinstance(expected.get(k), list) for k in values):
        return  # the ADR writer refuses to replace a block list (it says so); not a writing case
    try:
        written = shell_adr.set_keys(text, values)
    except shell_adr.AdrError as exc:  # it refuses to touch a key followed by indented lines: nothing written
        assert "block list" in str(exc)
        return
    assert _both_read(written) == {**expected, **values}
