"""Jira operations shared by the sync adapter and the scrum verbs: issues, transitions by name, epics,
sprints. Every remote status name is matched case-insensitively; transition ids are never assumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from loop_schemas import TaskStatus
from loop_schemas.pm import (
    AdapterConfigError,
    AdapterError,
    RemoteIssue,
    RemoteNotFoundError,
    task_id_from_labels,
)

from loop_pm_jira import adf
from loop_pm_jira.client import BadRequestError, JiraClient

ISSUE_FIELDS = ["summary", "status", "description", "issuetype", "parent", "labels"]
DROPPED_NAMES = (
    "won't do",
    "wont do",
    "cancelled",
    "canceled",
    "rejected",
    "declined",
    "abandoned",
    "obsolete",
)
TARGETS: dict[TaskStatus, tuple[str, ...]] = {
    TaskStatus.OPEN: ("To Do", "Open", "Backlog", "Selected for Development"),
    TaskStatus.IN_PROGRESS: ("In Progress",),
    TaskStatus.REVIEW: ("In Review", "Review", "Code Review"),
    TaskStatus.DONE: ("Done", "Closed", "Resolved"),
    TaskStatus.DROPPED: ("Won't Do", "Cancelled", "Canceled", "Rejected", "Declined"),
}
FALLBACKS: dict[TaskStatus, tuple[str, ...]] = {
    TaskStatus.REVIEW: TARGETS[TaskStatus.IN_PROGRESS],
    TaskStatus.DROPPED: TARGETS[TaskStatus.DONE],
}
DONE_NAMES = TARGETS[TaskStatus.DONE]
EPIC_TYPE = "Epic"
ISSUE_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+")  # whole string (fullmatch): no trailing "\n"


class BadIssueKeyError(AdapterError):
    """Jira returned an issue whose key is not an issue key: that one issue is skipped, not the run."""


def jql_string(value: str) -> str:
    """A JQL string literal (double quotes, backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def task_status_for(status_name: str, category: str | None) -> TaskStatus:
    """The task status a Jira status corresponds to (by status category, then by name).

    Only the Done category ends a task (done, or dropped by a dropped name); a status named as push
    names review ("In Review", "Review", "Code Review") reads as review in any other category, since a
    workflow may file it under To Do."""
    name = status_name.strip().lower()
    cat = (category or "").lower()
    if cat == "done":
        return TaskStatus.DROPPED if name in DROPPED_NAMES else TaskStatus.DONE
    if name in (n.lower() for n in TARGETS[TaskStatus.REVIEW]):
        return TaskStatus.REVIEW
    if cat == "indeterminate":
        return TaskStatus.REVIEW if "review" in name else TaskStatus.IN_PROGRESS
    if cat in {"new", "undefined"}:
        return TaskStatus.OPEN
    if name in (n.lower() for n in DONE_NAMES):
        return TaskStatus.DONE
    if name in DROPPED_NAMES:
        return TaskStatus.DROPPED
    if "review" in name:
        return TaskStatus.REVIEW
    if "progress" in name:
        return TaskStatus.IN_PROGRESS
    return TaskStatus.OPEN


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_remote(client: JiraClient, raw: dict[str, Any]) -> RemoteIssue:
    fields = _dict(raw.get("fields"))
    status = _dict(fields.get("status"))
    category = _dict(status.get("statusCategory")).get("key")
    labels = [str(x) for x in fields.get("labels") or [] if isinstance(x, str)]
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise BadIssueKeyError("Jira returned an issue without a key; that issue is skipped")
    if not ISSUE_KEY_RE.fullmatch(key):  # it goes into task files and URLs: only what Jira itself makes
        raise BadIssueKeyError(
            f"Jira returned an issue whose key is not an issue key: {key[:40]!r}; that issue is skipped"
        )
    status_name = str(status.get("name") or "")
    return RemoteIssue(
        key=key,
        title=str(fields.get("summary") or ""),
        status=status_name,
        task_status=task_status_for(status_name, category if isinstance(category, str) else None),
        description=adf.to_text(fields.get("description")),
        url=client.browse_url(key),
        issue_type=_dict(fields.get("issuetype")).get("name"),
        parent=_dict(fields.get("parent")).get("key"),
        labels=labels,
        task_id=task_id_from_labels(labels),
    )


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to_name: str
    to_category: str | None


class Jira:
    """Operations over one client; `project` and `board` come from settings or options."""

    def __init__(self, client: JiraClient) -> None:
        self.client = client
        self.skipped: list[str] = []
        """One warning per issue a search skipped (a malformed key); the caller reports and clears it."""

    # ---------------------------------------------------------------------------------------- checks

    def whoami(self) -> str:
        doc = self.client.get("/rest/api/3/myself")
        info = _dict(doc)
        return str(info.get("emailAddress") or info.get("displayName") or info.get("accountId") or "?")

    def require_project(self, project: str | None) -> str:
        project = project or self.client.settings.project
        if not project:
            raise AdapterConfigError("no Jira project: set JIRA_PROJECT_KEY or pass --project")
        return project

    # ---------------------------------------------------------------------------------------- issues

    def get_issue(self, key: str) -> RemoteIssue:
        raw = self.client.get(f"/rest/api/3/issue/{_key(key)}", {"fields": ",".join(ISSUE_FIELDS)})
        return to_remote(self.client, _dict(raw))

    def search(self, jql: str) -> list[RemoteIssue]:
        """Every issue matching `jql`; one with a malformed key is skipped and noted in `skipped`."""
        issues: list[RemoteIssue] = []
        for raw in self.client.search(jql, ISSUE_FIELDS):
            try:
                issues.append(to_remote(self.client, raw))
            except BadIssueKeyError as exc:
                self.skipped.append(str(exc))
        return issues

    def create_issue(
        self,
        *,
        project: str,
        summary: str,
        issue_type: str,
        description: str | None = None,
        labels: Sequence[str] = (),
        parent: str | None = None,
    ) -> tuple[str, list[str]]:
        """Create an issue; when the project rejects `parent`, create it without and say so."""
        fields: dict[str, Any] = {
            "project": {"key": project},
            "summary": summary,
            "issuetype": {"name": issue_type},
        }
        if description:
            fields["description"] = adf.from_markdown(description)
        if labels:
            fields["labels"] = list(labels)
        warnings: list[str] = []
        if parent:
            fields["parent"] = {"key": parent}
        try:
            doc = self.client.post("/rest/api/3/issue", {"fields": fields})
        except BadRequestError as exc:
            if not parent or not _mentions_parent(exc):
                raise
            del fields["parent"]
            warnings.append(
                f"the project rejected the epic link to {parent} (parent field): created without it; "
                "link it by hand (company-managed projects use an epic-link custom field whose id "
                "varies per site, never guessed)"
            )
            doc = self.client.post("/rest/api/3/issue", {"fields": fields})
        key = _dict(doc).get("key")
        if not isinstance(key, str) or not key:
            raise AdapterError("Jira created an issue but did not return its key")
        return key, warnings

    def edit_issue(self, key: str, fields: dict[str, Any]) -> None:
        self.client.put(f"/rest/api/3/issue/{_key(key)}", {"fields": fields})

    def add_comment(self, key: str, markdown: str) -> str:
        doc = self.client.post(
            f"/rest/api/3/issue/{_key(key)}/comment", {"body": adf.from_markdown(markdown)}
        )
        return str(_dict(doc).get("id", ""))

    # ------------------------------------------------------------------------------------ transitions

    def transitions(self, key: str) -> list[Transition]:
        doc = _dict(self.client.get(f"/rest/api/3/issue/{_key(key)}/transitions"))
        out: list[Transition] = []
        for raw in doc.get("transitions") or []:
            item = _dict(raw)
            to = _dict(item.get("to"))
            tid = item.get("id")
            if tid is None:
                continue
            out.append(
                Transition(
                    id=str(tid),
                    name=str(item.get("name") or ""),
                    to_name=str(to.get("name") or ""),
                    to_category=_dict(to.get("statusCategory")).get("key"),
                )
            )
        return out

    @staticmethod
    def _pick(transitions: Iterable[Transition], names: Sequence[str]) -> Transition | None:
        options = list(transitions)
        for wanted in names:
            low = wanted.lower()
            for t in options:  # a transition INTO the status of that name first
                if t.to_name.lower() == low:
                    return t
            for t in options:  # then a transition itself named so
                if t.name.lower() == low:
                    return t
        return None

    def transition_to(self, key: str, current: str, names: Sequence[str]) -> str | None:
        """Move the issue into the first status of `names` it can reach (directly, or through
        'In Progress'); returns the status reached, or None when no named transition exists."""
        if current.lower() in (n.lower() for n in names):
            return current
        available = self.transitions(key)
        chosen = self._pick(available, names)
        if chosen is None:
            via = self._pick(available, TARGETS[TaskStatus.IN_PROGRESS])
            if via is None or via.to_name.lower() == current.lower():
                return None
            self.client.post(f"/rest/api/3/issue/{_key(key)}/transitions", {"transition": {"id": via.id}})
            chosen = self._pick(self.transitions(key), names)
            if chosen is None:
                return via.to_name or None
        self.client.post(f"/rest/api/3/issue/{_key(key)}/transitions", {"transition": {"id": chosen.id}})
        return chosen.to_name or chosen.name

    def move_status(self, remote: RemoteIssue, status: TaskStatus) -> tuple[str | None, list[str]]:
        """Transition the issue to the status for `status` (by name, with a fallback where the spec
        allows one). Returns the status reached and warnings."""
        warnings: list[str] = []
        reached = self.transition_to(remote.key, remote.status, TARGETS[status])
        wanted = " / ".join(TARGETS[status])
        if reached is not None and reached.lower() in (n.lower() for n in TARGETS[status]):
            return reached, warnings
        if status in FALLBACKS:
            fallback = self.transition_to(remote.key, reached or remote.status, FALLBACKS[status])
            if fallback is not None:
                warnings.append(f"no '{wanted}' status on this workflow; moved to '{fallback}' instead")
                return fallback, warnings
        names = ", ".join(sorted({t.to_name for t in self.transitions(remote.key)})) or "none"
        warnings.append(f"no transition from '{reached or remote.status}' to '{wanted}' (available: {names})")
        return reached, warnings

    # ----------------------------------------------------------------------------------------- epics

    def find_epic(self, project: str, name: str) -> RemoteIssue | None:
        wanted = " ".join(name.split()).casefold()
        jql = f"project = {jql_string(project)} AND issuetype = {jql_string(EPIC_TYPE)} ORDER BY key ASC"
        matches = [i for i in self.search(jql) if " ".join(i.title.split()).casefold() == wanted]
        if not matches:
            return None
        open_ones = [i for i in matches if i.task_status not in (TaskStatus.DONE, TaskStatus.DROPPED)]
        return (open_ones or matches)[0]

    # --------------------------------------------------------------------------------------- sprints

    def board_id(self, board: int | None, project: str | None) -> int:
        if board is not None:
            return board
        if self.client.settings.board is not None:
            return self.client.settings.board
        project = project or self.client.settings.project
        if project:
            boards = list(self.client.agile_values("/rest/agile/1.0/board", {"projectKeyOrId": project}))
            scrum = [b for b in boards if str(b.get("type", "")).lower() == "scrum"] or boards
            if len(scrum) == 1 and isinstance(scrum[0].get("id"), int):
                return int(scrum[0]["id"])
            if len(scrum) > 1:
                ids = ", ".join(str(b.get("id")) for b in scrum)
                raise AdapterConfigError(
                    f"project {project} has several boards ({ids}): give --board or JIRA_BOARD_ID"
                )
        raise AdapterConfigError("no Jira board: set JIRA_BOARD_ID or pass --board")

    def sprints(self, board: int, states: str) -> list[dict[str, Any]]:
        path = f"/rest/agile/1.0/board/{board}/sprint"
        return [_sprint(raw, f"GET {path}") for raw in self.client.agile_values(path, {"state": states})]

    def active_sprint(self, board: int) -> dict[str, Any] | None:
        active = self.sprints(board, "active")
        return active[0] if active else None

    def get_sprint(self, sprint_id: int) -> dict[str, Any]:
        path = f"/rest/agile/1.0/sprint/{sprint_id}"
        return _sprint(self.client.get(path), f"GET {path}")

    def resolve_sprint(self, spec: str, board: int | None, project: str | None = None) -> dict[str, Any]:
        """`active` (the board's active sprint) or a sprint id."""
        if spec.strip().lower() == "active":
            board_id = self.board_id(board, project)
            sprint = self.active_sprint(board_id)
            if sprint is None:
                raise RemoteNotFoundError(f"board {board_id} has no active sprint")
            return sprint
        if not spec.strip().isdigit():
            raise AdapterConfigError(f"a sprint is an id (a number) or 'active', got {spec[:40]!r}")
        return self.get_sprint(int(spec))

    def move_to_sprint(self, sprint_id: int, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 50):
            batch = [_key(k) for k in keys[start : start + 50]]
            self.client.post(f"/rest/agile/1.0/sprint/{sprint_id}/issue", {"issues": batch}, idempotent=True)

    def create_sprint(self, board: int, name: str) -> dict[str, Any]:
        doc = self.client.post("/rest/agile/1.0/sprint", {"name": name, "originBoardId": board})
        return _sprint(doc, "POST /rest/agile/1.0/sprint")

    def start_sprint(self, sprint_id: int, days: int, goal: str | None) -> dict[str, Any]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        body: dict[str, Any] = {
            "state": "active",
            "startDate": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "endDate": (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        if goal:
            body["goal"] = goal
        return _dict(self.client.post(f"/rest/agile/1.0/sprint/{sprint_id}", body, idempotent=True))

    def incomplete_in_sprint(self, sprint_id: int) -> int:
        doc = _dict(
            self.client.get(
                f"/rest/agile/1.0/sprint/{sprint_id}/issue",
                {"jql": "statusCategory != Done", "fields": "status", "maxResults": 0},
            )
        )
        total = doc.get("total")
        return int(total) if isinstance(total, int) else len(doc.get("issues") or [])

    def complete_sprint(self, sprint_id: int) -> dict[str, Any]:
        return _dict(
            self.client.post(f"/rest/agile/1.0/sprint/{sprint_id}", {"state": "closed"}, idempotent=True)
        )


def _sprint(doc: Any, where: str) -> dict[str, Any]:
    """A sprint object from Jira, checked to carry a numeric id (every sprint verb needs it)."""
    sprint = _dict(doc)
    sid = sprint.get("id")
    if isinstance(sid, bool) or not isinstance(sid, int):
        raise AdapterError(f"Jira answered {where} with a sprint that has no numeric id")
    return sprint


def _mentions_parent(exc: BadRequestError) -> bool:
    if any("parent" in name.lower() for name in exc.fields):
        return True
    return "parent" in str(exc).lower()


def _key(key: str) -> str:
    """An issue key or id safe to put in a URL path."""
    text = key.strip()
    if not text or not all(ch.isalnum() or ch in "-_" for ch in text):
        raise AdapterConfigError(f"not an issue key: {key[:40]!r}")
    return text
