"""A fake HubSpot portal on loopback: a real threaded HTTP server speaking HubSpot's APIs.

Point hubspot-api-client (``host=``) or plain ``requests`` at :attr:`FakeHubSpotPortal.base_url`.
Tests script the data and the faults through :attr:`FakeHubSpotPortal.portal`
(:class:`fakes.hs_state.Portal`): create, update, archive and merge records, expire tokens,
set rate limits, queue 429/5xx/slow answers. Every request is logged in :attr:`calls`.

    fake = FakeHubSpotPortal.start(dataset=Dataset(deals=500))
    try:
        requests.get(f"{fake.base_url}/crm/v3/objects/deals",
                     headers={"Authorization": f"Bearer {fake.access_token}"})
    finally:
        fake.stop()
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from fakes import hs_api, hs_api_meta, hs_inputs, hs_products, hs_web
from fakes.hs_api import Request, error
from fakes.hs_data import Dataset
from fakes.hs_limits import Fault, rate_limit_body, retry_after_header
from fakes.hs_state import Portal
from fakes.serving import QuietServer

__all__ = ["FakeHubSpotPortal", "Call", "Dataset", "Fault"]

Handler = Callable[..., tuple[int, dict[str, Any]]]
OBJ = r"(?P<type>[\w-]+)"
ROUTES: list[tuple[str, re.Pattern[str], Handler, bool]] = [
    (method, re.compile(f"^{pattern}$"), handler, is_search)
    for method, pattern, handler, is_search in (
        ("GET", rf"/crm/v3/objects/{OBJ}", hs_api.list_objects, False),
        ("POST", rf"/crm/v3/objects/{OBJ}/search", hs_api.search_objects, True),
        ("POST", rf"/crm/v3/objects/{OBJ}/batch/read", hs_api.batch_read, False),
        ("POST", rf"/crm/v3/objects/{OBJ}/batch/update", hs_api.batch_update, False),
        ("POST", rf"/crm/v3/objects/{OBJ}/merge", hs_api.merge_objects, False),
        ("GET", rf"/crm/v3/objects/{OBJ}/(?P<record_id>\d+)", hs_api.get_object, False),
        ("GET", rf"/crm/v3/properties/{OBJ}/groups", hs_api_meta.groups, False),
        ("POST", rf"/crm/v3/properties/{OBJ}/groups", hs_api_meta.groups, False),
        ("GET", rf"/crm/v3/properties/{OBJ}/(?P<name>\w+)", hs_api_meta.properties, False),
        ("GET", rf"/crm/v3/properties/{OBJ}", hs_api_meta.properties, False),
        ("POST", rf"/crm/v3/properties/{OBJ}", hs_api_meta.properties, False),
        ("GET", rf"/crm/v3/pipelines/{OBJ}", hs_api_meta.pipelines, False),
        ("GET", r"/crm/v3/owners/?", hs_api_meta.list_owners, False),
        ("POST", r"/crm/v4/associations/(?P<from_type>[\w-]+)/(?P<to_type>[\w-]+)/batch/read",
         hs_api_meta.associations_batch_read, False),
        ("GET", r"/crm/v4/objects/(?P<from_type>[\w-]+)/(?P<record_id>\d+)/associations/"
                r"(?P<to_type>[\w-]+)", hs_api_meta.associations_page, False),
        ("GET", r"/account-info/v3/details", hs_api_meta.account_details, False),
        ("GET", r"/marketing/v3/campaigns/?", hs_inputs.list_campaigns, False),
        ("GET", r"/marketing/v3/campaigns/(?P<guid>[\w-]+)/budget/totals",
         hs_inputs.budget_totals, False),
        ("GET", r"/analytics/v2/reports/sources/(?P<time_period>\w+)", hs_web.sources_report,
         False),
    )]


class Call(NamedTuple):
    """One request the portal received: ``path`` includes the query string."""

    method: str
    path: str
    body: Any

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> dict[str, list[str]]:
        """The parsed query string."""
        return parse_qs(urlsplit(self.path).query)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: urllib3 pools connections
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
            ctype = "text/html"
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
            ctype = "application/json;charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        fake = self.server.fake
        portal = fake.portal
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        body: Any = None
        if raw:
            if "form-urlencoded" in (self.headers.get("Content-Type") or ""):
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(*error(400, "VALIDATION_ERROR", "Invalid input JSON"), {})
                    return
        if fake.record_calls:
            fake.log_call(Call(self.command, self.path, body))
        fault = portal.faults.take(f"{self.command} {self.path}")
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                self._send_fault(fault)
                return
        req = Request(self.command, parts.path, parse_qs(parts.query), body)
        if parts.path == "/oauth/v1/token" and self.command == "POST":
            with portal.lock:
                self._send(*hs_api_meta.oauth_token(portal, req), {})
            return
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        state = portal.token_state(token)
        if state != "valid":
            if state == "expired":
                self._send(*error(401, "EXPIRED_AUTHENTICATION",
                                  "The OAuth token used to make this call expired."), {})
            else:
                self._send(*error(401, "INVALID_AUTHENTICATION",
                                  "Authentication credentials not found. This API supports "
                                  "OAuth 2.0 authentication."), {})
            return
        for method, pattern, handler, is_search in ROUTES:
            match = pattern.match(parts.path) if method == self.command else None
            if match is None:
                continue
            refused = portal.limits.admit(is_search)
            headers = portal.limits.headers()
            if refused is not None:
                policy, wait = refused
                self._send(429, rate_limit_body(policy, portal.portal_id),
                           {**headers, **retry_after_header(wait)})
                return
            args = match.groupdict()
            for key in ("type", "from_type", "to_type"):
                if key in args:
                    resolved = hs_api._type(portal, args[key])
                    if resolved is None:
                        self._send(*error(400, "VALIDATION_ERROR",
                                          f"Unable to infer object type from: {args[key]}"),
                                   headers)
                        return
                    args[key] = resolved
            if "type" in args:
                args["object_type"] = args.pop("type")
            if handler is hs_api_meta.properties:
                args.setdefault("name", None)
            typed = {**args, "type": args.get("object_type")}
            refusal = (hs_products.missing_scope(portal, typed)
                       or hs_inputs.missing_scope(portal, typed, parts.path))
            if refusal is not None:
                self._send(*refusal, headers)
                return
            with portal.lock:
                status, payload = handler(portal, req, **args)
            self._send(status, payload, portal.limits.headers())
            return
        self._send(*error(404, "NOT_FOUND", f"No route for {self.command} {parts.path}"), {})

    def _send_fault(self, fault: Fault) -> None:
        portal = self.server.fake.portal
        headers = portal.limits.headers()
        if fault.status == 429:
            if fault.policy == "DAILY":
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = "0"
            else:
                headers["X-HubSpot-RateLimit-Remaining"] = "0"
            self._send(429, fault.body or rate_limit_body(fault.policy, portal.portal_id),
                       {**headers, **retry_after_header(fault.retry_after)})
        elif fault.body is not None:
            self._send(fault.status, fault.body, headers)
        elif fault.status in (502, 503, 504):  # gateway errors come as HTML, not JSON
            self._send(fault.status, f"<html><body><h1>{fault.status} Server Error</h1>"
                                     "</body></html>", headers)
        else:
            self._send(*error(fault.status, "INTERNAL_ERROR", "Internal error"), headers)


class _Server(QuietServer):
    fake: FakeHubSpotPortal


class FakeHubSpotPortal:
    """The running server: :attr:`base_url`, :attr:`access_token`, :attr:`portal`, :attr:`calls`.

    :param portal: the data (a fresh :class:`Portal` of ``Dataset()`` when omitted).
    :param record_calls: log every call (benchmarks turn it off).
    :param call_log: where calls go (default: appended to :attr:`calls`); a benchmark
        streams them to a file instead of holding thousands of request bodies in memory.
    """

    def __init__(self, portal: Portal | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 record_calls: bool = True,
                 call_log: Callable[[Call], None] | None = None) -> None:
        self.portal = portal or Portal()
        self.record_calls = record_calls
        self.calls: list[Call] = []
        self.log_call: Callable[[Call], None] = call_log or self.calls.append
        self.access_token = self.portal.issue_token(lifetime=7 * 86_400)
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, dataset: Dataset | None = None, *, portal: Portal | None = None,
              **kwargs: Any) -> FakeHubSpotPortal:
        """Build the portal from ``dataset`` (or use ``portal``) and serve it in a thread."""
        fake = cls(portal or Portal(dataset), **kwargs)
        fake._thread = threading.Thread(target=fake._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-hubspot", daemon=True)
        fake._thread.start()
        return fake

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset_calls(self) -> None:
        """Forget the calls logged so far."""
        self.calls.clear()

    def calls_to(self, pattern: str) -> list[Call]:
        """Logged calls whose ``METHOD /path?query`` matches the regular expression."""
        return [c for c in self.calls if re.search(pattern, f"{c.method} {c.path}")]

    # -- fault shortcuts ----------------------------------------------------------------------

    def fail_next(self, status: int = 503, *, times: int = 1, pattern: str = "",
                  after: int = 0) -> Fault:
        """Answer the next matching requests with ``status`` (5xx)."""
        return self.portal.faults.add(Fault(pattern=pattern, status=status, times=times,
                                            after=after))

    def throttle_next(self, policy: str = "TEN_SECONDLY_ROLLING", *, times: int = 1,
                      pattern: str = "", retry_after: float | None = 1, after: int = 0) -> Fault:
        """Answer the next matching requests with 429 ``policy`` (TEN_SECONDLY_ROLLING, DAILY)."""
        return self.portal.faults.add(Fault(pattern=pattern, status=429, times=times,
                                            policy=policy, retry_after=retry_after, after=after))

    def slow_next(self, seconds: float, *, times: int = 1, pattern: str = "") -> Fault:
        """Delay the next matching responses by ``seconds``."""
        return self.portal.faults.add(Fault(pattern=pattern, delay=seconds, times=times))

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHubSpotPortal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
