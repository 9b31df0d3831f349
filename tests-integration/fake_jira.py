"""A stateful fake Jira Cloud over real HTTP on 127.0.0.1, for loop-pm / loop-pm-jira tests.

Implements what the adapter uses: REST v3 (myself, search/jql with nextPageToken paging, the old
/search answering 410, issue get/create/edit, transitions, comments) and Agile 1.0 (boards, sprints,
sprint issues, partial sprint updates). Basic auth is checked on every request. Two projects:

- TEAM: team-managed; statuses To Do / In Progress / In Review / Done / Won't Do; accepts `parent`.
- CORP: company-managed; To Do / In Progress / Done (no In Review); REJECTS `parent` on create.

Faults can be queued (`fail_next`) — e.g. a 429 with Retry-After, a 503, or raw bytes such as a proxy's
HTML error page — and every request is logged. `FakeJiraServer(prefix="/jira")` serves the API under a
path prefix (a self-hosted Jira's context path) and answers 404 outside it.
Run standalone with `python fake_jira.py [--port N]` (prints the base URL, serves until killed).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

EMAIL = "bot@example.com"
TOKEN = "fake-token-s3cr3t-VALUE"

CATEGORIES = {
    "To Do": "new",
    "In Progress": "indeterminate",
    "In Review": "indeterminate",
    "Done": "done",
    "Won't Do": "done",
}
TRANSITION_NAMES = {  # transition names differ from status names on purpose: match by target name
    "To Do": "Back to backlog",
    "In Progress": "Start work",
    "In Review": "Ask for review",
    "Done": "Finish",
    "Won't Do": "Drop it",
}


@dataclass
class Project:
    key: str
    style: str  # "next-gen" (team-managed) or "classic" (company-managed)
    statuses: list[str]
    issue_types: list[str]
    board_id: int
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Issue:
    id: str
    key: str
    project: str
    summary: str
    issuetype: str
    status: str = "To Do"
    description: Any = None
    labels: list[str] = field(default_factory=list)
    parent: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    sprint: int | None = None


@dataclass
class Sprint:
    id: int
    name: str
    board: int
    state: str = "future"
    start: str | None = None
    end: str | None = None
    goal: str | None = None


@dataclass
class Fault:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    delay: float = 0.0


class JiraState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.projects: dict[str, Project] = {
            "TEAM": Project(
                "TEAM",
                "next-gen",
                ["To Do", "In Progress", "In Review", "Done", "Won't Do"],
                ["Task", "Epic", "Bug"],
                board_id=7,
            ),
            "CORP": Project(
                "CORP", "classic", ["To Do", "In Progress", "Done"], ["Task", "Epic"], board_id=9
            ),
        }
        self.issues: dict[str, Issue] = {}
        self.ids = itertools.count(10001)
        self.sprints: dict[int, Sprint] = {}
        self.sprint_ids = itertools.count(100)
        self.comment_ids = itertools.count(5000)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.auth_headers: list[str] = []
        self.page_size = 2  # small, so paging is always exercised
        self.holds: dict[tuple[str, str], tuple[threading.Event, threading.Event]] = {}
        self.page_tokens: dict[str, tuple[list[str], int]] = {}

    # ---------------------------------------------------------------------------------- test helpers

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        status: str = "To Do",
        issuetype: str = "Task",
        description: str | None = None,
        labels: list[str] | None = None,
        parent: str | None = None,
    ) -> Issue:
        with self.lock:
            proj = self.projects[project]
            key = f"{project}-{next(proj.counter)}"
            issue = Issue(
                str(next(self.ids)),
                key,
                project,
                summary,
                issuetype,
                status,
                _adf(description) if description is not None else None,
                list(labels or []),
                parent,
            )
            self.issues[key] = issue
            return issue

    def add_sprint(self, board: int, name: str, state: str = "future") -> Sprint:
        with self.lock:
            sprint = Sprint(next(self.sprint_ids), name, board, state)
            if state == "active":
                sprint.start, sprint.end = "2026-01-01T00:00:00.000Z", "2026-01-15T00:00:00.000Z"
            self.sprints[sprint.id] = sprint
            return sprint

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` requests matching method + path prefix with `status`."""
        with self.lock:
            for _ in range(times):
                self.faults.append(Fault(method.upper(), path, status, dict(headers or {}), body, delay))

    def hold(self, method: str, path: str) -> tuple[threading.Event, threading.Event]:
        """After the next `method path` is APPLIED, keep its answer back until `release` is set.
        Returns (reached, release): `reached` is set once the change has been made."""
        reached, release = threading.Event(), threading.Event()
        with self.lock:
            self.holds[(method.upper(), path)] = (reached, release)
        return reached, release

    def writes(self) -> list[tuple[str, str, Any]]:
        """Requests that change state (everything but reads and searches)."""
        return [r for r in self.requests if r[0] != "GET" and not r[1].startswith("/rest/api/3/search")]


