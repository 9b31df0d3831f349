"""The stale-daemon check is content-based (issue 21, section 4; T0068): `loop-engine status` says
`code: stale` when the installed engine code differs from what the daemon booted with, whatever the
files' mtimes say; a build record without `code_sha256` (an older daemon's) falls back to the mtime.
On real files: a copy of an engine package the check is pointed at."""

from __future__ import annotations

import os
from pathlib import Path

import loop_engine
import pytest
from loop_engine import watch

PID = {"pid": 4242}


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site" / "loop_engine"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text('"""engine"""\n')
    (root / "cycle.py").write_text("LIMIT = 10\n")
    (root / "sub" / "gate.py").write_text("SAFE = True\n")
    monkeypatch.setattr(loop_engine, "__file__", str(root / "__init__.py"))
    return root


def rewrite_keeping_stat(path: Path, text: str) -> None:
    """New content of the same size, the old mtime put back (cp -p, rsync -t, an unpacked archive)."""
    st = path.stat()
    assert len(text.encode()) == st.st_size
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns


def test_same_mtime_and_size_changed_content_is_stale(package: Path) -> None:
    record = watch.build_record(PID["pid"])
    assert watch.code_state(record, PID) == "current"
    rewrite_keeping_stat(package / "sub" / "gate.py", "SAFE = 0000\n")
    assert watch.code_state(record, PID) == "stale"


def test_touched_files_with_the_same_content_stay_current(package: Path) -> None:
    record = watch.build_record(PID["pid"])
    later = (package / "cycle.py").stat().st_mtime_ns + 10**9
    for path in package.rglob("*.py"):
        os.utime(path, ns=(later, later))
    assert watch.code_state(record, PID) == "current"


def test_a_record_without_code_sha256_compares_the_newest_mtime(package: Path) -> None:
    record = watch.build_record(PID["pid"])
    del record["code_sha256"]
    assert watch.code_state(record, PID) == "current"
    later = record["module_mtime_ns"] + 10**9
    os.utime(package / "cycle.py", ns=(later, later))  # a reinstall: newer files, content unread
    assert watch.code_state(record, PID) == "stale"


def test_a_record_of_another_pid_is_not_this_daemons(package: Path) -> None:
    record = watch.build_record(1)
    assert watch.code_state(record, PID) == "stale"  # nothing of its own to compare
