"""The stateful fake Jira (fake_jira.py) as the PM tests use it: a server per test, and the environment
`loop-pm` needs to reach it (http on 127.0.0.1, so the localhost waiver is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import fake_jira
import pytest


@pytest.fixture
def jira() -> Iterator[Any]:
    server = fake_jira.FakeJiraServer().start()
    try:
        yield server
    finally:
        server.stop()


def jira_env(server: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIRA_")}
    env.update(
        JIRA_BASE_URL=server.url,
        JIRA_EMAIL=fake_jira.EMAIL,
        JIRA_API_TOKEN=fake_jira.TOKEN,
        JIRA_ALLOW_INSECURE_BASE_URL="1",
        JIRA_PROJECT_KEY="TEAM",
        JIRA_BOARD_ID="7",
    )
    env.update(extra)
    return env
