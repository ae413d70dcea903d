"""HTTP statuses and transport failures → crmsync errors (docs/toolkit.md, "Error mapping").

Used by :class:`crmsync.ApiClient`, and on their own by connectors that talk through a
vendor SDK: the decisions (what is retried, what stops a connection, what stops a run) are
the same for every CRM, only the vendor's signals differ (docs/concepts.md, "Retries").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from crmsync.core.errors import (
    AuthError,
    ConnectorError,
    QuotaExhausted,
    RateLimited,
    TransientError,
)

__all__ = ["HttpStatusError", "error_for_status", "transport_error", "vendor_message",
           "endpoint_label"]

#: Path segments that are record ids (numbers, 8+ hex digits, UUIDs, Salesforce-style ids)
#: are collapsed to ``{id}`` in endpoint labels, so call counts group by endpoint.
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-f]{8,}|[0-9a-f-]{36}|[0-9A-Za-z]{15}|[0-9A-Za-z]{18})$")
#: Longest vendor message quoted in an error (CRM text is untrusted).
_MAX_MESSAGE = 200


class HttpStatusError(ConnectorError):
    """The CRM refused a request with a status no other crmsync error stands for (400, 404,
    409, 422…): the request or the data is at fault, and sending it again will not help.

    Catch this one, not :class:`~crmsync.ConnectorError`, to turn a refusal into a result
    (a :class:`~crmsync.WriteResult`): :class:`~crmsync.RateLimited`,
    :class:`~crmsync.TransientError`, :class:`~crmsync.QuotaExhausted` and
    :class:`~crmsync.AuthError` are ``ConnectorError`` too and must reach the engine.

    :param status: the HTTP status.
    """

    def __init__(self, message: str, *, status: int, connection: str | None = None,
                 entity: str | None = None) -> None:
        self.status = status
        super().__init__(message, connection=connection, entity=entity)


def endpoint_label(method: str, path: str) -> str:
    """``GET /deals/42/flow?x=1`` → ``GET /deals/{id}/flow``: the label calls are counted
    under (no query string, ids collapsed)."""
    path = path.split("?", 1)[0]
    parts = [("{id}" if _ID_SEGMENT.match(p) and not p.isalpha() else p)
             for p in path.split("/")]
    return f"{method.upper()} {'/'.join(parts) or '/'}"


def vendor_message(body: Any) -> str:
    """The CRM's own error message from a JSON error body (``error``, ``message``,
    ``error_description``, ``errors[0].message``…) or a text body: whitespace collapsed,
    at most 200 characters; ``""`` when there is none."""
    found: Any = body
    if isinstance(body, list) and body:
        found = body[0]
    if isinstance(found, dict):
        for key in ("message", "error_description", "error", "detail", "title", "errors"):
            value = found.get(key)
            if isinstance(value, list) and value:
                value = value[0].get("message", value[0]) if isinstance(value[0], dict) \
                    else value[0]
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                found = value
                break
        else:
            return ""
    text = " ".join(str(found or "").split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 1] + "…"


def error_for_status(status: int, text: str, *, retry_after: float | None = None,
                     quota_exhausted: bool = False,
                     auth_statuses: Collection[int] = (401, 403), hint: str | None = None,
                     connection: str | None = None, entity: str | None = None
                     ) -> ConnectorError:
    """The crmsync error for an HTTP error ``status``; ``text`` names what failed
    (``GET /deals: HTTP 404: deal not found``).

    ``quota_exhausted`` (the vendor said the day's budget is spent) → :class:`QuotaExhausted`;
    ``auth_statuses`` (401, 403) → :class:`AuthError`; 429 → :class:`RateLimited` with
    ``retry_after``; 408, 5xx and 0 (no HTTP answer) → :class:`TransientError`; any other
    status → :class:`HttpStatusError` (a :class:`ConnectorError`).

    :param hint: what to do, put after ``text`` in a quota or auth error (instead of the
        generic hint).
    """
    ctx: dict[str, Any] = {"connection": connection, "entity": entity}
    if quota_exhausted:
        return QuotaExhausted(f"{text} ({hint or 'stopped: api quota; the next run resumes'})",
                              **ctx)
    if status in auth_statuses:
        return AuthError(f"{text} ({hint or 'check the connection credentials'})", **ctx)
    if status == 429:
        return RateLimited(text, retry_after=retry_after, **ctx)
    if status in (0, 408) or status >= 500:
        return TransientError(text, **ctx)
    return HttpStatusError(text, status=status, **ctx)



def _transport_kinds() -> tuple[tuple[type[Exception], str], ...]:
    """requests' exceptions for an answer that never came or came broken: all worth a retry.
    (requests is imported when first needed, so that ``import crmsync`` does not load it.)"""
    import requests

    return (
        (requests.Timeout, "timed out"),
        (requests.exceptions.ChunkedEncodingError, "answer cut short"),
        (requests.exceptions.ContentDecodingError, "answer cut short"),
        (requests.exceptions.JSONDecodeError, "answer cut short or not JSON"),
        (requests.ConnectionError, "connection failed"),
    )


def transport_error(exc: BaseException, what: str, *,
                    redact: Callable[[str], str] = str,
                    connection: str | None = None, entity: str | None = None
                    ) -> TransientError | None:
    """The :class:`TransientError` for a timeout, refused or reset connection, or a body
    cut short or not JSON, raised by requests while ``what`` (``GET /deals``) ran; ``None``
    for any other exception. The message names the failure's kind and class only: requests'
    own text holds the URL, query string included, which may carry an API key."""
    for kind, words in _transport_kinds():
        if isinstance(exc, kind):
            return TransientError(redact(f"{what}: {words} ({type(exc).__name__})"),
                                  connection=connection, entity=entity)
    return None
