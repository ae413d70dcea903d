"""Scripted faults of the fake Salesforce org: whole-request faults and per-record write errors.

Statuses and messages are the ones Salesforce answers with (see ``reference/salesforce/``):
REQUEST_LIMIT_EXCEEDED is a 403 without Retry-After, INVALID_SESSION_ID a 401, QUERY_TIMEOUT a
400, SERVER_UNAVAILABLE a 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ERRORS", "Request", "Fault", "Faults", "RecordFault", "RecordFaults"]

#: errorCode → (HTTP status, message) as the real org sends them.
ERRORS: dict[str, tuple[int, str]] = {
    "INVALID_SESSION_ID": (401, "Session expired or invalid"),
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "INSUFFICIENT_ACCESS": (403, "insufficient access rights on object id"),
    "QUERY_TIMEOUT": (400, "Your query request was running for too long."),
    "MALFORMED_QUERY": (400, "unexpected token"),
    "INVALID_FIELD": (400, "No such column"),
    "SERVER_UNAVAILABLE": (503, "Server temporarily unavailable. Please try again later."),
    "UNKNOWN_EXCEPTION": (500, "An unexpected error occurred. Please include this ErrorId if "
                               "you contact support: 1716317395-72158 (-1585462310)"),
    "TOO_MANY_REQUESTS": (429, "Too many requests. Please retry after the time in the "
                               "Retry-After header."),
}
_DEFAULT_CODE = {401: "INVALID_SESSION_ID", 403: "REQUEST_LIMIT_EXCEEDED", 429: "TOO_MANY_REQUESTS",
                 500: "UNKNOWN_EXCEPTION", 503: "SERVER_UNAVAILABLE", 400: "MALFORMED_QUERY"}


@dataclass
class Request:
    """What a fault's ``match`` sees: method, path (without query string), query, headers, body."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    #: The ``nextRecordsUrl`` a query's first page answered with (empty when it had one page).
    next_url: str = ""


Match = None | str | Callable[[Request], bool]


@dataclass
class Fault:
    """One scripted fault. Fires on matching requests after skipping ``after`` of them, at most
    ``times`` times (None: forever). ``delay`` sleeps before answering (a client timeout);
    ``drop`` closes the connection without an answer; otherwise an error response."""

    match: Match = None
    status: int | None = None
    error: str | None = None
    message: str | None = None
    delay: float = 0.0
    drop: bool = False
    retry_after: int | None = None
    times: int | None = 1
    after: int = 0
    seen: int = 0
    fired: int = 0

    def matches(self, req: Request) -> bool:
        """Whether ``req`` is one this fault is about."""
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return self.match in req.path
        return bool(self.match(req))

    def body(self) -> tuple[int, list[dict[str, Any]]]:
        """(status, Salesforce error list) of an error answer."""
        code = self.error or _DEFAULT_CODE.get(self.status or 500, "UNKNOWN_EXCEPTION")
        status, message = ERRORS.get(code, (self.status or 500, code))
        return self.status or status, [{"message": self.message or message, "errorCode": code}]


class Faults:
    """The scripted request faults (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, match: Match = None, *, status: int | None = None, error: str | None = None,
            message: str | None = None, delay: float = 0.0, drop: bool = False,
            retry_after: int | None = None, times: int | None = 1, after: int = 0) -> Fault:
        """Script a fault; ``match`` is None (any request), a path substring or a predicate.

        ``org.faults.add("/query", status=503)`` answers the next query with 503;
        ``org.faults.add("/query/", error="INVALID_SESSION_ID", after=2)`` lets two next-page
        calls through and fails the third; ``delay=5`` makes a client with a shorter timeout
        time out; ``drop=True`` closes the connection.
        """
        fault = Fault(match, status, error, message, delay, drop, retry_after, times, after)
        with self._lock:
            self._items.append(fault)
        return fault

    def pick(self, req: Request, *, answers_only: bool = False) -> Fault | None:
        """The fault to apply to ``req`` (counting it), or None; ``answers_only`` considers
        only faults that answer with an error (a composite subrequest cannot be delayed or
        dropped on its own)."""
        with self._lock:
            for fault in self._items:
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                if answers_only and not (fault.status or fault.error):
                    continue
                if not fault.matches(req):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.fired += 1
                return fault
        return None

    def clear(self) -> None:
        """Remove every scripted fault."""
        with self._lock:
            self._items.clear()


@dataclass
class RecordFault:
    """A per-record write failure: ``match`` is a record Id or ``(object, record) -> bool``."""

    match: str | Callable[[str, dict[str, Any]], bool]
    code: str = "UNABLE_TO_LOCK_ROW"
    message: str | None = None
    fields: list[str] = field(default_factory=list)
    times: int | None = 1
    fired: int = 0


class RecordFaults:
    """Scripted per-record write failures for Collections and Bulk ingest (thread-safe)."""

    def __init__(self) -> None:
        self._items: list[RecordFault] = []
        self._lock = threading.Lock()

    def add(self, match: str | Callable[[str, dict[str, Any]], bool], code: str =
            "UNABLE_TO_LOCK_ROW", *, message: str | None = None, fields: list[str] | None = None,
            times: int | None = 1) -> RecordFault:
        """Make writes of matching records fail with ``code`` (``times`` times; None: always)."""
        fault = RecordFault(match, code, message, list(fields or []), times)
        with self._lock:
            self._items.append(fault)
        return fault

    def pick(self, obj: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """The Salesforce error dict for writing ``record``, or None."""
        with self._lock:
            for f in self._items:
                if f.times is not None and f.fired >= f.times:
                    continue
                hit = f.match == record.get("Id") if isinstance(f.match, str) else \
                    f.match(obj, record)
                if hit:
                    f.fired += 1
                    message = f.message or (
                        f"unable to obtain exclusive access to this record or 1 records: "
                        f"{record.get('Id')}" if f.code == "UNABLE_TO_LOCK_ROW" else f.code)
                    return {"statusCode": f.code, "message": message, "fields": list(f.fields)}
        return None

    def clear(self) -> None:
        """Remove every scripted record fault."""
        with self._lock:
            self._items.clear()
