"""Env-only settings and the base-URL rules: https, no user@, the localhost-only waiver."""

from __future__ import annotations

import pytest
from loop_pm_jira.adapter import JiraAdapter
from loop_pm_jira.config import check_base_url, settings_from_env
from loop_schemas.pm import AdapterConfigError

TOKEN = "tok-VERY-secret-123"
GOOD = {"JIRA_BASE_URL": "https://acme.atlassian.net/", "JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": TOKEN}


@pytest.mark.parametrize(
    ("url", "insecure", "expected"),
    [
        ("https://acme.atlassian.net", False, "https://acme.atlassian.net"),
        ("https://acme.atlassian.net/", False, "https://acme.atlassian.net"),
        ("https://jira.example.com:8443/jira/", False, "https://jira.example.com:8443/jira"),
        ("HTTPS://Acme.Atlassian.net", False, "https://acme.atlassian.net"),
        ("http://localhost:8080", True, "http://localhost:8080"),
        ("http://127.0.0.1:5000", True, "http://127.0.0.1:5000"),
        ("http://[::1]:5000", True, "http://[::1]:5000"),
    ],
)
def test_accepted_base_urls(url: str, insecure: bool, expected: str) -> None:
    assert check_base_url(url, allow_insecure=insecure) == expected


@pytest.mark.parametrize(
    ("url", "insecure", "needle"),
    [
        ("http://acme.atlassian.net", False, "must be https://"),
        ("http://localhost:8080", False, "JIRA_ALLOW_INSECURE_BASE_URL=1"),
        ("http://acme.atlassian.net", True, "localhost and 127.0.0.1 only"),
        ("http://10.0.0.5", True, "localhost and 127.0.0.1 only"),
        ("https://bob@acme.atlassian.net", False, "user@"),
        (f"https://bob:{TOKEN}@acme.atlassian.net", False, "user@"),
        ("https://acme.atlassian.net@evil.example", False, "user@"),
        ("ftp://acme.atlassian.net", False, "https://"),
        ("acme.atlassian.net", False, "https://"),
        ("https://", False, "https://"),
        ("https://acme.atlassian.net:99999", False, "not a valid URL"),
        ("https://acme.atlassian.net/?x=1", False, "query"),
        ("https://acme atlassian.net", False, "spaces"),
        ("", False, "empty"),
    ],
)
def test_rejected_base_urls_never_echo_credentials(url: str, insecure: bool, needle: str) -> None:
    with pytest.raises(AdapterConfigError) as info:
        check_base_url(url, allow_insecure=insecure)
    message = str(info.value)
    assert needle in message
    assert TOKEN not in message and "bob" not in message
    assert "\n" not in message


def test_settings_come_from_the_environment_and_hide_the_token() -> None:
    env = {**GOOD, "JIRA_PROJECT_KEY": "team", "JIRA_BOARD_ID": "7"}
    settings = settings_from_env(env)
    assert settings.base_url == "https://acme.atlassian.net"
    assert (settings.project, settings.board) == ("TEAM", 7)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert (
        settings.max_wait_s == 90 and settings_from_env({**env, "LOOP_PM_JIRA_MAX_WAIT": "5"}).max_wait_s == 5
    )
    overridden = settings_from_env(env, project="OTHER", board="9")
    assert (overridden.project, overridden.board) == ("OTHER", 9)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "missing environment: JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN"),
        ({k: v for k, v in GOOD.items() if k != "JIRA_API_TOKEN"}, "missing environment: JIRA_API_TOKEN"),
        ({**GOOD, "JIRA_BOARD_ID": "seven"}, "JIRA_BOARD_ID must be a board id"),
        ({**GOOD, "JIRA_PROJECT_KEY": "A B"}, "project key"),
        ({**GOOD, "JIRA_ALLOW_INSECURE_BASE_URL": "1", "JIRA_BASE_URL": "http://example.com"}, "localhost"),
        ({**GOOD, "LOOP_PM_JIRA_TIMEOUT": "soon"}, "LOOP_PM_JIRA_TIMEOUT"),
        ({**GOOD, "LOOP_PM_JIRA_MAX_WAIT": "soon"}, "LOOP_PM_JIRA_MAX_WAIT"),
        ({**GOOD, "LOOP_PM_JIRA_MAX_WAIT": "-1"}, "LOOP_PM_JIRA_MAX_WAIT"),
    ],
)
def test_bad_settings(env: dict[str, str], needle: str) -> None:
    with pytest.raises(AdapterConfigError, match=needle):
        settings_from_env(env)


def test_availability_is_a_configuration_check() -> None:
    assert JiraAdapter(env=GOOD).availability().available
    off = JiraAdapter(env={}).availability()
    assert not off.available and "JIRA_BASE_URL" in (off.reason or "")
    bad = JiraAdapter(env={**GOOD, "JIRA_BASE_URL": f"https://me:{TOKEN}@x.atlassian.net"}).availability()
    assert not bad.available and TOKEN not in (bad.reason or "")
