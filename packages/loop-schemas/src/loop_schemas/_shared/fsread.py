"""fsread.py: read a project file safely (stdlib only, python 3.8+): a regular file, never blocking, capped.

Every helper in shell/lib that reads a file of the operated project (the state file, mail, tasks, ADRs,
lane-config.yaml, ops-wiki pages, the engine's pending decision, JSON-lines logs) goes through here. A
lane can put anything at those paths: a FIFO would hang the reader forever, a symlink to /dev/zero would
fill memory. So a file is opened with O_NONBLOCK and O_NOCTTY (a FIFO opens at once), fstat'ed, and refused
unless it is a regular file (a symlink to one is fine); a regular file over its kind's cap is refused
before a byte is read. The refusal is a ProjectFileError, an OSError (IsADirectoryError for a folder),
whose strerror says what the file is.

This file is the one source: loop-schemas carries a byte-identical copy (loop_schemas/_shared/fsread.py,
refreshed by `make shared`, held identical by a test) behind loop_schemas.fsread. Only `posix` and
`errno` are imported: lane_status.py runs on every poll, and importing os costs.
"""

import errno
import posix

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on lane_status's hot path; annotations are strings here
    from os import PathLike
    from typing import IO, Iterator, Optional, Union

    PathArg = Union[str, PathLike[str]]

KIB = 1024
MIB = 1024 * KIB

# The caps, per kind of file (CONTRACT.md "Project files are read safely"); the same as loop_schemas.fsread.
STATE_CAP = 64 * MIB
ENGINE_CAP = 4 * MIB
CONFIG_CAP = 4 * MIB
WIKI_CAP = 4 * MIB
DOC_CAP = 1 * MIB
LINE_CAP = 1 * MIB

_IFMT = 0o170000
_IFREG = 0o100000
_KINDS = (
    (0o040000, "a directory"),
    (0o010000, "a FIFO (named pipe)"),
    (0o020000, "a character device"),
    (0o060000, "a block device"),
    (0o140000, "a socket"),
)
_FLAGS = posix.O_RDONLY | posix.O_NONBLOCK | getattr(posix, "O_NOCTTY", 0) | getattr(posix, "O_CLOEXEC", 0)


class ProjectFileError(OSError):
    """A project file that is not read: not a regular file, or larger than its cap."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class ProjectDirectoryError(ProjectFileError, IsADirectoryError):
    """The path is a directory (an IsADirectoryError too, as open() would have raised)."""


def what_is(mode: int) -> "Optional[str]":
    """None for a regular file, else what the file is ("a FIFO (named pipe)", "a character device"...)."""
    fmt = mode & _IFMT
    if fmt == _IFREG:
        return None
    for bits, name in _KINDS:
        if fmt == bits:
            return name
    return "not a regular file"


def open_file(path: "PathArg", cap: "Optional[int]" = None) -> "IO[bytes]":
    """The file opened for binary reading; ProjectFileError when it is not a regular file or, with a
    `cap`, is larger than `cap` bytes. FileNotFoundError and other OSErrors as open() raises them."""
    return open(_open_fd(path, cap), "rb")


def _open_fd(path: "PathArg", cap: "Optional[int]") -> int:
    try:
        fd = posix.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENXIO and posix.stat(path).st_mode & _IFMT == 0o140000:
            # open() of a socket fails with "No such device or address": say what it is
            raise ProjectFileError(errno.EINVAL, "is a socket, not a regular file", str(path)) from None
        raise
    try:
        st = posix.fstat(fd)
    except BaseException:
        posix.close(fd)
        raise
    if st.st_mode & _IFMT == _IFREG and (cap is None or st.st_size <= cap):
        return fd  # the common case, kept short: the digest opens thousands of mails per redraw
    try:
        kind = what_is(st.st_mode)
        if kind is not None:
            if st.st_mode & _IFMT == 0o040000:
                raise ProjectDirectoryError(errno.EISDIR, f"is {kind}, not a regular file", str(path))
            raise ProjectFileError(errno.EINVAL, f"is {kind}, not a regular file", str(path))
        if cap is not None and st.st_size > cap:
            raise ProjectFileError(errno.EFBIG, f"larger than {cap} bytes, not read", str(path))
        return fd
    except BaseException:
        posix.close(fd)
        raise


def open_append(path: "PathArg", flags: int = posix.O_WRONLY) -> int:
    """A descriptor appending to the file (created 0644 when missing), refused (ProjectFileError) unless it
    is a regular file: opening a FIFO with no reader for writing would block forever, and a line written
    into a FIFO or a device is lost. `flags`: posix.O_WRONLY, or posix.O_RDWR for an appender that reads."""
    extra = posix.O_NONBLOCK | getattr(posix, "O_NOCTTY", 0) | getattr(posix, "O_CLOEXEC", 0)
    try:
        fd = posix.open(path, flags | posix.O_APPEND | posix.O_CREAT | extra, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO without a reader, a socket, a folder
            mode = posix.stat(path).st_mode
            cls = ProjectDirectoryError if mode & _IFMT == 0o040000 else ProjectFileError
            what = what_is(mode) or "a regular file"
            raise cls(exc.errno, f"is {what}, not a regular file", str(path)) from None
        raise
    try:
        kind = what_is(posix.fstat(fd).st_mode)
        if kind is not None:
            raise ProjectFileError(errno.EINVAL, f"is {kind}, not a regular file", str(path))
        posix.set_blocking(fd, True)
        return fd
    except BaseException:
        posix.close(fd)
        raise


def read_file(path: "PathArg", cap: int) -> bytes:
    """The whole file's bytes, when it is a regular file of at most `cap` bytes; ProjectFileError when it
    is not (a FIFO, a device, a socket, a directory, too large); other OSErrors as open() raises them."""
    with open_file(path, cap) as fh:
        raw = fh.read(cap + 1)
    if len(raw) > cap:  # grew after the fstat
        raise ProjectFileError(errno.EFBIG, f"larger than {cap} bytes, not read", str(path))
    return raw


def read_text(path: "PathArg", cap: int, errors: str = "strict") -> str:
    """read_file decoded as UTF-8, newlines universal (as open(path, encoding="utf-8").read() reads them)."""
    text = read_file(path, cap).decode("utf-8", errors)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_head(path: "PathArg", size: int, cap: "Optional[int]" = None) -> bytes:
    """The first `size` bytes of a regular file (a mail's frontmatter), refused as open_file refuses."""
    fd = _open_fd(path, cap)  # no file object: the digest reads thousands of mail heads per redraw
    try:
        return posix.read(fd, size)
    finally:
        posix.close(fd)


def lines(fh: "IO[bytes]", cap: int = LINE_CAP) -> "Iterator[Optional[bytes]]":
    """The lines of a streamed JSON-lines file, each at most `cap` bytes; a longer one is yielded as None
    (its bytes are skipped, never held), so a reader can report it and go on."""
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
