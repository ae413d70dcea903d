"""A local fake Salesforce org: a real HTTPS server on loopback with a throwaway CA.

It speaks the REST API the way a real org does (``/services/data/vXX.X/...``, routed in
sf_rest.py): query, queryAll and next pages with ``Sforce-Query-Options: batchSize``,
``COUNT()``, describe and describe layouts, ``/limits``, ``/limits/recordCount`` and
``Sforce-Limit-Info`` on every response (a daily request counter that really counts),
getDeleted/getUpdated, sObject Collections, composite (sf_composite.py: one call, each
subrequest in :attr:`FakeSalesforceOrg.subrequests`), Bulk API 2.0 query and ingest; plus SOAP
login, the OAuth JWT bearer token endpoint and Metadata API ``createMetadata`` of custom fields.
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
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .serving import QuietServer
from .sf_bulk import BulkJobs
from .sf_data import Dataset
from .sf_faults import Request
from .sf_org import ApiError, Org
from .sf_rest import Reply, Rest
from .sf_soap import jwt_token, metadata_call, soap_login

__all__ = ["FakeSalesforceOrg", "Dataset", "Org"]

_XML = "text/xml; charset=utf-8"


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
        #: Each composite subrequest (method, path, query, body), as a request of its own.
        self.subrequests: list[Request] = []
        self.stopping = threading.Event()
        self.bulk = BulkJobs(org)
        self.rest = Rest(org, self.bulk, self.subrequests)
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                        name="fake-salesforce", daemon=True)

    @classmethod
    def start(cls, dataset: Dataset | None = None, *, tls: bool = True, org: Org | None = None,
              api_max: int = 15_000) -> FakeSalesforceOrg:
        """Build an org from ``dataset`` (or use ``org``) and serve it on 127.0.0.1."""
        server = QuietServer(("127.0.0.1", 0), _Handler)
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
        """Forget the recorded calls (and composite subrequests)."""
        self.calls.clear()
        self.requests.clear()
        self.subrequests.clear()

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

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`FakeSalesforceOrg.calls` instead."""

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = lambda self: self._dispatch()

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
                return self._send(Reply(status, payload, headers=headers))
        try:
            reply = self._route(req)
        except ApiError as exc:
            reply = Reply.error(exc)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        body = reply.body()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/services/data/v") or self.path.startswith("/services/Soap/m"):
            org = self.fake.org
            self.send_header("Sforce-Limit-Info", f"api-usage={org.api_used}/{org.api_max}")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _route(self, req: Request) -> Reply:
        fake, path = self.fake, req.path
        if path == "/services/oauth2/token" and req.method == "POST":
            status, payload = jwt_token(fake.org, req.body, fake.instance_url)
            return Reply(status, payload)
        if path.startswith("/services/Soap/u/") and req.method == "POST":
            status, xml = soap_login(fake.org, req.body, fake.instance_url, path.split("/")[4])
            return Reply(status, raw=xml, content_type=_XML)
        if path.startswith("/services/Soap/m/") and req.method == "POST":
            status, xml = metadata_call(fake.org, req.body)
            return Reply(status, raw=xml, content_type=_XML)
        if path.rstrip("/") == "/services/data":
            return Reply(200, [{"label": "Summer '24", "url": "/services/data/v61.0",
                                "version": "61.0"}])
        version, rest = Rest.match(path)
        auth = req.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if token not in fake.org.sessions:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        fake.org.count_call()
        return fake.rest.route(req, version, rest)
