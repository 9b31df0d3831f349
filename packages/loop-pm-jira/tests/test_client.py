"""HTTP behaviour (respx): retries for 429 / 5xx / timeouts, no blind repeat of writes, one-line errors,
nextPageToken paging, and the token never in a message."""

from __future__ import annotations

import base64

import httpx
import pytest
import respx
from loop_pm_jira.client import AmbiguousWriteError, BadRequestError, JiraClient
from loop_pm_jira.config import JiraSettings
from loop_schemas.pm import AdapterAuthError, AdapterConnectionError, AdapterError, RemoteNotFoundError

BASE = "https://acme.atlassian.net"
TOKEN = "tok-VERY-secret-123"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> JiraClient:
    settings = JiraSettings(base_url=BASE, email="bot@acme.io", token=TOKEN, project="TEAM", timeout_s=5)
    return JiraClient(settings, sleep=sleeps.append)


@respx.mock
def test_basic_auth_and_json(client: JiraClient) -> None:
    route = respx.get(f"{BASE}/rest/api/3/myself").respond(200, json={"accountId": "x"})
    assert client.get("/rest/api/3/myself") == {"accountId": "x"}
    sent = route.calls.last.request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"bot@acme.io:{TOKEN}".encode()).decode()


@respx.mock
def test_429_waits_for_retry_after(client: JiraClient, sleeps: list[float]) -> None:
    route = respx.get(f"{BASE}/rest/api/3/myself")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(429, headers={"Retry-After": "7200"}),
        httpx.Response(200, json={"ok": True}),
    ]
    assert client.get("/rest/api/3/myself") == {"ok": True}
    assert sleeps == [3.0, 60.0]  # honoured, and capped


@respx.mock
def test_a_retry_after_that_is_not_a_number_of_seconds_falls_back_to_the_backoff(
    client: JiraClient, sleeps: list[float]
) -> None:
    route = respx.get(f"{BASE}/rest/api/3/myself")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "nan"}),  # time.sleep(nan) raised ValueError
        httpx.Response(429, headers={"Retry-After": "inf"}),
        httpx.Response(429, headers={"Retry-After": "soon"}),
        httpx.Response(200, json={"ok": True}),
    ]
    assert client.get("/rest/api/3/myself") == {"ok": True}
    assert sleeps == [0.5, 1.0, 2.0]


@respx.mock
def test_rate_limit_waits_stop_at_the_run_budget_in_one_line(sleeps: list[float]) -> None:
    """Four capped 60 s waits would outlast loop-engine's 120 s for the whole loop-pm run, which would then
    report a timeout: past LOOP_PM_JIRA_MAX_WAIT in all, the client says it is a rate limit instead."""
    settings = JiraSettings(base_url=BASE, email="bot@acme.io", token=TOKEN, project="TEAM", max_wait_s=90)
    client = JiraClient(settings, sleep=sleeps.append)
    respx.get(f"{BASE}/rest/api/3/myself").respond(429, headers={"Retry-After": "60"})
    with pytest.raises(AdapterConnectionError) as info:
        client.get("/rest/api/3/myself")
    assert sleeps == [60.0]  # the second 60 s would go past 90 s in all: not slept
    message = str(info.value)
    assert "rate-limiting" in message and "LOOP_PM_JIRA_MAX_WAIT" in message and "\n" not in message


@respx.mock
def test_429_forever_gives_up_in_one_line(client: JiraClient) -> None:
    respx.post(f"{BASE}/rest/api/3/issue").respond(429, headers={"Retry-After": "1"})
    with pytest.raises(AdapterConnectionError, match=r"rate-limiting .* after 5 tries"):
        client.post("/rest/api/3/issue", {"fields": {}})


@respx.mock
def test_5xx_and_timeouts_retry_with_capped_backoff(client: JiraClient, sleeps: list[float]) -> None:
    route = respx.get(f"{BASE}/rest/api/3/issue/TEAM-1")
    route.side_effect = [
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(502),
        httpx.Response(200, json={"key": "TEAM-1"}),
    ]
    assert client.get("/rest/api/3/issue/TEAM-1") == {"key": "TEAM-1"}
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


@respx.mock
def test_5xx_exhausted(client: JiraClient, sleeps: list[float]) -> None:
    respx.get(f"{BASE}/rest/api/3/myself").respond(500, json={"errorMessages": ["kaput"]})
    with pytest.raises(AdapterConnectionError, match=r"HTTP 500 .* after 5 tries: kaput"):
        client.get("/rest/api/3/myself")
    assert max(sleeps) <= 8.0


@respx.mock
def test_a_write_that_may_have_landed_is_not_repeated(client: JiraClient) -> None:
    route = respx.post(f"{BASE}/rest/api/3/issue").respond(504)
    with pytest.raises(AmbiguousWriteError, match="may or may not have been applied"):
        client.post("/rest/api/3/issue", {"fields": {}})
    assert route.call_count == 1
    route.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(AmbiguousWriteError):
        client.post("/rest/api/3/issue", {"fields": {}})
    assert route.call_count == 2


@respx.mock
def test_connect_failures_are_retried_even_for_writes(client: JiraClient, sleeps: list[float]) -> None:
    route = respx.post(f"{BASE}/rest/api/3/issue")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(201, json={"key": "TEAM-9"})]
    assert client.post("/rest/api/3/issue", {"fields": {}}) == {"key": "TEAM-9"}
    respx.get(f"{BASE}/rest/api/3/myself").mock(side_effect=httpx.ConnectError("Name or service not known"))
    with pytest.raises(
        AdapterConnectionError, match=r"cannot reach Jira at https://acme.atlassian.net after 5 tries"
    ):
        client.get("/rest/api/3/myself")


