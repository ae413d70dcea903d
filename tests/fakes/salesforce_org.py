"""A local fake Salesforce org: a real HTTPS server on loopback with a throwaway CA.

It speaks the REST API the way a real org does (``/services/data/vXX.X/...``): query, queryAll
and next pages with ``Sforce-Query-Options: batchSize``, ``COUNT()``, describe, ``/limits`` and
``Sforce-Limit-Info`` on every response (a daily request counter that really counts),
getDeleted/getUpdated, sObject Collections, Bulk API 2.0 query and ingest; plus SOAP login,
the OAuth JWT bearer token endpoint and Metadata API ``createMetadata`` of custom fields.
Faults are scripted on :attr:`FakeSalesforceOrg.org`.

The server is the standard library's ``ThreadingHTTPServer`` wrapped in TLS (no extra
dependency; a thread per connection, so a delayed answer never blocks other clients)::

    with FakeSalesforceOrg.start(dataset=Dataset(opportunities=100)) as fake:
        requests.get(fake.instance_url + "/services/data/v61.0/limits",
                     headers={"Authorization": f"Bearer {fake.session_id}"},
                     verify=fake.ca_bundle)
"""

from __future__ import annotations

import functools
import json
import re
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .sf_bulk import BulkJobs
from .sf_data import Dataset
from .sf_faults import Request
from .sf_org import ApiError, Org, parse_when
from .sf_soap import jwt_token, metadata_call, soap_login

__all__ = ["FakeSalesforceOrg", "Dataset", "Org"]

_DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_NEXT = re.compile(r"^/(query|queryAll)/([A-Za-z0-9]+)-(\d+)/?$")
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.I)


