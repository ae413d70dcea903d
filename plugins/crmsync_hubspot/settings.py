"""The ``hubspot`` connector's settings and the checks a type cannot express."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync import BOOK_KEEPING_COLUMNS, SYNCED_TABLES, ConfigError, Setting
from crmsync_hubspot.properties import ENGAGEMENT_TYPES

__all__ = ["SETTINGS", "INPUT_SOURCES", "check_settings", "TIMEOUT", "OAuthCredentials"]

#: (connect, read) timeouts of every call: the defaults of ``connect_timeout`` and
#: ``read_timeout``.
TIMEOUT = (10.0, 120.0)


@dataclass(frozen=True)
class OAuthCredentials:
    """An OAuth app's client credentials and a portal's refresh token."""

    client_id: str
    client_secret: str
    refresh_token: str


#: Every setting, documented in docs/connectors/hubspot.md.
SETTINGS: dict[str, Setting] = {
    "access_token": Setting(str, "a private app's access token", default="", secret=True),
    "client_id": Setting(str, "OAuth app client id (with client_secret and refresh_token)",
                         default=""),
    "client_secret": Setting(str, "OAuth app client secret", default="", secret=True),
    "refresh_token": Setting(str, "OAuth refresh token of the portal", default="",
                             secret=True),
    "base_url": Setting(str, "the API's base URL", default="https://api.hubapi.com"),
    "portal_id": Setting((str, int), "the portal (hub) id: the dashboard links records to "
                                     "app.hubspot.com with it", default=""),
    "rate_limit": Setting(int, "requests per 10 seconds (100 Free/Starter, 190 "
                               "Professional/Enterprise)", default=100),
    "search_rate_limit": Setting(int, "search requests per second", default=4),
    "daily_budget_percent": Setting(float, "stop once this share of the portal's daily "
                                           "API allowance is used", default=100.0),
    "objects": Setting(list, "the tables to read (default: all the connector reads)",
                       default=[]),
    "lookback_seconds": Setting(int, "re-read records modified this long before the "
                                     "cursor (search index lag)", default=60),
    "field_map": Setting(dict, "per object type, property → schema column", default={}),
    "connect_timeout": Setting(float, "seconds to wait for a connection to HubSpot",
                               default=TIMEOUT[0]),
    "read_timeout": Setting(float, "seconds to wait for each answer", default=TIMEOUT[1]),
    "lead_definition": Setting(str, "what a lead is: contacts by lifecycle stage, or the "
                                    "Leads object", default="lifecycle",
                               choices=("lifecycle", "leads_object")),
    "goal_types": Setting(list, "the goal types (hs_goal_type) that are revenue quotas",
                          default=["sales_quota"]),
}

#: The schema tables each object type's properties may be mapped into (``field_map``).
FIELD_MAP_TABLES = {"companies": ("accounts",), "contacts": ("contacts", "leads"),
                    "deals": ("opportunities",), "leads": ("leads",),
                    "products": ("products",), "line_items": ("opportunity_line_items",),
                    "goal_targets": ("quotas",), "feedback_submissions": ("feedback",),
                    "campaigns": ("spend",),
                    **{t: ("activities",) for t in ENGAGEMENT_TYPES}}


def check_settings(s: Mapping[str, Any], entities: Sequence[str], section: str
                   ) -> OAuthCredentials | None:
    """Check what a type cannot: credentials, ``objects``, the budget, the timeouts,
    ``field_map``.

    :return: the OAuth credentials, or ``None`` for a private-app token.
    :raises ConfigError: naming the section and key.
    """
    oauth = None
    if not s["access_token"]:
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not s[k]]
        if missing:
            raise ConfigError("set access_token (private app) or client_id, client_secret "
                              "and refresh_token (OAuth)", section=section, key=missing[0])
        oauth = OAuthCredentials(s["client_id"], s["client_secret"], s["refresh_token"])
    unknown = set(s["objects"]) - set(entities)
    if unknown:
        raise ConfigError(f"not read by the hubspot connector: {', '.join(sorted(unknown))}",
                          section=section, key="objects")
    if not 0 < s["daily_budget_percent"] <= 100:
        raise ConfigError("must be more than 0 and at most 100", section=section,
                          key="daily_budget_percent")
    for key in ("connect_timeout", "read_timeout"):
        if not 0 < float(s[key]) < math.inf:
            raise ConfigError(f"expected a positive number of seconds, got {s[key]!r}",
                              section=section, key=key)
    _check_field_map(s["field_map"], section)
    return oauth


def _check_field_map(field_map: Mapping[str, Any], section: str) -> None:
    """``field_map`` names known object types and existing schema columns."""
    for object_type, mapping in field_map.items():
        if object_type not in FIELD_MAP_TABLES or not isinstance(mapping, dict):
            raise ConfigError(f"field_map: expected {{object type = {{property = column}}}} "
                              f"with object types {', '.join(sorted(FIELD_MAP_TABLES))}; got "
                              f"{object_type!r}", section=section, key="field_map")
        tables = FIELD_MAP_TABLES[object_type]
        columns = {c.name for t in tables for c in SYNCED_TABLES[t].columns}
        for prop, column in mapping.items():
            if column not in columns or column in BOOK_KEEPING_COLUMNS:
                raise ConfigError(f"field_map.{object_type}.{prop}: {column!r} is not a "
                                  f"column of {' or '.join(tables)}",
                                  section=section, key="field_map")


#: Where the connector reads the tables KPIs need beyond deals (``crmsync status``).
INPUT_SOURCES: Mapping[str, str] = {
    "quotas": "HubSpot goals (sales quota goals)",
    "spend": "HubSpot marketing campaigns with spend",
    "feedback": "HubSpot feedback surveys (NPS, CSAT, CES)",
    "products": "HubSpot products",
    "opportunity_line_items": "HubSpot line items",
    "web_traffic": "HubSpot website analytics (sources report)",
}
