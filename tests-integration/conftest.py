"""Fixtures for cross-package tests (the shared code is in live_session.py and jira_session.py, on
pytest's pythonpath)."""

from jira_session import jira
from live_session import live

__all__ = ["jira", "live"]
