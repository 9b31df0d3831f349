"""A pending message's head and the ask it answers, with no model: the watch daemon's poll reads them
between cycles and keeps pydantic out of its process (observe and asks use the same functions)."""

from __future__ import annotations

import re
from pathlib import Path

from loop_schemas import mail_head, read_project_head

MAIL_HEAD_LIMIT = 65536
REPLY_RE = re.compile(r"^\s*re:\s*(a-[A-Za-z0-9-]+)\s*$", re.IGNORECASE)

_HEAD_CACHE: dict[tuple[str, int, int], tuple[str | None, str | None]] = {}


def read_mail_head(path: Path) -> tuple[str | None, str | None]:
    """(subject, task) from a message's frontmatter; (None, None) when it has none or it is malformed.

    Messages are never edited once written, so the answer is cached by (path, size, mtime).
    """
    try:
        st = path.stat()
    except OSError:
        return None, None
    key = (str(path), st.st_size, st.st_mtime_ns)
    hit = _HEAD_CACHE.get(key)
    if hit is not None:
        return hit
    try:
        raw = read_project_head(path, MAIL_HEAD_LIMIT)
    except OSError:
        return None, None
    found = mail_head(raw.decode("utf-8", errors="replace"))
    if len(_HEAD_CACHE) > 20000:
        _HEAD_CACHE.clear()
    _HEAD_CACHE[key] = found
    return found


def reply_to(subject: str | None) -> str | None:
    """The ask id a subject answers (`re:<ask-id>`), or None."""
    m = REPLY_RE.match(subject or "")
    return m.group(1) if m else None
