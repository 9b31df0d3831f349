"""Audit regressions for the Jira side of loop-pm, through the installed `loop-pm` CLI against the fake
Jira over real HTTP: odd task files on push, a missing sprint, a failure after an issue was created, a
sprint answer without an id, `start-sprint --create` while a sprint is running, remote text no task file
can hold, issue keys Jira never makes, and a Jira under a path prefix behind a proxy's HTML pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import fake_jira
import pytest
from jira_session import jira_env
from loop_schemas import REQUIRED_SECTIONS

LOOP_PM = Path(sys.executable).parent / "loop-pm"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks").mkdir()
    return tmp_path


def pm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOOP_PM), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def task_text(task_id: str, title: str, status: str = "open") -> str:
    body = "\n".join(f"## {s}\n\n{title}: {s.lower()}.\n" for s in REQUIRED_SECTIONS)
    return (
        f"---\nid: {task_id}\ntitle: {title}\nstatus: {status}\ndepends_on: []\nscope: one line\n"
        f"jira:\n---\n\n{body}"
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def created_issues(server: Any) -> list[tuple[str, str, Any]]:
    return [r for r in server.state.requests if r[0] == "POST" and r[1] == "/rest/api/3/issue"]


def test_push_writes_the_key_into_a_bom_crlf_task_and_keeps_its_bytes(jira: Any, project: Path) -> None:
    original = ("\ufeff" + task_text("T0001", "Windows édité")).replace("\n", "\r\n").encode("utf-8")
    path = project / "tasks" / "T0001-windows.md"
    path.write_bytes(original)
    env = jira_env(jira)

    first = pm(env, "sync", "--adapter", "jira", "push", "--tasks-dir", str(project / "tasks"))
    assert first.returncode == 0, first.stderr
    assert "internal error" not in first.stderr
    assert len(created_issues(jira)) == 1
    written = path.read_bytes()
    assert written == original.replace(
        b"jira:\r\n", b"jira: TEAM-1\r\n"
    )  # the one key, every other byte kept
    log = (project / "ops-wiki" / "log.md").read_text(encoding="utf-8")
    assert "] sync | TEAM-1 created from T0001" in log

    again = pm(env, "sync", "--adapter", "jira", "push", "--tasks-dir", str(project / "tasks"))
    assert again.returncode == 0, again.stderr
    assert len(created_issues(jira)) == 1
    assert path.read_bytes() == written


def test_push_into_a_missing_active_sprint_creates_nothing(jira: Any, project: Path) -> None:
    path = project / "tasks" / "T0001-a.md"
    path.write_text(task_text("T0001", "A"), encoding="utf-8")
    before = path.read_bytes()
    env = jira_env(jira)

    proc = pm(
        env, "sync", "--adapter", "jira", "push", "--sprint", "active", "--tasks-dir", str(project / "tasks")
    )
    assert "no active sprint" in one_line_error(proc)
    assert created_issues(jira) == []
    assert path.read_bytes() == before
    assert not (project / "ops-wiki" / "log.md").exists()

    sprint = jira.state.add_sprint(7, "Sprint 1", "active")
    proc = pm(
        env, "sync", "--adapter", "jira", "push", "--sprint", "active", "--tasks-dir", str(project / "tasks")
    )
    assert proc.returncode == 0, proc.stderr
    assert jira.state.issues["TEAM-1"].sprint == sprint.id
    assert "jira: TEAM-1" in path.read_text(encoding="utf-8")


def test_a_failure_after_the_issue_exists_still_writes_the_key_back(jira: Any, project: Path) -> None:
    path = project / "tasks" / "T0001-busy.md"
    path.write_text(task_text("T0001", "Busy", status="in-progress"), encoding="utf-8")
    jira.state.fail_next("GET", "/rest/api/3/issue/TEAM-1/transitions", 403)
    env = jira_env(jira)

    proc = pm(env, "sync", "--adapter", "jira", "push", "--tasks-dir", str(project / "tasks"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "created TEAM-1, but could not move it to in-progress" in proc.stderr
    assert "jira: TEAM-1" in path.read_text(encoding="utf-8")
    assert "] sync | TEAM-1 created from T0001" in (project / "ops-wiki" / "log.md").read_text(
        encoding="utf-8"
    )
    assert len(created_issues(jira)) == 1


@pytest.mark.parametrize(
    ("args", "method", "path"),
    [
        (["start-sprint", "--sprint", "5"], "GET", "/rest/agile/1.0/sprint/5"),
        (["complete-sprint", "--active"], "GET", "/rest/agile/1.0/board/7/sprint"),
        (["move-to-sprint", "--sprint", "5", "TEAM-1"], "GET", "/rest/agile/1.0/sprint/5"),
        (["start-sprint", "--create", "S"], "POST", "/rest/agile/1.0/sprint"),
    ],
)
def test_a_sprint_answer_without_an_id_is_one_clear_line(
    jira: Any, args: list[str], method: str, path: str
) -> None:
    body: Any = {"name": "odd", "state": "active"}
    if path.endswith("/board/7/sprint"):
        body = {"isLast": True, "values": [{"id": "x", "name": "odd", "state": "active"}]}
    jira.state.fail_next(method, path, 200, body=body)
    line = one_line_error(pm(jira_env(jira), "jira", *args))
    assert "no numeric id" in line


def test_start_sprint_create_while_a_sprint_runs_leaves_no_stray_sprint(jira: Any) -> None:
    running = jira.state.add_sprint(7, "Running", "active")
    line = one_line_error(pm(jira_env(jira), "jira", "start-sprint", "--create", "Next one"))
    assert f"already has an active sprint {running.id}" in line
    assert [s.name for s in jira.state.sprints.values()] == ["Running"]


def test_remote_text_that_is_not_unicode_skips_only_that_issue(jira: Any, project: Path) -> None:
    # JSON may carry a lone surrogate ("\udcff"); UTF-8 cannot: it used to stop every pull
    jira.state.add_issue("TEAM", "Broken \udcff summary")
    jira.state.add_issue("TEAM", "Broken description", description="before \ud800 after")
    jira.state.add_issue("TEAM", "Fine")
    env = jira_env(jira)
    for _ in range(2):
        proc = pm(env, "sync", "--adapter", "jira", "pull", "--tasks-dir", str(project / "tasks"))
        assert proc.returncode == 0, proc.stderr
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
        for key in ("TEAM-1", "TEAM-2"):
            assert f"{key}: not imported: its task file would not read back" in proc.stderr
    assert sorted(p.name for p in (project / "tasks").glob("*.md")) == ["T0001-fine.md"]


@pytest.mark.parametrize(
    ("key", "needle"),
    [
        (None, "an issue without a key"),  # was imported as a task for issue "None"
        (42, "an issue without a key"),
        ("TEAM-5\nstatus: done", "whose key is not an issue key"),  # was a task file that never parses
        ("../../TEAM-5", "whose key is not an issue key"),
    ],
)
def test_an_issue_key_jira_never_makes_skips_that_issue_only(
    jira: Any, project: Path, key: Any, needle: str
) -> None:
    # CONTRACT.md: that issue is skipped with a warning (it used to stop the whole pull: issue 15, item 9)
    answer = {"isLast": True, "issues": [{"key": "TEAM-1", "fields": None}, {"key": key, "fields": {}}]}
    jira.state.fail_next("POST", "/rest/api/3/search/jql", 200, body=answer)
    proc = pm(jira_env(jira), "sync", "--adapter", "jira", "pull", "--tasks-dir", str(project / "tasks"))
    assert proc.returncode == 0, proc.stderr
    [warning] = [line for line in proc.stderr.splitlines() if needle in line]
    assert warning.startswith("loop-pm: warning: pull: ") and warning.endswith("that issue is skipped")
    assert "Traceback" not in proc.stderr
    [only] = list((project / "tasks").iterdir())
    assert only.name.startswith("T0001-") and "jira: TEAM-1\n" in only.read_text()
    assert not (project / "ops-wiki").exists()


def test_a_jira_under_a_path_prefix_behind_html_error_pages(project: Path) -> None:
    server = fake_jira.FakeJiraServer(prefix="/jira").start()
    try:
        server.state.add_issue("TEAM", "Under a prefix")
        env = jira_env(server, JIRA_BASE_URL=server.url + "/")  # a trailing slash too
        page = f"<html><body><h1>502 Bad Gateway</h1>{fake_jira.TOKEN}</body></html>".encode()
        server.state.fail_next("GET", "/rest/api/3/myself", 502, body=page)  # retried, then fine
        pull = pm(env, "sync", "--adapter", "jira", "pull", "--tasks-dir", str(project / "tasks"))
        assert pull.returncode == 0, pull.stderr
        assert (project / "tasks" / "T0001-under-a-prefix.md").exists()
        assert pm(env, "jira", "sprint-status").stdout.strip() == "no active sprint"

        server.state.fail_next("GET", "/rest/api/3/issue/TEAM-1", 200, body=page)  # a login page
        line = one_line_error(pm(env, "jira", "complete-epic", "TEAM-1"))
        assert "not JSON" in line
        server.state.fail_next("POST", "/rest/api/3/search/jql", 400, body=page)
        line = one_line_error(pm(env, "sync", "--adapter", "jira", "pull", "--tasks-dir", str(project)))
        assert "HTTP 400" in line and fake_jira.TOKEN not in line
        wrong = jira_env(server, JIRA_BASE_URL=server.url.removesuffix("/jira"))  # the prefix left out
        line = one_line_error(pm(wrong, "jira", "sprint-status"))
        assert "HTTP 404" in line and fake_jira.TOKEN not in line
    finally:
        server.stop()


def test_an_agile_list_that_ignores_start_at_stops_in_one_line(jira: Any) -> None:
    page = {"startAt": 0, "isLast": False, "values": [{"id": 100, "name": "S", "state": "active"}]}
    jira.state.fail_next("GET", "/rest/agile/1.0/board/7/sprint", 200, body=page, times=20)
    line = one_line_error(pm(jira_env(jira), "jira", "sprint-status"))  # it used to page forever
    assert "paging loop" in line
    assert len(jira.state.faults) == 18  # stopped at the first repeated page
