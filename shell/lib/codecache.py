"""codecache: run a shell/lib helper's main() from a private bytecode cache (stdlib only).

    python3 -S codecache.py CACHE_DIR MODULE[,MODULE...] [ARG...]

Loads each named module of this directory in order (a later one may import an earlier one), then exits
with the last one's main([ARG...]). The compiled code of each module is kept in CACHE_DIR (a private
directory, mode 0700) as one file: a header naming the source, its mtime, size and the interpreter,
then the marshalled code. A stale, foreign or damaged cache file is recompiled from the source.

Why not the import system: the hot CLIs (loop-lane-status, loop-dispatch) must not write __pycache__
beside an installed shell/lib, and Python's own redirect (-X pycache_prefix) also moves the stdlib's
start-up modules there, where they are never written back: that cost ~3 ms on every poll. The same
reason makes the exit a flush plus os._exit: tearing down the interpreter costs more than the work.
"""

import marshal
import posix  # not os: importing os costs ~1 ms, more than everything else here
import sys


def _cached(path: str, key: bytes) -> object:
    """The code object stored at path under key, or None (missing, stale, not ours, unreadable)."""
    try:
        fd = posix.open(path, posix.O_RDONLY | getattr(posix, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = posix.fstat(fd)
        if st.st_uid != posix.getuid() or st.st_mode & 0o022:
            return None  # only trust a file we wrote and nobody else can change
        chunks = []
        while True:
            chunk = posix.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        posix.close(fd)
    data = b"".join(chunks)
    if not data.startswith(key):
        return None
    try:
        return marshal.loads(data[len(key) :])
    except (EOFError, ValueError, TypeError):
        return None


def _mkdir(directory: str) -> None:
    """Make directory (mode 0700) and, if missing, its parent."""
    for path in (directory.rstrip("/").rpartition("/")[0], directory):
        if path:
            try:  # noqa: SIM105 (contextlib costs an import on the hot path)
                posix.mkdir(path, 0o700)
            except FileExistsError:
                pass


def _store(cache_dir: str, path: str, key: bytes, code: object) -> None:
    """Write the cache file atomically; any failure only means the next run compiles again."""
    tmp = f"{path}.{posix.getpid()}.tmp"
    try:
        _mkdir(cache_dir)
        fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL, 0o600)
        try:
            posix.write(fd, key + marshal.dumps(code))
        finally:
            posix.close(fd)
        posix.replace(tmp, path)
    except OSError:
        try:  # noqa: SIM105 (contextlib costs an import on the hot path)
            posix.unlink(tmp)
        except OSError:
            pass


def _folder_tag(folder: str) -> str:
    """A stable short name of a lib/ folder (32-bit FNV-1a of its path; hashlib costs an import)."""
    h = 0x811C9DC5
    for byte in folder.encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def load(cache_dir: str, name: str) -> object:
    """Import lib/<name>.py as module `name` (sys.modules) from the cache, compiling it when needed."""
    src = f"{sys.path[0]}/{name}.py"
    st = posix.stat(src)
    header = f"codecache1\0{src}\0{st.st_mtime_ns}\0{st.st_size}\0{sys.hexversion}\n"
    key = header.encode("utf-8", "surrogateescape")
    # one file per source folder: two installs (a checkout and a wheel, two versions) sharing the cache
    # directory keep their own code instead of recompiling over each other's on every call
    path = f"{cache_dir}/{name}.{_folder_tag(sys.path[0])}.{sys.implementation.cache_tag}.code"
    code = _cached(path, key)
    if code is None:
        with open(src, "rb") as fh:
            code = compile(fh.read(), src, "exec", dont_inherit=True)
        _store(cache_dir, path, key, code)
    module = type(sys)(name)
    module.__file__ = src
    sys.modules[name] = module
    exec(code, module.__dict__)  # our own module's code, from a file only we can write
    return module


def main(argv: "list[str]") -> int:
    if len(argv) < 2 or not argv[1]:
        sys.stderr.write("usage: codecache.py CACHE_DIR MODULE[,MODULE...] [ARG...]\n")
        return 2
    cache_dir, names = argv[0], argv[1].split(",")
    module = None
    for name in names:
        try:
            module = load(cache_dir, name)
        except (OSError, SyntaxError) as exc:
            sys.stderr.write(f"codecache: cannot load {name}: {exc}\n")
            return 1
    entry = getattr(module, "main")  # noqa: B009 (the module object is untyped here)
    return int(entry(argv[2:]))


def run(argv: "list[str]") -> None:
    """main(argv), then the exit: flush, and os._exit (tearing the interpreter down costs more than the
    work). Never returns. codeboot.py, the small entry the hot CLIs start, ends here too."""
    try:
        rc = main(argv)
    except KeyboardInterrupt:
        rc = 130
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            rc = exc.code or 0
        else:
            sys.stderr.write(f"{exc.code}\n")
            rc = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            rc = rc or 1
    posix._exit(rc)


if __name__ == "__main__":
    # sys.path[0] is this file's directory (symlinks resolved): the modules are its neighbours
    run(sys.argv[1:])
