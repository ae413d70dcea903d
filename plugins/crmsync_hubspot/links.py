"""Links to a record's page in app.hubspot.com (``Connector.record_url``)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = ["record_url"]

#: Schema table → HubSpot's object type id in record URLs (contacts 0-1, companies 0-2…).
_RECORD_TYPES = {"contacts": "0-1", "leads": "0-1", "accounts": "0-2", "opportunities": "0-3"}


def record_url(settings: Mapping[str, Any], entity: str, remote_id: str) -> str | None:
    """The record page of ``remote_id`` when the ``portal_id`` setting is given."""
    portal = str(settings.get("portal_id") or "")
    object_type = _RECORD_TYPES.get(entity)
    if entity == "leads" and settings.get("lead_definition") == "leads_object":
        object_type = "0-136"  # the Leads object
    if not portal or object_type is None:
        return None
    quoted = urllib.parse.quote(remote_id, safe="")
    return f"https://app.hubspot.com/contacts/{portal}/record/{object_type}/{quoted}"
