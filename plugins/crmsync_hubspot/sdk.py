"""The SDK the connector talks to HubSpot with, loaded on first use.

hubspot-api-client (with urllib3) comes with the ``hubspot`` extra
(``pip install 'crmsync[hubspot]'``, see docs/deploying.md), so the plugin itself must load
without it: only :mod:`crmsync_hubspot.client` imports the SDK at module level, and the
connector reaches that module through :func:`client_class` alone (:func:`crmsync.load_sdk`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmsync import load_sdk

if TYPE_CHECKING:
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["MISSING", "client_class"]

#: The one line a user sees when the extra is not installed.
MISSING = "the hubspot connector needs hubspot-api-client: pip install 'crmsync[hubspot]'"
#: The top-level packages of the ``hubspot`` extra.
_SDK_PACKAGES = frozenset({"hubspot", "urllib3"})


def client_class() -> type[HubSpotClient]:
    """:class:`~crmsync_hubspot.client.HubSpotClient`, importing the SDK.

    :raises crmsync.ConfigError: :data:`MISSING`, when the ``hubspot`` extra is not installed.
    """

    def load() -> type[HubSpotClient]:
        from crmsync_hubspot.client import HubSpotClient

        return HubSpotClient

    return load_sdk(load, packages=_SDK_PACKAGES, missing=MISSING)
