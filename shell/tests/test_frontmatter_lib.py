"""shell/lib/frontmatter.py: the stdlib YAML-subset reader every shell helper uses."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

LIB = Path(__file__).resolve().parents[1] / "lib"
_spec = importlib.util.spec_from_file_location("frontmatter", LIB / "frontmatter.py")
assert _spec and _spec.loader
fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fm)


def test_scalars_lists_and_body() -> None:
    text = (
        "---\n"
        "id: T0001\n"
        'title: "a: b \\"quoted\\""\n'
        "scope: 'it''s one line'\n"
        'depends_on: [T0002, "T0003"]\n'
        "jira:\n"
        "labels:\n"
        "  - one\n"
        "  - 'two words'\n"
        "note: bare # trailing comment\n"
        "---\n"
        "## Objective\nbody text\n"
    )
    data, body = fm.parse(text)
    assert data == {
        "id": "T0001",
        "title": 'a: b "quoted"',
        "scope": "it's one line",
        "depends_on": ["T0002", "T0003"],
        "jira": "",
        "labels": ["one", "two words"],
        "note": "bare",
    }
    assert body == "## Objective\nbody text\n"


def test_values_are_not_coerced() -> None:
    data, _ = fm.parse("---\njira: 0012\nflag: yes\nempty: []\n---\n")
    assert data == {"jira": "0012", "flag": "yes", "empty": []}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no frontmatter\n", "must start with a '---' line"),
        ("---\nid: x\n", "not closed"),
        ("---\njust words\n---\n", "line 2: expected 'key: value'"),
        ("---\na: 1\na: 2\n---\n", "duplicate key 'a'"),
        ('---\na: "open\n---\n', "unterminated double-quoted"),
        ("---\na: [x, y\n---\n", "not closed by ']'"),
        ("---\na: [x, , y]\n---\n", "empty item"),
        # a bare null item of a block list is YAML's None, not text: refused, as in an inline list
        ("---\na:\n  - x\n  - null\n---\n", "line 4: empty list item"),
        ("---\na:\n- ~ # none\n---\n", "line 3: empty list item"),
    ],
)
def test_bad_frontmatter_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(fm.FrontmatterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fm.parse(text)


def test_cli_get_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "t.md"
    good.write_text("---\nsubject: hello there\ndeps: [a, b]\n---\nbody\n")

    def run(*a):
        return subprocess.run(
            [sys.executable, str(LIB / "frontmatter.py"), *a],
            capture_output=True,
            text=True,
            check=False,
        )

    assert run("get", str(good), "subject").stdout == "hello there\n"
    assert run("get", str(good), "deps").stdout == "a\nb\n"
    assert run("get", str(good), "missing").returncode == 1
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"---\n\xff\xfe: x\n---\n")
    res = run("check", str(bad))
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_fences_may_carry_trailing_blanks_as_in_loop_schemas() -> None:
    """'--- ' closes the block for loop-task-lint as it does for the Python layers (one rule, not two)."""
    from loop_schemas._frontmatter import parse_frontmatter

    text = "--- \nid: T0001\ntitle: a\n---\t\r\nbody\n"
    data, body = fm.parse(text)
    assert data["id"] == "T0001" and body == "body\n"
    assert parse_frontmatter(text)[0]["id"] == "T0001"


def test_keys_loop_schemas_quotes_are_read_by_name() -> None:
    """loop_schemas writes `"no": x` for a key YAML would read as false; the shell reads it as `no`."""
    from loop_schemas.task import set_frontmatter_key

    text = set_frontmatter_key("---\nid: T0001\n---\nbody\n", "no", "x")
    assert '"no": x' in text or "'no': x" in text
    data, _ = fm.parse(text)
    assert data == {"id": "T0001", "no": "x"}
    data, _ = fm.parse("---\n'on': 1\n\"null\": 2\nplain: 3\n---\n")
    assert data == {"on": "1", "null": "2", "plain": "3"}


# ---- a line's two patterns, read by hand (a reader never imports re) ----------------------------------

_LINE_CHARS = " -:\"'#aZ_9.\r\x0b\u2028é"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=_LINE_CHARS, max_size=12) | st.text(max_size=12).filter(lambda t: "\n" not in t))
@example('"a": 1')
@example("'a' :")
@example("a:b")
@example("\"a': 1")
@example(":")
@example("-a: 1")
def test_match_key_is_the_key_pattern(line):
    """A line holds no line break (split() cut the text at them)."""
    import re

    m = re.match(fm.KEY_PATTERN, line)
    want = (m.group(1) or m.group(2) or m.group(3), m.group(4) or "") if m else None
    assert fm.match_key(line) == want


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=" -a#\r", max_size=8) | st.text(max_size=8).filter(lambda t: "\n" not in t))
@example("-")
@example("  - x")
@example("-x")
def test_match_item_is_the_item_pattern(line):
    import re

    m = re.match(fm.ITEM_PATTERN, line)
    assert fm.match_item(line) == ((m.group(1), m.group(2) or "") if m else None)
    assert fm.KEY_RE.pattern == fm.KEY_PATTERN and fm.ITEM_RE.pattern == fm.ITEM_PATTERN


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=' #x"', max_size=6))
def test_a_quoted_value_may_be_followed_by_a_comment_only(rest):
    """scalar()'s test for text after a quoted value (r" +#" at its start) read by hand."""
    import re

    after = ('"v"' + rest).strip(" ")[3:]  # scalar() strips the value's own blanks first
    ok = not after or re.match(r" +#", after) is not None
    try:
        fm.scalar('"v"' + rest, 2)
    except fm.FrontmatterError:
        assert not ok
    else:
        assert ok
