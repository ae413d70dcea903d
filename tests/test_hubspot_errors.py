"""HubSpot errors → crmsync errors (crmsync_hubspot.errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.objects.exceptions import ServiceException

from crmsync import AuthError, ConnectorError, QuotaExhausted, RateLimited, TransientError
from crmsync_hubspot.errors import is_api_exception, map_api_exception, normalise_headers

TEN_SECONDLY = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT", "correlationId": "c93e06a4",
                "policyName": "TEN_SECONDLY_ROLLING", "groupName": "publicapi:x"}


def api_error(cls: type, status: int, body: dict[str, Any] | bytes | None,
              headers: Any = None) -> Any:
    exc = cls(status=status, reason="reason")
    exc.body = json.dumps(body).encode() if isinstance(body, dict) else body
    exc.headers = headers
    return exc


def test_exceptions_of_every_sub_package_are_recognised() -> None:
    assert is_api_exception(DealsApiException(status=400))
    assert is_api_exception(ObjectsApiException(status=400))
    assert not is_api_exception(ValueError("x"))


def test_ten_secondly_429_is_rate_limited_with_retry_after() -> None:
    exc = api_error(ObjectsApiException, 429, TEN_SECONDLY, {"Retry-After": "3"})
    err = map_api_exception(exc, endpoint="POST /search")
    assert isinstance(err, RateLimited) and err.retry_after == 3.0


def test_a_retry_after_http_date_is_read_as_the_seconds_until_it() -> None:
    import email.utils
    import time

    at = email.utils.formatdate(time.time() + 3600, usegmt=True)
    exc = api_error(ObjectsApiException, 429, TEN_SECONDLY, {"Retry-After": at})
    err = map_api_exception(exc, endpoint="POST /search")
    assert isinstance(err, RateLimited) and 3500 < (err.retry_after or 0) <= 3600


def test_429_without_retry_after_waits_the_rolling_interval() -> None:
    exc = api_error(ObjectsApiException, 429, TEN_SECONDLY,
                    [("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")])
    err = map_api_exception(exc, endpoint="GET /x")
    assert isinstance(err, RateLimited) and err.retry_after == 10.0


def test_daily_429_is_quota_exhausted() -> None:
    exc = api_error(DealsApiException, 429, {**TEN_SECONDLY, "policyName": "DAILY"})
    assert isinstance(map_api_exception(exc, endpoint="GET /x"), QuotaExhausted)


def test_401_is_auth_error() -> None:
    body = {"status": "error", "category": "EXPIRED_AUTHENTICATION", "message": "expired"}
    assert isinstance(map_api_exception(api_error(ObjectsApiException, 401, body),
                                        endpoint="GET /x"), AuthError)


def test_5xx_is_transient() -> None:
    exc = api_error(ServiceException, 502, b"<html>bad gateway</html>")
    assert isinstance(map_api_exception(exc, endpoint="GET /x"), TransientError)


def test_other_errors_name_endpoint_status_and_category() -> None:
    body = {"status": "error", "message": "Contact already exists. Existing ID: XXX1",
            "correlationId": "XXXXXXX", "category": "CONFLICT"}
    err = map_api_exception(api_error(ObjectsApiException, 409, body),
                            endpoint="POST /crm/v3/objects/contacts/batch/create",
                            connection="hs", entity="contacts")
    assert type(err) is ConnectorError
    assert str(err).startswith("hs/contacts: POST /crm/v3/objects/contacts/batch/create: "
                               "HTTP 409 CONFLICT: Contact already exists")


@pytest.mark.parametrize("headers", [
    {"X-HubSpot-RateLimit-Remaining": "7"},
    [("x-hubspot-ratelimit-remaining", "7")],
    {"X-HubSpot-RateLimit-Remaining": ["7"]},  # vcrpy stores values as lists
])
def test_header_containers_are_normalised(headers) -> None:  # type: ignore[no-untyped-def]
    assert normalise_headers(headers).get_ci("X-HubSpot-RateLimit-Remaining") == "7"
