"""Fixtures for loop-pm's unit tests (the in-memory adapter lives in pm_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pm_fakes import MemoryAdapter, Remote


@pytest.fixture(autouse=True)
def no_listing_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests that fake entry points (plugins.entry_points) see their fakes: the cache of the real
    listing (loop_pm.entrycache) is off unless a test turns it on (tests/test_entrycache.py)."""
    from loop_pm import entrycache

    monkeypatch.setattr(entrycache, "CACHE_DIR", None)


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
