"""Atomic file writes, whole-line appends and an advisory lock: the only way any layer writes a file.

Standard library only, so loop-schemas' dependants get crash-safe writes without another dependency.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from loop_schemas._shared import atomic as shared_atomic
from loop_schemas.fsread import open_project_append


class LockTimeoutError(TimeoutError):
    """The advisory lock was held by another process for longer than the timeout."""


def _fsync_dir(directory: Path) -> None:
    shared_atomic.fsync_dir(str(directory))


def atomic_write(
    path: Path | str, data: str | bytes, *, mode: int | None = None, durable: bool = True
) -> None:
    """Replace `path` with `data` atomically: temp file in the same directory, fsync, rename, fsync the dir.

    A reader sees the old content or the new, never a torn file. The file keeps its permission bits
    (or gets `mode`, default 0o644 for a new file). `durable=False` skips both fsyncs: still atomic
    for readers and across a killed process, but after a power loss the file may hold the old content
    or be damaged: only for files whose readers take damage as absence and that hold no decision.
    """
    import tempfile  # only a writer gets here: a command that merely reads never loads it

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(target.parent)


def append_line(path: Path | str, line: str) -> None:
    """Append one line (a newline is added when missing) in a single write on an O_APPEND descriptor."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if "\n" in line.rstrip("\n"):
        raise ValueError("append_line takes a single line")
    raw = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = open_project_append(target)
    try:
        written = os.write(fd, raw)
        if written != len(raw):  # a short write on a regular file means the disk is full
            raise OSError(errno.ENOSPC, f"short write appending to {target}")
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path | str, timeout: float | None = None) -> Iterator[Path]:
    """Hold an exclusive advisory lock on `<path>.lock` (fcntl.flock) for the duration of the block.

    `timeout=None` waits forever; otherwise LockTimeoutError after that many seconds. The lock dies with
    the process, so a killed holder never leaves a stale lock.
    """
    target = Path(path)
    lock_path = target.with_name(target.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeoutError(
                            f"{lock_path}: held by another process for {timeout}s"
                        ) from None
                    time.sleep(0.02)
        yield lock_path
    finally:
        os.close(fd)
