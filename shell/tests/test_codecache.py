"""lib/codecache.py: helpers run from a private bytecode cache that is rebuilt when stale, damaged or
not trustworthy, and never written beside the source."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"

TOY = """
import sys

def main(argv):
    sys.stdout.write("toy says " + " ".join(argv) + "\\n")
    return int(argv[0]) if argv and argv[0].isdigit() else 0
"""


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(LIB / "codecache.py", lib / "codecache.py")
    (lib / "toy.py").write_text(TOY)
    return lib, tmp_path / "cache" / "code"


def _run(lib: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", str(lib / "codecache.py"), str(cache), "toy", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _cache_file(cache: Path) -> Path:
    files = list(cache.glob("toy.*.code"))
    assert len(files) == 1, files
    return files[0]


def test_runs_main_with_its_exit_code_and_caches_privately(tmp_path: Path) -> None:
    lib, cache = _setup(tmp_path)
    proc = _run(lib, cache, "3", "a b")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "toy says 3 a b\n", "")
    cached = _cache_file(cache)
    assert cached.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    assert not (lib / "__pycache__").exists()
    before = cached.stat().st_mtime_ns
    assert _run(lib, cache, "0").stdout == "toy says 0\n"
    assert cached.stat().st_mtime_ns == before  # the second run read the cache, wrote nothing


def test_a_changed_source_is_recompiled(tmp_path: Path) -> None:
    lib, cache = _setup(tmp_path)
    _run(lib, cache)
    (lib / "toy.py").write_text(TOY.replace("toy says", "toy now says"))
    assert _run(lib, cache, "x").stdout == "toy now says x\n"


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path) -> None:
    lib, cache = _setup(tmp_path)
    _run(lib, cache)
    cached = _cache_file(cache)
    key = cached.read_bytes().partition(b"\n")[0] + b"\n"
    cached.write_bytes(key + b"\x00garbage")
    proc = _run(lib, cache, "y")
    assert (proc.returncode, proc.stdout) == (0, "toy says y\n")
    assert cached.read_bytes() != key + b"\x00garbage"


def test_only_a_file_nobody_else_can_write_is_trusted(tmp_path: Path) -> None:
    lib, cache = _setup(tmp_path)
    _run(lib, cache)
    cached = _cache_file(cache)
    key = cached.read_bytes().partition(b"\n")[0] + b"\n"
    planted = compile("def main(argv):\n    print('planted code ran')\n    return 0\n", "toy", "exec")
    cached.write_bytes(key + marshal.dumps(planted))
    os.chmod(cached, 0o666)
    assert _run(lib, cache).stdout == "toy says \n"  # world-writable: ignored and rebuilt
    cached.write_bytes(key + marshal.dumps(planted))
    os.chmod(cached, 0o600)
    # the same bytes in a private file are used: the permission check is what kept them out above
    assert _run(lib, cache).stdout == "planted code ran\n"


def test_usage_and_a_missing_module(tmp_path: Path) -> None:
    lib, cache = _setup(tmp_path)
    usage = subprocess.run(
        [sys.executable, "-S", str(lib / "codecache.py"), str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr
    missing = subprocess.run(
        [sys.executable, "-S", str(lib / "codecache.py"), str(cache), "nosuch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "nosuch.py" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1


def test_two_installs_sharing_the_cache_keep_their_own_code(tmp_path: Path) -> None:
    """A checkout's lib/ and an installed one (or two versions) use one cache directory: each keeps its
    own file, so alternating between them reads the cache instead of recompiling every time."""
    lib_a, cache = _setup(tmp_path)
    lib_b = tmp_path / "other" / "lib"
    lib_b.parent.mkdir()
    shutil.copytree(lib_a, lib_b)
    (lib_b / "toy.py").write_text(TOY.replace("toy says", "other toy says"))
    assert _run(lib_a, cache, "1").stdout == "toy says 1\n"
    assert _run(lib_b, cache, "2").stdout == "other toy says 2\n"
    files = sorted(cache.glob("toy.*.code"))
    assert len(files) == 2, files
    stamps = [f.stat().st_mtime_ns for f in files]
    assert _run(lib_a, cache, "3").stdout == "toy says 3\n"
    assert _run(lib_b, cache, "4").stdout == "other toy says 4\n"
    assert [f.stat().st_mtime_ns for f in files] == stamps  # both read, neither rewritten


# ---- lib/codeboot.py: the entry the hot CLIs start, so python compiles only its few lines per call ----
def _boot_setup(tmp_path: Path) -> tuple[Path, Path]:
    lib, cache = _setup(tmp_path)
    shutil.copy(LIB / "codeboot.py", lib / "codeboot.py")
    return lib, cache


def _boot(lib: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", str(lib / "codeboot.py"), str(cache), "toy", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _codecache_file(cache: Path) -> Path:
    files = list(cache.glob("codecache.*.code"))
    assert len(files) == 1, files
    return files[0]


def test_codeboot_runs_codecache_from_its_own_cached_code(tmp_path: Path) -> None:
    lib, cache = _boot_setup(tmp_path)
    proc = _boot(lib, cache, "4", "b")
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "toy says 4 b\n", "")
    own = _codecache_file(cache)
    assert own.stat().st_mode & 0o777 == 0o600 and not (lib / "__pycache__").exists()
    before = (own.stat().st_mtime_ns, _cache_file(cache).stat().st_mtime_ns)
    assert _boot(lib, cache, "0").stdout == "toy says 0\n"
    assert (own.stat().st_mtime_ns, _cache_file(cache).stat().st_mtime_ns) == before
    # what runs is the cached code, not codecache.py compiled again: a private file of ours is used
    key = own.read_bytes().partition(b"\n")[0] + b"\n"
    planted = (
        "import sys\n"
        "def run(argv):\n"
        "    sys.stdout.write('cached codecache ran\\n')\n"
        "    sys.stdout.flush()\n"
    )
    own.write_bytes(key + marshal.dumps(compile(planted, "codecache", "exec")))
    assert _boot(lib, cache).stdout == "cached codecache ran\n"


def test_codeboot_trusts_only_a_private_current_cache_file(tmp_path: Path) -> None:
    lib, cache = _boot_setup(tmp_path)
    _boot(lib, cache)
    own = _codecache_file(cache)
    key = own.read_bytes().partition(b"\n")[0] + b"\n"
    planted = compile("def run(argv):\n    print('planted code ran')\n", "codecache", "exec")
    own.write_bytes(key + marshal.dumps(planted))
    os.chmod(own, 0o666)
    assert _boot(lib, cache, "x").stdout == "toy says x\n"  # world-writable: ignored, rebuilt
    assert own.stat().st_mode & 0o777 == 0o600
    own.write_bytes(b"\x00garbage")
    assert _boot(lib, cache, "y").stdout == "toy says y\n"  # damaged: rebuilt
    # a changed codecache.py is compiled again (its path, mtime and size head the cache file)
    source = (lib / "codecache.py").read_text()
    (lib / "codecache.py").write_text(source.replace("def main(argv", "def main(argv", 1) + "\n# changed\n")
    assert _boot(lib, cache, "z").stdout == "toy says z\n"
    assert (
        _codecache_file(cache).read_bytes().startswith(b"codecache1\0" + str(lib / "codecache.py").encode())
    )


def test_codeboot_usage_and_errors_are_codecaches(tmp_path: Path) -> None:
    lib, cache = _boot_setup(tmp_path)
    usage = subprocess.run(
        [sys.executable, "-S", str(lib / "codeboot.py"), str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr
    missing = subprocess.run(
        [sys.executable, "-S", str(lib / "codeboot.py"), str(cache), "nosuch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "nosuch.py" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize(
    ("script", "modules"),
    [
        ("loop-lane-status.sh", "fsread,lane_status"),
        ("loop-dispatch.sh", "fsread,lane_status,dispatch"),
        ("loop-tmux.sh", "lane_list"),
    ],
)
def test_the_hot_clis_start_codeboot(tmp_path: Path, script: str, modules: str) -> None:
    """loop-lane-status, loop-dispatch and list-lanes (the engine's every cycle) start python on
    lib/codeboot.py, which compiles a few lines, not lib/codecache.py's 130 on every call."""
    seen = tmp_path / "argv"
    fake = tmp_path / "python3"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > "{seen}"\n')  # NUL-separated: the program has lines
    fake.chmod(0o755)
    args = {
        "loop-lane-status.sh": ["--json", "--all", "s"],
        "loop-dispatch.sh": ["--session", "s", "lane", "hello"],
        "loop-tmux.sh": ["list-lanes", "--session", "s"],
    }[script]
    env = dict(os.environ, LOOP_PYTHON=str(fake), LOOP_LANE_STATUS_CACHE_DIR=str(tmp_path / "c"))
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    env.pop("TMUX", None)
    subprocess.run(
        ["bash", str(LIB.parent / script), *args], env=env, capture_output=True, check=False, timeout=60
    )
    argv = seen.read_text().split("\0")
    cache = str(tmp_path / "c" / "code")
    assert argv[:6] == ["-S", "-c", _codeboot_program(), str(LIB), cache, modules], argv


def _codeboot_program() -> str:
    """common.sh's LOOP_CODEBOOT: the `python -S -c` program the hot CLIs start lib/codeboot.py with."""
    proc = subprocess.run(
        ["bash", "-c", '. "$1/common.sh" && printf %s "$LOOP_CODEBOOT"', "bash", str(LIB)],
        env=dict(os.environ, LOOP_LIB_DIR=str(LIB)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("import sys"), proc
    return proc.stdout


def test_codeboot_is_imported_from_lib_with_its_bytecode_never_from_the_cwd(tmp_path: Path) -> None:
    """The hot CLIs import codeboot (python reuses a module's bytecode; a script it runs is compiled on
    every call), from lib/ only: the current directory (a project a lane writes into) is off sys.path, so
    a codeboot.py or a stdlib name planted there is never imported."""
    lib, cache = _boot_setup(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("codeboot", "codecache", "toy", "posix", "marshal"):
        (project / f"{name}.py").write_text("import sys\nsys.stdout.write('planted\\n')\nsys.exit(99)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}

    def boot(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-S", "-c", _codeboot_program(), str(lib), str(cache), "toy", *args]
        return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, check=False)

    proc = boot("5", "b")
    assert (proc.returncode, proc.stdout, proc.stderr) == (5, "toy says 5 b\n", "")
    # no cache folder yet: python's own rule, lib/__pycache__ (codecache and the helpers never go there)
    assert [p.name.split(".")[0] for p in (lib / "__pycache__").iterdir()] == ["codeboot"]
    assert boot("0").stdout == "toy says 0\n"
    compiled = _boot_bytecode(lib, cache)
    assert compiled.is_file()  # now the private cache folder exists: codeboot's bytecode is kept there
    stamp = compiled.stat().st_mtime_ns
    assert boot("1").stdout == "toy says 1\n"
    assert compiled.stat().st_mtime_ns == stamp  # the next call read it


def _boot_bytecode(lib: Path, cache: Path) -> Path:
    """Where python keeps codeboot's bytecode under the private cache (CACHE_DIR/boot as pycache_prefix)."""
    tag = sys.implementation.cache_tag
    return cache / "boot" / str(lib).lstrip(os.sep) / f"codeboot.{tag}.pyc"


def _plant_boot_bytecode(lib: Path, cache: Path) -> Path:
    """A valid bytecode file for lib/codeboot.py's current mtime and size that prints 'planted boot'."""
    import importlib.util
    import struct

    st = (lib / "codeboot.py").stat()
    code = compile("import sys\ndef boot(argv):\n    print('planted boot')\n", "codeboot", "exec")
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, int(st.st_mtime) & 0xFFFFFFFF, st.st_size)
    target = _boot_bytecode(lib, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(header + marshal.dumps(code))
    return target


def _program_boot(lib: Path, cache: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs common.sh's LOOP_CODEBOOT program on `lib` and `cache` (the toy module) as the hot CLIs do,
    under PYTHONDONTWRITEBYTECODE=1 (no other PYTHON* variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"

    def boot(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-S", "-c", _codeboot_program(), str(lib), str(cache), "toy", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)

    return boot


def test_codeboot_is_never_compiled_twice_even_where_python_keeps_no_bytecode(tmp_path: Path) -> None:
    """Under PYTHONDONTWRITEBYTECODE (or from a lib/ the user cannot write: a shared install) python
    would compile codeboot on every call (~3.5 ms of each poll): its bytecode is kept in the private
    cache folder instead, and read from there."""
    lib, cache = _boot_setup(tmp_path)
    boot = _program_boot(lib, cache)

    assert boot("2").stdout == "toy says 2\n"  # makes the cache folder
    assert boot("3").stdout == "toy says 3\n"
    assert not (lib / "__pycache__").exists()
    compiled = _boot_bytecode(lib, cache)
    stamp = compiled.stat().st_mtime_ns
    assert boot("4").stdout == "toy says 4\n" and compiled.stat().st_mtime_ns == stamp
    _plant_boot_bytecode(lib, cache)  # what runs is that file's code, not codeboot.py compiled again
    assert boot().stdout == "planted boot\n"


def test_codeboot_bytecode_is_read_only_from_a_private_cache_folder(tmp_path: Path) -> None:
    """A cache folder another account could write (group/world-writable, or not ours) is not a place
    python may take codeboot's bytecode from: its rule then is python's own (lib/__pycache__ or none)."""
    lib, cache = _boot_setup(tmp_path)
    boot = _program_boot(lib, cache)

    assert boot("1").stdout == "toy says 1\n"
    _plant_boot_bytecode(lib, cache)
    assert boot().stdout == "planted boot\n"  # the control: a private folder's bytecode is read
    for mode in (0o770, 0o707):
        cache.chmod(mode)
        assert boot("2").stdout == "toy says 2\n", oct(mode)
    cache.chmod(0o700)
    # a symlink to a private folder is not taken either (lstat: the link itself is not a folder)
    link = tmp_path / "link"
    link.symlink_to(cache)
    assert _program_boot(lib, link)("3").stdout == "toy says 3\n"


def test_codeboot_without_codecache_is_one_line(tmp_path: Path) -> None:
    lib, cache = _boot_setup(tmp_path)
    (lib / "codecache.py").unlink()
    proc = _boot(lib, cache)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("codeboot: cannot load codecache:") and len(proc.stderr.splitlines()) == 1


def test_codeboot_keeps_one_codecache_copy_per_lib_folder(tmp_path: Path) -> None:
    """Two installs sharing the cache directory each keep their own codecache code: alternating between
    them reads both files instead of recompiling over each other on every call."""
    lib_a, cache = _boot_setup(tmp_path)
    lib_b = tmp_path / "other" / "lib"
    lib_b.parent.mkdir()
    shutil.copytree(lib_a, lib_b)
    assert _boot(lib_a, cache, "1").stdout == "toy says 1\n"
    assert _boot(lib_b, cache, "2").stdout == "toy says 2\n"
    own = sorted(cache.glob("codecache.*.code"))
    assert len(own) == 2, own
    stamps = [f.stat().st_mtime_ns for f in own]
    assert _boot(lib_a, cache, "3").stdout == "toy says 3\n"
    assert _boot(lib_b, cache, "4").stdout == "toy says 4\n"
    assert [f.stat().st_mtime_ns for f in own] == stamps


def test_the_fleet_question_starts_python_before_common_sh_with_the_usual_command(tmp_path: Path) -> None:
    """`loop-lane-status --json --all S` (what the engine and the daemon poll) execs python without
    reading common.sh or parsing its arguments, with the very command the usual path builds for the same
    question asked another way (`--all --json S`)."""
    shell = tmp_path / "shell"
    shutil.copytree(LIB.parent, shell, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    seen = tmp_path / "argv"
    fake = tmp_path / "python3"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > "{seen}"\n')
    fake.chmod(0o755)
    cache = tmp_path / "c"
    env = dict(os.environ, LOOP_PYTHON=str(fake), LOOP_LANE_STATUS_CACHE_DIR=str(cache))
    env.pop("TMUX", None)
    env.pop("LOOP_LANE_STATUS_NO_CACHE", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        seen.unlink(missing_ok=True)
        script = str(shell / "loop-lane-status.sh")
        argv = ["bash", script, *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)

    def argv(*args: str) -> list[str]:
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
        return seen.read_text().split("\0")[:-1]  # each argument ends in a NUL

    usual = argv("--all", "--json", "s")
    assert argv("--json", "--all", "s") == usual
    assert usual[6:] == ["status", "--session", "s", "--all", "--json", "--prefetch-file", usual[-1]]
    # common.sh is not read on that path: a common.sh that cannot be sourced breaks only the others
    (shell / "lib" / "common.sh").write_text("echo 'common.sh was read' >&2; exit 9\n")
    assert argv("--json", "--all", "s") == usual
    broken = run("--all", "--json", "s")
    assert broken.returncode == 9 and "common.sh was read" in broken.stderr
