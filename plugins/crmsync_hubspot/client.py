"""One authenticated, throttled, counted HubSpot client per connection.

Every call goes through hubspot-api-client, with these choices (docs/connectors/hubspot.md):

* **One ApiClient per sub-package.** ``client.crm.objects.basic_api`` builds a *new*
  ``ApiClient`` and urllib3 ``PoolManager`` on every attribute access. We pass the client an
  ``api_factory`` that builds one ``ApiClient`` per sub-package (objects, owners, pipelines,
  properties, associations, oauth) and reuses it, so connections are pooled and the token is
  updated in one place after a refresh.
* **The client's urllib3 Retry is off** (``retry=False``): urllib3 never retries POST
  (search, batch) anyway, and crmsync's retry module is the only one (docs/concepts.md#retries).
* **Raw responses.** Calls pass ``_preload_content=False`` and parse the JSON body with
  :func:`json.loads`: the generated models cost more than the HTTP round trip on 100-200 record
  pages (``bench/hubspot_deserialise.py`` measures it), drop keys they do not know (``url``)
  and we want plain dicts of strings anyway. Status, headers and the 207 shape stay readable.
* **Rate-limit headers** (``X-HubSpot-RateLimit-*``) are read from every response to keep
  :attr:`HubSpotClient.quota` and enforce ``daily_budget_percent``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hubspot
import urllib3

from crmsync import ApiCallCounter, AuthError, ConfigError, Quota, QuotaExhausted
from crmsync_hubspot.errors import (
    CIHeaders,
    is_api_exception,
    map_api_exception,
    map_transport_error,
    map_unreadable_body,
    normalise_headers,
    retry_after_seconds,
)
from crmsync_hubspot.settings import TIMEOUT, OAuthCredentials
from crmsync_hubspot.throttle import Throttle

__all__ = ["HubSpotClient", "Response", "OAuthCredentials"]

#: Seconds before an OAuth access token's expiry at which it is refreshed.
REFRESH_MARGIN = 60.0


@dataclass
class Response:
    """A parsed HubSpot response."""

    status: int
    data: dict[str, Any]
    headers: CIHeaders


class _SharedApiClients:
    """An ``api_factory`` for :class:`hubspot.Client`: one ``ApiClient`` per sub-package."""

    def __init__(self) -> None:
        self.api_clients: dict[str, Any] = {}

    def __call__(self, package: Any, api_name: str, config: dict[str, Any]) -> Any:
        api_client = self.api_clients.get(package.__name__)
        if api_client is None:
            configuration = package.Configuration()
            for key, value in config.items():
                if key == "retry":
                    configuration.retries = value
                else:
                    setattr(configuration, key, value)
            api_client = package.ApiClient(configuration=configuration)
            api_client.user_agent = "crmsync-hubspot (hubspot-api-client)"
            self.api_clients[package.__name__] = api_client
        return getattr(package, api_name)(api_client=api_client)

    def set_token(self, token: str) -> None:
        for api_client in self.api_clients.values():
            api_client.configuration.access_token = token


class HubSpotClient:
    """Calls HubSpot through hubspot-api-client: throttled, counted, errors mapped.

    :param access_token: a private-app token; or pass ``oauth`` to obtain and refresh one.
    :param base_url: ``https://api.hubapi.com`` or a test server.
    :param counter: where calls are counted per endpoint (the connector's ``api_calls``).
    :param daily_budget_percent: stop (``QuotaExhausted``) once the portal's daily allowance
        used, per ``X-HubSpot-RateLimit-Daily(-Remaining)``, passes this percentage.
    :param timeout: (connect, read) seconds of every call.
    """

    def __init__(self, *, base_url: str, counter: ApiCallCounter, throttle: Throttle,
                 access_token: str | None = None, oauth: OAuthCredentials | None = None,
                 daily_budget_percent: float = 100.0, connection: str | None = None,
                 clock: Callable[[], float] = time.time,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        if not access_token and oauth is None:
            raise ConfigError("set access_token (private app) or client_id, client_secret "
                              "and refresh_token (OAuth)",
                              section=f"connections.{connection}" if connection else None,
                              key="access_token")
        self.counter = counter
        self.throttle = throttle
        self.oauth = oauth
        self.connection = connection
        self.daily_budget_percent = daily_budget_percent
        self.clock = clock
        self.timeout = timeout
        self.quota: Quota | None = None
        self._token = access_token or ""
        self._expires_at = float("inf") if access_token else 0.0
        self._apis = _SharedApiClients()
        self.sdk = hubspot.Client.create(access_token=self._token or None,
                                         host=base_url.rstrip("/"), retry=False,
                                         api_factory=self._apis)
        crm = self.sdk.crm
        self.objects = crm.objects.basic_api
        self.objects_batch = crm.objects.batch_api
        self.objects_search = crm.objects.search_api
        self.owners = crm.owners.owners_api
        self.pipelines = crm.pipelines.pipelines_api
        self.properties = crm.properties.core_api
        self.property_groups = crm.properties.groups_api
        self.associations = crm.associations.v4.batch_api
        self.associations_basic = crm.associations.v4.basic_api
        self.tokens = self.sdk.oauth.tokens_api

    # -- auth -------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Exchange the refresh token for a new access token (POST /oauth/v1/token)."""
        assert self.oauth is not None
        endpoint = "POST /oauth/v1/token"
        self.throttle.acquire()
        self.counter.count(endpoint)
        try:
            raw = self.tokens.create(grant_type="refresh_token",
                                     client_id=self.oauth.client_id,
                                     client_secret=self.oauth.client_secret,
                                     refresh_token=self.oauth.refresh_token,
                                     _preload_content=False, _request_timeout=self.timeout)
            payload = raw.data
        except urllib3.exceptions.HTTPError as exc:
            raise map_transport_error(exc, endpoint=endpoint, connection=self.connection) from None
        except Exception as exc:
            if not is_api_exception(exc):
                raise
            err = map_api_exception(exc, endpoint=endpoint, connection=self.connection)
            if getattr(exc, "status", 0) in (400, 401, 403):  # invalid_grant and friends
                raise AuthError(f"OAuth token refresh failed: {err}",
                                connection=self.connection) from None
            raise err from None
        try:
            body = json.loads(payload or b"{}")
        except ValueError as exc:
            raise map_unreadable_body(exc, endpoint=endpoint, status=raw.status,
                                      connection=self.connection) from None
        self._token = body["access_token"]
        self._expires_at = self.clock() + float(body.get("expires_in", 1800))
        self._apis.set_token(self._token)

    def _ensure_token(self) -> None:
        if self.oauth is not None and self.clock() >= self._expires_at - REFRESH_MARGIN:
            self._refresh()

    # -- calls ------------------------------------------------------------------------------

    def call(self, endpoint: str, method: Callable[..., Any], *args: Any, search: bool = False,
             entity: str | None = None, **kwargs: Any) -> Response:
        """Call one SDK ``method`` on the raw-response path and parse its JSON.

        :param endpoint: the label calls are counted under, e.g.
            ``POST /crm/v3/objects/deals/search``.
        :param search: spend from the search budget too.
        :raises crmsync.ConnectorError: mapped by :func:`~crmsync_hubspot.errors.map_api_exception`;
            a 401 refreshes an OAuth token once and repeats the call before giving up.
        """
        self._ensure_token()
        refreshed = False
        while True:
            self.throttle.acquire(search=search)
            self.counter.count(endpoint)
            try:
                raw = method(*args, _preload_content=False, _request_timeout=self.timeout,
                             **kwargs)
                payload = raw.data  # a body cut short raises ProtocolError here
            except urllib3.exceptions.HTTPError as exc:
                raise map_transport_error(exc, endpoint=endpoint, connection=self.connection,
                                          entity=entity) from None
            except Exception as exc:
                if not is_api_exception(exc):
                    raise
                if getattr(exc, "status", 0) == 401 and self.oauth is not None and not refreshed:
                    refreshed = True
                    self._refresh()
                    continue
                raise map_api_exception(exc, endpoint=endpoint, connection=self.connection,
                                        entity=entity) from None
            headers = normalise_headers(raw.headers)
            self.read_limits(headers, entity)
            try:
                data = json.loads(payload) if payload else {}
            except ValueError as exc:
                raise map_unreadable_body(exc, endpoint=endpoint, status=raw.status,
                                          connection=self.connection, entity=entity) from None
            return Response(status=raw.status, data=data if isinstance(data, dict) else
                            {"results": data}, headers=headers)

    def read_limits(self, headers: CIHeaders, entity: str | None) -> None:
        """Honour the rate-limit headers: when the rolling window has nothing left, the next
        call waits ``X-HubSpot-RateLimit-Interval-Milliseconds`` instead of drawing a 429 (a
        429 itself raises RateLimited and the engine waits); track the daily allowance and stop once
        ``daily_budget_percent`` of it is used."""
        if headers.get_ci("x-hubspot-ratelimit-remaining") == "0":
            self.throttle.general.hold(retry_after_seconds(headers) or 10.0)
        daily, remaining = (headers.get_ci("x-hubspot-ratelimit-daily"),
                            headers.get_ci("x-hubspot-ratelimit-daily-remaining"))
        if not daily or remaining is None:
            return
        try:
            limit, left = int(daily), int(remaining)
        except ValueError:
            return
        self.quota = Quota(used=limit - left, limit=limit)
        if limit and (limit - left) * 100.0 / limit >= self.daily_budget_percent:
            raise QuotaExhausted(
                f"{limit - left} of the portal's {limit} daily API calls used, at or past "
                f"daily_budget_percent = {self.daily_budget_percent:g}; the sync continues "
                f"from its cursors when the budget allows", connection=self.connection,
                entity=entity)

    def close(self) -> None:
        """Close the pooled connections."""
        for api_client in self._apis.api_clients.values():
            with contextlib.suppress(AttributeError):  # older generated clients lack it
                api_client.rest_client.pool_manager.clear()
