"""Jira settings, from the environment only; the base URL is checked before any request is made.

JIRA_BASE_URL must be https:// and carry no user@ authority, so the token never travels in plaintext or
to a host smuggled into the URL. JIRA_ALLOW_INSECURE_BASE_URL=1 waives https for localhost only.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loop_schemas.pm import AdapterConfigError

REQUIRED_ENV = ("JIRA_BASE_URL", "JIRA_EMAIL", "JIRA_API_TOKEN")
LOCAL_HOSTS = ("localhost",)
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_WAIT_S = 90.0  # under loop-engine's 120 s for a whole loop-pm run: a rate limit is said as one


@dataclass(frozen=True)
class JiraSettings:
    base_url: str
    email: str
    token: str = field(repr=False)
    project: str | None = None
    board: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    """How long one run may wait in all for Jira's rate limit (HTTP 429 Retry-After) before it gives up."""

    def __str__(self) -> str:  # never the token
        return f"JiraSettings(base_url={self.base_url!r}, email={self.email!r}, project={self.project!r})"


def _is_local(host: str) -> bool:
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(raw: str, *, allow_insecure: bool) -> str:
    """The base URL without a trailing slash; AdapterConfigError (never echoing credentials) otherwise."""
    url = raw.strip()
    if not url:
        raise AdapterConfigError("JIRA_BASE_URL is empty")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise AdapterConfigError("JIRA_BASE_URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AdapterConfigError("JIRA_BASE_URL is not a valid URL (bad host or port)") from None
    if "@" in parts.netloc:
        raise AdapterConfigError(
            "JIRA_BASE_URL must not carry a user@ authority (credentials go in JIRA_EMAIL and JIRA_API_TOKEN)"
        )
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("https", "http") or not host:
        raise AdapterConfigError(
            "JIRA_BASE_URL must be an https:// URL with a host, e.g. https://example.atlassian.net"
        )
    if parts.query or parts.fragment:
        raise AdapterConfigError("JIRA_BASE_URL must not have a query or a fragment")
    if scheme == "http":
        if not allow_insecure:
            raise AdapterConfigError(
                f"JIRA_BASE_URL must be https:// (got http://{host}); "
                "JIRA_ALLOW_INSECURE_BASE_URL=1 waives this for localhost only"
            )
        if not _is_local(host):
            raise AdapterConfigError(
                f"JIRA_BASE_URL must be https://: the JIRA_ALLOW_INSECURE_BASE_URL waiver covers localhost "
                f"and 127.0.0.1 only, not {host}"
            )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def missing_env(env: Mapping[str, str]) -> list[str]:
    return [name for name in REQUIRED_ENV if not env.get(name, "").strip()]


def parse_board(value: str | None, source: str) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit():
        raise AdapterConfigError(f"{source} must be a board id (a number), got {text[:40]!r}")
    return int(text)


def settings_from_env(
    env: Mapping[str, str] | None = None, *, project: str | None = None, board: str | None = None
) -> JiraSettings:
    """Settings from the environment (options override JIRA_PROJECT_KEY / JIRA_BOARD_ID)."""
    env = os.environ if env is None else env
    missing = missing_env(env)
    if missing:
        raise AdapterConfigError(
            f"missing environment: {', '.join(missing)} (credentials come from the environment only)"
        )
    base = check_base_url(env["JIRA_BASE_URL"], allow_insecure=_flag(env, "JIRA_ALLOW_INSECURE_BASE_URL"))
    project_key = (project or env.get("JIRA_PROJECT_KEY", "")).strip() or None
    if project_key is not None and not project_key.replace("_", "").isalnum():
        raise AdapterConfigError(f"project key must be letters, digits or '_', got {project_key[:40]!r}")
    board_id = (
        parse_board(board, "--board") if board else parse_board(env.get("JIRA_BOARD_ID"), "JIRA_BOARD_ID")
    )
    timeout = DEFAULT_TIMEOUT_S
    raw_timeout = env.get("LOOP_PM_JIRA_TIMEOUT", "").strip()
    if raw_timeout:
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise AdapterConfigError("LOOP_PM_JIRA_TIMEOUT must be a number of seconds") from None
        if not 0 < timeout <= 600:
            raise AdapterConfigError("LOOP_PM_JIRA_TIMEOUT must be between 0 and 600 seconds")
    max_wait = DEFAULT_MAX_WAIT_S
    raw_wait = env.get("LOOP_PM_JIRA_MAX_WAIT", "").strip()
    if raw_wait:
        try:
            max_wait = float(raw_wait)
        except ValueError:
            raise AdapterConfigError("LOOP_PM_JIRA_MAX_WAIT must be a number of seconds") from None
        if not 0 <= max_wait <= 3600:
            raise AdapterConfigError("LOOP_PM_JIRA_MAX_WAIT must be between 0 and 3600 seconds")
    return JiraSettings(
        base_url=base,
        email=env["JIRA_EMAIL"].strip(),
        token=env["JIRA_API_TOKEN"].strip(),
        project=project_key.upper() if project_key else None,
        board=board_id,
        timeout_s=timeout,
        max_wait_s=max_wait,
    )