@functools.lru_cache(maxsize=1)
def _tls_material() -> tuple[str, ssl.SSLContext]:
    """(CA bundle path, server context) — one throwaway CA per test session."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    folder = Path(tempfile.mkdtemp(prefix="fake-sf-ca-"))
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return str(bundle), ctx


class FakeSalesforceOrg:
    """A running fake org (see module doc). Build with :meth:`start`; stop with :meth:`stop`
    or a ``with`` block."""

    def __init__(self, org: Org, server: ThreadingHTTPServer, ca_bundle: str | None,
                 tls: bool) -> None:
        self.org = org
        self.server = server
        self.ca_bundle = ca_bundle
        host, port = server.server_address[:2]
        self.instance_url = f"{'https' if tls else 'http'}://{host}:{port}"
        self.calls: list[tuple[str, str]] = []
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self.bulk = BulkJobs(org)
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                        name="fake-salesforce", daemon=True)

    @classmethod
    def start(cls, dataset: Dataset | None = None, *, tls: bool = True, org: Org | None = None,
              api_max: int = 15_000) -> FakeSalesforceOrg:
        """Build an org from ``dataset`` (or use ``org``) and serve it on 127.0.0.1."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        bundle = None
        if tls:
            bundle, ctx = _tls_material()
            server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
        fake = cls(org or Org(dataset, api_max=api_max), server, bundle, tls)
        server.fake = fake  # type: ignore[attr-defined]
        fake._thread.start()
        return fake

    @property
    def session_id(self) -> str:
        """A valid session id (``Authorization: Bearer …``)."""
        return self.org.session_id

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        self.calls.clear()
        self.requests.clear()

    def stop(self) -> None:
        """Stop serving (delayed answers are cut short)."""
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeSalesforceOrg:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeSalesforce/1.0"
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests read :attr:`FakeSalesforceOrg.calls` instead."""

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = lambda self: self._dispatch()  # noqa: E731

    @property
    def fake(self) -> FakeSalesforceOrg:
        return self.server.fake  # type: ignore[attr-defined]

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = Request(self.command, parts.path, query, self.headers, body)
        self.fake.calls.append((self.command, parts.path))
        self.fake.requests.append(req)
        fault = self.fake.org.faults.pick(req)
        if fault is not None:
            if fault.delay:
                self.fake.stopping.wait(fault.delay)
            if fault.drop:
                self.close_connection = True
                return
            if fault.status or fault.error:
                status, payload = fault.body()
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                return self._json(status, payload, headers)
        try:
            self._route(req)
        except ApiError as exc:
            extra = {"WWW-Authenticate": "Token"} if exc.status == 401 else {}
            self._json(exc.status, exc.body(), extra)

    # -- responses ---------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/services/data/v") or self.path.startswith("/services/Soap/m"):
            org = self.fake.org
            self.send_header("Sforce-Limit-Info", f"api-usage={org.api_used}/{org.api_max}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self._send(status, body, "application/json;charset=UTF-8", headers)

    # -- routing -----------------------------------------------------------------------------

    def _route(self, req: Request) -> None:
        fake, path = self.fake, req.path
        if path == "/services/oauth2/token" and req.method == "POST":
            status, payload = jwt_token(fake.org, req.body, fake.instance_url)
            return self._json(status, payload)
        if path.startswith("/services/Soap/u/") and req.method == "POST":
            status, xml = soap_login(fake.org, req.body, fake.instance_url, path.split("/")[4])
            return self._send(status, xml, "text/xml; charset=utf-8")
        if path.startswith("/services/Soap/m/") and req.method == "POST":
            status, xml = metadata_call(fake.org, req.body)
            return self._send(status, xml, "text/xml; charset=utf-8")
        if path.rstrip("/") == "/services/data":
            return self._json(200, [{"label": "Summer '24", "url": "/services/data/v61.0",
                                     "version": "61.0"}])
        m = _DATA.match(path)
        if not m or not 20.0 <= float(m.group(1)) <= 66.0:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        auth = req.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if token not in fake.org.sessions:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        fake.org.count_call()
        self._rest(req, m.group(1), (m.group(2) or "/").rstrip("/") or "/")

    def _rest(self, req: Request, version: str, rest: str) -> None:
        org, bulk, method = self.fake.org, self.fake.bulk, req.method
        parts = rest.strip("/").split("/")
        if method == "GET" and rest == "/limits":
            return self._json(200, org.limits())
        if method == "GET" and rest in ("/query", "/queryAll"):
            if "q" not in req.query:
                raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
            page = org.query(req.query["q"], include_deleted=rest == "/queryAll",
                             batch_size=self._batch_size(req), version=version)
            req.next_url = page.get("nextRecordsUrl", "")
            return self._json(200, page)
        nxt = _NEXT.match(rest)
        if method == "GET" and nxt:
            return self._json(200, org.query_more(nxt.group(2), int(nxt.group(3)),
                                                  self._batch_size(req), version))
        if method == "GET" and rest == "/sobjects":
            return self._json(200, org.describe_global(version))
        if parts[0] == "sobjects" and len(parts) >= 2:
            return self._sobjects(req, version, parts[1:])
        if method == "PATCH" and rest == "/composite/sobjects":
            return self._json(200, org.collections_update(self._body(req)))
        if parts[0] == "jobs" and len(parts) >= 2 and parts[1] in ("query", "ingest"):
            return self._jobs(req, version, parts[1], parts[2:], bulk)
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _sobjects(self, req: Request, version: str, parts: list[str]) -> None:
        org, method = self.fake.org, req.method
        obj = parts[0]
        if method == "GET" and parts[1:] == ["describe"]:
            with org.lock:
                return self._json(200, org.describe(obj, version))
        if method == "GET" and len(parts) == 2 and parts[1] in ("deleted", "updated"):
            start, end = (parse_when(req.query.get(k, "")) for k in ("start", "end"))
            call = org.deleted if parts[1] == "deleted" else org.updated
            return self._json(200, call(obj, start, end))
        if method == "GET" and len(parts) == 1:
            from .sf_schema import global_entry

            return self._json(200, {"objectDescribe": global_entry(org.table(obj).spec, version),
                                    "recentItems": []})
        if method == "GET" and len(parts) == 2:
            with org.lock:
                return self._json(200, org.record_json(obj, parts[1], version))
        if method == "PATCH" and len(parts) == 2:
            result = org.save(org.table(obj).spec.name, parts[1], self._body(req))
            if result["success"]:
                return self._json(204, None)
            e = result["errors"][0]
            return self._json(400, [{"message": e["message"], "errorCode": e["statusCode"],
                                     "fields": e["fields"]}])
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _jobs(self, req: Request, version: str, kind: str, parts: list[str],
              bulk: BulkJobs) -> None:
        method = req.method
        if kind == "query" and method == "GET" and parts[1:] == ["results"]:
            max_records = req.query.get("maxRecords")  # pages lock the org themselves
            data, headers = bulk.results(parts[0], req.query.get("locator"),
                                         int(max_records) if max_records else None)
            return self._send(200, data, "text/csv", headers)
        with self.fake.org.lock:
            if method == "POST" and not parts:
                create = bulk.create_query if kind == "query" else bulk.create_ingest
                return self._json(200, create(self._body(req), version))
            if method == "GET" and len(parts) == 1:
                return self._json(200, bulk.get(kind, parts[0]))
            if method == "PATCH" and len(parts) == 1:
                return self._json(200, bulk.set_state(kind, parts[0],
                                                      str(self._body(req).get("state"))))
            if method == "DELETE" and len(parts) == 1:
                bulk.delete(kind, parts[0])
                return self._json(204, None)
            if kind == "ingest" and method == "PUT" and parts[1:] == ["batches"]:
                bulk.upload(parts[0], req.body)
                return self._send(201, b"", "text/plain")
            if kind == "ingest" and method == "GET" and len(parts) == 2 and parts[1] in (
                    "successfulResults", "failedResults", "unprocessedrecords"):
                return self._send(200, bulk.ingest_results(parts[0], parts[1]), "text/csv")
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def _batch_size(req: Request) -> int:
        options = req.headers.get("Sforce-Query-Options") or ""
        m = _BATCH.search(options)
        return max(200, min(2000, int(m.group(1)))) if m else 2000

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        try:
            value = json.loads(req.body or b"{}")
        except ValueError:
            raise ApiError(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting "
                                                     "JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return value
