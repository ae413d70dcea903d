"""HubSpot failures mapped to crmsync's errors (raise, never sleep: docs/concepts.md#retries).

hubspot-api-client quirks handled here (docs/connectors/hubspot.md#client-library-quirks):

* Every sub-package (``hubspot.crm.objects``, ``hubspot.crm.owners``…) defines its **own**
  ``ApiException`` with no common base class but ``Exception``, so errors are recognised by
  duck typing on ``status``/``headers``/``body`` (:func:`is_api_exception`).
* **429 is a plain ApiException.** HubSpot's body names the policy: ``TEN_SECONDLY_ROLLING``
  (or ``SECONDLY``) means "slow down" → :class:`~crmsync.RateLimited`; ``DAILY`` means the
  day's allowance is spent → :class:`~crmsync.QuotaExhausted` (the run stops cleanly).
* ``ApiException.headers`` is an ``HTTPHeaderDict`` live but a **list of tuples** under vcrpy;
  :func:`normalise_headers` gives one case-insensitive mapping for both.
* On the raw-response path ``ApiException.body`` is ``bytes``, on the model path ``str``.
* Transport failures (timeouts, refused connections) surface as urllib3 exceptions because the
  client's own urllib3 ``Retry`` is disabled (:mod:`crmsync_hubspot.client`). So does a body cut
  short (``ProtocolError``/``IncompleteRead`` while reading it); a body that arrived whole by
  its headers but is not JSON (a proxy's truncation, a gateway's page) fails to parse. Both are
  transient, like a 5xx (:func:`map_transport_error`, :func:`map_unreadable_body`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import (
    ConnectorError,
    TransientError,
    error_for_status,
    parse_retry_after,
)

if TYPE_CHECKING:  # the SDK is imported where it is used (crmsync_hubspot.sdk)
    import urllib3

__all__ = [
    "CIHeaders",
    "normalise_headers",
    "is_api_exception",
    "error_body",
    "map_api_exception",
    "map_transport_error",
    "map_unreadable_body",
    "retry_after_seconds",
]


class CIHeaders(dict[str, str]):
    """Response headers keyed by lower-cased name."""

    def get_ci(self, name: str) -> str | None:
        """The header ``name`` (any case), or ``None``."""
        return self.get(name.lower())


def normalise_headers(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None
                      ) -> CIHeaders:
    """A case-insensitive mapping from a header dict, an ``HTTPHeaderDict`` or the list of
    ``(name, value)`` tuples vcrpy's replayed responses give."""
    out = CIHeaders()
    if headers is None:
        return out
    items = headers.items() if hasattr(headers, "items") else headers
    for name, value in items:
        if isinstance(value, (list, tuple)):  # vcrpy stores header values as lists
            value = value[0] if value else ""
        out[str(name).lower()] = str(value)
    return out


def is_api_exception(exc: BaseException) -> bool:
    """True for any sub-package's ``ApiException`` (they share no base class)."""
    return (type(exc).__module__.startswith("hubspot.")
            and hasattr(exc, "status") and hasattr(exc, "body"))


def error_body(exc: Any) -> dict[str, Any]:
    """The JSON error body of an ``ApiException`` (``{}`` when it is not JSON)."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"message": body[:200]}
    return parsed if isinstance(parsed, dict) else {}


def retry_after_seconds(headers: CIHeaders) -> float | None:
    """How long HubSpot asks us to wait: ``Retry-After`` (seconds or an HTTP-date, read by
    :func:`crmsync.parse_retry_after`), else the rolling window
    ``X-HubSpot-RateLimit-Interval-Milliseconds``; ``None`` when neither is sent."""
    wait = parse_retry_after(headers.get_ci("retry-after"))
    if wait is not None:
        return wait
    interval = headers.get_ci("x-hubspot-ratelimit-interval-milliseconds")
    if interval:
        try:
            return max(float(interval) / 1000.0, 0.0)
        except ValueError:
            pass
    return None


def map_api_exception(exc: Any, *, endpoint: str, connection: str | None = None,
                      entity: str | None = None) -> ConnectorError:
    """The crmsync error for a HubSpot ``ApiException`` raised by ``endpoint``.

    401 → :class:`~crmsync.AuthError` (the client refreshes an OAuth token once before
    this); 429 DAILY → :class:`~crmsync.QuotaExhausted`; other 429 →
    :class:`~crmsync.RateLimited` with ``retry_after``; 5xx and status 0 (TLS/transport) →
    :class:`TransientError` (:func:`crmsync.error_for_status`); anything else →
    :class:`ConnectorError` naming the endpoint, status and HubSpot's category.
    Error bodies never carry credentials, but only the category and message are kept.
    """
    status = int(getattr(exc, "status", 0) or 0)
    body = error_body(exc)
    headers = normalise_headers(getattr(exc, "headers", None))
    category = body.get("category") or body.get("errorType") or ""
    message = str(body.get("message") or getattr(exc, "reason", "") or "").strip()
    where = f"{endpoint}: HTTP {status}" + (f" {category}" if category else "")
    text = f"{where}: {message}" if message else where
    ctx = {"connection": connection, "entity": entity}
    if status not in (0, 401, 429) and status < 500:
        # a refusal naming HubSpot's category; a 403 (MISSING_SCOPES) is no auth failure on
        # HubSpot: the token works, the app lacks a scope
        return ConnectorError(text, **ctx)
    daily = status == 429 and str(body.get("policyName", "")).upper() == "DAILY"
    return error_for_status(  # the connector toolkit's mapping (docs/toolkit.md)
        status, text, retry_after=retry_after_seconds(headers) if status == 429 else None,
        quota_exhausted=daily, auth_statuses=(401,),
        hint=("the portal's daily API limit is spent, the sync continues from its cursors "
              "tomorrow" if daily else "check access_token or the OAuth app's refresh_token"),
        **ctx)


def map_transport_error(exc: urllib3.exceptions.HTTPError, *, endpoint: str,
                        connection: str | None = None, entity: str | None = None
                        ) -> TransientError:
    """A timeout or dropped connection (raised by urllib3 since the client's own retries are
    off) → :class:`TransientError`, retried by crmsync's retry module."""
    return TransientError(f"{endpoint}: {type(exc).__name__}: {exc}", connection=connection,
                          entity=entity)


def map_unreadable_body(exc: ValueError, *, endpoint: str, status: int,
                        connection: str | None = None, entity: str | None = None
                        ) -> TransientError:
    """A successful answer whose body is not the JSON HubSpot sends (cut short on the way,
    or replaced by a proxy or gateway) → :class:`TransientError`: the call is worth another
    attempt, as after a 5xx. The body itself is never quoted (it may hold record data)."""
    return TransientError(f"{endpoint}: HTTP {status} answer's body is not complete JSON "
                          f"({type(exc).__name__} at char {getattr(exc, 'pos', '?')})",
                          connection=connection, entity=entity)
