"""A fault-injecting HTTP(S) proxy on loopback, in front of a fake CRM server.

The connector talks to the proxy as if it were the CRM; the proxy relays each request to the
fake (tests/fakes/hubspot_portal.py, tests/fakes/salesforce_org.py) unless a scripted
:class:`Fault` matches it. The schedule is deterministic: a fault names a regular expression
searched in ``METHOD /path?query``, lets ``after`` matching requests through, then fires on the
next ``times`` ones. Kinds:

* ``status`` — answer with a status, headers and body of the test's choosing, never reaching the
  fake (429 with ``Retry-After`` in seconds or as an HTTP-date, a burst of 5xx, a 401);
* ``reset`` — read the request, then reset the connection (TCP RST) without an answer;
* ``slow`` — wait ``delay`` seconds, then relay (past a client's read timeout);
* ``truncate`` — relay the answer's headers with its full ``Content-Length`` but only half of
  its body, then close the connection;
* ``cut_json`` — relay half of the body with a ``Content-Length`` that matches it (a body that
  arrives "whole" and is not JSON).

TLS: given ``tls=True`` the proxy serves HTTPS with the fake Salesforce org's throwaway CA
(simple-salesforce only speaks ``https://``); it relays to the upstream in the upstream's own
scheme. ::

    with FaultProxy.start(fake.base_url) as proxy:
        proxy.add(Fault("status", r"deals/search", status=503, times=3))
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import struct
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Fault", "FaultProxy"]

#: Headers that describe one hop, never relayed.
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                  "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host"})
KINDS = ("status", "reset", "slow", "truncate", "cut_json")


@dataclass
class Fault:
    """One scripted fault (see the module docstring); :attr:`hits` counts the times it fired."""

    kind: str
    pattern: str = ""
    after: int = 0
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    seen: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")

    @property
    def done(self) -> bool:
        """Whether it fired all its ``times``."""
        return self.hits >= self.times


class FaultProxy:
    """The running proxy: :attr:`url`, :meth:`add` faults, :attr:`requests` it received."""

    def __init__(self, upstream: str, *, tls: bool = False) -> None:
        parts = urlsplit(upstream)
        self.upstream_https = parts.scheme == "https"
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or (443 if self.upstream_https else 80)
        self.upstream_ca: str | None = None
        self.faults: list[Fault] = []
        #: ``METHOD /path?query`` of every request received, in order.
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.proxy = self  # type: ignore[attr-defined]
        self.tls = tls
        if tls:
            from fakes.salesforce_org import _tls_material

            self.upstream_ca, context = _tls_material()
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                     do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        name="fault-proxy", daemon=True)

    @classmethod
    def start(cls, upstream: str, *, tls: bool = False) -> FaultProxy:
        """Serve in a thread, relaying to ``upstream`` (``http(s)://127.0.0.1:PORT``)."""
        proxy = cls(upstream, tls=tls)
        proxy._thread.start()
        return proxy

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        host, port = self.server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def add(self, fault: Fault) -> Fault:
        """Script ``fault`` (faults are tried in the order added)."""
        with self.lock:
            self.faults.append(fault)
        return fault

    def pick(self, line: str) -> Fault | None:
        """Log ``line`` (``METHOD /path?query``) and return the fault it triggers, if any."""
        with self.lock:
            self.requests.append(line)
            for fault in self.faults:
                if fault.done or not re.search(fault.pattern, line):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.hits += 1
                return fault
        return None

    def relay(self, method: str, path: str, headers: Any, body: bytes
              ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request upstream; its (status, headers, whole body)."""
        conn: http.client.HTTPConnection
        if self.upstream_https:
            context = ssl.create_default_context(cafile=self.upstream_ca)
            conn = http.client.HTTPSConnection(self.upstream_host, self.upstream_port,
                                               timeout=60, context=context)
        else:
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP}
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders()
                    if k.lower() not in _HOP and k.lower() not in ("server", "date")]
            return response.status, kept, data
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop serving (slow answers in progress are cut short)."""
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection the proxy reset, or a client gone after its timeout, is the point of
        the exercise; other errors are bugs of the proxy and keep their traceback."""
        if isinstance(sys.exc_info()[1], (OSError, ValueError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FaultProxy/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`FaultProxy.requests`."""

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = lambda self: self._handle()

    @property
    def proxy(self) -> FaultProxy:
        return self.server.proxy  # type: ignore[attr-defined]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.proxy.pick(f"{self.command} {self.path}")
        kind = fault.kind if fault else None
        if fault is not None and kind == "status":
            self._answer(fault.status, list(fault.headers.items()), fault.body)
            return
        if kind == "reset":
            self._reset()
            return
        if fault is not None and kind == "slow" and self.proxy.stopping.wait(fault.delay):
            return
        status, headers, data = self.proxy.relay(self.command, self.path, self.headers, body)
        if kind == "truncate":
            self._answer(status, headers, data[:len(data) // 2], length=len(data))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "cut_json":
            data = data[:len(data) // 2]
        self._answer(status, headers, data)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes,
                length: int | None = None) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-type" for name, _ in headers):
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the client's next read sees ECONNRESET."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
