"""A message's head, (subject, task), with no model: readers that only route mail (the watch daemon's poll)
import this and neither pydantic nor yaml."""

from __future__ import annotations

from loop_schemas._shared import frontmatter as subset


def mail_head(text: str) -> tuple[str | None, str | None]:
    """(subject, task) of a message, as the substrate's readers (loop-mail, loop-digest) see them: the one
    reader of a mail's head is shell/lib/frontmatter.py's mail_head (carried as loop_schemas._shared).

    Hand-written frontmatter the subset refuses, such as `subject: re: a-12 port 8080` (a colon and a
    space inside a bare value), still has a subject there: its raw text on the `subject:` line, quotes
    removed. A list or mapping is no subject. No frontmatter at all: (None, None)."""
    return subset.mail_head(text)
