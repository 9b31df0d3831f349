"""mail_index.py: the mailbox's read cache, shared by loop-digest and the engine (stdlib only, python 3.8+).

Reading the head of every pending message is most of a digest of a big mailbox and of the engine's
look at it, and the same messages are read again on every run. The index keeps, per pending message,
what a reader takes from its head and stat (subject, task, mtime as UTC text), keyed by its name, size,
mtime_ns and inode: a message that is added, removed, renamed, edited in place (its mtime moves) or
replaced by another file is read again, every other one is not. A message's sender, recipient, stamp
and sequence number come from its name, parsed on every run (name_parts): the name is the authority,
never a cached copy of its parts. The index also keeps the count of .md files in processed/, keyed by
that folder's (inode, mtime_ns), so processed mail (which only ever grows) is not listed per run.

The cache is <.loop>/cache/mail-index.json beside the mailbox <.loop>/messages (a mailbox that is not
in a .loop folder is read without one); its model is loop_schemas.MailIndexFile (schema mail-index). It
is only ever a cache, and its bytes are untrusted (a lane can write into .loop):
- a missing, unreadable, damaged, oversized, foreign or other-version one reads as empty and is rebuilt
  (never an error); an entry of the wrong shape or types is read again from its message;
- it is replaced atomically (temp file, rename; not fsync'd: a cache holds no decision), so concurrent
  writers (digests, the engine) never leave a torn file, only the last whole one; each writer keeps the
  processed count another left when it did not count itself;
- a reader that cannot write it (read-only project, no .loop/cache, a .loop/cache that is a symlink)
  still answers, uncached;
- an entry whose mtime is within RACY_NS of the clock is not stored: a second edit in the same clock
  tick with the same size would otherwise go unseen (git's "racily clean" rule).

Users: shell/lib/digest.py (loop-digest) and loop-engine's observation (through the byte-identical copy
loop_schemas._shared.mail_index, `make shared`). The one place the cache format and the head reading
it caches live.
"""

from __future__ import annotations

import os
import sys
import time

if __package__:  # the copy inside loop_schemas._shared (`make shared`), for the engine's reader
    from . import fsread
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fsread  # type: ignore[no-redef,import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on the digest's start-up; annotations are strings here
    from typing import Any, Callable, Dict, List, Optional, Tuple

VERSION = 3
CACHE_NAME = os.path.join("cache", "mail-index.json")
CACHE_CAP = 64 * 1024 * 1024
RACY_NS = 2_000_000_000
HEAD_WINDOW = 4096  # the fast reader's first read; a longer frontmatter is read up to HEAD_CAP
HEAD_CAP = 65536  # what every reader of a mail's head reads (mail.SUBJECT_READ_LIMIT, the engine's)
# pending entries: name -> [size, mtime_ns, inode, subject, task, mtime] (flat: one list per message
# keeps json.loads of a big index cheap); a change of what they hold is a new VERSION

# The mailbox name grammar, kept identical to mail.NAME_RE and loop_schemas' (tests hold them equal). A
# pattern, not a compiled one: re (and compiling) costs every run's start-up, and only a name plain_parts
# does not take needs it (re.match compiles it on the first such name, then keeps it in re's own cache).
NAME_PATTERN = (
    r"^(?P<date>\d{8})-(?P<time>\d{6})-(?P<from>[A-Za-z][A-Za-z0-9_-]*?)-to-"
    r"(?P<to>[A-Za-z][A-Za-z0-9_-]*?)(?:\.(?P<seq>[2-9]|[1-9][0-9]+))?\.md\Z"
)


def cache_file_for(mailbox: str) -> Optional[str]:
    """The index file of a mailbox <X>/.loop/messages (<X>/.loop/cache/mail-index.json), else None."""
    parent = os.path.dirname(os.path.abspath(mailbox))
    if os.path.basename(parent) != ".loop":
        return None
    return os.path.join(parent, CACHE_NAME)


# The same grammar for a name whose stamp is plainly valid (ASCII digits, year 0001 on, a day its month
# always has: any but 29 February, a time of day): one match says all, no datetime. Any other name is
# NAME_PATTERN's and datetime's. The recipient is matched greedily where NAME_PATTERN is lazy: it cannot
# hold a '.' and a '.' must follow it, so both end it at its first '.' (the same groups). plain_parts
# below reads the same grammar by hand (a test holds the two equal): the listing of a warm run then needs
# no `re` at all, whose import (with enum and functools) and compiles were a fifth of a warm --json run.
PLAIN_PATTERN = (
    r"((?!0000)[0-9]{4}"
    r"(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)|(?:0[13578]|1[02])31))-"
    r"((?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9])-"
    r"([A-Za-z][A-Za-z0-9_-]*?)-to-([A-Za-z][A-Za-z0-9_-]*)(?:\.([2-9]|[1-9][0-9]+))?\.md\Z"
)
# Every month-and-day a year always has (MMDD): 29 February is not one.
_MONTH_DAYS = frozenset(
    f"{m:02d}{d:02d}"
    for m in range(1, 13)
    for d in range(1, 32)
    if d <= 28 or (d <= 30 and m != 2) or (d == 31 and m in (1, 3, 5, 7, 8, 10, 12))
)
_WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"  # [A-Za-z0-9_-]
_LETTERS = frozenset(_WORD[:52])


