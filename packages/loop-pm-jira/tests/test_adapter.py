"""The sync adapter against respx: transitions by name (never by id), the parent fallback, and a create
that may have landed being looked up by its marker instead of repeated."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from loop_pm_jira import adf
from loop_pm_jira.adapter import JiraAdapter, JiraConnection
from loop_schemas import TaskStatus
from loop_schemas.pm import PmAdapter, PmConnection, RemoteIssue, TaskSnapshot

BASE = "https://acme.atlassian.net"
ENV = {
    "JIRA_BASE_URL": BASE,
    "JIRA_EMAIL": "bot@acme.io",
    "JIRA_API_TOKEN": "t0k",
    "JIRA_PROJECT_KEY": "TEAM",
}
SNAP = TaskSnapshot(
    id="T0001", title="Do it", status=TaskStatus.REVIEW, scope="s", description="## Objective\n\nx"
)


def remote(status: str = "To Do", category: str = "new") -> RemoteIssue:
    return RemoteIssue(key="TEAM-1", title="Do it", status=status, task_status=TaskStatus.OPEN)


def transitions(*targets: tuple[str, str, str]) -> dict[str, object]:
    return {
        "transitions": [
            {"id": tid, "name": name, "to": {"name": to, "statusCategory": {"key": "indeterminate"}}}
            for tid, name, to in targets
        ]
    }


def connect(options: dict[str, str] | None = None) -> JiraConnection:
    respx.get(f"{BASE}/rest/api/3/myself").respond(200, json={"accountId": "x"})
    return JiraAdapter(env=ENV).connect(options or {})


def test_satisfies_the_protocol() -> None:
    assert isinstance(JiraAdapter(env=ENV), PmAdapter)
    with respx.mock:
        assert isinstance(connect(), PmConnection)


@respx.mock
def test_review_goes_to_in_review_by_name() -> None:
    conn = connect()
    respx.get(f"{BASE}/rest/api/3/issue/TEAM-1/transitions").respond(
        200, json=transitions(("7", "Start", "In Progress"), ("913", "Ask for review", "In Review"))
    )
    post = respx.post(f"{BASE}/rest/api/3/issue/TEAM-1/transitions").respond(204)
    result = conn.update(remote(), SNAP, ["status"])
    assert json.loads(post.calls.last.request.content) == {"transition": {"id": "913"}}
    assert result.changed == ["status: To Do -> In Review"] and result.warnings == []


@respx.mock
def test_review_without_in_review_falls_back_to_in_progress_and_says_so() -> None:
    conn = connect()
    respx.get(f"{BASE}/rest/api/3/issue/TEAM-1/transitions").respond(
        200, json=transitions(("51", "Start", "In Progress"), ("61", "Close", "Done"))
    )
    post = respx.post(f"{BASE}/rest/api/3/issue/TEAM-1/transitions").respond(204)
    result = conn.update(remote(), SNAP, ["status"])
    assert [json.loads(c.request.content) for c in post.calls] == [{"transition": {"id": "51"}}]
    assert any("no 'In Review / Review / Code Review' status" in w for w in result.warnings)


@respx.mock
def test_no_matching_transition_is_a_warning_not_a_guess() -> None:
    conn = connect()
    respx.get(f"{BASE}/rest/api/3/issue/TEAM-1/transitions").respond(
        200, json=transitions(("5", "Park", "Parked"))
    )
    post = respx.post(f"{BASE}/rest/api/3/issue/TEAM-1/transitions").respond(204)
    done = SNAP.model_copy(update={"status": TaskStatus.DONE})
    result = conn.update(remote(), done, ["status"])
    assert post.call_count == 0
    assert any("available: Parked" in w for w in result.warnings)


@respx.mock
def test_parent_rejected_creates_without_the_link_and_warns() -> None:
    conn = connect({"epic": "TEAM-100"})
    create = respx.post(f"{BASE}/rest/api/3/issue")
    create.side_effect = [
        httpx.Response(
            400, json={"errorMessages": [], "errors": {"parent": "Field 'parent' cannot be set."}}
        ),
        httpx.Response(201, json={"key": "TEAM-2"}),
    ]
    created = conn.create(SNAP.model_copy(update={"status": TaskStatus.OPEN}))
    first, second = (json.loads(c.request.content)["fields"] for c in create.calls)
    assert first["parent"] == {"key": "TEAM-100"} and "parent" not in second
    assert second["labels"] == ["loop-task-T0001"] and second["issuetype"] == {"name": "Task"}
    assert created.key == "TEAM-2"
    assert any("never guessed" in w for w in created.warnings)
    assert not any("customfield" in json.dumps(f) for f in (first, second))


@respx.mock
def test_a_create_that_may_have_landed_is_found_by_its_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loop_pm_jira.adapter.time.sleep", lambda _s: None)
    conn = connect()
    create = respx.post(f"{BASE}/rest/api/3/issue").mock(side_effect=httpx.ReadTimeout("slow"))
    search = respx.post(f"{BASE}/rest/api/3/search/jql").respond(
        200,
        json={
            "issues": [
                {
                    "key": "TEAM-5",
                    "fields": {
                        "summary": "Do it",
                        "labels": ["loop-task-T0001"],
                        "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                    },
                }
            ],
            "isLast": True,
        },
    )
    created = conn.create(SNAP.model_copy(update={"status": TaskStatus.OPEN}))
    assert created.key == "TEAM-5"
    assert create.call_count == 1
    assert 'labels in ("loop-task-T0001")' in json.loads(search.calls.last.request.content)["jql"]


def test_diff_is_stable_for_what_create_sent() -> None:
    conn = JiraConnection.__new__(JiraConnection)
    description = "## Objective\n\nShip.\n\n- a\n- b\n\n```\ncode\n```"
    pushed = RemoteIssue(
        key="K-1",
        title="T",
        status="In Review",
        task_status=TaskStatus.REVIEW,
        description=adf.to_text(adf.from_markdown(description)),
    )
    snap = TaskSnapshot(id="T0001", title="T", status=TaskStatus.REVIEW, scope="s", description=description)
    assert conn.diff(pushed, snap) == []
    changed = snap.model_copy(update={"title": "T2", "description": description + "\n\nmore"})
    assert conn.diff(pushed, changed) == ["title", "description"]


def issue_json(key: str, summary: str = "Do it", labels: list[str] | None = None) -> dict[str, object]:
    return {
        "key": key,
        "fields": {
            "summary": summary,
            "labels": labels or [],
            "status": {"name": "To Do", "statusCategory": {"key": "new"}},
        },
    }


@respx.mock
def test_one_bad_key_skips_that_issue_with_a_warning() -> None:
    """Issue 15 item 9: a key Jira should never send (multi-token, a trailing newline, empty, not a key)
    costs that issue only; the rest of the search is read."""
    conn = connect()
    bad = ["TEAM-1 TEAM-2", "TEAM-3\n", "", "../../etc", None]
    respx.post(f"{BASE}/rest/api/3/search/jql").respond(
        200,
        json={
            "issues": [issue_json("TEAM-7"), *(issue_json(k) for k in bad), issue_json("TEAM-9")],
            "isLast": True,
        },  # type: ignore[arg-type]
    )
    result = conn.fetch([])
    assert [i.key for i in result.issues] == ["TEAM-7", "TEAM-9"]
    assert len(result.warnings) == len(bad)
    assert all("that issue is skipped" in w and "\n" not in w for w in result.warnings)
    assert any("'TEAM-1 TEAM-2'" in w for w in result.warnings)


@respx.mock
def test_a_linked_key_answered_with_a_bad_key_is_a_warning() -> None:
    conn = connect({"project": "TEAM"})
    respx.post(f"{BASE}/rest/api/3/search/jql").respond(200, json={"issues": [], "isLast": True})
    respx.get(f"{BASE}/rest/api/3/issue/TEAM-4").respond(200, json=issue_json("TEAM-4\nTEAM-5"))
    result = conn.fetch(["TEAM-4"])
    assert result.issues == [] and result.missing == []
    assert [w.split(":")[0] for w in result.warnings] == ["TEAM-4"]


@respx.mock
def test_a_lost_create_never_adopts_a_labelled_issue_that_was_there_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15 item 5: the marker label someone else put on TEAM-3 earlier does not make it ours."""
    monkeypatch.setattr("loop_pm_jira.adapter.time.sleep", lambda _s: None)
    conn = connect()
    stranger = issue_json("TEAM-3", labels=["loop-task-T0001"])
    search = respx.post(f"{BASE}/rest/api/3/search/jql")
    search.side_effect = [
        httpx.Response(200, json={"issues": [stranger], "isLast": True}),  # push planning's find_marked
        httpx.Response(200, json={"issues": [stranger], "isLast": True}),  # after the lost create
        httpx.Response(
            200,
            json={"issues": [stranger, issue_json("TEAM-8", labels=["loop-task-T0001"])], "isLast": True},
        ),
    ]
    create = respx.post(f"{BASE}/rest/api/3/issue")
    create.side_effect = [httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow again")]
    assert conn.find_marked(["T0001"])["T0001"].key == "TEAM-3"
    created = conn.create(SNAP.model_copy(update={"status": TaskStatus.OPEN}))
    assert created.key == "TEAM-8"  # the one that appeared after our create, not TEAM-3
    assert create.call_count == 2


@respx.mock
@pytest.mark.parametrize(
    ("name", "category", "expected"),
    [
        ("In Review", "indeterminate", TaskStatus.REVIEW),
        ("In Review", "new", TaskStatus.REVIEW),  # a workflow that files review under To Do
        ("Code Review", "new", TaskStatus.REVIEW),
        ("Done", "indeterminate", TaskStatus.IN_PROGRESS),  # only the Done category signs a task off
        ("Shipped", "done", TaskStatus.DONE),
        ("Won't Do", "done", TaskStatus.DROPPED),
    ],
)
def test_a_remote_status_reads_as_review_by_name_and_as_done_only_by_category(
    name: str, category: str, expected: TaskStatus
) -> None:
    conn = connect()
    respx.get(url__startswith=f"{BASE}/rest/api/3/issue/TEAM-7").respond(
        200,
        json={
            "key": "TEAM-7",
            "fields": {"summary": "x", "status": {"name": name, "statusCategory": {"key": category}}},
        },
    )
    respx.post(f"{BASE}/rest/api/3/search/jql").respond(200, json={"issues": [], "isLast": True})
    [issue] = conn.fetch(["TEAM-7"]).issues
    assert (issue.status, issue.task_status) == (name, expected)
