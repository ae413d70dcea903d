"""REST routing of the fake Salesforce org: ``/services/data/vXX.X/...`` onto org operations.

Routes return a :class:`Reply` (status, body, content type, headers) instead of writing to a
socket, so a request sent alone (salesforce_org.py) and the same request as a composite
subrequest (sf_composite.py) go through exactly the same code. Authentication and the daily
API allowance are the caller's: a composite counts once, its subrequests not at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .sf_bulk import BulkJobs
from .sf_faults import Request
from .sf_org import ApiError, Org, parse_when

__all__ = ["Reply", "Rest", "JSON_TYPE"]

JSON_TYPE = "application/json;charset=UTF-8"
_DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_NEXT = re.compile(r"^/(query|queryAll)/([A-Za-z0-9]+)-(\d+)/?$")
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.I)


@dataclass
class Reply:
    """One answer: a JSON ``payload`` (None: no body) or ``raw`` bytes of ``content_type``."""

    status: int
    payload: Any = None
    raw: bytes | None = None
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, exc: ApiError) -> Reply:
        """The answer of an :class:`ApiError` (401s carry ``WWW-Authenticate``)."""
        extra = {"WWW-Authenticate": "Token"} if exc.status == 401 else {}
        return cls(exc.status, exc.body(), headers=extra)

    def body(self) -> bytes:
        """The bytes on the wire."""
        if self.raw is not None:
            return self.raw
        return b"" if self.payload is None else json.dumps(self.payload).encode()


def is_query(method: str, rest: str) -> bool:
    """Whether ``rest`` (the part after ``/vXX.X``) is a query operation: query, queryAll or a
    next page (composite allows five of them)."""
    return method == "GET" and (rest.rstrip("/") in ("/query", "/queryAll") or
                                bool(_NEXT.match(rest)))


class Rest:
    """The org's REST resources (see module doc)."""

    def __init__(self, org: Org, bulk: BulkJobs, subrequests: list[Request]) -> None:
        self.org = org
        self.bulk = bulk
        self.subrequests = subrequests

    @staticmethod
    def match(path: str) -> tuple[str, str]:
        """(API version, the rest of the path) of a ``/services/data/vXX.X/...`` path; 404
        otherwise (and for versions the org does not serve)."""
        m = _DATA.match(path)
        if not m or not 20.0 <= float(m.group(1)) <= 66.0:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return m.group(1), (m.group(2) or "/").rstrip("/") or "/"

    def route(self, req: Request, version: str, rest: str) -> Reply:
        """Answer ``req`` (already authenticated and counted); raises :class:`ApiError`."""
        org, method = self.org, req.method
        parts = rest.strip("/").split("/")
        if method == "GET" and rest == "/limits":
            return Reply(200, org.limits())
        if method == "GET" and rest == "/limits/recordCount":
            return Reply(200, org.record_counts(req.query.get("sObjects")))
        if method == "GET" and rest in ("/query", "/queryAll"):
            if "q" not in req.query:
                raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
            page = org.query(req.query["q"], include_deleted=rest == "/queryAll",
                             batch_size=self.batch_size(req), version=version)
            req.next_url = page.get("nextRecordsUrl", "")
            return Reply(200, page)
        nxt = _NEXT.match(rest)
        if method == "GET" and nxt:
            return Reply(200, org.query_more(nxt.group(2), int(nxt.group(3)),
                                             self.batch_size(req), version))
        if method == "GET" and rest == "/sobjects":
            return Reply(200, org.describe_global(version))
        if parts[0] == "sobjects" and len(parts) >= 2:
            return self._sobjects(req, version, parts[1:])
        if method == "PATCH" and rest == "/composite/sobjects":
            return Reply(200, org.collections_update(self.body(req)))
        if method == "POST" and rest == "/composite":
            from .sf_composite import composite

            return composite(self, req, version)
        if parts[0] == "jobs" and len(parts) >= 2 and parts[1] in ("query", "ingest"):
            return self._jobs(req, version, parts[1], parts[2:])
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _sobjects(self, req: Request, version: str, parts: list[str]) -> Reply:
        org, method = self.org, req.method
        obj = parts[0]
        if method == "GET" and parts[1:] == ["describe"]:
            with org.lock:
                return Reply(200, org.describe(obj, version))
        if method == "GET" and parts[1:3] == ["describe", "layouts"] and len(parts) <= 4:
            with org.lock:
                return Reply(200, org.describe_layouts(obj, version, (parts[3:] or [None])[0]))
        if method == "GET" and len(parts) == 2 and parts[1] in ("deleted", "updated"):
            start, end = (parse_when(req.query.get(k, "")) for k in ("start", "end"))
            call = org.deleted if parts[1] == "deleted" else org.updated
            return Reply(200, call(obj, start, end))
        if method == "GET" and len(parts) == 1:
            from .sf_schema import global_entry

            return Reply(200, {"objectDescribe": global_entry(org.table(obj).spec, version),
                               "recentItems": []})
        if method == "GET" and len(parts) == 2:
            with org.lock:
                return Reply(200, org.record_json(obj, parts[1], version))
        if method == "PATCH" and len(parts) == 2:
            result = org.save(org.table(obj).spec.name, parts[1], self.body(req))
            if result["success"]:
                return Reply(204)
            e = result["errors"][0]
            return Reply(400, [{"message": e["message"], "errorCode": e["statusCode"],
                                "fields": e["fields"]}])
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _jobs(self, req: Request, version: str, kind: str, parts: list[str]) -> Reply:
        method, bulk = req.method, self.bulk
        if kind == "query" and method == "GET" and parts[1:] == ["results"]:
            max_records = req.query.get("maxRecords")  # pages lock the org themselves
            data, headers = bulk.results(parts[0], req.query.get("locator"),
                                         int(max_records) if max_records else None)
            return Reply(200, raw=data, content_type="text/csv", headers=headers)
        with self.org.lock:
            if method == "POST" and not parts:
                create = bulk.create_query if kind == "query" else bulk.create_ingest
                return Reply(200, create(self.body(req), version))
            if method == "GET" and len(parts) == 1:
                return Reply(200, bulk.get(kind, parts[0]))
            if method == "PATCH" and len(parts) == 1:
                return Reply(200, bulk.set_state(kind, parts[0],
                                                 str(self.body(req).get("state"))))
            if method == "DELETE" and len(parts) == 1:
                bulk.delete(kind, parts[0])
                return Reply(204)
            if kind == "ingest" and method == "PUT" and parts[1:] == ["batches"]:
                bulk.upload(parts[0], req.body)
                return Reply(201, raw=b"", content_type="text/plain")
            if kind == "ingest" and method == "GET" and len(parts) == 2 and parts[1] in (
                    "successfulResults", "failedResults", "unprocessedrecords"):
                return Reply(200, raw=bulk.ingest_results(parts[0], parts[1]),
                             content_type="text/csv")
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def batch_size(req: Request) -> int:
        """The ``Sforce-Query-Options: batchSize`` of ``req`` (200–2000, default 2000)."""
        options = req.headers.get("Sforce-Query-Options") or ""
        m = _BATCH.search(options)
        return max(200, min(2000, int(m.group(1)))) if m else 2000

    @staticmethod
    def body(req: Request) -> dict[str, Any]:
        """The JSON object ``req`` carries (400 JSON_PARSER_ERROR otherwise)."""
        try:
            value = json.loads(req.body or b"{}")
        except ValueError:
            raise ApiError(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting "
                                                     "JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return value