def plain_parts(name: str) -> Optional[Tuple[str, str, str, str, int]]:
    """(date, time, from, to, seq) of a name PLAIN_PATTERN matches (its groups, seq 1 when absent), else
    None (name_parts then asks NAME_PATTERN): PLAIN_PATTERN read by hand, thousands of names per run. A
    mailbox's names share their days and their sender-to-recipient tails: each distinct one is read once
    per process (_DAYS, _TAILS: what a string reads as, never what a file says)."""
    d = name[:8]
    day = _DAYS.get(d)
    if day is None:
        day = _DAYS[d] = d.isdigit() and d.isascii() and d[4:] in _MONTH_DAYS and d[:4] != "0000"
    t = name[9:15]
    if (
        not day
        or name[8:9] != "-"
        or name[15:16] != "-"
        or not t.isdigit()
        or not t.isascii()
        or t[:2] > "23"
        or t[2] > "5"
        or t[4] > "5"
    ):
        return None
    tail = name[16:]
    got = _TAILS.get(tail, _UNREAD)
    if got is _UNREAD:
        if len(_TAILS) > 65536:  # a redraw runs for days: the memo stays small
            _TAILS.clear()
            _DAYS.clear()
        got = _TAILS[tail] = _tail_parts(tail)
    if got is None:
        return None
    return d, t, got[0], got[1], got[2]


_UNREAD: Any = object()
_DAYS: Dict[str, bool] = {}
_TAILS: Dict[str, Optional[Tuple[str, str, int]]] = {}


def _tail_parts(tail: str) -> Optional[Tuple[str, str, int]]:
    """(from, to, seq) of a name's part after its stamp (`from-to-to[.seq].md`), else None."""
    if tail[-3:] != ".md":
        return None
    body = tail[:-3]
    seq = 1
    dot = body.find(".")
    if dot >= 0:
        digits = body[dot + 1 :]
        if not digits.isdigit() or not digits.isascii() or digits[0] == "0" or digits == "1":
            return None
        seq = int(digits)
        body = body[:dot]
    if body.strip(_WORD):
        return None  # a character neither name may hold
    # the sender is the shortest that leaves a recipient: the first "-to-" with a letter on both sides
    at = body.find("-to-")
    while at >= 0:
        if body[:1] in _LETTERS and body[at + 4 : at + 5] in _LETTERS:
            return body[:at], body[at + 4 :], seq
        at = body.find("-to-", at + 1)
    return None


def __getattr__(name: str) -> Any:
    """PLAIN_PATTERN compiled (_PLAIN_RE, plain_match), for a caller that asks: compiled on first use."""
    if name in ("_PLAIN_RE", "plain_match"):
        import re

        pattern = re.compile(PLAIN_PATTERN)
        globals().update(_PLAIN_RE=pattern, plain_match=pattern.match)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def name_parts(name: str) -> Optional[Tuple[str, str, str, str, int]]:
    """(date, time, from, to, seq) of a message's file name, or None when `name` is not one: mail.parse_name
    without strptime (thousands of names per run)."""
    parts = plain_parts(name)
    if parts is not None:
        return parts
    import re

    m = re.match(NAME_PATTERN, name)
    if m is None:
        return None
    d, t = m.group(1, 2)
    import datetime

    try:
        datetime.datetime(int(d[:4]), int(d[4:6]), int(d[6:]), int(t[:2]), int(t[2:4]), int(t[4:]))
    except ValueError:
        return None
    d, t, sender, to, seq = m.groups()
    return d, t, sender, to, int(seq) if seq else 1


def parse_name(name: str) -> Optional[Dict[str, Any]]:
    """name_parts as mail.parse_name answers: {date, time, from, to, seq}, or None."""
    parts = name_parts(name)
    if parts is None:
        return None
    return dict(zip(("date", "time", "from", "to", "seq"), parts))


