"""Salesforce errors → crmsync errors, decided by ``errorCode``/``statusCode`` only.

Salesforce localises ``message`` (a Japanese org answers in Japanese), so the connector never
branches on it; it only quotes it. Top-level REST errors carry ``errorCode``; sObject
Collections SaveResults and Metadata results carry ``statusCode`` (docs/connectors/salesforce.md).
simple-salesforce raises one exception class per HTTP status and puts the parsed JSON list in
``.content`` (despite its ``bytes`` annotation). A timeout, a dropped connection or a body cut
short is a :class:`~crmsync.TransientError` (:func:`crmsync.transport_error`, the connector
toolkit's mapping: docs/toolkit.md); HTTP 429 is raised as :class:`~crmsync.RateLimited`
with its ``Retry-After`` by the client's transport (:mod:`crmsync_salesforce.client`), which
sees the headers simple-salesforce drops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmsync import (
    AuthError,
    ConnectorError,
    CrmsyncError,
    QuotaExhausted,
    TransientError,
    transport_error,
)

__all__ = [
    "QueryTimeout",
    "error_code",
    "error_message",
    "translate",
    "RETRYABLE_RECORD_CODES",
    "TRANSIENT_CODES",
]

if TYPE_CHECKING:  # the SDK is imported where it is used (crmsync_salesforce.sdk)
    from simple_salesforce.exceptions import SalesforceError

#: Codes worth another attempt: the server or a row lock, not the request, was at fault.
TRANSIENT_CODES = frozenset({"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG",
                             "API_CURRENTLY_DISABLED_TEMPORARILY"})
#: Per-record write failures worth sending again later (SaveResult ``statusCode``).
RETRYABLE_RECORD_CODES = TRANSIENT_CODES


class QueryTimeout(ConnectorError):
    """Salesforce gave up on a query (``QUERY_TIMEOUT``); the reader halves its time window."""


def _first(content: Any) -> dict[str, Any]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0]
    if isinstance(content, dict):
        return content
    return {}


def error_code(exc: SalesforceError) -> str | None:
    """The ``errorCode`` (or ``statusCode``) of a simple-salesforce error, if the body has one."""
    first = _first(exc.content)
    code = first.get("errorCode") or first.get("statusCode")
    return str(code) if code else None


def error_message(exc: SalesforceError) -> str:
    """Salesforce's message, for quoting only (it is localised)."""
    first = _first(exc.content)
    message = first.get("message")
    return " ".join(str(message).split()) if message else f"HTTP {exc.status}"


def translate(exc: Exception, *, connection: str, entity: str | None, what: str,
              can_reauthenticate: bool = False) -> CrmsyncError:
    """The crmsync error for a failed Salesforce call.

    :param what: what was being done, named in the message (e.g. ``query Opportunity``).
    :param can_reauthenticate: whether the auth mode could log in again (only changes the
        hint in the :class:`AuthError` message).
    """
    from simple_salesforce.exceptions import SalesforceError

    ctx = {"connection": connection, "entity": entity}
    if isinstance(exc, CrmsyncError):
        return exc
    # timeouts, resets, a body cut short or not JSON: the toolkit's mapping (docs/toolkit.md)
    transient = transport_error(exc, what, connection=connection, entity=entity)
    if transient is not None:
        return transient
    if not isinstance(exc, SalesforceError):
        raise exc  # a bug, keep its traceback
    code = error_code(exc)
    message = f"{what}: {code or f'HTTP {exc.status}'}: {error_message(exc)}"
    err: CrmsyncError
    if code == "QUERY_TIMEOUT":
        err = QueryTimeout(message, **ctx)
    elif code == "REQUEST_LIMIT_EXCEEDED":
        # 403 without Retry-After: the daily allowance (or concurrent long requests) is spent.
        err = QuotaExhausted(f"{message} (stopped: api quota; the next run resumes)", **ctx)
    elif code == "INVALID_SESSION_ID" or exc.status == 401:
        hint = ("re-authentication failed" if can_reauthenticate else
                "the session_id expired and this auth mode cannot log in again; "
                "set a fresh session_id or use username/password or JWT auth")
        err = AuthError(f"{message} ({hint})", **ctx)
    elif code in TRANSIENT_CODES or (exc.status or 0) >= 500:
        err = TransientError(message, **ctx)
    else:  # MALFORMED_QUERY, INVALID_FIELD, INSUFFICIENT_ACCESS, NOT_FOUND…: fix config/access
        err = ConnectorError(message, **ctx)
    # crmsync errors have no vendor code; the catalog reads it back with getattr(exc, "code")
    err.code = code  # type: ignore[attr-defined]
    return err
