"""The HTTP side: httpx with basic auth from the settings, retries, and one-line, secret-free errors.

429 waits for Retry-After (capped); 5xx, timeouts and connection failures are retried with a capped
exponential back-off. A request that may have been applied (a POST that timed out or got a 5xx) is not
blindly repeated unless the caller says it is idempotent. The token is redacted in every form
(`loop_schemas.redact`) from every message and from every string of every answer, before anything
else reads it: what a server echoes back never reaches a task file, a line of output or an error.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import httpx
from loop_schemas import redact, redact_data
from loop_schemas.pm import (
    AdapterAuthError,
    AdapterConnectionError,
    AdapterError,
    RemoteNotFoundError,
)

from loop_pm_jira.config import JiraSettings

USER_AGENT = "loop-pm-jira"
MAX_RETRIES = 4
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 60.0
MESSAGE_MAX = 300


class AmbiguousWriteError(AdapterConnectionError):
    """A non-idempotent request failed in a way that leaves open whether Jira applied it."""


class BadRequestError(AdapterError):
    """HTTP 400: Jira rejected the request; `.fields` holds Jira's per-field errors."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


def secret_values(email: str, token: str) -> tuple[str, ...]:
    """What must never be shown: the token, and the `email:token` pair basic auth sends (base64 forms
    of both are covered by `redact`)."""
    token = token.strip()
    return (token, f"{email.strip()}:{token}") if token else ()


def _one_line(text: str) -> str:
    return " ".join(text.split())