def iso_mtime(st: os.stat_result) -> str:
    """A message's mtime as the digest shows it: UTC, seconds, `YYYY-MM-DDTHH:MM:SSZ`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))


# ---- the head reader ---------------------------------------------------------------------------------

_RES: List[Any] = []


def _res() -> List[Any]:
    """The fast reader's patterns, compiled on the first head read (a warm run reads none)."""
    if not _RES:
        import re

        _RES.extend(
            (
                # fences: '---' plus optional trailing spaces/tabs, as frontmatter.split reads them
                re.compile(rb"---[ \t]*\r?\n"),
                re.compile(rb"\n---[ \t]*\r?(?:\n|$)"),
                # a frontmatter block every line of which frontmatter.parse surely accepts: `key: value`
                # with a bare, "double" or 'single' quoted value (no inline list), blank lines and
                # comments. Only for such a block (and no key twice) may a value be read from its own
                # line: any other line could make the full parser reject the whole block.
                re.compile(
                    rb"(?:(?:[A-Za-z_][A-Za-z0-9_-]*[ \t]*:[ \t]*"
                    rb"(?:[^\s\"'\[#][^\n]*"
                    rb"|\"(?:[^\"\\\n]|\\[^\n])*\"[ \t]*(?:#[^\n]*)?"
                    rb"|'(?:[^'\n]|'')*'[ \t]*(?:#[^\n]*)?)?"
                    rb"|[ \t]*(?:#[^\n]*)?)\r?\n)*"
                ),
                re.compile(rb"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:", re.M),
            )
        )
    return _RES


def _jsonlite() -> Any:
    """json's answers without the json package (lib/jsonlite.py), imported where the index is read or
    written: the engine's cycle imports this module and reads the index only when it looks at mail."""
    if __package__:
        from . import jsonlite
    else:
        import jsonlite  # type: ignore[no-redef,import-not-found]
    return jsonlite


def _frontmatter() -> Any:
    if __package__:
        from . import frontmatter
    else:
        import frontmatter  # type: ignore[no-redef,import-not-found]
    return frontmatter


_FULL = object()  # a value the line reader leaves to the full frontmatter parser


def read_head(path: str) -> Tuple[Optional[str], Optional[str]]:
    """(subject, task) of the message at `path`: frontmatter.mail_head's answer on its first HEAD_CAP
    bytes (what mail.read_subject and the engine read), with a fast path for the common plain and
    simply-quoted values; (None, None) when it has no frontmatter or cannot be read."""
    try:
        raw = fsread.read_head(path, HEAD_WINDOW)
    except OSError:
        return None, None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    fm_open, fm_close, simple, key_re = _res()
    if fm_open.match(raw) is None:
        return None, None
    close = fm_close.search(raw, 3)
    if close is None:
        if len(raw) < HEAD_WINDOW - 3:
            return None, None  # never closed: no frontmatter
        try:  # a frontmatter longer than the fast window: the full reader on the whole head
            whole = fsread.read_head(path, HEAD_CAP)
        except OSError:
            return None, None
        return _frontmatter().mail_head(whole.decode("utf-8", errors="replace"))  # type: ignore[no-any-return]
    end = close.start()
    block = raw[raw.index(b"\n") + 1 : end + 1]
    keys = key_re.findall(block)
    if simple.fullmatch(block) is None or len(keys) != len(set(keys)):
        return _parsed(raw, end)
    subject = _line_value(raw, end, b"\nsubject")
    task = _line_value(raw, end, b"\ntask")
    if subject is _FULL or task is _FULL:
        return _parsed(raw, end)
    return subject, task


def _line_value(raw: bytes, end: int, key: bytes) -> Any:
    """The value of `key` in a simple block (before `end`) read from its own line, None when the key is
    absent or its value is none, or _FULL when only the full parser can say."""
    at = raw.find(key + b":", 0, end)
    if at < 0:
        # no `key:` line; `key :` (or a longer key that starts so) is one for the full reader
        return _FULL if raw.find(key, 0, end) >= 0 else None
    start = at + len(key) + 1
    stop = raw.find(b"\n", start)
    line = raw[start : stop if stop >= 0 else end].decode("utf-8", errors="replace").rstrip("\r")
    value = line.strip(" \t")
    if value[:1] == '"' and value.endswith('"') and "\\" not in value and value.count('"') == 2:
        return value[1:-1] or None
    if value[:1].isalnum() and " #" not in value and value not in ("null", "Null", "NULL"):
        return value
    return _FULL  # anything unusual (a comment, a null, escapes): exactly as frontmatter.parse reads it


def _parsed(raw: bytes, end: int) -> Tuple[Optional[str], Optional[str]]:
    """(subject, task) as frontmatter.mail_head reads the block that closes at `end`."""
    return _frontmatter().mail_head(raw[: end + 4].decode("utf-8", errors="replace") + "\n")  # type: ignore[no-any-return]


