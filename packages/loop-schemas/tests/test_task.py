from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loop_schemas import (
    REQUIRED_SECTIONS,
    SchemaError,
    TaskStatus,
    format_task,
    lint_tasks,
    parse_task,
    set_frontmatter_key,
    slugify,
)
from loop_schemas.task import split_sections

TASK = """---
id: T0001
title: Add the checkout canary
status: open
depends_on: []
scope: web checkout flow only
jira:
---

## Objective
Prove checkout works on the canary.

## Context you need
The flow lives in web/checkout.

## Deliverables
A canary probe.

## Acceptance criteria (all must hold)
Probe green for an hour.

## Verification
Run the probe.

## Out of scope
Payments.
"""


def task_text(task_id: str = "T0001", status: str = "open", depends_on: str = "[]", **extra: str) -> str:
    text = TASK.replace("id: T0001", f"id: {task_id}").replace("status: open", f"status: {status}")
    text = text.replace("depends_on: []", f"depends_on: {depends_on}")
    for key, value in extra.items():
        text = text.replace("---\n\n", f"{key}: {value}\n---\n\n", 1)
    return text


def test_parses_the_convention() -> None:
    task = parse_task(TASK, "tasks/T0001-add-canary.md")
    assert task.id == "T0001"
    assert task.status is TaskStatus.OPEN
    assert task.frontmatter.jira is None
    assert set(REQUIRED_SECTIONS) <= set(task.sections)
    assert task.sections["Acceptance criteria"] == "Probe green for an hour."


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("status: open", "status: finished", "status"),
        ("id: T0001", "id: 1", "id"),
        ("depends_on: []", "depends_on: [X1]", "depends_on"),
        ("scope: web checkout flow only\n", "", "scope"),
        ("## Verification\n", "## Verify\n", "Verification"),
    ],
)
def test_violations_are_named(old: str, new: str, needle: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_task(TASK.replace(old, new))
    assert any(needle in str(p) for p in info.value.problems)


def test_id_must_match_file_name() -> None:
    with pytest.raises(SchemaError, match="does not match the file name"):
        parse_task(TASK, "tasks/T0002-other.md")


def test_set_frontmatter_key_changes_one_line_only() -> None:
    out = set_frontmatter_key(TASK, "jira", "PROJ-12")
    assert out == TASK.replace("jira:\n", "jira: PROJ-12\n")
    added = set_frontmatter_key(TASK, "loop", "loop-6a")
    assert added.replace("loop: loop-6a\n", "") == TASK
    assert parse_task(added).frontmatter.loop == "loop-6a"


def test_set_frontmatter_key_quotes_what_yaml_would_misread() -> None:
    out = set_frontmatter_key(TASK, "title", "Fix: the # thing")
    assert parse_task(out).frontmatter.title == "Fix: the # thing"


def test_format_task_round_trips() -> None:
    task = parse_task(TASK)
    text = format_task(task.frontmatter, task.body)
    again = parse_task(text)
    assert again.frontmatter == task.frontmatter
    assert "depends_on: []" in text and "\njira:\n" in text


extra_values = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(
        st.one_of(st.text(max_size=8), st.integers(), st.none(), st.floats(allow_nan=False)), max_size=4
    ),
    st.dictionaries(
        st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers(), st.none()), max_size=3
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and "\n" not in t.strip()),
    extra=extra_values,
)
@example(title="a\u2028b", extra=None)  # U+2028 was written raw: the file no longer parsed
@example(title="x", extra=1.5)  # a float came back as the text "1.5"
@example(title="x", extra=["a, b", None])  # `[a, b, ]`: the list came back as ["a", "b"]
@example(title="x", extra={"k": [1, 2]})  # a mapping came back as the text "{'k': [1, 2]}"
@example(title="yes", extra="no")
def test_format_task_round_trips_any_values(title: str, extra: object) -> None:
    body = parse_task(TASK).body
    frontmatter = {
        "id": "T0001",
        "title": title,
        "status": TaskStatus.REVIEW,
        "depends_on": ["T0002"],
        "scope": "s",
        "estimate": extra,
        "no": extra,  # written bare, YAML read this key as False and it came back as "False"
    }
    task = parse_task(format_task(frontmatter, body))
    assert task.frontmatter.title == title and task.status is TaskStatus.REVIEW
    assert task.frontmatter.model_dump()["estimate"] == extra
    assert task.frontmatter.model_dump()["no"] == extra
    assert task.body == body
    again = parse_task(format_task(task.frontmatter, task.body))
    assert again.frontmatter == task.frontmatter and again.body == task.body


@pytest.mark.parametrize(
    ("body", "found"),
    [
        # four spaces make a code line, not a fence: the heading after it is real (it once was hidden)
        ("    ```\n## Objective\n", True),
        # a ~~~ line inside a ``` block does not close it (it once toggled the fence off)
        ("```\n~~~\n## Objective\n```\n", False),
        # nor does ```python (a closing fence carries no info string), nor a shorter fence
        ("````\n```\n## Objective\n````\n", False),
        ("```\n```python\n## Objective\n```\n", False),
        ("```\ncode\n```\n## Objective\n", True),
        # a U+2028 inside a line does not end it
        ("x\u2028## Objective\n", False),
    ],
)
def test_sections_inside_code_blocks_are_not_sections(body: str, found: bool) -> None:
    # the same rules as the shell's loop-task-lint (shell/lib/tasks.py), so both lints agree
    assert ("Objective" in split_sections(body)) is found


