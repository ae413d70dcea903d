"""Authentication, the HTTP session, API-call counting and the quota check.

Every request simple-salesforce sends (REST, Bulk 2.0, SOAP login, OAuth) goes through one
``requests.Session`` whose :class:`_Transport` adapter

* counts the request per endpoint in the connector's :class:`~crmsync.ApiCallCounter`,
* checks the run's :class:`~crmsync_salesforce.quota.QuotaBudget` first (raising
  :class:`crmsync.QuotaExhausted` before a request the budget cannot afford),
* reads ``Sforce-Limit-Info`` from every response (simple-salesforce only reads it on some
  calls, and never on Bulk 2.0),
* applies the connection's ``connect_timeout``/``read_timeout`` (simple-salesforce sends
  none) and, when ``login_url`` is set,
  sends requests for ``https://{domain}.salesforce.com`` there instead (tests and proxies),
* raises :class:`crmsync.RateLimited` on HTTP 429 with the seconds of its ``Retry-After``
  (seconds or an HTTP-date): simple-salesforce drops response headers from its errors, and
  crmsync's retry (not the connector) waits.

``ca_bundle`` verifies every request (set on each send: requests would otherwise let
``REQUESTS_CA_BUNDLE`` override ``session.verify``); without it ``REQUESTS_CA_BUNDLE`` applies.

Logging in is done here, not by simple-salesforce: its built-in refresh retries a rejected
session up to three times and can loop. :meth:`SalesforceClient.call`
re-authenticates once on ``INVALID_SESSION_ID`` when the auth mode can (username/password, JWT)
and otherwise raises :class:`crmsync.AuthError`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)
from simple_salesforce.login import SalesforceLogin

from crmsync import (
    ApiCallCounter,
    AuthError,
    ConnectorError,
    RateLimited,
    parse_retry_after,
)
from crmsync_salesforce.errors import error_code, translate
from crmsync_salesforce.quota import QuotaBudget, parse_limit_info
from crmsync_salesforce.settings import DEFAULT_TIMEOUT, auth_mode

__all__ = ["SalesforceClient", "endpoint_label", "auth_mode"]

log = logging.getLogger(__name__)
T = TypeVar("T")


_VERSION_PREFIX = re.compile(r"^/services/data/v\d+\.\d+")
_SF_ID = re.compile(r"/(?=[A-Za-z]*\d)[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?=/|$)")


def endpoint_label(method: str, url: str) -> str:
    """A short, stable label for counting: ``GET /queryAll``, ``GET /query (next page)``…"""
    path = urlsplit(url).path.rstrip("/") or "/"
    path = _VERSION_PREFIX.sub("", path)
    if path.startswith("/services/Soap/u"):
        return f"{method} /Soap/u (login)"
    if path.startswith("/services/Soap/m"):
        return f"{method} /Soap/m (metadata)"
    if path.startswith("/services/"):
        path = path[len("/services"):]
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] in ("query", "queryAll"):
        return f"{method} /{parts[1]} (next page)"
    return f"{method} {_SF_ID.sub('/{id}', path)}"


def _query_more(sf: Salesforce, *, url: str, headers: Mapping[str, str]) -> Any:
    return sf.query_more(url, identifier_is_url=True, headers=headers)


class _Transport(HTTPAdapter):
    """The session's adapter: quota check, counting, limit header, timeout, login redirect."""

    def __init__(self, client: SalesforceClient) -> None:
        super().__init__(pool_connections=4, pool_maxsize=4)
        self.client = client

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: dict[str, str] | None = None) -> requests.Response:
        client = self.client
        if client.login_base and request.url and request.url.startswith(client.login_base):
            request.url = client.login_url + request.url[len(client.login_base):]
        label = endpoint_label(request.method or "GET", request.url or "")
        client.budget.before_call(connection=client.connection, entity=client.entity)
        client.counter.count(label)
        if client.ca_bundle:
            # requests lets REQUESTS_CA_BUNDLE override session.verify; the setting must win.
            verify = client.ca_bundle
        response = super().send(request, stream=stream,
                                timeout=client.timeout if timeout is None else timeout,
                                verify=verify, cert=cert, proxies=proxies)
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            if client.budget.started:
                client.budget.observe(*usage)
            else:  # the run's first answer sets its budget: no /limits request is needed
                client.budget.start(*usage)
        if response.status_code == 429:
            # simple-salesforce turns a 429 into a generic error and drops its headers; the
            # Retry-After it carries is read here, and crmsync's retry waits it out.
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            response.close()
            raise RateLimited(f"{label}: HTTP 429 Too Many Requests",
                              retry_after=retry_after, connection=client.connection,
                              entity=client.entity)
        return response