# ---- the index -----------------------------------------------------------------------------------------


def count_processed(folder: str) -> int:
    """The messages in a processed/ folder: its .md files, dot-files (temporaries) left out; a bare
    listing (no stat per name): it is the one per-name cost of a big processed/."""
    return sum(1 for n in os.listdir(folder) if n.endswith(".md") and n[0] != ".")


def _is_int(v: Any) -> bool:
    return type(v) is int and v >= 0


class MailIndex:
    """One run's view of the index: load once, look up and fill per message, save once if it changed."""

    def __init__(self, mailbox: str, cache_file: Optional[str] = None, enabled: bool = True) -> None:
        self.mailbox = os.path.abspath(mailbox)
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
            doc = _jsonlite().loads(fsread.read_file(self.cache_file, CACHE_CAP).decode("utf-8"))
        except (OSError, ValueError, RecursionError):  # missing, unreadable, oversized or damaged
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
            _is_int(processed.get(k)) for k in ("ino", "mtime_ns", "count")
        ):
            self._processed = {k: processed[k] for k in ("ino", "mtime_ns", "count")}

    def cached(self, name: str, st: os.stat_result) -> Optional[List[Any]]:
        """[subject, task, mtime] remembered for the message `name` when it is still the file they were
        taken from (stat `st`: the same size, mtime_ns and inode) and of the right types, else None."""
        e = self._old.get(name)
        if type(e) is not list or len(e) != 6:
            return None
        size, mtime_ns, ino, subject, task, mtime = e  # one unpacking: this runs per pending message
        if (
            size == st.st_size
            and mtime_ns == st.st_mtime_ns
            and ino == st.st_ino
            and type(size) is int
            and type(mtime_ns) is int
            and type(ino) is int
            and (subject is None or type(subject) is str)
            and (task is None or type(task) is str)
            and type(mtime) is str
        ):
            self._new[name] = e
            return [subject, task, mtime]
        return None

    def row(self, name: str, path: str, st: os.stat_result) -> List[Any]:
        """[subject, task, mtime] of the message `name` (at `path`, stat `st`): remembered, or read from
        its head now and remembered for the next run."""
        hit = self.cached(name, st)
        if hit is not None:
            return hit
        subject, task = read_head(path)
        fields = [subject, task, iso_mtime(st)]
        if self.now_ns - st.st_mtime_ns >= RACY_NS:
            self._new[name] = [st.st_size, st.st_mtime_ns, st.st_ino, *fields]
        self._dirty = True
        return fields

    def processed_count(self, count: Optional[Callable[[str], int]] = None) -> int:
        """The number of messages in processed/ (count(folder), by default count_processed, when the folder
        changed since last time). Raises what os.stat raises for a folder that is not there or cannot be
        read. Every writer of the index counts alike (count_processed): they share the one count."""
        folder = os.path.join(self.mailbox, "processed")
        st = os.stat(folder)
        cached = self._processed
        if cached is not None and cached["ino"] == st.st_ino and cached["mtime_ns"] == st.st_mtime_ns:
            return cached["count"]
        n = (count or count_processed)(folder)
        if self.now_ns - st.st_mtime_ns >= RACY_NS:
            self._processed = {"ino": st.st_ino, "mtime_ns": st.st_mtime_ns, "count": n}
        else:
            self._processed = None
        self._dirty = True
        return n

    def save(self) -> None:
        """Write the index when it changed (messages no longer pending drop out); a failure to write is
        ignored. Call it only after asking row() or cached() for every pending message."""
        if self.cache_file is None or (not self._dirty and len(self._new) == len(self._old)):
            return
        doc: Dict[str, Any] = {
            "version": VERSION,
            "mailbox": os.path.realpath(self.mailbox),
            "pending": self._new,
        }
        if self._processed is not None:
            doc["processed"] = self._processed
        folder = os.path.dirname(self.cache_file)
        tmp = ""
        try:
            os.makedirs(folder, exist_ok=True)
            if os.path.islink(folder):  # a lane pointed .loop/cache elsewhere: write nothing there
                return
            # imported here: tempfile is start-up a run that writes nothing need not pay
            import tempfile

            fd, tmp = tempfile.mkstemp(prefix=".mail-index.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(_jsonlite().dumps(doc, separators=(",", ":")))
            os.chmod(tmp, 0o644)
            os.replace(
                tmp, self.cache_file
            )  # over a symlink or a file a lane put there: the link is replaced
        except OSError:  # a read-only project, a full disk, a folder in its place: the next run reads again
            if tmp:
                try:  # noqa: SIM105 (contextlib costs an import on the digest's start-up)
                    os.unlink(tmp)
                except OSError:
                    pass
