"""The HTTP server the fake Salesforce org and the fake HubSpot portal share: the standard
library's ``ThreadingHTTPServer`` that stays quiet when a client goes away mid-answer."""

from __future__ import annotations

import ssl
import sys
from http.server import ThreadingHTTPServer
from typing import Any

__all__ = ["QuietServer"]


class QuietServer(ThreadingHTTPServer):
    """Daemon threads; a client gone mid-answer (a timeout, a closed pooled connection, TLS
    cut short) is normal for the fault tests and prints nothing; other errors are bugs of
    the fake and keep their traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLEOFError)):
            return
        super().handle_error(request, client_address)
