"""The SDK the connector talks to HubSpot with, loaded on first use.

hubspot-api-client (with urllib3) comes with the ``hubspot`` extra
(``pip install 'crmsync[hubspot]'``, see docs/deploying.md), so the plugin itself must load
without it: only :mod:`crmsync_hubspot.client` imports the SDK at module level, and the
connector reaches that module through :func:`client_class` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmsync import ConfigError

if TYPE_CHECKING:
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["MISSING", "client_class"]

#: The one line a user sees when the extra is not installed.
MISSING = "the hubspot connector needs hubspot-api-client: pip install 'crmsync[hubspot]'"
#: The top-level packages of the ``hubspot`` extra.
_SDK_PACKAGES = frozenset({"hubspot", "urllib3"})


def client_class() -> type[HubSpotClient]:
    """:class:`~crmsync_hubspot.client.HubSpotClient`, importing the SDK.

    :raises ConfigError: :data:`MISSING`, when the ``hubspot`` extra is not installed.
    """
    try:
        from crmsync_hubspot.client import HubSpotClient
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] in _SDK_PACKAGES:
            raise ConfigError(MISSING) from None
        raise
    return HubSpotClient
