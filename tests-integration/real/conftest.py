"""Fixtures of the real-agent conformance suite: one stub, one HOME, one tmux server per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from real_agents import RealSession, start_session


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealSession]:
    rs = start_session(tmp_path)
    try:
        yield rs
    finally:
        rs.close()
