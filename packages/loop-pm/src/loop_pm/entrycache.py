"""The plugin listing without importlib.metadata: its last answer, kept while everything it read holds.

`loop-pm --help` lists the adapters' command groups, and importlib.metadata (importing it: email,
zipfile, csv, socket; then reading every distribution's entry points) was a third of that command's
time. importlib.metadata stays the one truth: this file keeps its answer (the listing plugins.discover
makes of both entry-point groups) with the signature of everything that answer was read from, and the
answer is reused only while all of it is unchanged:
- the interpreter (sys.version, sys.executable) and sys.path as it stands;
- the finders that discover distributions: only the standard PathFinder may; any other (a custom
  meta-path finder answers from anything) means no cache, read or written;
- every sys.path entry (a relative one, like -c's '', in the working directory) and every file
  importlib.metadata read for the answer (each distribution's entry_points.txt, the METADATA of those
  with a plugin: observed as it reads them, not guessed), by (device, inode, size, mtime_ns, ctime_ns)
  or their absence: a distribution added, removed or renamed moves its sys.path folder's times, a file
  edited, replaced or created moves its own (the ctime even when the mtime is put back); and every
  distribution must be a plain folder on disk, else no cache;
- the racy rule: an answer is stored only when each of those times is more than RACY_NS older than the
  scan's start, so that nothing changed while it was read, or in the same clock tick, unseen;
- entry points of the plain `module:attr` form only (plugins.PluginEntry.load imports those without
  importlib.metadata); any other form leaves the listing uncached.
The file is loop_pm's own `__pycache__/entry-points.<tag>.json`, written when bytecode is written (not
under PYTHONDONTWRITEBYTECODE): whoever can forge it can already replace loop_pm's code, the trust Python
gives its .pyc files. A missing, unreadable, damaged or foreign file reads as no cache and a failed write
is ignored: the cache may cost time, never change the answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

VERSION = 1
RACY_NS = 2_000_000_000
CAP = 4 * 1024 * 1024
# where the file lives (None: no cache); tests point it elsewhere
CACHE_DIR: str | None = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
PLAIN_VALUE = re.compile(r"\w+(?:\.\w+)*:\w+(?:\.\w+)*\Z")

Row = tuple[str, str, "str | None", "str | None"]  # name, value, distribution, version
Listing = dict[str, list[Row]]


def signature(path: str) -> list[int] | None:
    """[device, inode, size, mtime_ns, ctime_ns] of what `path` names (following a symlink), or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def cache_file() -> str | None:
    if CACHE_DIR is None:
        return None
    return os.path.join(CACHE_DIR, f"entry-points.{sys.implementation.cache_tag}.json")


def readable() -> bool:
    """Whether a stored listing may be used here at all."""
    return CACHE_DIR is not None and _only_path_finder()


def writable() -> bool:
    """Whether a listing may be stored here (where bytecode would be written)."""
    return readable() and not sys.dont_write_bytecode


def _only_path_finder() -> bool:
    """True when the standard PathFinder is the only finder on sys.meta_path that finds distributions."""
    from importlib.machinery import PathFinder

    return all(f is PathFinder for f in sys.meta_path if hasattr(f, "find_distributions"))


def _key() -> dict[str, Any]:
    """What the answer depends on besides the files (a relative sys.path entry, like -c's '', is
    stat'ed where it is: another working directory is another folder)."""
    return {"version": VERSION, "python": sys.version, "executable": sys.executable, "path": list(sys.path)}


def _rows(value: Any) -> list[Row]:
    """A group's rows from the file; ValueError on anything this module did not write."""
    if not isinstance(value, list):
        raise ValueError("not a list")
    rows: list[Row] = []
    for row in value:
        if not (isinstance(row, list) and len(row) == 4):
            raise ValueError("not a row")
        name, entry, dist, version = row
        if not (isinstance(name, str) and isinstance(entry, str) and PLAIN_VALUE.match(entry)):
            raise ValueError("not a plain entry point")
        if not all(v is None or isinstance(v, str) for v in (dist, version)):
            raise ValueError("not a distribution")
        rows.append((name, entry, dist, version))
    return rows


def load(groups: Sequence[str]) -> Listing | None:
    """The stored listing of `groups` when everything it was read from is unchanged, else None."""
    file = cache_file()
    if file is None or not readable():
        return None
    try:
        with open(file, "rb") as fh:
            raw = fh.read(CAP + 1)
        if len(raw) > CAP:
            return None
        doc = json.loads(raw)
        key = _key()
        if not (isinstance(doc, dict) and doc.get("key") == key and isinstance(doc.get("inputs"), list)):
            return None
        for item in doc["inputs"]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                return None
            if signature(item[0]) != item[1]:
                return None
        stored = doc.get("groups")
        if not isinstance(stored, dict) or sorted(stored) != sorted(groups):
            return None
        return {group: _rows(stored[group]) for group in groups}
    except (OSError, ValueError, RecursionError):  # missing, unreadable or damaged: no cache
        return None


def _tracked(compute: Callable[[], Listing]) -> tuple[Listing, list[str] | None]:
    """compute()'s listing, and the path of every file importlib.metadata read for it (a distribution
    reads through PathDistribution.read_text only; None when that cannot be observed)."""
    from importlib.metadata import PathDistribution

    original = getattr(PathDistribution, "read_text", None)
    if original is None:
        return compute(), None
    read: list[str] = []

    def read_text(self: PathDistribution, filename: str | os.PathLike[str]) -> str | None:
        folder = getattr(self, "_path", None)
        read.append(os.path.join(str(folder), os.fspath(filename)) if folder is not None else "")
        return original(self, filename)  # type: ignore[no-any-return]

    PathDistribution.read_text = read_text  # type: ignore[method-assign]
    try:
        listing = compute()
    finally:
        PathDistribution.read_text = original  # type: ignore[method-assign]
    return listing, read


def _inputs(read: list[str], start_ns: int) -> list[list[Any]] | None:
    """[path, signature] of every sys.path entry and every file read; None when a distribution is not
    a plain folder on disk (a zip, another finder's) or an input changed since `start_ns - RACY_NS`."""
    from importlib.metadata import PathDistribution, distributions
    from pathlib import Path

    for dist in distributions():
        if type(dist) is not PathDistribution or not isinstance(getattr(dist, "_path", None), Path):
            return None
    if "" in read:
        return None
    found: list[list[Any]] = []
    for path in dict.fromkeys([*(entry or "." for entry in sys.path), *read]):
        sig = signature(path)
        if sig is not None and max(sig[3], sig[4]) >= start_ns - RACY_NS:
            return None
        found.append([path, sig])
    return found


def store(groups: Sequence[str], compute: Callable[[], Listing]) -> Listing:
    """compute()'s listing of `groups` (importlib.metadata's answer), stored for the next process when
    it can be (see the module's rules); a failure to store is ignored."""
    file = cache_file()
    if file is None or not writable():
        return compute()
    start_ns = time.time_ns()
    listing, read = _tracked(compute)
    if read is None or any(not PLAIN_VALUE.match(row[1]) for group in groups for row in listing[group]):
        return listing
    try:
        key = _key()
        inputs = _inputs(read, start_ns)
    except Exception:  # the cache is optional: metadata it cannot account for leaves it unwritten
        return listing
    if inputs is None:
        return listing
    doc = {"key": key, "inputs": inputs, "groups": {g: [list(r) for r in listing[g]] for g in groups}}
    tmp = f"{file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, separators=(",", ":"))
        os.replace(tmp, file)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return listing
