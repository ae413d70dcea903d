"""The connector's settings (documented in docs/connectors/salesforce.md)."""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from crmsync import ConfigError, Setting

__all__ = ["SETTINGS", "DEFAULT_TIMEOUT", "auth_mode", "ENTITY_OBJECTS", "ENTITY_LOOKUPS",
           "INPUT_SOURCES", "check_field_map", "check_login_domain", "check_api_version",
           "check_timeouts", "instance_host"]

#: (connect, read) seconds, the defaults of ``connect_timeout`` and ``read_timeout``;
#: Salesforce lets a query run for up to 120 s before QUERY_TIMEOUT.
DEFAULT_TIMEOUT = (30.0, 300.0)

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
    "opportunity_field_history": ("OpportunityHistory", "OpportunityFieldHistory"),
    "opportunity_contacts": ("OpportunityContactRole",),
    "activities": ("Task", "Event"),
    "currency_rates": ("DatedConversionRate", "CurrencyType"),
    "products": ("Product2",),  # crmsync_salesforce.line_items
    "opportunity_line_items": ("OpportunityLineItem",),
    "quotas": ("ForecastingQuota",),  # crmsync_salesforce.inputs
    "spend": ("Campaign",),
    "feedback": ("SurveyQuestionResponse",),  # crmsync_salesforce.surveys
}

#: Where the connector reads the tables KPIs need beyond deals (``crmsync status``).
INPUT_SOURCES: Mapping[str, str] = {
    "quotas": "Salesforce forecast quotas (ForecastingQuota, Collaborative Forecasts)",
    "spend": "Salesforce campaigns with an actual cost (Campaign)",
    "feedback": "Salesforce survey responses (Feedback Management)",
    "products": "Salesforce products (Product2)",
    "opportunity_line_items": "Salesforce opportunity products (OpportunityLineItem)",
}

#: Schema table → the objects its mapping looks up once per run (stage ids, conversion rates).
ENTITY_LOOKUPS: Mapping[str, tuple[str, ...]] = {
    "pipelines": ("OpportunityStage", "Opportunity"),
    "stages": ("Opportunity",),
    "opportunities": ("OpportunityStage", "CurrencyType", "DatedConversionRate"),
    "opportunity_stage_history": ("OpportunityStage", "Opportunity"),
    "opportunity_field_history": ("OpportunityStage", "Opportunity"),
    "currency_rates": ("CurrencyType",),
    "opportunity_line_items": ("OpportunityLineItemSchedule",),  # revenue schedules
    "feedback": ("SurveySubject",),  # crmsync_salesforce.surveys
    "accounts": ("Territory2Model", "Territory2", "ObjectTerritory2Association"),  # territories
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
                           "mycompany.my (https://DOMAIN.salesforce.com)", default="login"),
    "allow_custom_login_host": Setting(bool, "DANGEROUS: accept a domain other than login, "
                                             "test or a My Domain (*.my)", default=False),
    "consumer_key": Setting(str, "connected app consumer key for OAuth JWT bearer auth",
                            default=""),
    "private_key_file": Setting(str, "PEM private key of the connected app's certificate "
                                     "(JWT bearer auth)", default="", path=True),
    "login_url": Setting(str, "send login requests (https://DOMAIN.salesforce.com) to this URL "
                              "instead; for tests and proxies", default=""),
    "api_version": Setting(str, "REST API version, e.g. 61.0", default="61.0"),
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
    "forecast_type": Setting(str, "the forecast type (ForecastingType.DeveloperName) whose "
                                  "quotas are read into quotas", default="OpportunityRevenue"),
    "connect_timeout": Setting(float, "seconds to wait for a connection to Salesforce",
                               default=DEFAULT_TIMEOUT[0]),
    "read_timeout": Setting(float, "seconds to wait for each answer (Salesforce runs a query "
                                   "for up to 120 s)", default=DEFAULT_TIMEOUT[1]),
    "survey_types": Setting(dict, "survey Name or DeveloperName → nps, csat or ces, for its "
                                  "Rating, Slider, Score and Number answers, e.g. "
                                  "{\"Support effort\" = \"ces\"}", default={}),
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
    # history entries and changes are derived from history rows, not mapped field by field
    objects = {o: e for e, objs in ENTITY_OBJECTS.items() for o in objs
               if e not in ("opportunity_stage_history", "opportunity_field_history")}
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


