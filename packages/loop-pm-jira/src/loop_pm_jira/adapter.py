"""The `jira` sync adapter (entry point `loop_orchestrator.pm_adapters: jira`).

Scope of a pull: the project's issues that are not Done (under --epic when given), plus every issue a
task already names. A push creates issues labelled `loop-task-<id>` (the marker that lets an
interrupted push be re-run without duplicates), in the project, under --epic, into --sprint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from loop_schemas import TaskStatus
from loop_schemas.pm import (
    AdapterConfigError,
    AdapterError,
    Availability,
    CreatedIssue,
    FetchResult,
    RemoteIssue,
    RemoteNotFoundError,
    SyncOption,
    TaskSnapshot,
    UpdateResult,
    comparable_text,
    task_label,
)

from loop_pm_jira import adf
from loop_pm_jira.client import AmbiguousWriteError, JiraClient, secret_values
from loop_pm_jira.config import settings_from_env
from loop_pm_jira.jira import EPIC_TYPE, BadIssueKeyError, Jira, jql_string

ISSUE_TYPE = "Task"
CREATE_ATTEMPTS = 3


class JiraAdapter:
    """Satisfies loop_schemas.pm.PmAdapter. `env` and `transport` exist for tests."""

    name = "jira"

    def __init__(
        self, env: Mapping[str, str] | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._env = env
        self._transport = transport

    def availability(self) -> Availability:
        try:
            settings_from_env(self._env if self._env is not None else os.environ)
        except AdapterConfigError as exc:
            return Availability(available=False, reason=str(exc))
        return Availability(available=True)

    def secret_values(self) -> Sequence[str]:
        """loop_schemas.pm.HoldsSecrets: the token (and the basic-auth pair), from the environment."""
        env = self._env if self._env is not None else os.environ
        return secret_values(env.get("JIRA_EMAIL", ""), env.get("JIRA_API_TOKEN", ""))

    def sync_options(self) -> Sequence[SyncOption]:
        return [
            SyncOption(name="project", metavar="KEY", help="Jira project (default: JIRA_PROJECT_KEY)"),
            SyncOption(
                name="epic", metavar="KEY", help="pull: only this epic's issues; push: create under it"
            ),
            SyncOption(
                name="sprint",
                metavar="ID|active",
                help="push: put created issues in this sprint",
                directions=["push"],
            ),
            SyncOption(
                name="board",
                metavar="ID",
                help="board for --sprint active (default: JIRA_BOARD_ID)",
                directions=["push"],
            ),
        ]

    def connect(self, options: Mapping[str, str]) -> JiraConnection:
        env = self._env if self._env is not None else os.environ
        settings = settings_from_env(env, project=options.get("project"), board=options.get("board"))
        client = JiraClient(settings, transport=self._transport)
        try:
            jira = Jira(client)
            jira.whoami()  # a wrong token fails here, with one clear line, before anything else
            conn = JiraConnection(jira, epic=options.get("epic"), sprint=options.get("sprint"))
            if conn.sprint_spec:  # a sprint that cannot be found stops the run before an issue is created
                conn._resolve_sprint()
            return conn
        except BaseException:
            client.close()
            raise


class JiraConnection:
    """Satisfies loop_schemas.pm.PmConnection."""

    def __init__(self, jira: Jira, *, epic: str | None = None, sprint: str | None = None) -> None:
        self.jira = jira
        self.client = jira.client
        self.project = self.client.settings.project
        self.epic = epic.strip().upper() if epic else None
        self.sprint_spec = sprint
        self._sprint: dict[str, Any] | None = None
        # marker-labelled issues seen so far, by task id: anyone can label an issue, so a create whose
        # answer was lost only adopts a labelled issue that was not there before it was sent
        self._seen_marked: dict[str, set[str]] = {}

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------------------------------- read

    def fetch(self, linked_keys: Sequence[str]) -> FetchResult:
        result = FetchResult()
        issues: dict[str, RemoteIssue] = {}
        if self.project:
            jql = f"project = {jql_string(self.project)} AND statusCategory != Done"
            if self.epic:
                jql += f" AND parent = {jql_string(self.epic)}"
            for issue in self.jira.search(jql + " ORDER BY key ASC"):
                if issue.issue_type == EPIC_TYPE:
                    continue
                issues[issue.key] = issue
        else:
            result.warnings.append(
                "no Jira project (JIRA_PROJECT_KEY or --project): "
                "only issues the tasks already name were read"
            )
        for key in linked_keys:
            if key in issues:
                continue
            try:
                issues[key] = self.jira.get_issue(key)
            except BadIssueKeyError as exc:
                result.warnings.append(f"{key}: {exc}")
            except RemoteNotFoundError:
                result.missing.append(key)
            except AdapterConfigError:
                result.missing.append(key)
        result.issues = list(issues.values())
        result.warnings.extend(self._drain_skipped())
        return result

    def _drain_skipped(self) -> list[str]:
        skipped, self.jira.skipped = self.jira.skipped, []
        return skipped

    def find_marked(self, task_ids: Sequence[str]) -> dict[str, RemoteIssue]:
        found: dict[str, RemoteIssue] = {}
        for issue in self._marked_issues(task_ids):
            if issue.task_id and issue.task_id not in found:
                found[issue.task_id] = issue
        return found

    def _marked_issues(self, task_ids: Sequence[str]) -> list[RemoteIssue]:
        """Every issue labelled with one of these task ids; each key is remembered as seen."""
        out: list[RemoteIssue] = []
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), 50):
            labels = ", ".join(jql_string(task_label(t)) for t in ids[start : start + 50])
            jql = f"labels in ({labels})"
            if self.project:
                jql = f"project = {jql_string(self.project)} AND {jql}"
            for issue in self.jira.search(jql + " ORDER BY key ASC"):
                if issue.task_id:
                    self._seen_marked.setdefault(issue.task_id, set()).add(issue.key)
                    out.append(issue)
        return out

    def diff(self, remote: RemoteIssue, task: TaskSnapshot) -> list[str]:
        changes: list[str] = []
        if " ".join(task.title.split()) != " ".join(remote.title.split()):
            changes.append("title")
        rendered = adf.to_text(adf.from_markdown(task.description))
        if comparable_text(rendered) != comparable_text(remote.description):
            changes.append("description")
        if task.status != remote.task_status:
            changes.append("status")
        return changes

    # ------------------------------------------------------------------------------------------ write

    def create(self, task: TaskSnapshot) -> CreatedIssue:
        project = self.jira.require_project(None)
        warnings: list[str] = []
        key: str | None = None
        before = set(self._seen_marked.get(task.id, set()))
        summary = " ".join(task.title.split())
        for attempt in range(CREATE_ATTEMPTS):
            try:
                key, created_warnings = self.jira.create_issue(
                    project=project,
                    summary=summary,
                    issue_type=ISSUE_TYPE,
                    description=task.description,
                    labels=[task_label(task.id)],
                    parent=self.epic,
                )
                warnings.extend(created_warnings)
                break
            except AmbiguousWriteError:
                # Jira may have created it: look for the marker before trying again (no duplicates);
                # only an issue that appeared since, with the summary just sent, is this create's own
                existing = [
                    i
                    for i in self._marked_issues([task.id])
                    if i.task_id == task.id and i.key not in before and " ".join(i.title.split()) == summary
                ]
                if existing:
                    key = existing[0].key
                    break
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(min(2.0**attempt, 8.0))
        if key is None:  # pragma: no cover - the loop either breaks with a key or raises
            raise AdapterError(f"{task.id}: Jira did not create the issue")
        # the issue exists now: whatever fails from here is a warning, so its key is still written back
        if task.status != TaskStatus.OPEN:
            try:
                remote = self.jira.get_issue(key)
                _, moved = self.jira.move_status(remote, task.status)
                warnings.extend(moved)
            except AdapterError as exc:
                warnings.append(f"created {key}, but could not move it to {task.status.value}: {exc}")
        if self.sprint_spec:
            try:
                sprint = self._resolve_sprint()
                self.jira.move_to_sprint(int(sprint["id"]), [key])
            except AdapterError as exc:
                warnings.append(f"created {key}, but could not put it in sprint {self.sprint_spec}: {exc}")
        return CreatedIssue(key=key, url=self.client.browse_url(key), warnings=warnings)

    def _resolve_sprint(self) -> dict[str, Any]:
        if self._sprint is None:
            assert self.sprint_spec is not None
            sprint = self.jira.resolve_sprint(self.sprint_spec, None, self.project)
            if not isinstance(sprint.get("id"), int):
                raise AdapterError(f"sprint {self.sprint_spec}: Jira returned no sprint id")
            self._sprint = sprint
        return self._sprint

    def update(self, remote: RemoteIssue, task: TaskSnapshot, changes: Sequence[str]) -> UpdateResult:
        result = UpdateResult()
        fields: dict[str, Any] = {}
        if "title" in changes:
            fields["summary"] = " ".join(task.title.split())
        if "description" in changes:
            fields["description"] = adf.from_markdown(task.description)
        if fields:
            self.jira.edit_issue(remote.key, fields)
            result.changed.extend(k for k in ("summary", "description") if k in fields)
        if "status" in changes:
            reached, warnings = self.jira.move_status(remote, task.status)
            result.warnings.extend(warnings)
            if reached and reached.lower() != remote.status.lower():
                result.changed.append(f"status: {remote.status} -> {reached}")
        return result
