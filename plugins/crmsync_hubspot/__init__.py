"""crmsync_hubspot: the HubSpot connector (``type = "hubspot"``), built on hubspot-api-client.

See docs/connectors/hubspot.md for settings, the mapping table and sync semantics.
"""

from __future__ import annotations

from crmsync import Connector, hookimpl
from crmsync_hubspot.connector import HubSpotConnector

__all__ = ["HubSpotConnector", "crmsync_register_connectors"]


@hookimpl
def crmsync_register_connectors() -> list[type[Connector]]:
    """Register :class:`HubSpotConnector` as connector type ``hubspot``."""
    return [HubSpotConnector]
