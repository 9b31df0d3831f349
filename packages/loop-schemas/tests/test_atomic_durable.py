"""atomic_write's `durable`: the default fsyncs the file and its folder; durable=False only renames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from loop_schemas import atomic_write


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_a_durable_write_fsyncs_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_fsyncs(monkeypatch)
    atomic_write(tmp_path / "f.json", "{}\n")
    assert len(calls) == 2
    assert (tmp_path / "f.json").read_text() == "{}\n"


def test_a_non_durable_write_is_still_atomic_and_fsyncs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.json"
    target.write_text("old\n")
    target.chmod(0o600)
    calls = _count_fsyncs(monkeypatch)
    atomic_write(target, "new\n", durable=False)
    assert calls == []
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left
