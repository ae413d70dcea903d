"""crmsync.ApiClient against the toolkit test server and the fault proxy in front of it:
status → exception mapping, Retry-After, auth hooks, quota headers, call counting, secrets."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pytest
import requests

from crmsync import (
    ApiClient,
    AuthError,
    BearerAuth,
    ConnectorError,
    HttpStatusError,
    QueryAuth,
    Quota,
    QuotaExhausted,
    RateLimited,
    RefreshingAuth,
    TransientError,
    endpoint_label,
)
from crmsync.testing import CrmServer
from fakes.fault_proxy import Fault, FaultProxy

TOKEN = "tk-bearer-secret-0001"


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    with CrmServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def client(crm: CrmServer) -> ApiClient:
    return ApiClient(crm.url, auth=BearerAuth(TOKEN), connection="pd")


@pytest.fixture
def proxy(crm: CrmServer) -> Iterator[FaultProxy]:
    with FaultProxy.start(crm.url.removesuffix("/v1")) as running:
        yield running


def proxied(proxy: FaultProxy, auth: object = None) -> ApiClient:
    return ApiClient(proxy.url + "/v1", auth=auth or BearerAuth(TOKEN),  # type: ignore[arg-type]
                     connection="pd", read_timeout=0.5)


def test_get_returns_the_json_body_and_counts_the_call_by_endpoint(client, crm) -> None:
    deal = crm.create("opportunities", name="Counted")

    body = client.get(f"/deals/{deal}")
    client.get("/deals", params={"limit": 1})

    assert body["data"]["title"] == "Counted"
    assert client.api_calls.snapshot() == {"GET /deals/{id}": 1, "GET /deals": 1}


@pytest.mark.parametrize(("path", "label"), [
    ("/deals/42/flow?start=0", "GET /deals/{id}/flow"),
    ("/dealFields/5ff12b7b66c2c77f58a33aed86149c1d25903fa6", "GET /dealFields/{id}"),
    ("/sobjects/Opportunity/0065g00000AbCdEAAZ", "GET /sobjects/Opportunity/{id}"),
    ("/users/me", "GET /users/me"),
])
def test_endpoint_labels_collapse_ids_and_drop_the_query(path: str, label: str) -> None:
    assert endpoint_label("get", path) == label


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_an_auth_error_without_the_token(client, crm, status) -> None:
    crm.fail_next(status)

    with pytest.raises(AuthError) as raised:
        client.get("/users")

    assert f"GET /users: HTTP {status}" in str(raised.value)
    assert raised.value.connection == "pd" and TOKEN not in str(raised.value)


def test_a_429_is_rate_limited_with_retry_after_in_seconds_and_never_retried(client, crm
                                                                             ) -> None:
    crm.fail_next(429, retry_after="7")

    with pytest.raises(RateLimited) as raised:
        client.get("/deals")

    assert raised.value.retry_after == 7.0
    assert len(crm.calls) == 1  # the client neither slept nor sent it again


def test_retry_after_as_an_http_date_is_seconds_from_now(client, crm) -> None:
    crm.fail_next(429, retry_after=email.utils.formatdate(time.time() + 120, usegmt=True))

    with pytest.raises(RateLimited) as raised:
        client.get("/deals")

    assert raised.value.retry_after is not None and 100 < raised.value.retry_after <= 120


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_transient(client, crm, status) -> None:
    crm.fail_next(status)

    with pytest.raises(TransientError, match=f"HTTP {status}"):
        client.get("/deals")


def test_other_4xx_names_method_path_status_and_the_vendors_message(client) -> None:
    with pytest.raises(HttpStatusError) as raised:
        client.put("/deals/999999", json={"title": "x"}, entity="opportunities")

    assert raised.value.status == 404 and isinstance(raised.value, ConnectorError)
    assert str(raised.value) == "pd/opportunities: PUT /deals/999999: HTTP 404: deal 999999 " \
                                "not found"


def test_quota_headers_become_a_quota(client, crm) -> None:
    crm.rate_limit = 40
    client.get("/users")
    client.get("/users")

    assert client.quota == Quota(used=2, limit=40)


def test_server_time_is_the_crms_clock(client, crm) -> None:
    crm.advance(90)
    client.get("/users")

    assert client.server_time == crm.now


def test_a_vendor_quota_signal_is_quota_exhausted(crm) -> None:
    class DailyLimited(ApiClient):
        def quota_exhausted(self, response: requests.Response, body: object) -> bool:
            return response.headers.get("X-Daily-Requests-Left") == "0"

    crm.daily_limit = 1
    client = DailyLimited(crm.url, auth=BearerAuth(TOKEN))
    client.get("/users")

    with pytest.raises(QuotaExhausted):
        client.get("/users")


def test_an_api_key_in_the_query_string_never_reaches_an_error(crm) -> None:
    key = "query-api-key-0002"
    client = ApiClient(crm.url, auth=QueryAuth("api_token", key))

    with pytest.raises(AuthError) as refused:
        client.get("/users")
    crm.stop()
    client.close()  # the kept-alive connection would still be answered
    with pytest.raises(TransientError) as unreachable:
        client.get("/users")

    assert key not in str(refused.value) and key not in str(unreachable.value)
    assert "connection failed" in str(unreachable.value)


def test_a_refreshing_token_is_fetched_again_once_after_a_401(crm) -> None:
    tokens = iter(["expired-token-0003", TOKEN])
    client = ApiClient(crm.url, auth=RefreshingAuth(lambda: next(tokens)))

    assert client.get("/users/me")["data"]["name"] == "API user"
    assert [c[0] for c in crm.calls] == ["GET", "GET"]


def test_a_refreshed_token_refused_again_is_an_auth_error_naming_neither(crm) -> None:
    tokens = iter(["expired-token-0004", "expired-token-0005"])
    client = ApiClient(crm.url, auth=RefreshingAuth(lambda: next(tokens)))

    with pytest.raises(AuthError) as raised:
        client.get("/users")

    assert "0004" not in str(raised.value) and "0005" not in str(raised.value)
    assert len(crm.calls) == 2


@pytest.mark.parametrize(("kind", "words"), [
    ("reset", "connection failed"),
    ("truncate", "cut short"),
    ("cut_json", "not JSON"),
    ("slow", "timed out"),
])
def test_broken_answers_are_transient(crm, proxy, kind, words) -> None:
    proxy.add(Fault(kind, r"/deals", delay=2.0 if kind == "slow" else 0.0))
    client = proxied(proxy)

    with pytest.raises(TransientError, match=words) as raised:
        client.get("/deals")

    assert TOKEN not in str(raised.value)


def test_close_closes_the_session(client) -> None:
    client.get("/users")
    client.close()

    assert not client.session.adapters["http://"].poolmanager.pools  # type: ignore[attr-defined]
