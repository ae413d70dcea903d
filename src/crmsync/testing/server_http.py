"""The HTTP side of the toolkit test server: routes, paging, auth and injected failures
(docs/toolkit.md, "The test server").

Every answer is ``{"success": true, "data": …, "additional_data": {"pagination": …}}`` as
Pipedrive's v1 API shapes it; errors are ``{"success": false, "error": …}``.
"""

from __future__ import annotations

import email.utils
import json
import re
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from crmsync.testing.server_data import ENDPOINTS

if TYPE_CHECKING:
    from crmsync.testing.server import CrmServer

__all__ = ["Handler", "ApiFailure"]

_COLLECTIONS = frozenset(ENDPOINTS.values())
_ONE = re.compile(r"^/v1/(?P<collection>[a-z]+)/(?P<id>\d+)$")
_FIELDS = re.compile(r"^/v1/(?P<entity>[a-z]+)Fields$")
#: Page size when the request names none, and the largest allowed.
DEFAULT_LIMIT, MAX_LIMIT = 100, 500


class ApiFailure(Exception):
    """An error answer: its status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def paginate(rows: list[dict[str, Any]], query: dict[str, str]
             ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of ``rows`` by ``start``/``limit``, and its pagination block."""
    try:
        start = int(query.get("start", 0))
        limit = min(int(query.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
    except ValueError:
        raise ApiFailure(400, "start and limit must be integers") from None
    page = rows[start:start + limit]
    more = start + limit < len(rows)
    info: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        info["next_start"] = start + limit
    return page, info


class Handler(BaseHTTPRequestHandler):
    """Answers one request from the server's :class:`~crmsync.testing.CrmServer`."""

    server_version = "crmsync-test-crm/1"
    protocol_version = "HTTP/1.1"
    # one write per answer and no Nagle delay: keep-alive calls answer in microseconds
    wbufsize = -1
    disable_nagle_algorithm = True

    @property
    def crm(self) -> CrmServer:
        """The server's state."""
        return self.server.crm  # type: ignore[attr-defined,no-any-return]

    def setup(self) -> None:
        super().setup()
        self.crm.connected(self.connection, True)

    def finish(self) -> None:
        self.crm.connected(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`CrmServer.calls` instead."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header from the CRM's own clock (it moves only on ``advance``)."""
        return email.utils.format_datetime(self.crm.data.now, usegmt=True)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
            payload = self.crm.answer(method, url.path, query, body,
                                      self.headers.get("Authorization"))
            status, headers = 200, {}
        except ApiFailure as exc:
            status, payload, headers = exc.status, {"success": False, "error": str(exc)}, \
                exc.headers
        except ValueError:
            status, payload, headers = 400, {"success": False, "error": "body is not JSON"}, {}
        self._send(status, payload, headers)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in {**self.crm.quota_headers(), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def route(crm: CrmServer, method: str, path: str, query: dict[str, str], body: Any
          ) -> tuple[Any, dict[str, Any] | None]:
    """The data and pagination of one authorised call (the server's lock is held)."""
    data = crm.data
    collection = path.removeprefix("/v1/")
    if method == "GET" and collection in _COLLECTIONS:
        page, info = paginate(data.listing(collection, query.get("updated_since")), query)
        return page, {"pagination": info}
    if method == "GET" and path == "/v1/deleted":
        rows = data.deleted_since(query.get("object"), query.get("since"))
        page, info = paginate(rows, query)
        return page, {"pagination": info}
    if method == "GET" and path == "/v1/users/me":
        return {"id": 1, "name": "API user", "company_name": "Test CRM"}, None
    one = _ONE.match(path)
    if one and one["collection"] in _COLLECTIONS:
        return _one(crm, method, one["collection"], int(one["id"]), body), None
    fields = _FIELDS.match(path)
    if fields and f"{fields['entity']}s" in data.fields:
        return _fields(crm, method, f"{fields['entity']}s", body), None
    raise ApiFailure(404, f"no such endpoint: {method} {path}")


def _one(crm: CrmServer, method: str, collection: str, rid: int, body: Any) -> Any:
    data = crm.data
    if rid not in data.records[collection]:
        raise ApiFailure(404, f"{collection[:-1]} {rid} not found")
    if method == "GET":
        return data.records[collection][rid]
    if method != "PUT" or not isinstance(body, dict):
        raise ApiFailure(400, "send the fields to change as a JSON object")
    custom = {f["key"] for f in data.fields.get(collection, [])}
    unknown = sorted(k for k in body if k not in custom and k not in data.records[collection][rid])
    if unknown:
        raise ApiFailure(400, f"unknown field {unknown[0]!r}")
    return data.change(collection, rid, dict(body))


_FIELD_TYPES = frozenset({"double", "monetary", "varchar", "date", "int", "enum"})


def _fields(crm: CrmServer, method: str, collection: str, body: Any) -> Any:
    data = crm.data
    if method == "GET":
        return list(data.fields[collection])
    if method != "POST" or not isinstance(body, dict) or not body.get("name"):
        raise ApiFailure(400, "send the new field as {\"name\": …, \"field_type\": …}")
    if body.get("field_type") not in _FIELD_TYPES:
        raise ApiFailure(400, f"unknown field_type {body.get('field_type')!r}")
    if any(f["name"] == body["name"] for f in data.fields[collection]):
        raise ApiFailure(400, f"a field named {body['name']!r} exists")
    return data.add_field(collection, str(body["name"]), str(body["field_type"]))
