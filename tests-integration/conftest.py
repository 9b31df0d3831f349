"""Fixtures for cross-package tests (the shared code is in live_session.py, on pytest's pythonpath)."""

from live_session import live

__all__ = ["live"]
