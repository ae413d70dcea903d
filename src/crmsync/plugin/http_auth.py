"""Authentication hooks for :class:`crmsync.ApiClient` (docs/toolkit.md, "Authentication").

An auth hook adds its credential to each request (a header or a query parameter), names the
secret values it holds so the client can keep them out of every error message, and may
refresh the credential once when the CRM answers 401.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

__all__ = ["Auth", "BearerAuth", "HeaderAuth", "QueryAuth", "RefreshingAuth"]


class Auth:
    """Base of the auth hooks; subclass it for a scheme the ones below do not cover."""

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]
              ) -> None:
        """Add the credential to one request's ``headers`` or query ``params``."""

    def secrets(self) -> tuple[str, ...]:
        """The literal secret values this hook sends (redacted from every error)."""
        return ()

    def refresh(self) -> bool:
        """Get a fresh credential after a 401; ``True`` when the request is worth sending
        once more. The default cannot refresh."""
        return False


class HeaderAuth(Auth):
    """A credential sent in a header: ``HeaderAuth("X-Api-Key", key)``.

    :param prefix: put before the value (``"Bearer "``, ``"Token "``).
    """

    def __init__(self, header: str, value: str, *, prefix: str = "") -> None:
        self.header = header
        self.value = value
        self.prefix = prefix

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]
              ) -> None:
        headers[self.header] = f"{self.prefix}{self.value}"

    def secrets(self) -> tuple[str, ...]:
        return (self.value,)


class BearerAuth(HeaderAuth):
    """``Authorization: Bearer <token>`` (an API token or an OAuth access token)."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token, prefix="Bearer ")


class QueryAuth(Auth):
    """An API key sent as a query parameter: ``QueryAuth("api_token", key)``. Error
    messages never show query strings, and the key is redacted wherever it appears."""

    def __init__(self, param: str, value: str) -> None:
        self.param = param
        self.value = value

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]
              ) -> None:
        params[self.param] = self.value

    def secrets(self) -> tuple[str, ...]:
        return (self.value,)


class RefreshingAuth(Auth):
    """A bearer token obtained from ``fetch_token()`` on first use and fetched again once
    when the CRM answers 401 (an expired OAuth access token); a second 401 is an
    :class:`~crmsync.AuthError`.

    :param fetch_token: returns a fresh access token (e.g. from a refresh token); raise
        :class:`~crmsync.AuthError` when that is refused.
    """

    def __init__(self, fetch_token: Callable[[], str]) -> None:
        self.fetch_token = fetch_token
        self.token: str | None = None
        self._old: list[str] = []

    def apply(self, headers: MutableMapping[str, str], params: MutableMapping[str, Any]
              ) -> None:
        if self.token is None:
            self.token = self.fetch_token()
        headers["Authorization"] = f"Bearer {self.token}"

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._old) + ((self.token,) if self.token else ())

    def refresh(self) -> bool:
        if self.token:
            self._old.append(self.token)
        self.token = self.fetch_token()
        return True
