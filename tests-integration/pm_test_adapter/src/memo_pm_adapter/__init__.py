"""A loop-pm adapter whose remote is a JSON file ($MEMO_PM_FILE). Depends on loop-schemas only."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loop_schemas import TaskStatus, atomic_write
from loop_schemas.pm import (
    AdapterConfigError,
    Availability,
    CreatedIssue,
    FetchResult,
    RemoteIssue,
    SyncOption,
    TaskSnapshot,
    UpdateResult,
    comparable_text,
    task_id_from_labels,
    task_label,
)


class MemoConnection:
    def __init__(self, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = prefix

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"next": 1, "issues": {}}
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def _save(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True))

    @staticmethod
    def _issue(key: str, raw: dict[str, Any]) -> RemoteIssue:
        labels = list(raw.get("labels", []))
        return RemoteIssue(
            key=key,
            title=raw["title"],
            status=raw["status"],
            task_status=TaskStatus(raw["status"]),
            description=raw.get("description", ""),
            labels=labels,
            task_id=task_id_from_labels(labels),
        )

    def fetch(self, linked_keys: Sequence[str]) -> FetchResult:
        issues = self._load()["issues"]
        out = [self._issue(k, v) for k, v in issues.items() if v["status"] not in ("done", "dropped")]
        out += [
            self._issue(k, issues[k]) for k in linked_keys if k in issues and k not in {i.key for i in out}
        ]
        return FetchResult(issues=out, missing=[k for k in linked_keys if k not in issues])

    def find_marked(self, task_ids: Sequence[str]) -> dict[str, RemoteIssue]:
        found = {}
        for key, raw in self._load()["issues"].items():
            issue = self._issue(key, raw)
            if issue.task_id in task_ids:
                found[issue.task_id] = issue
        return found

    def diff(self, remote: RemoteIssue, task: TaskSnapshot) -> list[str]:
        changes = []
        if remote.title != task.title:
            changes.append("title")
        if comparable_text(remote.description) != comparable_text(task.description):
            changes.append("description")
        if remote.task_status != task.status:
            changes.append("status")
        return changes

    def create(self, task: TaskSnapshot) -> CreatedIssue:
        data = self._load()
        key = f"{self.prefix}-{data['next']}"
        data["next"] += 1
        data["issues"][key] = {
            "title": task.title,
            "status": task.status.value,
            "description": task.description,
            "labels": [task_label(task.id)],
        }
        self._save(data)
        return CreatedIssue(key=key)

    def update(self, remote: RemoteIssue, task: TaskSnapshot, changes: Sequence[str]) -> UpdateResult:
        data = self._load()
        raw = data["issues"][remote.key]
        if "title" in changes:
            raw["title"] = task.title
        if "description" in changes:
            raw["description"] = task.description
        if "status" in changes:
            raw["status"] = task.status.value
        self._save(data)
        return UpdateResult(changed=list(changes))

    def close(self) -> None:
        return None


class MemoAdapter:
    def availability(self) -> Availability:
        if not os.environ.get("MEMO_PM_FILE"):
            return Availability(available=False, reason="MEMO_PM_FILE is not set")
        return Availability(available=True)

    def sync_options(self) -> Sequence[SyncOption]:
        return [SyncOption(name="prefix", metavar="P", help="key prefix for new issues", directions=["push"])]

    def connect(self, options: Mapping[str, str]) -> MemoConnection:
        raw = os.environ.get("MEMO_PM_FILE")
        if not raw:
            raise AdapterConfigError("MEMO_PM_FILE is not set")
        return MemoConnection(Path(raw), options.get("prefix", "MEMO"))
