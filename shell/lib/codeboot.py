"""codeboot: start lib/codecache.py from its own cached code (stdlib only).

    python3 -S -c "$LOOP_CODEBOOT" LIB_DIR CACHE_DIR MODULE[,MODULE...] [ARG...]    (common.sh)
    python3 -S codeboot.py CACHE_DIR MODULE[,MODULE...] [ARG...]    (the arguments of codecache.py)

Python compiles the script it is given from source on every run, and the first compile in a process
is the dearest: for codecache.py's 130 lines that was ~2.5 ms of CPU on every loop-lane-status poll,
more than loading every module it runs. The hot CLIs therefore import this file (common.sh's
LOOP_CODEBOOT: a one-line `python -c` that puts LIB_DIR first on sys.path, instead of the current
directory a lane can write into), so python reuses its bytecode and compiles only those lines. That
bytecode is kept in CACHE_DIR/boot once CACHE_DIR is a private folder of ours (the program sets
sys.pycache_prefix for this one import), so neither PYTHONDONTWRITEBYTECODE nor a lib/ we cannot write
makes every call compile this file (~3.5 ms); before that folder exists, python's own rule applies
(lib/__pycache__). Run as a script it works the same. It reads codecache's code from CACHE_DIR
with codecache's own checks (a file of ours that nobody else can write, headed by the source's path,
mtime, size and the interpreter) and hands over to codecache.run. On a miss it compiles codecache.py
and stores it for the next run, as codecache does for the modules it loads.
"""

import marshal
import posix
import sys


def boot(argv: "list[str]") -> None:
    """codecache.run(argv) (argv: CACHE_DIR MODULE[,MODULE...] [ARG...]), with lib/ first on sys.path."""
    cache_dir = argv[0] if argv else ""
    src = sys.path[0] + "/codecache.py"
    try:
        st = posix.stat(src)
    except OSError as exc:
        sys.stderr.write(f"codeboot: cannot load codecache: {exc}\n")
        posix._exit(1)
    key = f"codecache1\0{src}\0{st.st_mtime_ns}\0{st.st_size}\0{sys.hexversion}\n".encode(
        "utf-8", "surrogateescape"
    )
    # one file per lib/ folder, named as codecache names its modules' (its _folder_tag: 32-bit FNV-1a of
    # the folder's path), so two installs sharing the cache directory keep their own copies
    tag = 0x811C9DC5
    for byte in sys.path[0].encode("utf-8", "surrogateescape"):
        tag = ((tag ^ byte) * 0x01000193) & 0xFFFFFFFF
    path = f"{cache_dir}/codecache.{tag:08x}.{sys.implementation.cache_tag}.code"
    code = None
    data = b""
    try:
        fd = posix.open(path, posix.O_RDONLY | getattr(posix, "O_NOFOLLOW", 0))
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            info = posix.fstat(fd)
            # codecache._cached's rule: only trust a file we wrote and nobody else can change
            if info.st_uid == posix.getuid() and not info.st_mode & 0o022 and info.st_size < 1 << 20:
                data = posix.read(fd, info.st_size + 1)
        except OSError:
            data = b""
        finally:
            posix.close(fd)
    if data.startswith(key):
        try:
            code = marshal.loads(data[len(key) :])
        except (EOFError, ValueError, TypeError):
            code = None
    module = type(sys)("codecache")
    module.__file__ = src
    sys.modules["codecache"] = module
    if code is None:
        with open(src, "rb") as fh:
            code = compile(fh.read(), src, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # our own source
        if cache_dir:
            module._store(cache_dir, path, key, code)
    else:
        exec(code, module.__dict__)  # our own module's code, from a file only we can write
    module.run(argv)


if __name__ == "__main__":
    # sys.path[0] is this file's directory (symlinks resolved): codecache and the modules are neighbours
    boot(sys.argv[1:])