@pytest.mark.parametrize(
    ("status", "body", "error", "needle"),
    [
        (401, {"errorMessages": ["nope"]}, AdapterAuthError, "rejected the credentials (HTTP 401)"),
        (403, {"errorMessages": ["no browse"]}, AdapterAuthError, "HTTP 403"),
        (404, {"errorMessages": ["Issue does not exist"]}, RemoteNotFoundError, "Issue does not exist"),
        (400, {"errorMessages": [], "errors": {"summary": "required"}}, BadRequestError, "summary: required"),
        (410, {"errorMessages": ["removed"]}, AdapterError, "410 Gone"),
        (418, "not json", AdapterError, "HTTP 418"),
        (302, None, AdapterError, "redirected"),
    ],
)
@respx.mock
def test_errors_are_one_line(
    client: JiraClient, status: int, body: object, error: type[Exception], needle: str
) -> None:
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(
            status,
            text=str(body or ""),
            headers={"Location": "https://evil.example/"} if status == 302 else {},
        )
    )
    respx.get(f"{BASE}/rest/api/3/issue/TEAM-1").mock(return_value=response)
    with pytest.raises(error) as info:
        client.get("/rest/api/3/issue/TEAM-1")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


@respx.mock
def test_a_server_echoing_the_token_gets_it_scrubbed(client: JiraClient) -> None:
    basic = base64.b64encode(f"bot@acme.io:{TOKEN}".encode()).decode()
    respx.get(f"{BASE}/rest/api/3/myself").respond(
        400, json={"errorMessages": [f"bad token {TOKEN}", f"header Basic {basic}"], "errors": {"x": TOKEN}}
    )
    with pytest.raises(BadRequestError) as info:
        client.get("/rest/api/3/myself")
    assert TOKEN not in str(info.value) and basic not in str(info.value)
    assert TOKEN not in repr(info.value.fields)


@respx.mock
def test_search_follows_next_page_token(client: JiraClient) -> None:
    route = respx.post(f"{BASE}/rest/api/3/search/jql")
    route.side_effect = [
        httpx.Response(
            200, json={"issues": [{"key": "A-1"}, {"key": "A-2"}], "nextPageToken": "p2", "isLast": False}
        ),
        httpx.Response(200, json={"issues": [{"key": "A-3"}], "isLast": True}),
    ]
    assert [i["key"] for i in client.search("project = A", ["summary"])] == ["A-1", "A-2", "A-3"]
    import json

    bodies = [json.loads(call.request.content) for call in route.calls]
    assert "nextPageToken" not in bodies[0] and bodies[1]["nextPageToken"] == "p2"
    assert bodies[0]["jql"] == "project = A" and bodies[0]["fields"] == ["summary"]


@respx.mock
def test_search_stops_on_a_repeated_token(client: JiraClient) -> None:
    respx.post(f"{BASE}/rest/api/3/search/jql").respond(
        200, json={"issues": [], "nextPageToken": "same", "isLast": False}
    )
    with pytest.raises(AdapterError, match="paging loop"):
        list(client.search("project = A", ["summary"]))


# an Atlassian-like token with characters URL-encoding changes (/ + =)
ODD_TOKEN = "ATATT3x/Ff+Gg0=Zz9"
ODD_PAIR = f"bot@acme.io:{ODD_TOKEN}"


def echo_forms() -> dict[str, str]:
    from urllib.parse import quote, quote_plus

    basic = base64.b64encode(ODD_PAIR.encode()).decode()
    return {
        "exact": ODD_TOKEN,
        "url-encoded": quote(ODD_TOKEN, safe=""),  # %2F %2B %3D
        "url-encoded lower": quote(ODD_TOKEN, safe="").lower(),
        "quote_plus": quote_plus(ODD_TOKEN),
        "upper": ODD_TOKEN.upper(),
        "lower": ODD_TOKEN.lower(),
        "spaced": " ".join(ODD_TOKEN),
        "wrapped": ODD_TOKEN[:6] + "\n   " + ODD_TOKEN[6:],
        "basic": f"Basic {basic}",
        "basic url-encoded": quote(basic, safe=""),
        "base64 token": base64.b64encode(ODD_TOKEN.encode()).decode(),
    }


@pytest.fixture
def odd_client(sleeps: list[float]) -> JiraClient:
    settings = JiraSettings(base_url=BASE, email="bot@acme.io", token=ODD_TOKEN, project="TEAM", timeout_s=5)
    return JiraClient(settings, sleep=sleeps.append)


@pytest.mark.parametrize(("name", "form"), list(echo_forms().items()))
@respx.mock
def test_an_echo_of_the_token_in_any_form_is_redacted(odd_client: JiraClient, name: str, form: str) -> None:
    """Issue 15 item 8: in an error message, its fields, and every string of a successful answer."""
    respx.get(f"{BASE}/rest/api/3/myself").respond(
        400, json={"errorMessages": [f"bad token {form}"], "errors": {"token": form}}
    )
    respx.get(f"{BASE}/rest/api/3/issue/TEAM-1").respond(
        200, json={"key": "TEAM-1", "fields": {"summary": f"echo {form}", "labels": [form]}}
    )
    with pytest.raises(BadRequestError) as info:
        odd_client.get("/rest/api/3/myself")
    answer = odd_client.get("/rest/api/3/issue/TEAM-1")
    shown = str(info.value) + repr(info.value.fields) + repr(answer)
    assert "***" in str(info.value) and answer["fields"]["summary"].endswith("***")
    for other in echo_forms().values():
        assert other not in shown, (name, other)
