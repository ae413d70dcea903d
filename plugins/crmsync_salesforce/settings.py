"""The connector's settings (documented in docs/connectors/salesforce.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmsync.connector import Setting
from crmsync.errors import ConfigError

__all__ = ["SETTINGS", "ENTITY_OBJECTS", "ENTITY_LOOKUPS", "check_field_map"]

#: Schema table → the Salesforce objects read for it, in order.
ENTITY_OBJECTS: Mapping[str, tuple[str, ...]] = {
    "users": ("User",),
    "accounts": ("Account",),
    "contacts": ("Contact",),
    "leads": ("Lead",),
    "pipelines": (),
    "stages": ("OpportunityStage",),
    "opportunities": ("Opportunity",),
    "opportunity_stage_history": ("OpportunityHistory", "OpportunityFieldHistory"),
    "opportunity_contacts": ("OpportunityContactRole",),
    "activities": ("Task", "Event"),
    "currency_rates": ("DatedConversionRate", "CurrencyType"),
}

#: Schema table → the objects its mapping looks up once per run (stage ids, conversion rates).
ENTITY_LOOKUPS: Mapping[str, tuple[str, ...]] = {
    "pipelines": ("OpportunityStage", "Opportunity"),
    "stages": ("Opportunity",),
    "opportunities": ("OpportunityStage", "CurrencyType", "DatedConversionRate"),
    "opportunity_stage_history": ("OpportunityStage", "Opportunity"),
    "currency_rates": ("CurrencyType",),
}

SETTINGS: Mapping[str, Setting] = {
    "instance_url": Setting(str, "instance URL for session auth, e.g. "
                                 "https://mycompany.my.salesforce.com", default=""),
    "session_id": Setting(str, "a session id / OAuth access token from another tool "
                               "(cannot be refreshed)", default="", secret=True),
    "username": Setting(str, "user name for password or JWT bearer auth", default=""),
    "password": Setting(str, "password for username/password auth", default="", secret=True),
    "security_token": Setting(str, "the user's security token (username/password auth from "
                                   "outside trusted IP ranges)", default="", secret=True),
    "domain": Setting(str, "login domain: login, test (sandboxes) or a My Domain such as "
                           "mycompany.my", default="login"),
    "consumer_key": Setting(str, "connected app consumer key for OAuth JWT bearer auth",
                            default=""),
    "private_key_file": Setting(str, "PEM private key of the connected app's certificate "
                                     "(JWT bearer auth)", default="", path=True),
    "login_url": Setting(str, "send login requests (https://DOMAIN.salesforce.com) to this URL "
                              "instead; for tests and proxies", default=""),
    "api_version": Setting(str, "REST API version", default="61.0"),
    "objects": Setting((dict, list), "the entities to read: a list, or a table enabling and "
                                     "disabling some, e.g. {activities = false}", default={}),
    "bulk_threshold": Setting(int, "rows above which Bulk API 2.0 reads and writes",
                              default=10000),
    "lookback_seconds": Setting(int, "how far before the cursor each incremental read starts",
                                default=600),
    "quota_run_percent": Setting((int, float), "share (%) of the daily API requests remaining "
                                               "at the start a run may use", default=50),
    "quota_total_percent": Setting((int, float), "never push the org's daily API usage past "
                                                 "this share (%)", default=90),
    "field_map": Setting(dict, "custom field → schema column, e.g. "
                               "{\"Account.Segment__c\" = \"accounts.segment\"}", default={}),
    "ca_bundle": Setting(str, "CA bundle (PEM) to verify TLS with, e.g. behind a corporate "
                              "proxy; REQUESTS_CA_BUNDLE is honoured too", default="", path=True),
}


def check_field_map(field_map: Mapping[str, Any], columns: Mapping[str, set[str]]
                    ) -> dict[str, dict[str, str]]:
    """``{"Account.Segment__c": "accounts.segment"}`` → ``{"Account": {"Segment__c": "segment"}}``.

    :param columns: schema table → its column names.
    :raises ConfigError: naming the bad key.
    """
    out: dict[str, dict[str, str]] = {}
    # stage-history entries are derived from history rows, not mapped field by field
    objects = {o: e for e, objs in ENTITY_OBJECTS.items() for o in objs
               if e != "opportunity_stage_history"}
    for source, target in field_map.items():
        obj, _, fld = str(source).partition(".")
        if obj not in objects or not fld:
            raise ConfigError(f"field_map key {source!r} must be Object.Field with Object one "
                              f"of {', '.join(sorted(objects))}", key="field_map")
        table, _, column = str(target).partition(".")
        if table != objects[obj]:
            raise ConfigError(f"field_map {source!r}: {obj} is read into {objects[obj]}, "
                              f"not {table!r}", key="field_map")
        if not (column.startswith("custom.") and len(column) > 7) and \
                column not in columns.get(table, set()):
            raise ConfigError(f"field_map {source!r}: {target!r} is not a column of {table} "
                              f"(or custom.<name>)", key="field_map")
        out.setdefault(obj, {})[fld] = column
    return out