#: Where simple-salesforce logs in: ``https://{domain}.salesforce.com`` (its ``domain``
#: argument is the host name without ``.salesforce.com``).
LOGIN_HOST = "https://DOMAIN.salesforce.com"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: Host name labels only: nothing that could add a path, port, user info or scheme.
_HOST_LABELS = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.IGNORECASE)
#: A My Domain login host, ``NAME.my.salesforce.com`` and its enhanced-domain forms for other
#: org types (``NAME--SANDBOX.sandbox.my``, ``NAME-dev-ed.develop.my``, ``NAME.scratch.my``…);
#: see docs/connectors/salesforce.md.
_MY_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})?\.my", re.IGNORECASE)
_API_VERSION = re.compile(r"v?(\d{2,3}\.0)")


def check_login_domain(domain: str, *, allow_custom: bool = False) -> str:
    """The ``domain`` setting, checked: ``login``, ``test`` or a My Domain (``mycompany.my``).

    The login request carries the password or the signed JWT, so it must go to a Salesforce
    login host: anything that is not host-name labels (a ``/``, ``:``, ``@``, ``?``, ``#``) is
    always refused, and another host under ``salesforce.com`` only with ``allow_custom``
    (``allow_custom_login_host = true``).

    :raises ConfigError: naming the ``domain`` key.
    """
    value = domain.strip()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value, flags=re.IGNORECASE).split("/")[0]
    hint = host[:-len(".salesforce.com")]
    if host.lower().endswith(".salesforce.com") and _HOST_LABELS.fullmatch(hint):
        raise ConfigError(f"expected the login host without .salesforce.com (crmsync logs in at "
                          f"{LOGIN_HOST}), e.g. {hint!r}, got {domain!r}", key="domain")
    if not _HOST_LABELS.fullmatch(value):
        raise ConfigError(f"expected login, test or a My Domain such as 'mycompany.my' (host "
                          f"name letters, digits, '-' and '.' only), got {domain!r}",
                          key="domain")
    if not allow_custom and value.lower() not in ("login", "test") and \
            not _MY_DOMAIN.fullmatch(value):
        raise ConfigError(f"expected login, test or a My Domain such as 'mycompany.my' or "
                          f"'mycompany--uat.sandbox.my', got {domain!r} (another login host "
                          f"needs allow_custom_login_host = true)", key="domain")
    return value.lower()


def check_api_version(version: str) -> str:
    """The ``api_version`` setting, checked and without a leading ``v``: ``61.0``.

    :raises ConfigError: naming the ``api_version`` key.
    """
    match = _API_VERSION.fullmatch(version.strip())
    if match is None:
        raise ConfigError(f"expected a Salesforce API version such as '61.0', got {version!r}",
                          key="api_version")
    return match.group(1)


def check_timeouts(settings: Mapping[str, Any]) -> None:
    """``connect_timeout`` and ``read_timeout`` are positive numbers of seconds.

    :raises ConfigError: naming the key.
    """
    for key in ("connect_timeout", "read_timeout"):
        if not 0 < float(settings[key]) < math.inf:
            raise ConfigError(f"expected a positive number of seconds, got {settings[key]!r}",
                              key=key)


def auth_mode(settings: Mapping[str, Any]) -> str:
    """``session``, ``jwt`` or ``password``, from which settings are present.

    :raises ConfigError: when no complete set of credentials is given.
    """
    if settings.get("session_id") and settings.get("instance_url"):
        return "session"
    if settings.get("username") and settings.get("consumer_key") and \
            settings.get("private_key_file"):
        return "jwt"
    if settings.get("username") and settings.get("password"):
        return "password"
    raise ConfigError("no complete credentials: set instance_url + session_id, or username + "
                      "password (+ security_token), or username + consumer_key + "
                      "private_key_file (JWT bearer)", key="session_id")


def instance_host(settings: Mapping[str, Any]) -> str | None:
    """The org's host name from the settings alone (no login), or ``None``."""
    url = str(settings.get("instance_url") or "")
    if url:
        return urllib.parse.urlsplit(url if "//" in url else f"https://{url}").hostname
    domain = str(settings.get("domain") or "")
    if domain and domain not in ("login", "test"):
        return f"{domain}.salesforce.com"
    return None
