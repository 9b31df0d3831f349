"""Read a project file safely: only a regular file, never blocking, never more than a cap.

Everything loop-orchestrator reads from an operated project (the state file, the pending decision and its
archive, events.jsonl, mail, tasks, ADRs, lane-config.yaml, ops-wiki pages, the engine's own files) goes
through here. A lane can put anything at those paths: a FIFO would hang a reader forever, a symlink to
/dev/zero would fill memory. So a file is opened with O_NONBLOCK and O_NOCTTY (opening a FIFO returns at
once), fstat'ed, and refused unless it is a regular file (a symlink to one is fine: users symlink
configs); a regular file over its kind's cap is refused before a byte is read.

The refusal is a ProjectFileError, an OSError (IsADirectoryError for a folder), so readers that already
turn an OSError into one line keep doing so; `.strerror` says what the file is.

shell/lib/fsread.py is this module's stdlib twin for the bash substrate's helpers; a test holds the two
to the same verdicts.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

KIB = 1024
MIB = 1024 * KIB

# The caps, per kind of file (CONTRACT.md "Project files are read safely" lists them).
STATE_CAP = 64 * MIB
"""orchestrator-state.json."""
ENGINE_CAP = 4 * MIB
"""pending-decision.json, decisions/<id>.json, executing/<id>.json and the engine's other JSON files."""
CONFIG_CAP = 4 * MIB
"""lane-config.yaml (and its overlay)."""
WIKI_CAP = 4 * MIB
"""ops-wiki pages (checkpoint.md, index.md, log.md, ...) and the checkpoint header."""
DOC_CAP = 1 * MIB
"""a mail, a task file, an ADR."""
LINE_CAP = 1 * MIB
"""one line of a JSON-lines log (events.jsonl, lane-restarts.jsonl): the log itself is streamed."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class ProjectFileError(OSError):
    """A project file that is not read: not a regular file, or larger than its cap.

    `str()` is one line naming the path and what is wrong; `.strerror` is the what alone.
    """

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class ProjectDirectoryError(ProjectFileError, IsADirectoryError):
    """The path is a directory (an IsADirectoryError too, as open() would have raised)."""


def what_is(mode: int) -> str | None:
    """None for a regular file, else what the file is ("a FIFO (named pipe)", "a character device"...)."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def open_project_file(path: str | os.PathLike[str], cap: int | None = None) -> BinaryIO:
    """The file opened for binary reading; ProjectFileError when it is not a regular file or, with a
    `cap`, is larger than `cap` bytes. FileNotFoundError and other OSErrors as open() raises them.

    For streaming (events.jsonl): the caller reads as much as it wants.
    """
    return os.fdopen(_open_fd(path, cap), "rb")


def _open_fd(path: str | os.PathLike[str], cap: int | None) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO and stat.S_ISSOCK(os.stat(path).st_mode):
            # open() of a socket fails with "No such device or address": say what it is
            raise ProjectFileError(errno.EINVAL, "is a socket, not a regular file", os.fspath(path)) from None
        raise
    try:
        st = os.fstat(fd)
        kind = what_is(st.st_mode)
        if kind is not None:
            cls = ProjectDirectoryError if stat.S_ISDIR(st.st_mode) else ProjectFileError
            code = errno.EISDIR if cls is ProjectDirectoryError else errno.EINVAL
            raise cls(code, f"is {kind}, not a regular file", os.fspath(path))
        if cap is not None and st.st_size > cap:
            raise ProjectFileError(errno.EFBIG, f"larger than {cap} bytes, not read", os.fspath(path))
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_project_append(path: str | os.PathLike[str], flags: int = os.O_WRONLY) -> int:
    """A descriptor appending to the file (created 0644 when missing), refused (ProjectFileError) unless it
    is a regular file: opening a FIFO with no reader for writing would block forever, and a line written
    into a FIFO or a device is lost. `flags`: os.O_WRONLY, or os.O_RDWR for an appender that reads the tail.
    """
    extra = os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_APPEND | os.O_CREAT | extra, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO without a reader, a socket, a folder
            mode = os.stat(path).st_mode
            cls = ProjectDirectoryError if stat.S_ISDIR(mode) else ProjectFileError
            what = what_is(mode) or "a regular file"
            raise cls(exc.errno, f"is {what}, not a regular file", os.fspath(path)) from None
        raise
    try:
        kind = what_is(os.fstat(fd).st_mode)
        if kind is not None:
            raise ProjectFileError(errno.EINVAL, f"is {kind}, not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_project_file(path: str | os.PathLike[str], cap: int) -> bytes:
    """The whole file's bytes, when it is a regular file of at most `cap` bytes; ProjectFileError when
    it is not (a FIFO, a device, a socket, a directory, too large); other OSErrors as open() raises them."""
    with open_project_file(path, cap) as fh:
        raw = fh.read(cap + 1)
    if len(raw) > cap:  # grew after the fstat
        raise ProjectFileError(errno.EFBIG, f"larger than {cap} bytes, not read", os.fspath(path))
    return raw


def read_project_text(path: str | os.PathLike[str], cap: int, errors: str = "strict") -> str:
    """read_project_file decoded as UTF-8, newlines universal (as Path.read_text reads them);
    UnicodeDecodeError when it is not UTF-8 and `errors` is "strict"."""
    text = read_project_file(path, cap).decode("utf-8", errors)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_project_head(path: str | os.PathLike[str], size: int, cap: int | None = None) -> bytes:
    """The first `size` bytes of a regular file (a mail's frontmatter), refused as open_project_file
    refuses."""
    fd = _open_fd(path, cap)  # no file object: thousands of mail heads are read per refresh
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def project_lines(fh: BinaryIO, cap: int = LINE_CAP) -> Iterator[bytes | None]:
    """The lines of a streamed JSON-lines file, each at most `cap` bytes; a longer one is yielded as
    None (its bytes are skipped, never held), so a reader can report it and go on."""
    while True:
        line = fh.readline(cap + 1)
        if not line:
            return
        if len(line) > cap and not line.endswith(b"\n"):
            while True:  # skip the rest of the over-long line
                more = fh.readline(cap + 1)
                if not more or more.endswith(b"\n"):
                    break
            yield None
        else:
            yield line
