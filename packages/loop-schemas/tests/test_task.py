from __future__ import annotations

from pathlib import Path

import pytest
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
    joined = "\n".join(messages)
    assert "cycle" in joined
    assert "T0003-c.md: status: done task must move to tasks/archive/" in joined
    assert "T0004-d.md: status: review task must live in tasks/" in joined
    assert "T0099 does not exist" in joined
    assert "already used" in joined
    assert "notes.md" in joined
