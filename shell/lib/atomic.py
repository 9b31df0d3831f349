"""atomic.py: the bash substrate's crash-safe file writes (stdlib only, python 3.8+).

Every helper in shell/lib that writes a file the project keeps goes through here: a whole-file write
is a temp file in the same folder, fsynced, then renamed (or hard-linked, to never clobber); an append
is one write() on an O_APPEND descriptor under an flock, so concurrent writers never interleave.

The one source: loop-schemas carries a byte-identical copy (loop_schemas/_shared/atomic.py) and its
_atomic module writes through it.
"""

from __future__ import annotations

import os
import sys

if __package__:  # the copy inside loop_schemas._shared (`make shared`)
    from . import fsread
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fsread  # type: ignore[no-redef,import-not-found]


def fsync_dir(path: str) -> None:
    """Persist a folder's entries (a rename or link in it) on filesystems that need it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, text: str, exclusive: bool = False) -> None:
    """Replace `path` with `text` (readers see the old or the new file, never a torn one).

    exclusive: create only, raising FileExistsError when `path` exists (a hard link never clobbers).
    A replaced file keeps its permission bits; a new one gets 0644.
    """
    import tempfile  # only a writer gets here: a helper that merely reads never loads it

    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".loop-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.chmod(tmp, 0o644)
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            try:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            except OSError:
                os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    except BaseException:
        try:  # noqa: SIM105 (contextlib costs an import on every loop-checkpoint --print, which imports this)
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(folder)


def append_locked(path: str, text: str, header: str = "") -> None:
    """Append `text` in one write under an exclusive flock, after a newline if the file lacks one.

    `header` is written first when the file is new or empty.
    """
    fd = fsread.open_append(path, os.O_RDWR)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not on POSIX
            pass
        size = os.fstat(fd).st_size
        prefix = header if size == 0 else ""
        if size > 0:
            os.lseek(fd, size - 1, os.SEEK_SET)
            if os.read(fd, 1) != b"\n":
                prefix = "\n"
        os.write(fd, (prefix + text).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
