"""loop_schemas.pm: the adapter protocol and the models loop-pm and adapters exchange."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loop_schemas import TaskStatus
from loop_schemas.pm import (
    FATAL_ERRORS,
    AdapterAuthError,
    AdapterConfigError,
    AdapterConnectionError,
    AdapterError,
    AdapterList,
    Availability,
    PmAdapter,
    PmConnection,
    RemoteIssue,
    RemoteNotFoundError,
    SyncAction,
    SyncOption,
    SyncResult,
    comparable_text,
    task_id_from_labels,
    task_label,
)
from pydantic import ValidationError


def test_errors_are_one_line_and_fatal_ones_are_listed() -> None:
    err = AdapterError("first line\nsecond line with a secret")
    assert str(err) == "first line"
    assert str(AdapterError("")) == "adapter error"
    assert set(FATAL_ERRORS) == {AdapterConfigError, AdapterAuthError, AdapterConnectionError}
    assert not issubclass(RemoteNotFoundError, FATAL_ERRORS)


def test_sync_option_names() -> None:
    assert SyncOption(name="project").directions == ["pull", "push"]
    assert SyncOption(name="sprint", directions=["push"]).directions == ["push"]
    for bad in ("--project", "Project", "", "a b"):
        with pytest.raises(ValidationError):
            SyncOption(name=bad)
    with pytest.raises(ValidationError):
        SyncOption(name="x", directions=["sideways"])  # type: ignore[list-item]


def test_task_marker_labels() -> None:
    assert task_label("T0042") == "loop-task-T0042"
    assert task_id_from_labels(["x", "loop-task-T0042"]) == "T0042"
    assert task_id_from_labels(["loop-task-T42", "loop-task-", "other"]) is None


@given(st.text())
def test_comparable_text_is_idempotent(text: str) -> None:
    once = comparable_text(text)
    assert comparable_text(once) == once
    assert "\n\n\n" not in once


def test_comparable_text_ignores_trailing_space_and_blank_runs() -> None:
    assert comparable_text("a  \n\n\n\nb\n") == comparable_text("a\n\nb")
    assert comparable_text("a\nb") != comparable_text("a\n\nb")
    # a trailing U+2028 / form feed is trailing space, not a line break that adds a blank line
    assert comparable_text("a\u2028\nb\x0c\r\nc") == "a\nb\nc"
    assert comparable_text("a\rb") == "a\nb"


def test_models_round_trip_as_json() -> None:
    issue = RemoteIssue(key="K-1", title="t", status="In Review", task_status=TaskStatus.REVIEW)
    assert RemoteIssue.model_validate_json(issue.model_dump_json()) == issue
    result = SyncResult(
        adapter="jira",
        direction="both",
        dry_run=True,
        ok=True,
        actions=[SyncAction(direction="pull", kind="create-task", task_id="T0001", key="K-1")],
    )
    doc = result.model_dump(mode="json")
    assert doc["contract_version"] == 1 and doc["actions"][0]["state"] == "planned"
    with pytest.raises(ValidationError):
        SyncAction(direction="pull", kind="delete-everything")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        SyncResult.model_validate({**doc, "surprise": 1})
    assert AdapterList().model_dump() == {"contract_version": 1, "adapters": []}


class _Conn:
    def fetch(self, linked_keys: Sequence[str]) -> object: ...
    def find_marked(self, task_ids: Sequence[str]) -> object: ...
    def diff(self, remote: object, task: object) -> list[str]:
        return []

    def create(self, task: object) -> object: ...
    def update(self, remote: object, task: object, changes: Sequence[str]) -> object: ...
    def close(self) -> None: ...


class _Adapter:
    def availability(self) -> Availability:
        return Availability(available=True)

    def sync_options(self) -> Sequence[SyncOption]:
        return []

    def connect(self, options: Mapping[str, str]) -> _Conn:
        return _Conn()


def test_protocols_are_runtime_checkable() -> None:
    assert isinstance(_Adapter(), PmAdapter)
    assert isinstance(_Conn(), PmConnection)
    assert not isinstance(object(), PmAdapter)

    class Partial:
        def availability(self) -> Availability:
            return Availability(available=False, reason="x")

    assert not isinstance(Partial(), PmAdapter)


@pytest.mark.parametrize("key", ["K 1", "K-1\nstatus: done", "\t"])
def test_a_remote_issue_key_is_one_token(key: str) -> None:
    with pytest.raises(ValidationError):
        RemoteIssue(key=key, title="t", status="Open", task_status=TaskStatus.OPEN)
