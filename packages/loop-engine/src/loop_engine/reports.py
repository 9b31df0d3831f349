"""Which mail is a lane's completion report: the only thing that moves a task from in-progress to review.

A message is the report of task T when all of these hold:

- it comes from the lane T was dispatched to (the `<from>` of its file name);
- it is newer than the dispatch: the engine's own record of when it sent T (`dispatched_at` in
  assignments.json, taken before the text went out) is the authority. The message's name stamp (UTC, as
  loop-mail writes it) AND its inode change time must both be at or after that second. A lane can write
  any name and set any mtime, but not the ctime: the kernel sets it when the file is created or moved, so a
  message written before the dispatch cannot pass for one written after it;
- its subject is done-shaped: its first word is `done`, `finished`, `complete` or `completed` (any case,
  e.g. `done T0001: added the index`);
- it names T, by id in the subject or in a frontmatter `task:` field. Only a lane that holds exactly one
  task may leave the id out (a bare `done: …` then reports that one task).

Anything else (a question, a status note, an ask reply `re:<id>`, a report of another lane's task) is mail
for the coordinator and changes no task.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone

from loop_schemas import SchemaError, parse_mail_name

from loop_engine.mailhead import reply_to
from loop_engine.observe import MailItem
from loop_engine.tasks import mentions

DONE_WORDS = ("done", "finished", "complete", "completed")
DONE_SUBJECT_RE = re.compile(r"^\s*(?:" + "|".join(DONE_WORDS) + r")(?![A-Za-z0-9_-])", re.IGNORECASE)


def done_shaped(subject: str | None) -> bool:
    """True when the subject's first word is done, finished, complete or completed (any case)."""
    return bool(subject) and DONE_SUBJECT_RE.match(subject or "") is not None


def mail_times(item: MailItem) -> tuple[datetime, datetime] | None:
    """(name stamp, inode change time) of a message, both aware UTC; None when either cannot be had."""
    try:
        stamp = parse_mail_name(item.name).timestamp.replace(tzinfo=timezone.utc)
        changed = datetime.fromtimestamp(item.path.stat().st_ctime, timezone.utc)
    except (SchemaError, OSError, ValueError, OverflowError):
        return None
    return stamp, changed


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def reported_tasks(item: MailItem, held: Mapping[str, datetime]) -> list[str]:
    """The tasks `item` reports done, out of `held` (task id -> when the engine dispatched it) — the
    in-progress tasks of the message's sender. Empty unless the message is a report (module docstring)."""
    if not held or reply_to(item.subject) or not done_shaped(item.subject):
        return []
    times = mail_times(item)
    if times is None:
        return []
    stamp, changed = times
    fresh = {
        tid
        for tid, dispatched in held.items()
        if stamp >= _second(dispatched) and _second(changed) >= _second(dispatched)
    }
    named = (mentions(item.subject) | mentions(item.task)) & set(held)
    if named:
        return sorted(named & fresh)
    if len(held) == 1 and not (mentions(item.subject) | mentions(item.task)):
        return sorted(fresh)
    return []
