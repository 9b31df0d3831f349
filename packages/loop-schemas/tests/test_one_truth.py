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

import abc
import datetime as _dt
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loop_schemas import LaneConfig, ResolvedLaneConfig, _shared, parse_adr, parse_lane_config, parse_mail
from loop_schemas._frontmatter import parse_frontmatter, set_frontmatter_key, yaml_frontmatter
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

_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much]
# At least 2,000 documents (task trees) per reader pair; the "deep" profile (make test-deep) raises it
# to its max_examples. Each hypothesis example checks a batch of BATCH of them.
DOCS = max(2000, settings.default.max_examples)
BATCH = 100
BATCHES = settings(
    max_examples=-(-DOCS // BATCH), deadline=None, suppress_health_check=_HEALTH, database=None
)
# A writer's output is read by the same pair: fewer documents each (the pair is covered above).
WRITERS = settings(BATCHES, max_examples=-(-max(300, DOCS // 7) // BATCH))


# ---- one source ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _shared.SHARED)
def test_shared_copy_is_byte_identical_to_shell_lib(name: str) -> None:
    """`make shared` refreshes loop_schemas/_shared from shell/lib; a drifted copy fails here."""
    assert (SHARED / name).read_bytes() == (LIB / name).read_bytes(), f"run `make shared`: {name} drifted"


def test_every_shared_file_is_listed() -> None:
    on_disk = sorted(p.name for p in SHARED.glob("*.py") if p.name != "__init__.py")
    assert on_disk == sorted(_shared.SHARED)


def test_the_mail_index_model_is_the_file_mail_index_writes(tmp_path: Path) -> None:
    """.loop/cache/mail-index.json: one format. The stdlib reader/writer (shell/lib/mail_index.py, whose
    copy the engine runs) writes what loop_schemas.MailIndexFile describes, at its version; a name the
    name grammar parses is one loop_schemas.parse_mail_name parses the same."""
    from loop_schemas import MAIL_INDEX_VERSION, MailIndexFile, parse_mail_name
    from loop_schemas._shared import mail_index

    assert mail_index.VERSION == MAIL_INDEX_VERSION
    assert shell_mail.NAME_RE.pattern == mail_index.NAME_PATTERN
    box = tmp_path / ".loop" / "messages"
    (box / "processed").mkdir(parents=True)
    names = [
        "20260101-000001-web-to-coord.md",
        "20260101-000001-web-to-coord.2.md",
        "20260102-235959-a-to-b-to-c.md",
    ]
    for n, name in enumerate(names):
        (box / name).write_text(f"---\nsubject: s{n}\ntask: T000{n}\n---\nbody\n" if n else "no head\n")
        os.utime(box / name, (1_700_000_000, 1_700_000_000))
    os.utime(box / "processed", (1_700_000_000, 1_700_000_000))
    index = mail_index.MailIndex(str(box))
    for name in names:
        parts = mail_index.parse_name(name)
        assert parts is not None
        parsed = parse_mail_name(name)
        assert (parts["from"], parts["to"], parts["seq"]) == (parsed.sender, parsed.recipient, parsed.seq)
        index.row(name, str(box / name), os.stat(box / name))
    index.processed_count(lambda folder: len(os.listdir(folder)))
    index.save()
    doc = MailIndexFile.model_validate_json((tmp_path / ".loop" / "cache" / "mail-index.json").read_text())
    assert doc.version == MAIL_INDEX_VERSION and doc.processed is not None and doc.processed.count == 0
    assert {k: v[3:5] for k, v in doc.pending.items()} == {
        names[0]: (None, None),
        names[1]: ("s1", "T0001"),
        names[2]: ("s2", "T0002"),
    }


_NAME_PARTS = st.tuples(
    st.from_regex(r"[0-9]{4}(0[0-9]|1[0-3])[0-3][0-9]", fullmatch=True),
    st.from_regex(r"[0-2][0-9][0-6][0-9][0-6][0-9]", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}(-to-[A-Za-z][a-z0-9]{0,2})?", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}", fullmatch=True),
    st.sampled_from(["", ".2", ".10", ".1", ".0", ".x"]),
)


@given(st.one_of(_NAME_PARTS.map(lambda p: f"{p[0]}-{p[1]}-{p[2]}-to-{p[3]}{p[4]}.md"), st.text(max_size=40)))
@settings(max_examples=500, deadline=None, suppress_health_check=_HEALTH)
def test_the_mail_caches_name_parser_is_loop_schemas_parse_mail_name(name: str) -> None:
    """The engine takes a pending message's sender and recipient from mail_index.name_parts (no
    strptime, no model per message): it accepts and splits exactly the names parse_mail_name does."""
    from loop_schemas import parse_mail_name
    from loop_schemas._shared import mail_index

    try:
        parsed = parse_mail_name(name)
    except SchemaError:
        assert "/" in name or mail_index.name_parts(name) is None
        return
    if "/" in name:  # parse_mail_name takes a path's last component; a listing holds bare names
        return
    parts = mail_index.name_parts(name)
    assert parts is not None
    assert parts[2:] == (parsed.sender, parsed.recipient, parsed.seq)
    assert parts[0] + parts[1] == parsed.timestamp.strftime("%Y%m%d%H%M%S").zfill(14)


# ---- generated documents inside the subset -------------------------------------------------------
#
# Every generator below is plain Python driven by a random.Random that hypothesis seeds
# (st.randoms(use_true_random=True)): drawing each character through hypothesis cost ~25 ms a document,
# this costs well under one. A test example checks a batch of BATCH documents; a failure names the
# document. Hypothesis does not shrink a seed: the failing document is in the message instead.

# Tricky ASCII (YAML indicators, quotes, escapes, spaces) mixed with any Unicode character.
_TRICKY = list("ab-:#'\" ,[]{}?!&*|>%@`~.0123456789\\/eE+_=<xnNuULP\u00a0\u3000\ufeff")


def _any_char(rnd: random.Random) -> str:
    """Any character UTF-8 can carry (no lone surrogate), tricky ones half the time."""
    if rnd.random() < 0.5:
        return rnd.choice(_TRICKY)
    # small code points far more often than astral ones, as hypothesis draws them
    top = rnd.choice([0x7F, 0xFF, 0x2FFF, 0xFFFF, 0x10FFFF])
    code = rnd.randint(0, top)
    return chr(code) if not 0xD800 <= code <= 0xDFFF else "a"


def _line_char(rnd: random.Random) -> str:
    """A character the subset allows on a line (no tab, no control character, no line break)."""
    while True:
        ch = _any_char(rnd)
        if fm.printable(ch) and ch not in fm.LINE_BREAKS and ch != "\t":
            return ch


def _line_text(rnd: random.Random, size: int = 10) -> str:
    return "".join(_line_char(rnd) for _ in range(rnd.randint(0, size)))


def _bare(rnd: random.Random, flow: bool) -> str:
    while True:
        lead = rnd.choice("aZ0_.~=<\u00e9") if rnd.random() < 0.5 else _line_char(rnd)
        text = lead + _line_text(rnd, 8)
        if fm.bare_readable(text, flow):
            return text


def _double(rnd: random.Random) -> tuple[str, str]:
    """A "double-quoted" scalar: raw characters and every escape YAML knows."""
    written, value = [], []
    for _ in range(rnd.randint(0, 5)):
        kind = rnd.randint(0, 3)
        if kind == 0:
            ch = _line_char(rnd)
            if ch in '\\"':
                continue
            written.append(ch)
            value.append(ch)
        elif kind == 1:
            code = rnd.choice(sorted(fm._ESCAPES))
            written.append("\\" + code)
            value.append(fm._ESCAPES[code])
        else:
            width = rnd.choice([2, 4, 8])
            point = rnd.randint(0, min(16**width - 1, 0x10FFFF))
            if 0xD800 <= point <= 0xDFFF:
                continue
            letter = {2: "x", 4: "u", 8: "U"}[width]
            written.append(f"\\{letter}{point:0{width}x}")
            value.append(chr(point))
    return '"' + "".join(written) + '"', "".join(value)


def _single(rnd: random.Random) -> tuple[str, str]:
    text = _line_text(rnd)
    return "'" + text.replace("'", "''") + "'", text


def _scalar(rnd: random.Random, flow: bool) -> tuple[str, str]:
    kind = rnd.randint(0, 2)
    if kind == 0:
        text = _bare(rnd, flow)
        return text, text
    return _single(rnd) if kind == 1 else _double(rnd)


def _spaces(rnd: random.Random) -> str:
    return rnd.choice(["", " ", "  "])


def _comment(rnd: random.Random) -> str:
    return rnd.choice(["", " #" + _line_text(rnd)])


def _entry(rnd: random.Random, name: str) -> tuple[list[str], Any]:
    """The lines of one `key: value` entry and the value the subset means."""
    spellings = [f'"{name}"', f"'{name}'"] if name in fm.NULLS else [name, f'"{name}"', f"'{name}'"]
    head = rnd.choice(spellings) + _spaces(rnd) + ":"
    kind = rnd.randint(0, 4)
    trail = _comment(rnd)
    if kind == 0:  # a scalar
        written, value = _scalar(rnd, False)
        return [f"{head} {written}{_spaces(rnd)}{trail}"], value
    if kind == 1:  # blank or a null spelling: the empty value
        if rnd.random() < 0.5:
            return [head + rnd.choice(["", " "]) + trail], ""
        return [f"{head} {rnd.choice(sorted(fm.NULLS))}{trail}"], ""
    if kind == 2:  # an inline list
        items = [_scalar(rnd, True) for _ in range(rnd.randint(0, 3))]
        sep = rnd.choice([",", ", ", " , "])
        inner = sep.join(w for w, _ in items)
        pad = _spaces(rnd) if items else ""
        return [f"{head} [{pad}{inner}{pad}]"], [v for _, v in items]
    # a block list (kind 3, 4), maybe with comments and blank lines between its items
    indent = " " * rnd.randint(0, 3)
    items = [_scalar(rnd, False) for _ in range(rnd.randint(1, 3))]
    lines = [head + trail]
    for written, _ in items:
        if rnd.randint(0, 5) == 0:
            lines.append(rnd.choice(["", "  # between", "# between"]))
        lines.append(f"{indent}- {written}{_spaces(rnd)}{_comment(rnd)}")
    return lines, [v for _, v in items]


_SPECIAL_NAMES = ["null", "Null", "NULL", "yes", "no", "on", "subject", "id"]
_NAME_FIRST = "ABCXYZabcxyz_"
_NAME_REST = "ABCabcxyz019_-"


def _name(rnd: random.Random) -> str:
    if rnd.random() < 0.3:
        return rnd.choice(_SPECIAL_NAMES)
    while True:
        name = rnd.choice(_NAME_FIRST) + "".join(rnd.choice(_NAME_REST) for _ in range(rnd.randint(0, 6)))
        if name.lower() != "null":
            return name


def subset_document(rnd: random.Random) -> tuple[str, dict[str, Any], str]:
    """(document, the frontmatter it means, its body): always inside the subset."""
    names: list[str] = []
    for _ in range(rnd.randint(0, 4)):
        name = _name(rnd)
        if name not in names:
            names.append(name)
    lines: list[str] = []
    expected: dict[str, Any] = {}
    for name in names:
        if rnd.randint(0, 4) == 0:
            lines.append(rnd.choice(["", "# a comment", "  # indented comment", "#"]))
        entry, value = _entry(rnd, name)
        lines.extend(entry)
        expected[name] = value
    eol = rnd.choice(["\n", "\r\n"])
    body = "".join(_any_char(rnd) for _ in range(rnd.randint(0, 30)))
    opening = "---" + rnd.choice(["", " ", "\t"])
    closing = "---" + rnd.choice(["", "  "])
    bom = rnd.choice(["", "\ufeff"])
    text = bom + eol.join([opening, *lines, closing]) + eol + body
    return text, expected, body


def _yaml_reads(text: str) -> tuple[dict[str, Any], str]:
    """YAML's reading (loop-schemas', plain scalars kept as text), a null ("key:", "key: null") shown as
    the subset's empty value."""
    data, body = yaml_frontmatter(text, keep_text=True)
    return {k: ("" if v is None else v) for k, v in data.items()}, body


def check_inside(text: str, expected: dict[str, Any], body: str) -> None:
    assert fm.parse(text) == (expected, body), text
    assert _yaml_reads(text) == (expected, body), text
    _check_fast_reading(text)


def _check_fast_reading(text: str) -> None:
    """parse_frontmatter(keep_text=True), which reads a frontmatter inside the subset without YAML, gives
    YAML's reading exactly (None where YAML reads a null), or YAML's own error."""
    try:
        want = yaml_frontmatter(text, keep_text=True)
    except SchemaError as exc:
        with pytest.raises(SchemaError) as got:
            parse_frontmatter(text, keep_text=True)
        assert str(got.value) == str(exc), text
        return
    assert parse_frontmatter(text, keep_text=True) == want, text


@BATCHES
@given(st.randoms(use_true_random=True))
def test_inside_the_subset_both_readers_read_the_same(rnd: random.Random) -> None:
    for _ in range(BATCH):
        check_inside(*subset_document(rnd))


def test_outside_the_subset_the_shell_refuses() -> None:
    with pytest.raises(fm.FrontmatterError):
        fm.parse("---\nsubject: re: a-8\n---\n")


# Documents near the subset: lines built from the same pieces, then bent (a tab, a stray quote, a
# colon, a line break YAML knows and the shell's split does not, an indent, a control character).
_JUNK = list("\t\r\x0b\x0c\x85\u2028\x00\x7f -:")


def _junk_line(rnd: random.Random) -> str:
    out = []
    for _ in range(rnd.randint(0, 16)):
        roll = rnd.random()
        out.append(rnd.choice(_JUNK) if roll < 0.3 else _any_char(rnd))
    return "".join(out)


def near_document(rnd: random.Random) -> str:
    text, _, _ = subset_document(rnd)
    lines = text.split("\n")
    for _ in range(rnd.randint(1, 3)):
        at = rnd.randint(1, max(1, len(lines) - 1))
        how = rnd.randint(0, 3)
        if how == 0:
            lines.insert(at, _junk_line(rnd))
        elif how == 1 and at < len(lines):
            line = lines[at]
            cut = rnd.randint(0, len(line))
            lines[at] = line[:cut] + _junk_line(rnd) + line[cut:]
        elif how == 2:
            lines.insert(at, _name(rnd) + ": " + _junk_line(rnd))
        else:
            lines.insert(at, rnd.choice(["  - ", "- x", "\t- x", "  x", " -x", "key:value"]))
    return "\n".join(lines)


def check_near(text: str) -> None:
    """The shell accepts only what YAML reads the same; what it refuses, it refuses in one line."""
    _check_fast_reading(text)
    try:
        data, body = fm.parse(text)
    except fm.FrontmatterError as exc:
        assert "\n" not in str(exc) and str(exc), text  # refused in one line
        return
    try:
        assert _yaml_reads(text) == (data, body), text
    except SchemaError as exc:  # pragma: no cover - a failure's explanation
        raise AssertionError(f"the shell accepted what YAML refuses: {exc}: {text!r}") from None


_NEAR_CASES = [
    "---\na:\n  - null\n  - x\n---\n",  # a null item of a block list: YAML None, the subset ""
    "---\na: ''\nb: x\n---\n",  # a quoted empty value: "" to both
    "---\na: ~\n---\nbody\r\nmore\u2028end\n",  # a null, and line breaks in the body
    "---\na: 0\x85b\n---\n",  # U+0085 is a line break to YAML: the shell read "0\x85b"
    "---\na: x\tb\n---\n",  # YAML refuses a tab inside a plain scalar; the shell read it
    "---\na: b: c\n---\n",  # YAML refuses it; the shell read "b: c"
    "---\na: |\n---\n",  # a block scalar indicator: the shell read "|"
    "---\na: null\n---\n",  # YAML: null; the shell read "null"
    '---\na: "\\x41"\n---\n',  # YAML: "A"; the shell read "\\x41" (its JSON decoder failed)
    '---\na: "\\U0001F600"\n---\n',  # what format_scalar writes for an emoji-range control char
    "---\na:value\n---\n",  # YAML: one plain scalar, not a key
    "---\na:\n - x\n  - y\n---\n",  # YAML refuses the second item's indent
    "---\na: x\u3000\n---\n",  # the shell's str.strip() ate the ideographic space
]


@pytest.mark.parametrize("text", _NEAR_CASES)
def test_near_cases(text: str) -> None:
    check_near(text)


@BATCHES
@given(st.randoms(use_true_random=True))
def test_the_shell_accepts_only_what_yaml_reads_the_same(rnd: random.Random) -> None:
    for _ in range(BATCH):
        check_near(near_document(rnd))


# ---- our writers write inside the subset ---------------------------------------------------------


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


def _text(rnd: random.Random, size: int) -> str:
    return "".join(_any_char(rnd) for _ in range(rnd.randint(0, size)))


def _value(rnd: random.Random) -> object:
    """A value a writer is given: text, a list of text, None, a number or a boolean."""
    kind = rnd.randint(0, 4)
    if kind == 0:
        return _text(rnd, 20)
    if kind == 1:
        return [_text(rnd, 10) for _ in range(rnd.randint(0, 4))]
    if kind == 2:
        return None
    return rnd.randint(-(10**6), 10**6) if kind == 3 else rnd.random() < 0.5


def _key(rnd: random.Random) -> str:
    while True:
        name = _name(rnd)
        if name not in fm.NULLS:
            return name


def _one_line(rnd: random.Random, size: int = 30) -> str:
    while True:
        text = _text(rnd, size)
        if text.strip() and "\n" not in text and "\r" not in text:
            return text


@WRITERS
@given(st.randoms(use_true_random=True))
def test_set_frontmatter_key_writes_inside_the_subset(rnd: random.Random) -> None:
    for _ in range(BATCH):
        text, expected, _ = subset_document(rnd)
        key, value = _key(rnd), _value(rnd)
        written = set_frontmatter_key(text, key, value)
        expected[key] = _as_subset(value)
        assert _both_read(written) == expected, (text, key, value)


@WRITERS
@given(st.randoms(use_true_random=True))
def test_format_task_writes_inside_the_subset(rnd: random.Random) -> None:
    for _ in range(BATCH):
        depends = [f"T{rnd.randint(0, 9999):04d}" for _ in range(rnd.randint(0, 3))]
        extra = rnd.choice([None, _text(rnd, 20), [_text(rnd, 8) for _ in range(rnd.randint(0, 3))]])
        front: dict[str, object] = {"id": "T0001", "title": _one_line(rnd), "status": "todo"}
        front |= {"depends_on": depends, "scope": _text(rnd, 20), "jira": None, "estimate": extra}
        data = _both_read(format_task(front, "## Objective\n\nx\n"))
        assert data == {k: _as_subset(v) for k, v in front.items()}, front


def _lane(rnd: random.Random) -> str:
    return rnd.choice("AZaz") + "".join(rnd.choice("Aaz09_") for _ in range(rnd.randint(0, 6)))


def check_mail_writer(sender: str, recipient: str, subject: str, task: str, body: str) -> None:
    stamp = _dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.timezone.utc)
    text = shell_mail.render(sender, recipient, subject, body, stamp, {"task": task})
    data = _both_read(text)
    assert data["subject"] == subject and data["task"] == task, text
    assert data["from"] == sender and data["to"] == recipient, text
    assert parse_mail(text).frontmatter.subject == subject, text
    assert fm.mail_head(text) == (subject, task or None), text


def test_the_mail_writer_wrote_raw_line_breaks() -> None:
    check_mail_writer("a", "b", "x\u2028y\x85\x7f", "", "")  # json.dumps wrote them raw


@WRITERS
@given(st.randoms(use_true_random=True))
def test_the_mail_writer_writes_inside_the_subset(rnd: random.Random) -> None:
    for _ in range(BATCH):
        check_mail_writer(_lane(rnd), _lane(rnd), _one_line(rnd), _text(rnd, 12), _text(rnd, 20))


def check_adr_writer(text: str, expected: dict[str, Any], values: dict[str, str]) -> None:
    if any(isinstance(expected.get(k), list) for k in values):
        return  # the ADR writer refuses to replace a block list (it says so); not a writing case
    try:
        written = shell_adr.set_keys(text, values)
    except shell_adr.AdrError as exc:  # it refuses to touch a key followed by indented lines: nothing written
        assert "block list" in str(exc)
        return
    assert _both_read(written) == {**expected, **values}, (text, values)


def test_the_adr_writer_cases() -> None:
    check_adr_writer(
        "---\nstatus: Proposed\n---\n", {"status": "Proposed"}, {"status": "re: a-8"}
    )  # was bare
    check_adr_writer("---\r\nyes:\r\n---\r\n", {"yes": ""}, {"yes": ""})  # CRLF: the key was written twice


def test_a_new_adr_is_inside_the_subset() -> None:
    """`loop-adr new` writes its template (frontmatter: status, today's date, three blank records)."""
    text = shell_adr.TEMPLATE.format(date="2026-01-02", title="Use: 'x' # y", number=7)
    data = _both_read(text)
    records = dict.fromkeys(("verify_record", "canary_record", "rollback"), "")
    assert data == {"status": "Proposed", "date": "2026-01-02", **records}
    assert parse_adr(text).frontmatter.status.value == "Proposed"


@WRITERS
@given(st.randoms(use_true_random=True))
def test_the_adr_writer_writes_inside_the_subset(rnd: random.Random) -> None:
    for _ in range(BATCH):
        text, expected, _ = subset_document(rnd)
        values = {_key(rnd): _text(rnd, 20) for _ in range(rnd.randint(0, 3))}
        check_adr_writer(text, expected, values)


# ---- lane-config: the shell's resolver and loop_schemas.parse_lane_config ------------------------
#
# Documents come from a seeded random.Random (hypothesis supplies the seed): a hypothesis draw per
# character costs ~30 ms a document, a plain generator microseconds; each example is a batch of
# documents the shell answers in one process (tests/shell_batch.py), not one python3 per document.

BATCH_HELPER = Path(__file__).with_name("shell_batch.py")
# thousands of small files a run: in memory when the machine has a tmpfs for it
_RAM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class ShellBatch:
    """Each (shell/lib module, argv) run as its CLI, all in one python3 that works while the caller
    checks the model side (two cores: the shell's half and the model's half overlap); `answers()` waits
    for [{rc, out, err}, ...]."""

    def __init__(self, requests: list[tuple[str, list[str]]], env: dict[str, str] | None = None) -> None:
        self.count = len(requests)
        lines = "".join(json.dumps({"module": m, "argv": a}) + "\n" for m, a in requests)
        self.proc = subprocess.Popen(
            [sys.executable, str(BATCH_HELPER), str(LIB)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.result: list[tuple[bytes, bytes]] = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(self.proc.communicate(lines.encode()))
        )
        self.thread.start()

    def answers(self) -> list[Any]:
        self.thread.join()
        out, err = self.result[0]
        assert self.proc.returncode == 0, err.decode(errors="replace")
        answers = [json.loads(line) for line in out.decode().splitlines()]
        assert len(answers) == self.count
        return answers


def shell_batch(requests: list[tuple[str, list[str]]], env: dict[str, str] | None = None) -> list[Any]:
    return ShellBatch(requests, env).answers()


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
        if fm.bare_ok(value, flow) and not fm.typed(value):
            styles.append("bare")
    style = rnd.choice(styles)
    if style == "bare":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    # JSON's escapes are YAML's; ensure_ascii writes an emoji as a surrogate-pair escape
    return json.dumps(value, ensure_ascii=not clean or rnd.random() < 0.5)


class LaneField(abc.ABC):
    """One kind of lane field: a value the shell and the model accept (written, meant) and values of a
    wrong type (written) both refuse."""

    @abc.abstractmethod
    def good(self, rnd: random.Random, flow: bool) -> tuple[str, Any]: ...

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
    "sandbox": Bool(),
    "kind": Choice("standing", "worker"),
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
    """What a `validate` line reports: a bad lane name, an unknown harness, or another problem."""
    if re.search(r": bad lane name ", line):
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
    batch = ShellBatch(requests, _RESOLVER_ENV)
    models: list[tuple[LaneConfig | None, SchemaError | None]] = []
    for text, _ in docs:  # while the shell works
        try:
            models.append((parse_lane_config(text), None))
        except SchemaError as exc:
            models.append((None, exc))
    answers = batch.answers()
    for (text, expected), (model, refusal), resolved, validated in zip(
        docs, models, answers[::2], answers[1::2], strict=True
    ):
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
    with tempfile.TemporaryDirectory(dir=_RAM) as folder:
        check_lane_configs(docs, Path(folder))


_UNSET = {**dict.fromkeys(LANE_FIELDS), "auto_approve": False, "sandbox": False}
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
    ("lanes:\n  9web: {harness: pi}\n", None),  # a bad lane name: validate and the model refuse
    ("engine:\n  poll_interval_s: -1\nlanes:\n  web: {harness: pi}\n", None),  # the model alone
    ("\t", None),  # YAML refuses a tab; the model skipped a blank-looking text
    ("~: 1\nlanes:\n  web: {harness: pi}\n", None),  # a top-level key that is not a string: the shell read it
    ("lanes:\n  web: {harness: pi, !!binary aGk=: x}\n", None),  # a lane key that is not a string: it warned
]


def test_lane_config_cases(tmp_path: Path) -> None:
    """Each difference found once, kept (one batch: a python3 per case would cost more than the cases)."""
    check_lane_configs(_LANE_CASES, tmp_path)


def test_the_batch_runs_the_resolver_as_the_shell_does(tmp_path: Path) -> None:
    """The batch runner answers what `lane-config-resolver.sh print-resolved --json` prints."""
    rnd = random.Random(23)
    docs = [lane_config_document(rnd, near=True) for _ in range(3)] + [(t, None) for t, _ in _LANE_CASES[::3]]
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


def _task_line(rnd: random.Random) -> str:
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
        "title": _task_line(rnd),
        "status": status,
        "depends_on": deps,
        "scope": _task_line(rnd),
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


class _Why:
    """A failing tree's files and the shell's answer, rendered only when an assertion fails."""

    def __init__(self, tasks: Path, answer: Any) -> None:
        self.tasks, self.answer = tasks, answer

    def __str__(self) -> str:
        files = {
            str(p.relative_to(self.tasks)): p.read_bytes()
            for p in sorted(self.tasks.rglob("*"))
            if p.is_file()
        }
        return f"tree {files!r}: shell {self.answer!r}"

    __repr__ = __str__


def check_task_trees(trees: list[Path]) -> None:
    """`loop-task-lint --json` (the shell) and lint_tasks (the model) find the same, in the same order;
    a task file neither reports is read by loop_schemas.parse_task as the subset reads it."""
    batch = ShellBatch([("tasks", ["lint", "--tasks-dir", str(tasks), "--json"]) for tasks in trees])
    models = [lint_tasks(tasks) for tasks in trees]  # while the shell works
    for tasks, model, answer in zip(trees, models, batch.answers(), strict=True):
        why = _Why(tasks, answer)
        assert answer["err"] == "" and answer["rc"] in (0, 1), why
        doc = TaskLintReport.model_validate_json(answer["out"])
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
    with tempfile.TemporaryDirectory(dir=_RAM) as folder:
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


def test_task_lint_cases(tmp_path: Path) -> None:
    trees = []
    for case, files in sorted(_TREE_CASES.items()):
        tasks = tmp_path / case / "tasks"
        for name, text in files.items():
            (tasks / name).parent.mkdir(parents=True, exist_ok=True)
            (tasks / name).write_text(text, encoding="utf-8")
        trees.append(tasks)
    check_task_trees(trees)
