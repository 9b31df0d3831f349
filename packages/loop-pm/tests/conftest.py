"""Fixtures for loop-pm's unit tests (the in-memory adapter lives in pm_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pm_fakes import MemoryAdapter, Remote


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks").mkdir()
    return tmp_path


@pytest.fixture
def remote() -> Remote:
    return Remote()


@pytest.fixture
def adapter(remote: Remote) -> MemoryAdapter:
    return MemoryAdapter(remote)