@pytest.mark.parametrize(
    ("written", "title"), [("42", "42"), ("yes", "yes"), ("1.50", "1.50"), ("0x1F", "0x1F")]
)
def test_convention_keys_are_the_text_as_written(written: str, title: str) -> None:
    # YAML typing once made `title: 42` an int (a lint error loop-task-lint.sh does not report) and
    # `jira: 0012` the octal 10
    text = TASK.replace("title: Add the checkout canary", f"title: {written}").replace("jira:", "jira: 0012")
    text = text.replace("scope: web checkout flow only", "scope: on\nestimate: 3")
    task = parse_task(text)
    assert (task.frontmatter.title, task.frontmatter.jira, task.frontmatter.scope) == (title, "0012", "on")
    assert task.frontmatter.model_dump()["estimate"] == 3  # a project's own key keeps its YAML type


def test_slugify() -> None:
    assert slugify("Add the Checkout Canary!") == "add-the-checkout-canary"
    assert slugify("Ünïcödé ☃ title") == "unicode-title"
    assert slugify("☃☃") == "task"
    assert len(slugify("x" * 200)) <= 48


def _write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)


def test_lint_passes_a_clean_dag(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    _write(tasks, "T0001-a.md", task_text("T0001"))
    _write(tasks, "T0002-b.md", task_text("T0002", depends_on="[T0001]"))
    _write(tasks / "archive", "T0003-c.md", task_text("T0003", status="done"))
    _write(tasks, "README.md", "not a task")
    assert lint_tasks(tasks) == []


def test_lint_findings(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    _write(tasks, "T0001-a.md", task_text("T0001", depends_on="[T0002]"))
    _write(tasks, "T0002-b.md", task_text("T0002", depends_on="[T0001]"))
    _write(tasks, "T0003-c.md", task_text("T0003", status="done"))
    _write(tasks / "archive", "T0004-d.md", task_text("T0004", status="review"))
    _write(tasks, "T0005-e.md", task_text("T0005", depends_on="[T0099]"))
    _write(tasks / "archive", "T0005-dup.md", task_text("T0005", status="dropped"))
    _write(tasks, "notes.md", task_text("T0006"))
    messages = [f"{f.path}: {f.message}" for f in lint_tasks(tasks)]
    # the words of loop-task-lint (shell/lib/tasks.py, which lint_tasks runs), in its order
    assert messages == [
        "tasks/T0003-c.md: status 'done' belongs in tasks/archive/ (move the file there)",
        "tasks/notes.md: not a task file name: expected T<NNNN>-<slug>.md"
        " (slug: lowercase letters, digits, hyphens)",
        "tasks/archive/T0004-d.md: status 'review' belongs in tasks/, not tasks/archive/"
        " (move it back or close it)",
        "tasks/T0005-e.md: duplicate id T0005 (also archive/T0005-dup.md)",
        "tasks/archive/T0005-dup.md: duplicate id T0005 (also T0005-e.md)",
        "tasks/T0005-e.md: depends_on: T0099 does not exist in tasks/ or tasks/archive/",
        "tasks/T0001-a.md: dependency cycle: T0001 -> T0002 -> T0001",
    ]


@pytest.mark.parametrize("key", ['"TEAM-5\\nstatus: done"', '"TEAM 5"', '"TEAM-5\\u0000"'])
def test_a_jira_key_is_one_token(key: str) -> None:
    """A key with a line break could smuggle frontmatter into the file format_task writes back."""
    with pytest.raises(SchemaError, match="jira"):
        parse_task(TASK.replace("jira:\n", f"jira: {key}\n"))
    assert parse_task(TASK.replace("jira:\n", "jira: TEAM-5\n")).frontmatter.jira == "TEAM-5"


def test_a_task_of_the_conventions_keys_alone_is_read_with_one_yaml_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The typed YAML reading serves only keys a project adds (they keep their YAML types); a task
    holding the convention's keys alone reads the same from the text reading, so the engine's cycle
    parses each task's frontmatter once."""
    from loop_schemas import task as task_mod

    calls: list[bool] = []
    real = task_mod.parse_frontmatter

    def counting(text: str, **kwargs: bool) -> tuple[dict[str, object], str]:
        calls.append(bool(kwargs.get("keep_text")))
        return real(text, **kwargs)

    monkeypatch.setattr(task_mod, "parse_frontmatter", counting)
    plain = parse_task(task_text(), "T0001-x.md")
    assert calls == [True]
    assert plain.frontmatter.id == "T0001" and plain.frontmatter.depends_on == []
    calls.clear()
    added = parse_task(task_text(estimate="3", owner="yes"), "T0001-x.md")
    assert calls == [True, False]
    assert added.frontmatter.model_extra == {"estimate": 3, "owner": True}
