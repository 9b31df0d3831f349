"""What a person at the human gate sees of each action of a decision (`loop-engine status`, the deck).

Per action: its kind, lane (or window), gate class, state and the gate's reasons; the task it serves
(id and title); the brain's rationale; and a preview, the first meaningful lines of what will be sent.

The preview rule: the text that will be sent (a dispatch's or steer's payload, an escalation's summary,
a new lane's brief or command, a re-pin's `re-pin harness H: old -> new`) loses its `---` front matter
(a dispatched task file starts with it), then blank lines are skipped, and Markdown headings too
(`## Objective` says nothing a task's title does not) unless the text is nothing but headings; the
first PREVIEW_LINES lines that remain are the preview, each cut to PREVIEW_WIDTH characters (a cut line
ends in `…`). Lines are kept as received: whoever prints them makes control characters visible
(loop_schemas.printable).

The task an action serves: the `id:` of the task file its payload carries (with that file's `title:`);
else, for a steer, the task the steered lane holds in progress (`lane_tasks`). The title is the one in
tasks/ when the task is there (`titles`), else the payload's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loop_schemas._frontmatter import parse_frontmatter
from loop_schemas.engine import ActionView, PendingDecision
from loop_schemas.errors import SchemaError
from loop_schemas.task import TASK_ID_PATTERN, load_tasks

PREVIEW_LINES = 3
PREVIEW_WIDTH = 160
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}([ \t]|$)")
_TASK_ID = re.compile(TASK_ID_PATTERN)


def sent_text(action: Mapping[str, Any]) -> str:
    """What an action sends (or, for add_lane, runs and briefs): '' when it sends nothing."""
    kind = action.get("kind")
    if kind in ("dispatch", "steer"):
        return str(action.get("payload") or "")
    if kind == "escalate":
        return str(action.get("summary") or "")
    if kind == "add_lane":
        return str(action.get("brief") or action.get("cmd") or "")
    if kind == "repin_model":
        was = action.get("from_model") or "(the configured model)"
        return f"re-pin harness {action.get('harness')}: {was} -> {action.get('model')}"
    if kind == "build":
        return str(action.get("brief") or "")
    if kind == "verify":
        return f"verify lane {action.get('lane')}'s branch (loop-verify, headless)"
    if kind == "merge":
        return f"merge lane {action.get('lane')}'s verified branch into the base (the engine runs git)"
    return ""


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a payload; a payload whose front matter does not parse is all body."""
    try:
        return parse_frontmatter(text, required=False, keep_text=True)
    except SchemaError:
        return {}, text


def preview(text: str, *, lines: int = PREVIEW_LINES, width: int = PREVIEW_WIDTH) -> list[str]:
    """The first meaningful lines of `text` (the module's rule)."""
    _, body = _front_matter(text)
    filled = [line.rstrip() for line in body.splitlines() if line.strip()]
    prose = [line for line in filled if not _HEADING.match(line)]
    chosen = (prose or filled)[:lines]
    return [line if len(line) <= width else line[: width - 1] + "…" for line in chosen]


def payload_task(text: str) -> tuple[str | None, str | None]:
    """(id, title) of the task file a payload carries as its front matter, or (None, None)."""
    meta, _ = _front_matter(text)
    task_id = meta.get("id")
    if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
        return None, None
    title = meta.get("title")
    return task_id, " ".join(title.split()) if isinstance(title, str) and title.strip() else None


def task_titles(tasks_dir: Path) -> dict[str, str]:
    """Task id → title for every task file in tasks/ and tasks/archive/ that parses."""
    tasks, _ = load_tasks(tasks_dir)
    return {t.frontmatter.id: " ".join(t.frontmatter.title.split()) for t in tasks}


def action_views(
    pending: PendingDecision | Mapping[str, Any],
    *,
    titles: Mapping[str, str] | None = None,
    lane_tasks: Mapping[str, str] | None = None,
) -> list[ActionView]:
    """Every action of a pending decision, as the gate shows it. `titles`: task id → title (tasks/);
    `lane_tasks`: lane → the task it holds in progress (what a steer without a task file serves)."""
    doc = pending if isinstance(pending, PendingDecision) else PendingDecision.model_validate(pending)
    titles = titles or {}
    lane_tasks = lane_tasks or {}
    views: list[ActionView] = []
    for index, (model, gate) in enumerate(zip(doc.decision.actions, doc.gates, strict=True)):
        action = model.model_dump(mode="json")
        lane = action.get("lane") or action.get("window")
        text = sent_text(action)
        task, title = payload_task(text)
        if task is None and action.get("kind") == "steer" and isinstance(lane, str):
            task = lane_tasks.get(lane)
        if task is not None:
            title = titles.get(task, title)
        views.append(
            ActionView(
                index=index,
                kind=str(action.get("kind")),
                lane=str(lane) if lane else None,
                gate_class=gate.gate_class,
                state=gate.state,
                reasons=list(gate.reasons),
                task=task,
                task_title=title,
                rationale=str(action.get("rationale") or ""),
                preview=preview(text),
            )
        )
    return views


__all__ = [
    "PREVIEW_LINES",
    "PREVIEW_WIDTH",
    "ActionView",
    "action_views",
    "payload_task",
    "preview",
    "sent_text",
    "task_titles",
]
