"""The HTTP client base of REST connectors (docs/toolkit.md, "HTTP client").

:class:`ApiClient` wraps one :class:`requests.Session`: a base URL, an auth hook, timeouts,
the status → crmsync exception mapping of :mod:`crmsync.plugin.http_errors`, rate-limit and
quota headers read into a :class:`~crmsync.Quota`, the server's clock from its ``Date``
header (the settle horizon of :mod:`crmsync.plugin.paging` uses it), and one count per call
in the connector's :class:`~crmsync.ApiCallCounter`. It never sleeps or retries: it raises
:class:`~crmsync.RateLimited` and :class:`~crmsync.TransientError`, and the engine's one
retry policy waits and resumes from the last committed cursor (docs/concepts.md, "Retries").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmsync.core.errors import ConnectorError
from crmsync.core.logs import redact as redact_known
from crmsync.core.logs import register_secrets
from crmsync.core.redact import Redactor
from crmsync.core.retry import parse_retry_after
from crmsync.plugin.connector import ApiCallCounter, Quota
from crmsync.plugin.http_auth import Auth
from crmsync.plugin.http_errors import (
    endpoint_label,
    error_for_status,
    transport_error,
    vendor_message,
)

if TYPE_CHECKING:  # imported on first use, so that ``import crmsync`` does not load it
    import requests

__all__ = ["ApiClient"]


class ApiClient:
    """A JSON REST client for one connection; subclass it to name a vendor's signals.

    :param base_url: prefixed to every path (``https://api.example.com/v1``).
    :param auth: an auth hook (:class:`~crmsync.BearerAuth`, :class:`~crmsync.QueryAuth`…).
    :param api_calls: the connector's counter (``self.api_calls``); every request sent,
        refused or not, is counted under its endpoint label (``GET /deals/{id}``).
    :param connection: the connection's name, put on every error.
    :param connect_timeout: seconds to wait for the connection.
    :param read_timeout: seconds to wait between bytes of the answer.
    """

    #: Response headers read into :attr:`quota`: the limit, and the calls remaining.
    QUOTA_HEADERS: tuple[str, str] = ("X-RateLimit-Limit", "X-RateLimit-Remaining")
    #: Statuses that mean the credentials were refused (:class:`~crmsync.AuthError`).
    AUTH_STATUSES: tuple[int, ...] = (401, 403)

    def __init__(self, base_url: str, *, auth: Auth | None = None,
                 api_calls: ApiCallCounter | None = None, connection: str | None = None,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.api_calls = api_calls if api_calls is not None else ApiCallCounter()
        self.connection = connection
        self.timeout = (connect_timeout, read_timeout)
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self.session.headers.setdefault("Accept", "application/json")
        #: The last quota the CRM announced in :attr:`QUOTA_HEADERS` (``None`` before).
        self.quota: Quota | None = None
        #: The CRM's clock at its last answer (its ``Date`` header), aware UTC.
        self.server_time: dt.datetime | None = None
        self._redactor = Redactor()
        self._known_secrets()

    # -- requests -------------------------------------------------------------------------------

    def get(self, path: str, *, params: Mapping[str, Any] | None = None,
            entity: str | None = None) -> Any:
        """``GET path``; the parsed JSON body."""
        return self.request("GET", path, params=params, entity=entity)

    def post(self, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
             entity: str | None = None) -> Any:
        """``POST path`` with a JSON body; the parsed JSON answer."""
        return self.request("POST", path, params=params, json=json, entity=entity)

    def put(self, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
            entity: str | None = None) -> Any:
        """``PUT path`` with a JSON body; the parsed JSON answer."""
        return self.request("PUT", path, params=params, json=json, entity=entity)

    def patch(self, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
              entity: str | None = None) -> Any:
        """``PATCH path`` with a JSON body; the parsed JSON answer."""
        return self.request("PATCH", path, params=params, json=json, entity=entity)

    def delete(self, path: str, *, params: Mapping[str, Any] | None = None,
               entity: str | None = None) -> Any:
        """``DELETE path``; the parsed JSON answer (``None`` when empty)."""
        return self.request("DELETE", path, params=params, entity=entity)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, entity: str | None = None) -> Any:
        """Send one request; return its parsed JSON body (``None`` for an empty body).

        A 401 makes the auth hook refresh once and the request go again. Errors are raised
        as :mod:`crmsync.plugin.http_errors` maps them, naming ``method``, ``path``, the
        status and the vendor's message, never a credential.
        """
        response = self._send(method, path, params, json, entity)
        if response.status_code == 401 and self.auth is not None and self.auth.refresh():
            self._known_secrets()
            response = self._send(method, path, params, json, entity)
        self._observe(response)
        if response.status_code >= 400:
            raise self.error_for(response, method, path, entity)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise self._transport(exc, method, path, entity) from None

    # -- what subclasses override ---------------------------------------------------------------

    def error_for(self, response: requests.Response, method: str, path: str,
                  entity: str | None) -> Exception:
        """The exception for an error answer (status ≥ 400)."""
        body = self._body(response)
        text = f"{method} {path}: HTTP {response.status_code}"
        message = self.redact(vendor_message(body))
        return error_for_status(
            response.status_code, f"{text}: {message}" if message else text,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            quota_exhausted=self.quota_exhausted(response, body),
            auth_statuses=self.AUTH_STATUSES, connection=self.connection, entity=entity)

    def quota_exhausted(self, response: requests.Response, body: Any) -> bool:
        """Whether an error answer says the API budget is spent (a daily limit), which
        stops the run with :class:`~crmsync.QuotaExhausted` instead of waiting. The default
        never says so; a vendor's client overrides it."""
        return False

    def redact(self, text: str) -> str:
        """``text`` without this client's credentials or any secret registered with
        :func:`crmsync.register_secrets`."""
        return redact_known(self._redactor.text(text))

    # -- internals --------------------------------------------------------------------------------

    def _known_secrets(self) -> None:
        secrets = self.auth.secrets() if self.auth is not None else ()
        register_secrets(secrets)
        self._redactor = Redactor(secrets)

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, json: Any,
              entity: str | None) -> requests.Response:
        headers: dict[str, str] = {}
        query: dict[str, Any] = dict(params or {})
        if self.auth is not None:
            self.auth.apply(headers, query)
        self.api_calls.count(endpoint_label(method, path))
        import requests

        try:
            return self.session.request(method, self.base_url + path, params=query,
                                        json=json, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise self._transport(exc, method, path, entity) from None

    def _transport(self, exc: Exception, method: str, path: str, entity: str | None
                   ) -> Exception:
        err = transport_error(exc, f"{method} {path}", redact=self.redact,
                              connection=self.connection, entity=entity)
        if err is not None:
            return err
        return ConnectorError(self.redact(f"{method} {path}: {type(exc).__name__}: {exc}"),
                              connection=self.connection, entity=entity)

    def _observe(self, response: requests.Response) -> None:
        """Read the quota and clock headers every answer carries."""
        limit, remaining = (response.headers.get(h) for h in self.QUOTA_HEADERS)
        if limit is not None and remaining is not None:
            with contextlib.suppress(ValueError):
                self.quota = Quota(used=max(int(limit) - int(remaining), 0), limit=int(limit))
        date = response.headers.get("Date")
        if date:
            try:
                when = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError):
                return
            self.server_time = when.astimezone(dt.timezone.utc) if when.tzinfo else \
                when.replace(tzinfo=dt.timezone.utc)

    @staticmethod
    def _body(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return response.text

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()
