"""mail_index.py: the mailbox's read cache (stdlib only, python 3.8+).

Reading the front matter of every pending message is most of a digest of a big mailbox, and the same
messages are read again on every run. The index keeps, per pending message, the fields a reader took
from its name and head (the digest's row: subject, sender, recipient, stamp, mtime), keyed by (name,
size, mtime_ns): a message that is added, removed, renamed or edited in place (its mtime changes) is
read again, every other one is not. It also keeps the count
of .md files in processed/, keyed by that folder's (inode, mtime_ns), so processed mail (which only
ever grows) is not listed per run.

The cache is <.loop>/cache/mail-index.json beside the mailbox <.loop>/messages (a mailbox that is not
in a .loop folder is read without one). It is only ever a cache:
- a missing, unreadable, damaged or foreign one reads as empty and is rebuilt (never an error);
- it is replaced atomically (atomic.atomic_write: temp file, fsync, rename), so concurrent writers
  never leave a torn file, only the last whole one;
- a reader that cannot write it (read-only project, no .loop/cache) still answers, uncached;
- an entry whose mtime is within RACY_NS of the clock is not stored: a second edit in the same clock
  tick with the same size would otherwise go unseen (git's "racily clean" rule).

Users: shell/lib/digest.py (loop-digest). The one place the cache format lives; written to be shared
like fsread/atomic (it imports its siblings as a package when it is one).
"""

from __future__ import annotations

import json
import os
import sys
import time

if __package__:  # a copy inside loop_schemas._shared (`make shared`), for the engine's reader
    from . import fsread
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fsread  # type: ignore[no-redef,import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the digest's start-up; annotations are strings here
    from typing import Any, Callable, Dict, List, Optional

VERSION = 2
CACHE_NAME = os.path.join("cache", "mail-index.json")
CACHE_CAP = 64 * 1024 * 1024
RACY_NS = 2_000_000_000
# pending entries: name -> [size, mtime_ns, *fields] (flat: one list per message keeps json.loads of a
# big index cheap); fields are the reader's (see fields()), and a change of what they hold is a new VERSION


def cache_file_for(mailbox: str) -> Optional[str]:
    """The index file of a mailbox <X>/.loop/messages (<X>/.loop/cache/mail-index.json), else None."""
    parent = os.path.dirname(os.path.abspath(mailbox))
    if os.path.basename(parent) != ".loop":
        return None
    return os.path.join(parent, CACHE_NAME)


class MailIndex:
    """One run's view of the index: load once, look up and fill per message, save once if it changed."""

    def __init__(
        self, mailbox: str, lists_pending: bool, cache_file: Optional[str] = None, enabled: bool = True
    ) -> None:
        """lists_pending: this run asks subject() for every pending message, so the entries it did not
        ask for are gone and drop out; a run that does not (the text digest) keeps them as they are."""
        self.mailbox = os.path.abspath(mailbox)
        self.lists_pending = lists_pending
        self.cache_file = (cache_file or cache_file_for(mailbox)) if enabled else None
        self.now_ns = time.time_ns()
        self._old: Dict[str, Any] = {}
        self._new: Dict[str, Any] = {}
        self._processed: Optional[Dict[str, int]] = None
        self._dirty = False
        if self.cache_file is not None:
            self._load()

    def _load(self) -> None:
        assert self.cache_file is not None
        try:
            doc = json.loads(fsread.read_file(self.cache_file, CACHE_CAP).decode("utf-8"))
        except (OSError, ValueError, RecursionError):  # missing, unreadable or damaged: start empty
            self._dirty = True
            return
        if (
            not isinstance(doc, dict)
            or doc.get("version") != VERSION
            or doc.get("mailbox") != os.path.realpath(self.mailbox)
            or not isinstance(doc.get("pending"), dict)
        ):
            self._dirty = True
            return
        self._old = doc["pending"]
        processed = doc.get("processed")
        if isinstance(processed, dict) and all(
            type(processed.get(k)) is int for k in ("ino", "mtime_ns", "count")
        ):
            self._processed = processed

    def fields(self, name: str, st: os.stat_result) -> Optional[List[Any]]:
        """The fields remembered for the message `name` when it is still the file they were taken from
        (stat `st`: the same size and mtime_ns), else None: the caller reads it and remember()s them."""
        cached = self._old.get(name)
        if (
            type(cached) is list
            and len(cached) >= 2
            and type(cached[0]) is int
            and type(cached[1]) is int
            and cached[0] == st.st_size
            and cached[1] == st.st_mtime_ns
        ):
            self._new[name] = cached
            return cached[2:]
        return None

    def remember(self, name: str, st: os.stat_result, fields: List[Any]) -> None:
        """Keep `fields` (JSON values) for the message `name` as it is now (stat `st`), for the next run."""
        if self.now_ns - st.st_mtime_ns >= RACY_NS:
            self._new[name] = [st.st_size, st.st_mtime_ns, *fields]
        self._dirty = True

    def processed_count(self, count: Callable[[str], int]) -> int:
        """The number of messages in processed/ (count(folder) when the folder changed since last time).
        Raises what os.stat raises for a folder that is not there or cannot be read."""
        folder = os.path.join(self.mailbox, "processed")
        st = os.stat(folder)
        cached = self._processed
        if cached is not None and cached["ino"] == st.st_ino and cached["mtime_ns"] == st.st_mtime_ns:
            return cached["count"]
        n = count(folder)
        if self.now_ns - st.st_mtime_ns >= RACY_NS:
            self._processed = {"ino": st.st_ino, "mtime_ns": st.st_mtime_ns, "count": n}
        else:
            self._processed = None
        self._dirty = True
        return n

    def save(self) -> None:
        """Write the index when it changed (messages gone drop out); a failure to write is ignored."""
        if self.cache_file is None:
            return
        if not self.lists_pending:
            self._new = self._old
        if not self._dirty and len(self._new) == len(self._old):
            return
        doc: Dict[str, Any] = {
            "version": VERSION,
            "mailbox": os.path.realpath(self.mailbox),
            "pending": self._new,
        }
        if self._processed is not None:
            doc["processed"] = self._processed
        try:
            os.makedirs(os.path.dirname(self.cache_file), exist_ok=True)
            # imported here: atomic's tempfile is start-up a run that writes nothing need not pay
            if __package__:
                from . import atomic
            else:
                import atomic  # type: ignore[no-redef,import-not-found]

            atomic.atomic_write(self.cache_file, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        except OSError:
            pass  # a read-only project, a full disk: the answer stands, the next run reads again
