"""shell/lib/frontmatter.py: the stdlib YAML-subset reader every shell helper uses."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

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