class JiraClient:
    def __init__(
        self,
        settings: JiraSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._max_retries = max_retries
        self._rate_waited = 0.0  # seconds slept on 429s so far, against settings.max_wait_s
        self.secrets = secret_values(settings.email, settings.token)
        self._http = httpx.Client(
            base_url=settings.base_url,
            auth=httpx.BasicAuth(settings.email, settings.token),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            timeout=settings.timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JiraClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- helpers

    def scrub(self, text: str) -> str:
        return redact(text, self.secrets)

    def browse_url(self, key: str) -> str:
        return f"{self.settings.base_url}/browse/{key}"

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        raw = response.headers.get("Retry-After", "").strip()
        wait: float | None = None
        if raw:
            try:
                wait = float(raw)
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(raw)
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=timezone.utc)
                    wait = (when - datetime.now(timezone.utc)).total_seconds()
                except (TypeError, ValueError):
                    wait = None
        if wait is None or not math.isfinite(wait):  # `nan` would crash time.sleep; `inf` means nothing
            wait = self._backoff(attempt)
        return min(max(wait, 0.0), RETRY_AFTER_CAP_S)

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(BACKOFF_BASE_S * (2**attempt), BACKOFF_CAP_S))

    def _error_text(self, response: httpx.Response) -> tuple[str, dict[str, str]]:
        messages: list[str] = []
        fields: dict[str, str] = {}
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for msg in doc.get("errorMessages") or []:
                messages.append(str(msg))
            errors = doc.get("errors")
            if isinstance(errors, dict):
                for name, msg in errors.items():
                    fields[str(name)] = str(msg)
                    messages.append(f"{name}: {msg}")
            if not messages and isinstance(doc.get("message"), str):
                messages.append(doc["message"])
        text = "; ".join(messages) if messages else (response.reason_phrase or "no detail")
        text = self.scrub(_one_line(text))
        if len(text) > MESSAGE_MAX:
            text = text[: MESSAGE_MAX - 1] + "…"
        return text, {k: self.scrub(_one_line(v)) for k, v in fields.items()}

    def _raise_for(self, method: str, path: str, response: httpx.Response) -> None:
        status = response.status_code
        text, fields = self._error_text(response)
        where = f"{method} {path}"
        if status == 401:
            raise AdapterAuthError(
                "Jira rejected the credentials (HTTP 401): check JIRA_EMAIL and JIRA_API_TOKEN"
            )
        if status == 403:
            raise AdapterAuthError(f"Jira refused {where} (HTTP 403): the account lacks permission: {text}")
        if status == 404:
            raise RemoteNotFoundError(f"Jira: not found (HTTP 404) for {where}: {text}")
        if status == 400:
            raise BadRequestError(f"Jira rejected {where} (HTTP 400): {text}", fields)
        if status == 410:
            raise AdapterError(f"Jira answered 410 Gone for {where} (the endpoint was removed): {text}")
        raise AdapterError(f"Jira answered HTTP {status} for {where}: {text}")

    # ------------------------------------------------------------------------------------- request

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty body). Raises a loop_schemas AdapterError."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "PUT", "DELETE", "HEAD")
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, params=params, json=json)
            except httpx.TimeoutException as exc:
                sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
                if sent and not idempotent:
                    raise AmbiguousWriteError(
                        f"Jira did not answer {method} {path} within {self.settings.timeout_s:g}s "
                        "(it may or may not have been applied)"
                    ) from None
                if attempt >= self._max_retries:
                    raise AdapterConnectionError(
                        f"Jira did not answer {method} {path} after {attempt + 1} tries "
                        f"(timeout {self.settings.timeout_s:g}s)"
                    ) from None
            except httpx.TransportError as exc:
                connect_failed = isinstance(exc, httpx.ConnectError)
                if not connect_failed and not idempotent:
                    raise AmbiguousWriteError(
                        f"the connection to Jira broke during {method} {path}: "
                        f"{self.scrub(_one_line(str(exc)))}"
                    ) from None
                if attempt >= self._max_retries:
                    host = self.settings.base_url
                    reason = self.scrub(_one_line(str(exc))) or type(exc).__name__
                    raise AdapterConnectionError(
                        f"cannot reach Jira at {host} after {attempt + 1} tries: {reason}"
                    ) from None
            else:
                status = response.status_code
                if status == 429:
                    if attempt >= self._max_retries:
                        raise AdapterConnectionError(
                            f"Jira kept rate-limiting {method} {path} (HTTP 429) after {attempt + 1} tries"
                        )
                    wait = self._retry_after(response, attempt)
                    if self._rate_waited + wait > self.settings.max_wait_s:
                        raise AdapterConnectionError(
                            f"Jira is rate-limiting {method} {path} (HTTP 429) and asks for {wait:g}s more, "
                            f"past the {self.settings.max_wait_s:g}s one run waits in all "
                            "(LOOP_PM_JIRA_MAX_WAIT); try again later"
                        )
                    self._rate_waited += wait
                    self._sleep(wait)
                    attempt += 1
                    continue
                if status >= 500:
                    if not idempotent:
                        text, _ = self._error_text(response)
                        raise AmbiguousWriteError(
                            f"Jira answered HTTP {status} for {method} {path} "
                            f"(it may or may not have been applied): {text}"
                        )
                    if attempt >= self._max_retries:
                        text, _ = self._error_text(response)
                        raise AdapterConnectionError(
                            f"Jira answered HTTP {status} for {method} {path} "
                            f"after {attempt + 1} tries: {text}"
                        )
                elif 300 <= status < 400:
                    raise AdapterError(
                        f"Jira redirected {method} {path} (HTTP {status}); check JIRA_BASE_URL "
                        "(redirects are not followed, so credentials never leave the configured host)"
                    )
                elif status >= 400:
                    self._raise_for(method, path, response)
                else:
                    if not response.content:
                        return None
                    try:
                        return redact_data(response.json(), self.secrets)
                    except ValueError:
                        raise AdapterError(
                            f"Jira answered {method} {path} with something that is not JSON"
                        ) from None
            self._sleep(self._backoff(attempt))
            attempt += 1

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, idempotent: bool = False) -> Any:
        return self.request("POST", path, json=json, idempotent=idempotent)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    # ---------------------------------------------------------------------------------------- paging

    def search(self, jql: str, fields: list[str], *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every issue matching `jql` via POST /rest/api/3/search/jql, following nextPageToken."""
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": page_size}
            if token:
                body["nextPageToken"] = token
            doc = self.post("/rest/api/3/search/jql", body, idempotent=True)
            if not isinstance(doc, dict):
                raise AdapterError("Jira search answered with something that is not an object")
            for issue in doc.get("issues") or []:
                if isinstance(issue, dict):
                    yield issue
            token = doc.get("nextPageToken")
            if not token or doc.get("isLast") is True:
                return
            if token in seen_tokens:
                raise AdapterError("Jira search repeated a page token (paging loop); stopping")
            seen_tokens.add(token)

    def agile_values(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every `values` item of an Agile 1.0 list, following startAt/isLast."""
        start = 0
        seen: set[str] = set()
        while True:
            query = dict(params or {})
            query.update({"startAt": start, "maxResults": 50})
            doc = self.get(path, query)
            if not isinstance(doc, dict):
                raise AdapterError(f"Jira answered GET {path} with something that is not an object")
            values = [v for v in doc.get("values") or [] if isinstance(v, dict)]
            ids = {repr(v.get("id", v)) for v in values}
            if values and ids <= seen:  # a server (or proxy) ignoring startAt would page forever
                raise AdapterError(
                    f"Jira answered GET {path} with the same page again (paging loop); stopping"
                )
            seen |= ids
            yield from values
            if doc.get("isLast", True) or not values:
                return
            start += len(values)
