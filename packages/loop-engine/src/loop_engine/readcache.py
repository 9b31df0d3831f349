"""The file-reading verbs' verdict cache: <project>/.loop/cache/engine-reads.json.

`loop-engine status` and `config --json` read the effective config (YAML, validated by pydantic models)
and check the state file (validated too); building those models is most of such a command's time, and
the answer is the same until an input changes. So a verdict (the config's JSON dump and warnings, the
state file's problem or none) is kept with the inputs it was computed from, and reused while they hold:
- every input file or folder it read or looked for, by (inode, size, mtime_ns), or absent: a file
  added, removed, renamed, replaced or edited in place (its mtime moves) misses;
- the environment variables the computation reads, by value;
- the code that computes it: the stat signature of the loop_schemas and loop_engine sources, so an
  upgrade (or an edit in a checkout) misses.

It is only ever a cache, by the rules of shell/lib/mail_index.py (the digest's):
- a missing, unreadable, damaged or foreign one reads as empty and is rebuilt (never an error);
- it is replaced atomically (temp file, fsync, rename): concurrent writers leave the last whole file;
- a reader that cannot write it (read-only project) still answers, uncached;
- a verdict whose inputs' mtimes are within RACY_NS of the clock is not stored: a second edit in the
  same clock tick with the same size would otherwise go unseen (git's "racily clean" rule);
- a computation that fails (an invalid config) is never stored: the error is recomputed each time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

VERSION = 2
CACHE_NAME = "engine-reads.json"
CACHE_CAP = 4 * 1024 * 1024
RACY_NS = 2_000_000_000

T = TypeVar("T")


def signature(path: str) -> list[int] | None:
    """[inode, size, mtime_ns] of what `path` names (following a symlink), or None when nothing is there
    (or it cannot be stat'ed)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def code_signature() -> str:
    """The name, size and mtime_ns of every loop_schemas and loop_engine *.py file, one line each: stat
    only (kept whole, not hashed: hashlib alone would cost `status` more than the comparison). A
    reinstall or an edit of either package moves it."""
    import loop_schemas

    import loop_engine

    lines = [f"{VERSION}\n"]
    for package in (loop_schemas.__file__, loop_engine.__file__):
        top = os.path.dirname(os.path.abspath(package))
        for folder in (top, os.path.join(top, "_shared")):
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.name.endswith(".py"):
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    lines.append(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n")
    return "".join(lines)


class ReadCache:
    """One run's view of the cache: loaded on first use, saved once by save() when a verdict was added."""

    def __init__(self, loop_dir: Path) -> None:
        self.file = loop_dir / "cache" / CACHE_NAME
        self._entries: dict[str, Any] | None = None
        self._code = ""
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        if self._entries is not None:
            return self._entries
        from loop_schemas.fsread import read_project_file

        self._code = code_signature()
        self._entries = {}
        try:
            doc = json.loads(read_project_file(self.file, CACHE_CAP).decode("utf-8"))
        except (OSError, ValueError, RecursionError):  # missing, unreadable or damaged: start empty
            return self._entries
        if (
            isinstance(doc, dict)
            and doc.get("version") == VERSION
            and doc.get("code") == self._code
            and isinstance(doc.get("entries"), dict)
        ):
            self._entries = doc["entries"]
        return self._entries

    def verdict(
        self,
        name: str,
        env: Iterable[str],
        compute: Callable[[], tuple[T, list[Path]]],
        decode: Callable[[Any], T],
        encode: Callable[[T], Any],
        also: dict[str, str] | None = None,
    ) -> T:
        """The verdict `name`: the cached one while its inputs hold, else compute()'s, remembered.

        compute() returns (the verdict, the paths of every file or folder it read or looked for);
        encode/decode turn a verdict into JSON data and back (decode raises ValueError, KeyError or
        TypeError on an entry it cannot use: it is computed again); `also`: any other input, by value."""
        entries = self._load()
        env_now: dict[str, Any] = {var: os.environ.get(var) for var in sorted(env)}
        if also:
            env_now[""] = also
        entry = entries.get(name)
        if isinstance(entry, dict) and entry.get("env") == env_now and isinstance(entry.get("inputs"), list):
            inputs = entry["inputs"]
            if all(
                isinstance(item, list)
                and len(item) == 2
                and isinstance(item[0], str)
                and signature(item[0]) == item[1]
                for item in inputs
            ):
                try:
                    return decode(entry.get("value"))
                except (ValueError, KeyError, TypeError):
                    pass
        now = time.time_ns()
        value, paths = compute()
        inputs = [[str(p), signature(str(p))] for p in dict.fromkeys(paths)]
        if all(sig is None or now - sig[2] >= RACY_NS for _, sig in inputs):
            entries[name] = {"env": env_now, "inputs": inputs, "value": encode(value)}
            self._dirty = True
        elif name in entries:
            del entries[name]
            self._dirty = True
        return value

    def save(self) -> None:
        """Write the cache when a verdict changed; a failure to write is ignored (the answer stands)."""
        if not self._dirty or self._entries is None:
            return
        from loop_schemas import atomic_write

        doc = {"version": VERSION, "code": self._code, "entries": self._entries}
        try:
            self.file.parent.mkdir(exist_ok=True)
            atomic_write(str(self.file), json.dumps(doc, ensure_ascii=False) + "\n")
        except OSError:
            return
        self._dirty = False
