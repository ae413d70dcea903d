"""The Composite resource: many small GET requests in one API call.

Salesforce counts a whole ``POST /composite`` as **one** request against the org's daily
allowance ("the entire series of requests counts as a single call toward your API limits"), so
the per-run reads of small resources — every object's describe, the stage and currency lookups
— go together instead of one call each. Salesforce's limits: at most 25 subrequests per call,
at most 5 of them query operations (``query``, ``queryAll`` or a next page). With
``allOrNone: false`` every subrequest answers on its own (``httpStatusCode`` and ``body``,
errors as the usual ``[{"errorCode", "message"}]`` list), so one object the org lacks does
not fail the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crmsync import CrmsyncError
from crmsync_salesforce.errors import translate

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["Get", "Answer", "get_all", "query_path", "rows", "MAX_SUBREQUESTS", "MAX_QUERIES"]

#: Subrequests per composite call, and query operations among them (Salesforce's limits).
MAX_SUBREQUESTS = 25
MAX_QUERIES = 5


@dataclass(frozen=True)
class Get:
    """One GET subrequest.

    :param ref: its ``referenceId`` (letters, digits and ``_``, starting with a letter).
    :param path: relative to ``/services/data/vXX.X/``, e.g. ``sobjects/Account/describe``.
    """

    ref: str
    path: str

    @property
    def is_query(self) -> bool:
        """Whether Salesforce counts it among the 5 query operations."""
        return self.path.startswith(("query", "queryAll"))


@dataclass(frozen=True)
class Answer:
    """A subrequest's answer: HTTP status and parsed body."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        """The ``errorCode`` of an error answer."""
        if isinstance(self.body, list) and self.body and isinstance(self.body[0], dict):
            return self.body[0].get("errorCode")
        return None

    def error(self, client: SalesforceClient, what: str) -> CrmsyncError:
        """The crmsync error this answer stands for, as if the request had been sent alone."""
        from simple_salesforce.exceptions import SalesforceError  # the SDK is loaded by now

        exc = SalesforceError(what, self.status, what, self.body)
        return translate(exc, connection=client.connection, entity=client.entity, what=what)


def _chunks(requests: Sequence[Get]) -> Iterator[list[Get]]:
    chunk: list[Get] = []
    queries = 0
    for request in requests:
        if len(chunk) == MAX_SUBREQUESTS or (request.is_query and queries == MAX_QUERIES):
            yield chunk
            chunk, queries = [], 0
        chunk.append(request)
        queries += request.is_query
    if chunk:
        yield chunk


def get_all(client: SalesforceClient, requests: Sequence[Get], *, what: str
            ) -> dict[str, Answer]:
    """Send ``requests`` in as few composite calls as Salesforce's limits allow.

    :param what: named in errors of the composite call itself (``describe objects``).
    :return: each request's answer by ``ref``.
    """
    out: dict[str, Answer] = {}
    prefix = f"/services/data/v{client.version}/"
    for chunk in _chunks(requests):
        body = {"allOrNone": False, "compositeRequest": [
            {"method": "GET", "url": prefix + r.path, "referenceId": r.ref} for r in chunk]}
        answer = client.restful(what, "composite", method="POST", json=body) or {}
        for item in answer.get("compositeResponse") or []:
            out[str(item["referenceId"])] = Answer(int(item["httpStatusCode"]), item.get("body"))
    return out


def query_path(text: str) -> str:
    """The subrequest path of a SOQL query."""
    return f"query/?q={quote(text)}"


def rows(client: SalesforceClient, answer: Answer | None, *, what: str,
         batch_size: int = 2000) -> list[dict[str, Any]]:
    """Every row of a query subrequest's answer: its first page, then the rest through
    ordinary next-page requests.

    :raises CrmsyncError: the query failed (``what`` names it).
    """
    if answer is None or not answer.ok:
        raise (answer or Answer(500, None)).error(client, what)
    out: list[dict[str, Any]] = [row for page in client.follow(answer.body, what=what,
                                                               batch_size=batch_size)
                                 for row in page.get("records") or ()]
    for row in out:
        row.pop("attributes", None)
    return out
