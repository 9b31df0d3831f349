"""Fixtures for the deck's tests (the doubles live in deck_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deck_fakes import RecordingRunner, StubSubstrate, default_fleet, write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj")


@pytest.fixture
def fleet() -> StubSubstrate:
    return default_fleet()


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
