"""lib/codecache.py: helpers run from a private bytecode cache that is rebuilt when stale, damaged or
not trustworthy, and never written beside the source."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