def _adf(text: str) -> dict[str, Any]:
    paragraphs = [p for p in text.split("\n\n") if p]
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs],
    }


class ApiError(Exception):
    def __init__(self, status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = {"errorMessages": messages or [], "errors": errors or {}}


# ------------------------------------------------------------------------------------------------ JQL

_CLAUSE = re.compile(r"^\s*(\w+)\s*(!=|=|\bin\b|~)\s*(.+?)\s*$", re.I)


def _jql_values(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("("):
        if not raw.endswith(")"):
            raise ApiError(400, ["Error in the JQL Query: unbalanced parenthesis"])
        raw = raw[1:-1]
    return [v for v in (_jql_value(part) for part in _split_outside_quotes(raw, ",")) if v is not None]


def _jql_value(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.startswith('"'):
        if not raw.endswith('"') or len(raw) < 2:
            raise ApiError(400, ["Error in the JQL Query: unterminated string"])
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\" and quoted and index + 1 < len(text):
            buf.append(text[index : index + 2])
            index += 2
            continue
        if ch == '"':
            quoted = not quoted
        if not quoted and text.startswith(sep, index):
            parts.append("".join(buf))
            buf = []
            index += len(sep)
            continue
        buf.append(ch)
        index += 1
    parts.append("".join(buf))
    return parts


def jql_filter(state: JiraState, jql: str) -> list[Issue]:
    text = re.split(r"\s+ORDER\s+BY\s+", jql, flags=re.I)[0].strip()
    clauses = [c for c in _split_outside_quotes(text, " AND ") if c.strip()] if text else []
    issues = list(state.issues.values())
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if not match:
            raise ApiError(400, [f"Error in the JQL Query: cannot parse '{clause.strip()}'"])
        name, op, raw = match.group(1).lower(), match.group(2).lower(), match.group(3)
        values = _jql_values(raw) if op == "in" else [_jql_value(raw) or ""]
        if name == "project":
            for v in values:
                if v.upper() not in state.projects:
                    raise ApiError(400, [f"The value '{v}' does not exist for the field 'project'."])
            wanted = {v.upper() for v in values}
            issues = [i for i in issues if (i.project in wanted) == (op != "!=")]
        elif name == "statuscategory":
            wanted_cat = {v.lower().replace(" ", "") for v in values}
            mapping = {"done": "done", "todo": "new", "inprogress": "indeterminate", "new": "new"}
            cats = {mapping.get(v, v) for v in wanted_cat}
            issues = [i for i in issues if (CATEGORIES[i.status] in cats) == (op != "!=")]
        elif name == "parent":
            issues = [i for i in issues if (i.parent in values) == (op != "!=")]
        elif name == "issuetype":
            issues = [i for i in issues if (i.issuetype in values) == (op != "!=")]
        elif name == "labels":
            issues = [i for i in issues if bool(set(i.labels) & set(values)) == (op != "!=")]
        elif name == "key":
            issues = [i for i in issues if (i.key in values) == (op != "!=")]
        else:
            raise ApiError(400, [f"Field '{name}' is not supported by the fake"])
    return sorted(issues, key=lambda i: (i.project, int(i.key.rsplit("-", 1)[1])))


# ------------------------------------------------------------------------------------------ rendering


def issue_json(issue: Issue, fields: list[str] | None = None) -> dict[str, Any]:
    all_fields: dict[str, Any] = {
        "summary": issue.summary,
        "status": {"name": issue.status, "statusCategory": {"key": CATEGORIES[issue.status]}},
        "description": issue.description,
        "issuetype": {"name": issue.issuetype},
        "labels": list(issue.labels),
        "project": {"key": issue.project},
    }
    if issue.parent:
        all_fields["parent"] = {"key": issue.parent}
    if fields and "*all" not in fields:
        all_fields = {k: v for k, v in all_fields.items() if k in fields}
    return {"id": issue.id, "key": issue.key, "self": f"/rest/api/3/issue/{issue.id}", "fields": all_fields}


def sprint_json(s: Sprint) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "self": f"/rest/agile/1.0/sprint/{s.id}",
        "state": s.state,
        "name": s.name,
        "originBoardId": s.board,
    }
    if s.start:
        out["startDate"] = s.start
    if s.end:
        out["endDate"] = s.end
    if s.goal:
        out["goal"] = s.goal
    return out


# -------------------------------------------------------------------------------------------- handler


class Handler(BaseHTTPRequestHandler):
    server: FakeJiraServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, bytes):  # sent as is (an HTML error page, a truncated body…)
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _handle(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        prefix = self.server.prefix
        if prefix:
            if path != prefix and not path.startswith(prefix + "/"):
                self._send(404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html"})
                return
            path = path[len(prefix) :]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"errorMessages": ["body is not JSON"], "errors": {}})
            return
        with state.lock:
            state.requests.append((method, path, body))
            state.auth_headers.append(self.headers.get("Authorization", ""))
            fault = next((f for f in state.faults if f.method == method and path.startswith(f.path)), None)
            if fault is not None:
                state.faults.remove(fault)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            self._send(
                fault.status,
                fault.body
                if fault.body is not None
                else {"errorMessages": [f"injected {fault.status}"], "errors": {}},
                fault.headers,
            )
            return
        expected = "Basic " + base64.b64encode(f"{self.server.email}:{self.server.token}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._send(
                401, {"errorMessages": ["You are not authenticated. Authentication required."], "errors": {}}
            )
            return
        try:
            with state.lock:
                status, answer = route(state, method, path, query, body)
        except ApiError as exc:
            self._send(exc.status, exc.body)
            return
        with state.lock:
            held = state.holds.pop((method, path), None)
        if held is not None:
            reached, release = held
            reached.set()
            release.wait(timeout=30)
        self._send(status, answer)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


def _issue(state: JiraState, key: str) -> Issue:
    issue = state.issues.get(key.upper())
    if issue is None:
        raise ApiError(404, ["Issue does not exist or you do not have permission to see it."])
    return issue


def _sprint(state: JiraState, raw: str) -> Sprint:
    sprint = state.sprints.get(int(raw)) if raw.isdigit() else None
    if sprint is None:
        raise ApiError(404, [f"Sprint with id {raw} does not exist."])
    return sprint


def _search(state: JiraState, body: dict[str, Any]) -> dict[str, Any]:
    token = body.get("nextPageToken")
    if token:
        if token not in state.page_tokens:
            raise ApiError(400, ["Invalid nextPageToken"])
        keys, start = state.page_tokens.pop(token)
    else:
        jql = body.get("jql")
        if not isinstance(jql, str) or not jql.strip():
            raise ApiError(400, ["Unbounded JQL queries are not allowed here."])
        keys = [i.key for i in jql_filter(state, jql)]
        start = 0
    size = min(int(body.get("maxResults") or 50), state.page_size)
    page = keys[start : start + size]
    fields = body.get("fields") or ["*all"]
    out: dict[str, Any] = {"issues": [issue_json(state.issues[k], fields) for k in page if k in state.issues]}
    if start + size < len(keys):
        new_token = f"tok-{len(state.requests)}-{start + size}"
        state.page_tokens[new_token] = (keys, start + size)
        out["nextPageToken"] = new_token
        out["isLast"] = False
    else:
        out["isLast"] = True
    return out


def route(state: JiraState, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
    body = body if isinstance(body, dict) else {}
    if path == "/rest/api/3/myself" and method == "GET":
        return 200, {"accountId": "abc123", "emailAddress": EMAIL, "displayName": "Loop Bot"}
    if path in ("/rest/api/3/search", "/rest/api/2/search"):
        raise ApiError(410, ["The requested API has been removed. Please migrate to /rest/api/3/search/jql."])
    if path == "/rest/api/3/search/jql":
        if method == "GET":
            return 200, _search(
                state,
                {
                    "jql": query.get("jql"),
                    "nextPageToken": query.get("nextPageToken"),
                    "maxResults": query.get("maxResults"),
                    "fields": (query.get("fields") or "*all").split(","),
                },
            )
        if method == "POST":
            return 200, _search(state, body)
    if path == "/rest/api/3/issue" and method == "POST":
        return 201, _create(state, body)
    m = re.fullmatch(r"/rest/api/3/issue/([A-Za-z0-9_-]+)", path)
    if m:
        issue = _issue(state, m.group(1))
        if method == "GET":
            fields = query.get("fields")
            return 200, issue_json(issue, fields.split(",") if fields else None)
        if method == "PUT":
            fields = body.get("fields") or {}
            if "summary" in fields:
                if not str(fields["summary"]).strip():
                    raise ApiError(400, errors={"summary": "You must specify a summary of the issue."})
                issue.summary = str(fields["summary"])
            if "description" in fields:
                _check_adf(fields["description"])
                issue.description = fields["description"]
            if "labels" in fields:
                issue.labels = list(fields["labels"])
            return 204, None
    m = re.fullmatch(r"/rest/api/3/issue/([A-Za-z0-9_-]+)/transitions", path)
    if m:
        issue = _issue(state, m.group(1))
        statuses = state.projects[issue.project].statuses
        available = [s for s in statuses if s != issue.status]
        transitions = [
            {
                "id": str(31 + 10 * statuses.index(s)),
                "name": TRANSITION_NAMES[s],
                "to": {"name": s, "statusCategory": {"key": CATEGORIES[s]}},
            }
            for s in available
        ]
        if method == "GET":
            return 200, {"transitions": transitions}
        if method == "POST":
            tid = str((body.get("transition") or {}).get("id", ""))
            chosen = next((t for t in transitions if t["id"] == tid), None)
            if chosen is None:
                raise ApiError(400, [f"Transition id '{tid}' is not valid for this issue."])
            issue.status = chosen["to"]["name"]
            return 204, None
    m = re.fullmatch(r"/rest/api/3/issue/([A-Za-z0-9_-]+)/comment", path)
    if m and method == "POST":
        issue = _issue(state, m.group(1))
        _check_adf(body.get("body"))
        comment = {"id": str(next(state.comment_ids)), "body": body["body"]}
        issue.comments.append(comment)
        return 201, comment
    # ----------------------------------------------------------------------------- Agile 1.0
    if path == "/rest/agile/1.0/board" and method == "GET":
        wanted = (query.get("projectKeyOrId") or "").upper()
        boards = [
            {"id": p.board_id, "name": f"{p.key} board", "type": "scrum", "location": {"projectKey": p.key}}
            for p in state.projects.values()
            if not wanted or p.key == wanted
        ]
        return 200, _page(boards, query)
    m = re.fullmatch(r"/rest/agile/1.0/board/(\d+)/sprint", path)
    if m and method == "GET":
        board = int(m.group(1))
        if board not in {p.board_id for p in state.projects.values()}:
            raise ApiError(404, [f"Board {board} does not exist or you do not have permission to see it."])
        states = {s.strip() for s in (query.get("state") or "active,future,closed").split(",")}
        found = [
            sprint_json(s)
            for s in sorted(state.sprints.values(), key=lambda s: s.id)
            if s.board == board and s.state in states
        ]
        return 200, _page(found, query)
    if path == "/rest/agile/1.0/sprint" and method == "POST":
        name = str(body.get("name") or "").strip()
        board = body.get("originBoardId")
        if not name or not isinstance(board, int):
            raise ApiError(400, errors={"name": "Sprint name and origin board id are required."})
        return 201, sprint_json(state.add_sprint(board, name))
    m = re.fullmatch(r"/rest/agile/1.0/sprint/(\d+)", path)
    if m:
        sprint = _sprint(state, m.group(1))
        if method == "GET":
            return 200, sprint_json(sprint)
        if method == "POST":
            new_state = body.get("state")
            if new_state == "active":
                if sprint.state != "future":
                    raise ApiError(400, ["Only a future sprint can be started."])
                if not body.get("startDate") or not body.get("endDate"):
                    raise ApiError(400, ["A sprint needs a start and an end date to start."])
                if any(s.state == "active" and s.board == sprint.board for s in state.sprints.values()):
                    raise ApiError(400, ["The board already has an active sprint."])
                sprint.state, sprint.start, sprint.end = "active", body["startDate"], body["endDate"]
            elif new_state == "closed":
                if sprint.state != "active":
                    raise ApiError(400, ["Only an active sprint can be completed."])
                sprint.state = "closed"
                for issue in state.issues.values():  # incomplete issues go back to the backlog
                    if issue.sprint == sprint.id and CATEGORIES[issue.status] != "done":
                        issue.sprint = None
            elif new_state is not None:
                raise ApiError(400, [f"Cannot change the sprint state to {new_state}."])
            if "goal" in body:
                sprint.goal = body["goal"]
            if "name" in body:
                sprint.name = body["name"]
            return 200, sprint_json(sprint)
    m = re.fullmatch(r"/rest/agile/1.0/sprint/(\d+)/issue", path)
    if m:
        sprint = _sprint(state, m.group(1))
        if method == "POST":
            keys = body.get("issues") or []
            if len(keys) > 50:
                raise ApiError(400, ["At most 50 issues can be moved at once."])
            if sprint.state == "closed":
                raise ApiError(400, ["Issues cannot be moved into a closed sprint."])
            for key in keys:
                _issue(state, key).sprint = sprint.id
            return 204, None
        if method == "GET":
            issues = [i for i in state.issues.values() if i.sprint == sprint.id]
            jql = query.get("jql")
            if jql:
                allowed = {i.key for i in jql_filter(state, jql)}
                issues = [i for i in issues if i.key in allowed]
            limit = int(query.get("maxResults") or 50)
            return 200, {
                "startAt": 0,
                "maxResults": limit,
                "total": len(issues),
                "issues": [issue_json(i, ["status"]) for i in issues[:limit]],
            }
    raise ApiError(404, [f"fake Jira: no route for {method} {path}"])


def _page(values: list[Any], query: dict[str, str]) -> dict[str, Any]:
    start = int(query.get("startAt") or 0)
    size = min(int(query.get("maxResults") or 50), 2)  # tiny pages: paging is exercised
    page = values[start : start + size]
    return {"startAt": start, "maxResults": size, "isLast": start + size >= len(values), "values": page}


def _check_adf(doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        raise ApiError(400, errors={"description": "Operation value must be an Atlassian Document."})
    stack = list(doc.get("content") or [])
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise ApiError(400, errors={"description": "Invalid ADF node."})
        if node["type"] == "text" and not node.get("text"):
            raise ApiError(400, errors={"description": "ADF text nodes must not be empty."})
        stack.extend(node.get("content") or [])


def _create(state: JiraState, body: dict[str, Any]) -> dict[str, Any]:
    fields = body.get("fields") or {}
    project_key = str((fields.get("project") or {}).get("key", "")).upper()
    project = state.projects.get(project_key)
    if project is None:
        raise ApiError(400, errors={"project": "valid project is required"})
    summary = str(fields.get("summary") or "")
    if not summary.strip():
        raise ApiError(400, errors={"summary": "You must specify a summary of the issue."})
    issuetype = str((fields.get("issuetype") or {}).get("name", ""))
    if issuetype not in project.issue_types:
        raise ApiError(400, errors={"issuetype": "Specify a valid issue type"})
    parent = (fields.get("parent") or {}).get("key") if "parent" in fields else None
    if "parent" in fields and project.style == "classic":
        raise ApiError(
            400,
            errors={
                "parent": "Field 'parent' cannot be set. It is not on the appropriate screen, or unknown."
            },
        )
    if parent is not None and parent not in state.issues:
        raise ApiError(400, errors={"parent": "Could not find issue by id or key."})
    description = fields.get("description")
    if description is not None:
        _check_adf(description)
    issue = state.add_issue(
        project_key, summary, issuetype=issuetype, labels=list(fields.get("labels") or []), parent=parent
    )
    issue.description = description
    return {"id": issue.id, "key": issue.key, "self": f"/rest/api/3/issue/{issue.id}"}


class FakeJiraServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0, email: str = EMAIL, token: str = TOKEN, prefix: str = "") -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = JiraState()
        self.email = email
        self.token = token
        self.prefix = prefix.rstrip("/")
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (a killed CLI) is expected here, not an error."""
        return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.prefix}"

    def start(self) -> FakeJiraServer:
        self._thread = threading.Thread(target=self.serve_forever, name="fake-jira", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def main(argv: list[str]) -> int:
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 0
    server = FakeJiraServer(port)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
