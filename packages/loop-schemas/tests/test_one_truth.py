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
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loop_schemas import LaneConfig, ResolvedLaneConfig, _shared, parse_lane_config, parse_mail
from loop_schemas._frontmatter import parse_frontmatter, set_frontmatter_key
from loop_schemas.errors import SchemaError
from loop_schemas.registry import HARNESS_ORDER
from loop_schemas.task import TASK_FILE_RE, TaskLintReport, format_task, lint_tasks, parse_task, task_paths

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
shell_tasks = _load("tasks")

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


# ---- lane-config: the shell's resolver and loop_schemas.parse_lane_config ------------------------
#
# Documents come from a seeded random.Random (hypothesis supplies the seed): a hypothesis draw per
# character costs ~30 ms a document, a plain generator microseconds; each example is a batch of
# documents the shell answers in one process (tests/shell_batch.py), not one python3 per document.

BATCH_HELPER = Path(__file__).with_name("shell_batch.py")
# Documents (task trees) per reader pair: at least 2,000; the "deep" profile raises it.
DOCS = max(2000, settings.default.max_examples)
BATCH = 100
BATCHES = settings(
    max_examples=-(-DOCS // BATCH), deadline=None, suppress_health_check=_HEALTH, database=None
)


def shell_batch(requests: list[tuple[str, list[str]]], env: dict[str, str] | None = None) -> list[Any]:
    """Each (shell/lib module, argv) run as its CLI, all in one python3: [{rc, out, err}, ...]."""
    lines = "".join(json.dumps({"module": m, "argv": a}) + "\n" for m, a in requests)
    proc = subprocess.run(
        [sys.executable, str(BATCH_HELPER), str(LIB)],
        input=lines.encode(),
        capture_output=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    answers = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(answers) == len(requests)
    return answers


_POOL = list("ab -:#'\",[]{}?!&*|>%@`~.0123456789\\/eE+_=<xyz")
_POOL += ["\u00e9", "\u00a0", "\u3000", "\u2028", "\x85", "\x7f", "\t", "\x00", "\U0001f680"]


def _rtext(rnd: random.Random, size: int = 8) -> str:
    out = []
    for _ in range(rnd.randint(0, size)):
        roll = rnd.random()
        if roll < 0.8:
            out.append(rnd.choice(_POOL))
        else:  # any character at all (no lone surrogate: the file is UTF-8)
            code = rnd.randint(0, 0x10FFFF)
            out.append(chr(code) if not 0xD800 <= code <= 0xDFFF else "s")
    return "".join(out)


def yaml_string(rnd: random.Random, value: str, flow: bool) -> str:
    """`value` written as YAML that reads back as that string: bare, 'single' or "double" quoted."""
    clean = all(fm.printable(c) and c not in fm.LINE_BREAKS and c != "\t" for c in value)
    styles = ["double"]
    if clean:
        styles.append("single")
        if fm.bare_ok(value, flow) and fm._TYPED.match(value) is None:
            styles.append("bare")
    style = rnd.choice(styles)
    if style == "bare":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    # JSON's escapes are YAML's; ensure_ascii writes an emoji as a surrogate-pair escape
    return json.dumps(value, ensure_ascii=not clean or rnd.random() < 0.5)


class LaneField:
    """One kind of lane field: a value the shell and the model accept (written, meant) and values of a
    wrong type (written) both refuse."""

    def good(self, rnd: random.Random, flow: bool) -> tuple[str, Any]:
        raise NotImplementedError

    bad: tuple[str, ...] = ()


class Text(LaneField):
    bad = ("12", "1.5", "yes", "true", "[a]", "{a: 1}", "2024-01-02", "!!binary aGk=", "[]")

    def good(self, rnd: random.Random, flow: bool) -> tuple[str, Any]:
        value = _rtext(rnd)
        if rnd.random() < 0.1:
            return rnd.choice(["", "~", "null"]), None  # blank, null: unset
        return yaml_string(rnd, value, flow), (value or None)


class Bool(LaneField):
    bad = ("'yes'", '"true"', "1", "0", "on_", "[true]", "{}", "2024-01-02", "yes please")

    def good(self, rnd: random.Random, flow: bool) -> tuple[str, Any]:
        value = rnd.random() < 0.5
        spellings = ["true", "True", "TRUE", "yes", "on"] if value else ["false", "False", "no", "off", "Off"]
        if rnd.random() < 0.1:
            return rnd.choice(["", "~", "null"]), False  # unset: false
        return rnd.choice(spellings), value


class Choice(LaneField):
    def __init__(self, *values: str) -> None:
        self.values = values
        self.bad = ("12", "true", "[a]", "{a: 1}", "other")

    def good(self, rnd: random.Random, flow: bool) -> tuple[str, Any]:
        value = rnd.choice(self.values)
        return yaml_string(rnd, value, flow), value


class Harness(LaneField):
    """A harness of the registry; `bad` ones are refused by the shell alone (see CONTRACT: the model
    does not read the registry)."""

    bad = ("12", "[pi]", "{a: b}", "true")

    def good(self, rnd: random.Random, flow: bool) -> tuple[str, Any]:
        if rnd.random() < 0.1:
            return rnd.choice(["", "~"]), None
        value = rnd.choice(HARNESS_ORDER)
        return yaml_string(rnd, value, flow), value


# THE table of lane fields: a field added to lanes (the resolver, LaneSpec and --json) is one line here,
# e.g. "sandbox": Bool() or "kind": Choice("standing", "worker").
LANE_FIELDS: dict[str, LaneField] = {
    "harness": Harness(),
    "model": Text(),
    "cmd": Text(),
    "repo": Text(),
    "role": Text(),
    "auto_approve": Bool(),
}
UNKNOWN_HARNESSES = ("clause", "Claude", "pi2")
LANE_NAMES = ("coord", "web", "infra", "validate-left", "validate-right", "ops-top", "ops-bottom", "docs")
_ODD_LANE_NAMES = ("webb", "Web", "1", "null", "true", '"docs "', "'coord'")


def lane_config_document(rnd: random.Random, near: bool) -> tuple[str, dict[str, dict[str, Any]] | None]:
    """(a lane-config, the resolved lanes it means without `launch`; None when it is not a plain good
    document: odd lanes, bad values, an unknown harness, a bad engine section, or bent by a mutation)."""
    good = True
    lines: list[str] = []
    expected: dict[str, dict[str, Any]] = {}
    if rnd.random() < 0.2:
        lines.append(rnd.choice(["# a lane-config", "version: 1", "other: [1, 2]"]))
    engine = rnd.random()
    if engine < 0.1:
        lines += ["engine:", "  approval_mode: manual", "  poll_interval_s: 5"]
    elif engine < 0.15 and near:
        lines += ["engine:", "  poll_interval_s: " + rnd.choice(["-1", "x", ".inf", "[1]"])]
        good = False
    lanes = rnd.sample(LANE_NAMES, rnd.randint(0, 4))
    if near and rnd.random() < 0.2:
        lanes.append(rnd.choice(_ODD_LANE_NAMES))
        good = False
    if not lanes and rnd.random() < 0.5:
        lines.append(rnd.choice(["lanes:", "lanes: {}", "lanes: ~"]))
    elif lanes:
        lines.append("lanes:")
    indent = " " * rnd.choice([1, 2, 4])
    for lane in lanes:
        flow = rnd.random() < 0.3
        shape = rnd.random()
        if shape < 0.1:
            lines.append(f"{indent}{lane}:")
            fields: dict[str, str] = {}
        elif near and shape < 0.15:
            lines.append(f"{indent}{lane}: " + rnd.choice(["[pi]", "pi", "12", "''"]))
            good = False
            continue
        else:
            fields = {}
            for name in rnd.sample(list(LANE_FIELDS), rnd.randint(0, len(LANE_FIELDS))):
                kind = LANE_FIELDS[name]
                if near and kind.bad and rnd.random() < 0.15:
                    fields[name] = rnd.choice(kind.bad)
                    good = False
                elif near and isinstance(kind, Harness) and rnd.random() < 0.1:
                    fields[name] = rnd.choice(UNKNOWN_HARNESSES)
                    good = False
                else:
                    written, value = kind.good(rnd, flow)
                    fields[name] = written
                    if lane in LANE_NAMES:
                        expected.setdefault(lane, {})[name] = value
            if rnd.random() < 0.1:
                fields["extra_key"] = rnd.choice(["1", "[a, b]", "x"])
            if flow:
                inner = ", ".join(f"{k}: {v}" if v else f"{k}:" for k, v in fields.items())
                lines.append(f"{indent}{lane}: {{{inner}}}")
            else:
                lines.append(f"{indent}{lane}:" + ("" if fields else " {}"))
                lines += [f"{indent}{indent}{k}: {v}".rstrip(" ") for k, v in fields.items()]
        if lane in LANE_NAMES:
            spec = expected.setdefault(lane, {})
            for name, kind in LANE_FIELDS.items():
                spec.setdefault(name, False if isinstance(kind, Bool) else None)
    eol = rnd.choice(["\n", "\n", "\r\n"])
    text = rnd.choice(["", "\ufeff"]) + eol.join(lines) + (eol if lines else "")
    if near and rnd.random() < 0.5:
        text = _bend(rnd, text)
        good = False
    return text, (expected if good else None)


_JUNK = ("\t", ":", ": ", "&a ", "*a", "!!binary ", "- ", "{", "}", "[", "'", '"', "#", "\x00", "\x85", " ")
_JUNK += ("\n",)


def _bend(rnd: random.Random, text: str) -> str:
    for _ in range(rnd.randint(1, 3)):
        at = rnd.randint(0, len(text))
        roll = rnd.random()
        if roll < 0.6:
            text = text[:at] + rnd.choice(_JUNK) + text[at:]
        elif roll < 0.8:
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + _rtext(rnd, 4) + text[at:]
    return text


def _problem_kind(line: str) -> str:
    """What a `validate` line reports: an unknown lane, an unknown harness, or another problem."""
    if re.search(r": unknown lane ", line):
        return "lane"
    if re.search(r": lane [^:]+: unknown harness .+ \(known: [^()]*\)$", line):
        return "harness"
    return "other"


_RESOLVER_ENV = {"LANE_CONFIG_HOSTNAME": "no-overlay-differential", "LANE_CONFIG_PROJECT_ROOT": ""}


def _model_lanes(config: LaneConfig) -> dict[str, dict[str, Any]]:
    return {lane: {name: getattr(spec, name) for name in LANE_FIELDS} for lane, spec in config.lanes.items()}


def check_lane_configs(docs: list[tuple[str, dict[str, dict[str, Any]] | None]], folder: Path) -> None:
    """The shell's print-resolved and validate against parse_lane_config, document by document."""
    requests: list[tuple[str, list[str]]] = []
    for index, (text, _) in enumerate(docs):
        path = folder / f"lc-{index}.yaml"
        path.write_bytes(text.encode("utf-8"))
        requests.append(("lane_config", ["--lane-config", str(path), "print-resolved", "--json"]))
        requests.append(("lane_config", ["--lane-config", str(path), "validate"]))
    answers = shell_batch(requests, _RESOLVER_ENV)
    for (text, expected), resolved, validated in zip(docs, answers[::2], answers[1::2], strict=True):
        why = f"document {text!r}: print-resolved {resolved!r}, validate {validated!r}"
        assert "Traceback" not in resolved["err"] + validated["err"], why
        kinds = {_problem_kind(line) for line in validated["out"].splitlines()}
        if validated["rc"] == 0:
            kinds = set()
        elif not validated["out"]:  # the file itself is refused (bad YAML, not a mapping): on stderr
            assert validated["rc"] == 1 and len(validated["err"].splitlines()) == 1, why
            kinds = {"other"}
        # the shell's own two verbs agree: print-resolved refuses all but unknown lanes (it warns)
        assert (resolved["rc"] == 0) == (kinds <= {"lane"}), why
        try:
            model: LaneConfig | None = parse_lane_config(text)
            refusal: SchemaError | None = None
        except SchemaError as exc:
            model, refusal = None, exc
        if resolved["rc"] != 0:
            assert resolved["rc"] == 1 and resolved["out"] == "", why
            errors = [line for line in resolved["err"].splitlines() if ": warning: " not in line]
            assert len(errors) == 1 and errors[0].startswith("lane-config-resolver: "), why  # one line
        # The verdicts agree, but for the two differences CONTRACT.md states: the model does not read
        # the harness registry (an unknown harness is the shell's refusal alone), and the shell does not
        # read the engine section (a bad one is the model's refusal alone).
        engine_only = refusal is not None and all(p.field.startswith("engine") for p in refusal.problems)
        if model is None:
            assert kinds - {"harness"} or engine_only, f"the model alone refuses: {refusal}; {why}"
        else:
            assert kinds <= {"harness"}, f"the shell alone refuses; {why}"
        if resolved["rc"] == 0:
            doc = json.loads(resolved["out"])
            shown = ResolvedLaneConfig.model_validate(doc)
            shell_lanes = {
                lane: {name: getattr(spec, name) for name in LANE_FIELDS}
                for lane, spec in shown.lanes.items()
            }
            if model is not None:
                assert shell_lanes == _model_lanes(model), why
            if expected is not None:
                assert shell_lanes == expected, why
        if expected is not None:
            assert model is not None and _model_lanes(model) == expected, why


@BATCHES
@given(st.randoms(use_true_random=True))
def test_lane_config_the_resolver_and_the_model_agree(rnd: random.Random) -> None:
    docs = [lane_config_document(rnd, near=rnd.random() < 0.6) for _ in range(BATCH)]
    with tempfile.TemporaryDirectory() as folder:
        check_lane_configs(docs, Path(folder))


_UNSET = {**dict.fromkeys(LANE_FIELDS), "auto_approve": False}
_LANE_CASES = [
    ("lanes:\n  web: {harness: pi, auto_approve: 'yes'}\n", None),  # the model read "yes" as true
    ("lanes:\n  web: {harness: pi, auto_approve: 1}\n", None),  # the model read 1 as true
    ("lanes:\n  web: {model: !!binary aGk=}\n", None),  # the model read bytes as a string
    ("lanes:\n  web: {model: '', role: \"\"}\n", {"web": _UNSET}),  # blank is unset
    ("lanes:\n  web: {auto_approve: null}\n", {"web": _UNSET}),  # the model refused null
    (
        'lanes:\n  web: {role: "\\ud83d\\ude80"}\n',  # an escaped surrogate pair is the emoji
        {"web": {**_UNSET, "role": "\U0001f680"}},
    ),
    ("lanes:\n  web: {harness: clause, model: 4}\n  docs: [pi]\n", None),  # two problems, one line
    ("lanes:\n  webb: {harness: pi}\n", None),  # an unknown lane: validate and the model refuse
    ("engine:\n  poll_interval_s: -1\nlanes:\n  web: {harness: pi}\n", None),  # the model alone
    ("\t", None),  # YAML refuses a tab; the model skipped a blank-looking text
    ("~: 1\nlanes:\n  web: {harness: pi}\n", None),  # a top-level key that is not a string: the shell read it
]


@pytest.mark.parametrize(("text", "expected"), _LANE_CASES)
def test_lane_config_cases(tmp_path: Path, text: str, expected: Any) -> None:
    check_lane_configs([(text, expected)], tmp_path)


def test_the_batch_runs_the_resolver_as_the_shell_does(tmp_path: Path) -> None:
    """The batch runner answers what `lane-config-resolver.sh print-resolved --json` prints."""
    rnd = random.Random(23)
    docs = [lane_config_document(rnd, near=True) for _ in range(8)] + [(t, None) for t, _ in _LANE_CASES]
    for index, (text, _) in enumerate(docs):
        (tmp_path / f"{index}.yaml").write_bytes(text.encode())
    requests = [
        ("lane_config", ["--lane-config", str(tmp_path / f"{i}.yaml"), "print-resolved", "--json"])
        for i in range(len(docs))
    ]
    env = {**os.environ, **_RESOLVER_ENV}
    for (_, argv), answer in zip(requests, shell_batch(requests, _RESOLVER_ENV), strict=True):
        proc = subprocess.run(
            ["bash", str(LIB / "lane-config-resolver.sh"), "print-resolved", "--json", *argv[:2]],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert (proc.returncode, proc.stdout, proc.stderr) == (answer["rc"], answer["out"], answer["err"])


# ---- task lint: `loop-task-lint --json` and loop_schemas.lint_tasks --------------------------------

SECTION_NAMES = (
    "Objective",
    "Context you need",
    "Deliverables",
    "Acceptance criteria",
    "Verification",
    "Out of scope",
)
_IDS = ("T0001", "T0002", "T0003", "T0004", "T0005")
_STATUSES = ("open", "in-progress", "review", "done", "dropped")


def _one_line(rnd: random.Random) -> str:
    """A short line, now and then with a line break or a control character written as an escape."""
    text = _rtext(rnd, 6).strip() or "x"
    if rnd.random() < 0.05:
        text += rnd.choice(["\n", "\r", "\u2028", "\x00"]) + "y"
    return text


def _task_body(rnd: random.Random) -> tuple[str, bool]:
    """(a body, whether the six sections are all in it as headings, outside fences)."""
    parts = []
    complete = True
    for name in SECTION_NAMES:
        roll = rnd.random()
        if roll < 0.04:
            complete = False
            continue  # missing
        if roll < 0.07:
            parts.append(f"```\n## {name}\n```\n")  # fenced: not a heading
            complete = False
            continue
        note = rnd.choice(["", "", "", " (manual)", ": on staging", " #", "  "])
        heading = rnd.choice(["## ", "## ", "##  "]) + name + note
        parts.append(heading + "\n\n" + rnd.choice(["text\n", "", "~~~\ncode\n~~~\n", "   ```\nx\n   ```\n"]))
    if rnd.random() < 0.1:
        parts.insert(
            rnd.randint(0, len(parts)), rnd.choice(["## Notes\n", "# Title\n", "\xa0```\n", "````\n"])
        )
    return "\n".join(parts), complete


def task_text(rnd: random.Random, tid: str, status: str) -> str:
    """A task file: mostly valid and inside the subset, bent now and then as the tests need."""
    deps = rnd.sample(_IDS, rnd.randint(0, 2))
    front: dict[str, object] = {
        "id": tid if rnd.random() > 0.03 else rnd.choice(["T1", "t0001", "T00001", "T0009"]),
        "title": _one_line(rnd),
        "status": status,
        "depends_on": deps,
        "scope": _one_line(rnd),
    }
    if rnd.random() < 0.3:
        front["loop"] = rnd.choice(["", "checkout", ["a"]])
    if rnd.random() < 0.3:
        front["jira"] = rnd.choice(["", "PROJ-12", "proj-1", "PROJ-0", "TEAM 5"])
    if rnd.random() < 0.2:
        front["estimate"] = rnd.choice(["3", "2024-02-30", "2024-01-02", "yes", "[1, 2]"])
    for key in list(front):
        if rnd.random() < 0.03:
            del front[key]  # a missing key
    lines = ["---"]
    for key, value in front.items():
        if key == "depends_on" and isinstance(value, list):
            inline = "[" + ", ".join(value) + "]"
            if value and rnd.random() < 0.05:  # a block list
                lines += ["depends_on:", *(f"  - {v}" for v in value)]
            else:
                lines.append(f"depends_on: {inline}")
        elif isinstance(value, list):
            lines.append(f"{key}: [{', '.join(value)}]")
        elif key == "estimate":
            lines.append(f"{key}: {value}")  # as a person writes it: bare
        else:
            lines.append(f"{key}: {yaml_string(rnd, str(value), False)}" if value != "" else f"{key}:")
    lines.append("---")
    body, _ = _task_body(rnd)
    text = "\n".join(lines) + "\n\n" + body
    roll = rnd.random()
    if roll < 0.03:
        text = text.replace("---\n", "", 1)  # no frontmatter
    elif roll < 0.06:
        text = text.replace("\n---\n", "\n", 1)  # never closed
    elif roll < 0.12:  # outside the subset: a line YAML reads otherwise, a tab, a bare null key
        bent = rnd.choice(["title: a: b", "scope:\tx", "null: 1", "note: |", "x: 'a' b", "id: T0001"])
        text = text.replace("\n", "\n" + bent + "\n", 1)
    elif roll < 0.14:
        text = text.replace("\n", "\r\n")
    return text


def task_tree(rnd: random.Random, tasks: Path) -> None:
    """A tasks/ folder (and maybe archive/): valid tasks, bad statuses, duplicate ids, missing fields,
    bad frontmatter, files outside the subset, names that are not task names, files that are not tasks."""
    tasks.mkdir()
    archive = tasks / "archive"
    if rnd.random() < 0.6:
        archive.mkdir()
    for _ in range(rnd.randint(0, 5)):
        in_archive = archive.is_dir() and rnd.random() < 0.3
        folder = archive if in_archive else tasks
        tid = rnd.choice(_IDS)
        status = rnd.choice(["done", "dropped"] if in_archive else ["open", "in-progress", "review"])
        if rnd.random() < 0.1:
            status = rnd.choice([*_STATUSES, "started", "Open", ""])
        slug = rnd.choice(["a", "b", "fix-it", "x1"])
        name = f"{tid}-{slug}.md"
        roll = rnd.random()
        if roll < 0.05:
            name = rnd.choice(
                ["notes.md", "T1-a.md", "T0001-Bad_Slug.md", "README.md", "todo.txt", ".T0001-a.md"]
            )
        if (folder / name).exists():
            continue
        if roll > 0.97:
            (folder / name).write_bytes(b"---\nid: \xff\n---\n")  # not UTF-8
            continue
        (folder / name).write_text(task_text(rnd, tid, status), encoding="utf-8", newline="")


def check_task_trees(trees: list[Path]) -> None:
    """`loop-task-lint --json` (the shell) and lint_tasks (the model) find the same, in the same order;
    a task file neither reports is read by loop_schemas.parse_task as the subset reads it."""
    answers = shell_batch([("tasks", ["lint", "--tasks-dir", str(tasks), "--json"]) for tasks in trees])
    for tasks, answer in zip(trees, answers, strict=True):
        files = {str(p.relative_to(tasks)): p.read_bytes() for p in sorted(tasks.rglob("*")) if p.is_file()}
        why = f"tree {files!r}: shell {answer!r}"
        assert answer["err"] == "" and answer["rc"] in (0, 1), why
        doc = TaskLintReport.model_validate_json(answer["out"])
        model = lint_tasks(tasks)
        base = tasks.parent
        mine = [(shell_tasks.display_path(str(base / f.path)), f.message) for f in model]
        assert [(f.path, f.message) for f in doc.findings] == mine, why
        assert doc.ok == (not model) == (answer["rc"] == 0), why
        named = {f.path for f in doc.findings}
        for path in task_paths(tasks):
            if str(path) in named or not TASK_FILE_RE.match(path.name):
                continue
            text = path.read_text(encoding="utf-8")
            task = parse_task(text, path)  # lint-clean: the model reads it
            data, _ = fm.parse(text)
            assert task.frontmatter.id == data["id"] and task.frontmatter.status.value == data["status"], why
            assert task.frontmatter.depends_on == data["depends_on"], why
            assert (task.frontmatter.title, task.frontmatter.scope) == (data["title"], data["scope"]), why


@BATCHES
@given(st.randoms(use_true_random=True))
def test_task_lint_the_shell_and_the_model_agree(rnd: random.Random) -> None:
    with tempfile.TemporaryDirectory() as folder:
        trees = []
        for index in range(BATCH):
            tasks = Path(folder) / str(index) / "tasks"
            tasks.parent.mkdir()
            task_tree(rnd, tasks)
            trees.append(tasks)
        check_task_trees(trees)


_SECTIONS = "".join(f"## {name}\n\ntext\n\n" for name in SECTION_NAMES)
_FRONT = "---\nid: T0001\ntitle: t\nstatus: open\ndepends_on: []\nscope: s\n"
_TREE_CASES = {
    # typed YAML cannot build the date: parse_task refused a file the subset and the lint read
    "estimate": {"T0001-a.md": _FRONT + "estimate: 2024-02-30\n---\n\n" + _SECTIONS},
    # a title over two lines (a "\n" escape): the lint passed what parse_task refuses
    "title": {"T0001-a.md": _FRONT.replace("title: t", 'title: "a\\nb"') + "---\n\n" + _SECTIONS},
    # a fence-like line indented by a no-break space closes no fence (the lint closed it): the sections
    # below are code, to both readers
    "fence": {"T0001-a.md": _FRONT + "---\n\n```\ncode\n\u00a0```\n" + _SECTIONS},
    # every file of a duplicated id is named, each pointing at the others
    "duplicate": {
        "T0001-a.md": _FRONT + "---\n\n" + _SECTIONS,
        "archive/T0001-b.md": _FRONT.replace("open", "done") + "---\n\n" + _SECTIONS,
    },
}


@pytest.mark.parametrize("case", sorted(_TREE_CASES))
def test_task_lint_cases(tmp_path: Path, case: str) -> None:
    tasks = tmp_path / "tasks"
    for name, text in _TREE_CASES[case].items():
        (tasks / name).parent.mkdir(parents=True, exist_ok=True)
        (tasks / name).write_text(text, encoding="utf-8")
    check_task_trees([tasks])