class SalesforceClient:
    """One logged-in simple-salesforce handle plus the session it talks through.

    :param settings: the connector's validated settings.
    :param connection: the connection name (for error messages).
    :param counter: where every request is counted.
    :param budget: the run's quota budget, checked before every request.
    """

    def __init__(self, settings: Mapping[str, Any], *, connection: str,
                 counter: ApiCallCounter, budget: QuotaBudget) -> None:
        self.settings = settings
        self.connection = connection
        self.counter = counter
        self.budget = budget
        self.entity: str | None = None
        self.version = str(settings["api_version"]).lstrip("v")
        self.timeout = (float(settings.get("connect_timeout") or DEFAULT_TIMEOUT[0]),
                        float(settings.get("read_timeout") or DEFAULT_TIMEOUT[1]))
        self.mode = auth_mode(settings)
        domain = settings.get("domain") or "login"
        self.login_url = (settings.get("login_url") or "").rstrip("/")
        self.login_base = f"https://{domain}.salesforce.com" if self.login_url else ""
        self.session = requests.Session()
        adapter = _Transport(self)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.ca_bundle = str(settings.get("ca_bundle") or "")
        if self.ca_bundle:
            self.session.verify = self.ca_bundle
        self._sf: Salesforce | None = None

    # -- authentication -----------------------------------------------------------------------

    @property
    def can_reauthenticate(self) -> bool:
        """Whether an expired session can be replaced by logging in again."""
        return self.mode in ("password", "jwt")

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce handle, logging in on first use."""
        if self._sf is None:
            self._sf = self._login()
        return self._sf

    def _login(self) -> Salesforce:
        s = self.settings
        if self.mode == "session":
            return Salesforce(instance_url=s["instance_url"], session_id=s["session_id"],
                              session=self.session, version=self.version)
        domain = s.get("domain") or "login"
        try:
            if self.mode == "jwt":
                session_id, instance = SalesforceLogin(
                    username=s["username"], consumer_key=s["consumer_key"],
                    privatekey_file=str(s["private_key_file"]), domain=domain,
                    session=self.session, sf_version=self.version)
            else:
                session_id, instance = SalesforceLogin(
                    username=s["username"], password=s["password"],
                    security_token=s.get("security_token") or "", domain=domain,
                    session=self.session, sf_version=self.version)
        except SalesforceAuthenticationFailed as exc:
            # exc.code is INVALID_LOGIN, invalid_grant…; the message may echo the username only.
            raise AuthError(f"login failed ({self.mode} auth): {exc.code}",
                            connection=self.connection) from None
        except requests.RequestException as exc:  # timeouts, resets, a body cut short
            raise translate(exc, connection=self.connection, entity=self.entity,
                            what="login") from None
        return Salesforce(instance=instance, session_id=session_id, session=self.session,
                          version=self.version)

    # -- calls --------------------------------------------------------------------------------

    def call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run ``fn(sf)``; map failures to crmsync errors; log in again once if expired
        (``fn`` then runs again with the new session).

        :param what: named in error messages (``query Opportunity``).
        """
        for attempt in (1, 2):
            try:
                return fn(self.sf)
            except SalesforceExpiredSession as exc:
                if attempt == 1 and self.can_reauthenticate and \
                        error_code(exc) in (None, "INVALID_SESSION_ID"):
                    log.info("%s: session expired; logging in again", self.connection)
                    self._sf = self._login()
                    continue
                raise translate(exc, connection=self.connection, entity=self.entity, what=what,
                                can_reauthenticate=self.can_reauthenticate) from None
            except SalesforceOperationError as exc:  # a Bulk 2.0 job Failed or Aborted
                raise ConnectorError(f"{what}: Bulk API job failed: {exc}",
                                     connection=self.connection, entity=self.entity) from None
            except (SalesforceError, requests.RequestException) as exc:
                raise translate(exc, connection=self.connection, entity=self.entity,
                                what=what) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def restful(self, what: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """``sf.restful(path)`` (relative to ``/services/data/vXX.X/``) through :meth:`call`."""
        return self.call(what, lambda sf: sf.restful(path, method=method, **kwargs))

    def query_pages(self, soql: str, *, what: str, include_deleted: bool = True,
                    batch_size: int = 2000) -> Iterator[list[dict[str, Any]]]:
        """The records of ``soql`` page by page (``queryAll`` by default).

        Pages follow ``nextRecordsUrl``; every request carries
        ``Sforce-Query-Options: batchSize=N`` (Salesforce may send fewer).
        """
        for records, _ in self.query_pages_with_total(soql, what=what,
                                                      include_deleted=include_deleted,
                                                      batch_size=batch_size):
            yield records

    def query_pages_with_total(self, soql: str, *, what: str, include_deleted: bool = True,
                               batch_size: int = 2000
                               ) -> Generator[tuple[list[dict[str, Any]], int], None, None]:
        """Like :meth:`query_pages`, with each page the query's ``totalSize`` (its row count,
        which Salesforce computes for the whole query with the first page)."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        first = self.call(what, lambda sf: sf.query(soql, include_deleted=include_deleted,
                                                    headers=headers))
        for page in self.follow(first, what=what, batch_size=batch_size):
            yield page.get("records", []), int(page.get("totalSize") or 0)

    def follow(self, page: Mapping[str, Any], *, what: str, batch_size: int = 2000
               ) -> Iterator[Mapping[str, Any]]:
        """``page`` and every page after it. Only Salesforce's own signal decides: ``done``
        false means another page waits at ``nextRecordsUrl``; a page's length never does
        (Salesforce may send fewer rows than ``batchSize`` on any page).

        :raises crmsync.ConnectorError: an answer with ``done`` false and no
            ``nextRecordsUrl`` (the rest could not be read; stopping would lose it silently).
        """
        while True:
            yield page
            if page.get("done", True) is not False:
                return
            next_url = page.get("nextRecordsUrl")
            if not next_url:
                raise ConnectorError(f"{what}: Salesforce answered done=false without a "
                                     "nextRecordsUrl; the rest of the query cannot be read",
                                     connection=self.connection, entity=self.entity)
            page = self.query_more(str(next_url), what=what, batch_size=batch_size)

    def query_more(self, next_url: str, *, what: str, batch_size: int = 2000) -> Any:
        """The page at a query's ``nextRecordsUrl``."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        return self.call(what, functools.partial(_query_more, url=next_url, headers=headers))

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()
