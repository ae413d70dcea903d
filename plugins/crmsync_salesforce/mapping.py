"""Salesforce records → unified-schema records (the table in docs/connectors/salesforce.md).

One function per object. Each takes the record as the REST API returns it (Bulk API rows are
parsed into the same shape first, see :mod:`crmsync_salesforce.bulk`) and a
:class:`MappingContext`. Quirks handled here:

* Datetimes come as ``2024-01-02T03:04:05.000+0000`` (no colon in the offset); they are parsed
  to aware datetimes so REST and Bulk records normalise identically.
* ``Probability`` and ``DefaultProbability`` are percentages (0–100); the schema wants 0–1.
* ``Task.ActivityDate`` is only a due *date*; the time a task happened is ``CompletedDateTime``
  (when completed), else ``CreatedDate``, flagged in ``custom`` (:data:`crmsync.FLAGS_KEY`).
  Events happen at ``ActivityDateTime``.
* ``WhoId``/``WhatId`` are polymorphic: the key prefix tells a lead (``00Q``) from a contact
  (``003``) and an account (``001``) from an opportunity (``006``).
* Relationship fields (``UserRole.Name``) arrive as nested objects with an ``attributes`` key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync import FLAGS_KEY
from crmsync_salesforce.describe import object_for_id
from crmsync_salesforce.pipelines import DEFAULT_PIPELINE_ID, Pipelines
from crmsync_salesforce.soql import parse_datetime

__all__ = [
    "MappingContext",
    "MAPPERS",
    "STANDARD_FIELDS",
    "Unmappable",
    "to_datetime",
    "base_record",
    "related",
    "OPTIONAL_FIELDS",
    "forecast_code",
]

#: Fields every incremental object is read with, when it has them.
SYSTEM_FIELDS = ("Id", "CreatedDate", "SystemModstamp", "IsDeleted")

#: The standard fields each mapper reads (custom fields are added from describe).
STANDARD_FIELDS: Mapping[str, tuple[str, ...]] = {
    "User": ("Name", "Email", "IsActive", "Title", "ManagerId", "UserRoleId", "UserRole.Name"),
    "Account": ("Name", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue", "OwnerId",
                "ParentId"),
    "Contact": ("FirstName", "LastName", "Email", "Phone", "Title", "AccountId", "OwnerId",
                "LeadSource"),
    "Lead": ("Name", "Company", "Email", "Status", "LeadSource", "OwnerId", "IsConverted",
             "ConvertedDate", "ConvertedContactId", "ConvertedAccountId",
             "ConvertedOpportunityId"),
    "OpportunityStage": ("ApiName", "MasterLabel", "IsActive", "SortOrder", "DefaultProbability",
                         "IsClosed", "IsWon", "ForecastCategoryName"),
    "Opportunity": ("Name", "Type", "StageName", "IsClosed", "IsWon", "Amount", "CurrencyIsoCode",
                    "Probability", "CloseDate", "OwnerId", "AccountId", "LeadSource",
                    "LastStageChangeDate"),
    "OpportunityHistory": ("OpportunityId", "StageName", "Amount", "CreatedById"),
    "OpportunityContactRole": ("OpportunityId", "ContactId", "Role", "IsPrimary"),
    "Task": ("Subject", "Status", "TaskSubtype", "CallType", "CallDisposition",
             "CallDurationInSeconds", "CompletedDateTime", "OwnerId", "WhoId", "WhatId",
             "AccountId"),
    "Event": ("Subject", "ActivityDateTime", "ActivityDate", "IsAllDayEvent", "DurationInMinutes",
              "OwnerId", "WhoId", "WhatId", "AccountId"),
    "DatedConversionRate": ("IsoCode", "ConversionRate", "StartDate", "NextStartDate"),
    "CurrencyType": ("IsoCode", "ConversionRate", "IsCorporate", "IsActive"),
}


#: Fields selected only where the org has them, without a warning when it does not (an org
#: without Opportunity record types has no RecordTypeId).
OPTIONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Opportunity": ("RecordTypeId", "ForecastCategoryName", "CampaignId"),
    # Merged-away accounts, contacts and leads sit in the recycle bin pointing at the survivor.
    "Account": ("MasterRecordId",), "Contact": ("MasterRecordId",), "Lead": ("MasterRecordId",),
}


class Unmappable(ValueError):
    """A record cannot be normalised; becomes a Reject naming ``field``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(reason)


def to_datetime(value: Any) -> dt.datetime | None:
    """A Salesforce datetime string as an aware datetime (``None`` stays ``None``)."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return parse_datetime(str(value))
    except ValueError:
        raise Unmappable("", f"not a Salesforce datetime: {value!r}") from None


def _percent(value: Any) -> float | None:
    return None if value in (None, "") else float(value) / 100.0


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(float(value))


#: ForecastCategory API values and ForecastCategoryName labels → the schema's codes.
_FORECAST = {"omitted": "omitted", "pipeline": "pipeline", "bestcase": "best_case",
             "best_case": "best_case", "best case": "best_case", "commit": "commit",
             "forecast": "commit", "closed": "closed"}
def forecast_code(value: Any) -> str | None:
    """``Best Case`` (ForecastCategoryName) or ``BestCase`` (ForecastCategory) → ``best_case``;
    ``Commit``/``Forecast`` → ``commit``; an unknown value lower-cased with ``_`` for blanks."""
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    return _FORECAST.get(text) or re.sub(r"\W+", "_", text)


def related(raw: Mapping[str, Any], path: str) -> Any:
    """``UserRole.Name`` from a nested relationship object (``None`` if the lookup is empty)."""
    value: Any = raw
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass
class MappingContext:
    """What a mapper needs besides the record.

    :param field_map: ``{SalesforceField: target}`` for this object, where the target is a
        schema column (``segment``) or ``custom.<key>``.
    :param custom_fields: the object's readable custom fields (from describe).
    :param pipelines: the org's pipelines: an opportunity's pipeline and stage id from its
        record type and ``StageName`` (see :mod:`crmsync_salesforce.pipelines`).
    :param multi_currency: whether records carry ``CurrencyIsoCode``.
    :param to_base: ``(currency, date|None) → rate`` dividing an amount into the base currency.
    :param closed_at: Opportunity Id → when it was closed (from OpportunityHistory), used
        when ``LastStageChangeDate`` is not readable.
    """

    field_map: Mapping[str, str] = field(default_factory=dict)
    custom_fields: tuple[str, ...] = ()
    pipelines: Pipelines = field(default_factory=lambda: Pipelines(stage_ids={}))
    multi_currency: bool = False
    to_base: Callable[[str | None, dt.date | None], float | None] = lambda c, d: None
    closed_at: Mapping[str, dt.datetime] = field(default_factory=dict)
    corporate_currency: str | None = None


def base_record(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """The columns every table shares, plus ``custom`` and the ``field_map`` targets."""
    updated = to_datetime(raw.get("SystemModstamp") or raw.get("LastModifiedDate"))
    record: dict[str, Any] = {
        "remote_id": raw["Id"],
        "remote_created_at": to_datetime(raw.get("CreatedDate")),
        "remote_updated_at": updated,
    }
    if raw.get("IsDeleted"):
        record["is_deleted"] = True
        record["deleted_at"] = updated
    custom: dict[str, Any] = {}
    for name in ctx.custom_fields:  # all of them, by API name (write-back reads them here)
        if name in raw:
            custom[name] = raw[name]
    for source, target in ctx.field_map.items():
        if source not in raw:
            continue
        if target.startswith("custom."):
            custom[target[len("custom."):]] = raw[source]
        else:
            record[target] = raw[source]
    if custom:
        record["custom"] = custom
    return record


def _with(raw: Mapping[str, Any], ctx: MappingContext, columns: dict[str, Any]
          ) -> dict[str, Any]:
    record = base_record(raw, ctx)
    for key, value in columns.items():
        record.setdefault(key, value)  # a field_map target wins over the default mapping
    return record


def user(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """User → users; the role (UserRole) is the team."""
    return _with(raw, ctx, {
        "name": raw.get("Name"), "email": raw.get("Email"), "is_active": raw.get("IsActive"),
        "team": related(raw, "UserRole.Name"), "role": raw.get("Title"),
        "manager_id": raw.get("ManagerId"),
    })


def account(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Account → accounts."""
    website = raw.get("Website")
    domain = None
    if website:
        domain = str(website).split("://", 1)[-1].split("/", 1)[0].removeprefix("www.") or None
    return _with(raw, ctx, {
        "name": raw.get("Name"), "domain": domain, "industry": raw.get("Industry"),
        "employee_count": _int(raw.get("NumberOfEmployees")),
        "annual_revenue": _float(raw.get("AnnualRevenue")), "owner_id": raw.get("OwnerId"),
        "parent_id": raw.get("ParentId"),
    })


def contact(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Contact → contacts."""
    return _with(raw, ctx, {
        "first_name": raw.get("FirstName"), "last_name": raw.get("LastName"),
        "email": raw.get("Email"), "phone": raw.get("Phone"), "title": raw.get("Title"),
        "account_id": raw.get("AccountId"), "owner_id": raw.get("OwnerId"),
        "lead_source": raw.get("LeadSource"),
    })


def lead(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Lead → leads; ``ConvertedDate`` is a date, stored as midnight UTC."""
    converted = raw.get("ConvertedDate") if raw.get("IsConverted") else None
    return _with(raw, ctx, {
        "name": raw.get("Name"), "company": raw.get("Company"), "email": raw.get("Email"),
        "status": raw.get("Status"), "lead_source": raw.get("LeadSource"),
        "owner_id": raw.get("OwnerId"),
        "converted_at": f"{converted}T00:00:00Z" if converted else None,
        "converted_contact_id": raw.get("ConvertedContactId"),
        "converted_account_id": raw.get("ConvertedAccountId"),
        "converted_opportunity_id": raw.get("ConvertedOpportunityId"),
    })


def stage(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """OpportunityStage → stages, in the default pipeline (the copies in each sales process
    are made by :meth:`~crmsync_salesforce.pipelines.Pipelines.stage_records`)."""
    return _with(raw, ctx, {
        "pipeline_id": DEFAULT_PIPELINE_ID, "label": raw.get("MasterLabel") or raw.get("ApiName"),
        "display_order": _int(raw.get("SortOrder")),
        "probability": _percent(raw.get("DefaultProbability")),
        "is_closed": raw.get("IsClosed"), "is_won": raw.get("IsWon"),
        "forecast_category": raw.get("ForecastCategoryName"),
    })


def opportunity(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Opportunity → opportunities.

    ``status`` comes from ``IsClosed``/``IsWon`` (stage names are the org's own). ``closed_at``
    is when the deal entered its closed stage: ``LastStageChangeDate`` (kept by Salesforce from
    the stage history), else the OpportunityHistory row that closed it — never the editable
    ``CloseDate``, which becomes ``expected_close_date``. In multi-currency orgs ``currency`` is
    ``CurrencyIsoCode`` and ``amount_base`` the amount converted at the rate valid on the close
    date (closed deals) or today's rate (open deals).
    """
    closed, won = bool(raw.get("IsClosed")), bool(raw.get("IsWon"))
    status = "won" if closed and won else "lost" if closed else "open"
    closed_at = None
    if closed:
        closed_at = to_datetime(raw.get("LastStageChangeDate")) or ctx.closed_at.get(raw["Id"])
    amount = _float(raw.get("Amount"))
    currency = raw.get("CurrencyIsoCode") if ctx.multi_currency else None
    amount_base = None
    if ctx.multi_currency and amount is not None:
        on = dt.date.fromisoformat(raw["CloseDate"]) if closed and raw.get("CloseDate") else None
        rate = ctx.to_base(currency, on)
        amount_base = amount / rate if rate else None
    record_type = raw.get("RecordTypeId")
    return _with(raw, ctx, {
        "name": raw.get("Name"), "type": raw.get("Type"),
        "pipeline_id": ctx.pipelines.pipeline_id(record_type),
        "stage_id": ctx.pipelines.stage_id(record_type, raw.get("StageName")),
        "status": status, "amount": amount, "currency": currency, "amount_base": amount_base,
        "probability": _percent(raw.get("Probability")),
        "expected_close_date": raw.get("CloseDate"), "closed_at": closed_at,
        "owner_id": raw.get("OwnerId"), "account_id": raw.get("AccountId"),
        "lead_source": raw.get("LeadSource"), "campaign_id": raw.get("CampaignId"),
        "forecast_category": forecast_code(raw.get("ForecastCategoryName")),
    })


def opportunity_contact(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """OpportunityContactRole → opportunity_contacts."""
    return _with(raw, ctx, {
        "opportunity_id": raw.get("OpportunityId"), "contact_id": raw.get("ContactId"),
        "role": raw.get("Role"), "is_primary": raw.get("IsPrimary"),
    })


_TASK_TYPES = {"Call": "call", "Email": "email", "ListEmail": "email", "Task": "task"}
#: Subtypes logged by automation: list e-mails and Sales Engagement cadence steps.
_AUTOMATED = frozenset({"ListEmail", "Cadence"})
_DIRECTIONS = {"Inbound": "inbound", "Outbound": "outbound"}


def _who_what(raw: Mapping[str, Any]) -> dict[str, Any]:
    who, what = raw.get("WhoId"), raw.get("WhatId")
    who_obj, what_obj = object_for_id(who), object_for_id(what)
    return {
        "contact_id": who if who_obj == "Contact" else None,
        "lead_id": who if who_obj == "Lead" else None,
        "account_id": raw.get("AccountId") or (what if what_obj == "Account" else None),
        "opportunity_id": what if what_obj == "Opportunity" else None,
    }


def _created_instead(record: dict[str, Any], column: str = "occurred_at") -> dict[str, Any]:
    """Flag ``column`` as filled from the creation time (docs/schema.md, "Flags")."""
    custom = dict(record.get("custom") or {})
    custom[FLAGS_KEY] = {**(custom.get(FLAGS_KEY) or {}), column: "remote_created_at"}
    record["custom"] = custom
    return record


def task(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Task → activities (call, email or task by ``TaskSubtype``). A task without
    ``CompletedDateTime`` (open, or closed before Salesforce recorded it) happened at its
    ``CreatedDate``, flagged."""
    subtype = raw.get("TaskSubtype") or "Task"
    completed = to_datetime(raw.get("CompletedDateTime"))
    occurred = completed or to_datetime(raw.get("CreatedDate"))
    duration = _int(raw.get("CallDurationInSeconds"))
    record = _with(raw, ctx, {
        "type": _TASK_TYPES.get(subtype, "task"),
        "direction": _DIRECTIONS.get(raw.get("CallType") or ""),
        "subject": raw.get("Subject"), "occurred_at": occurred, "status": raw.get("Status"),
        "outcome": raw.get("CallDisposition"), "duration_seconds": duration,
        "is_automated": subtype in _AUTOMATED, "owner_id": raw.get("OwnerId"), **_who_what(raw),
    })
    estimated = completed is None and occurred is not None and record["occurred_at"] is occurred
    return _created_instead(record) if estimated else record


def event(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Event → activities (meetings at ``ActivityDateTime``; all-day events at midnight UTC of
    ``ActivityDate``; without either, at its ``CreatedDate``, flagged)."""
    minutes = _int(raw.get("DurationInMinutes"))
    day = raw.get("ActivityDate")
    own = to_datetime(raw.get("ActivityDateTime")) or \
        (to_datetime(f"{day}T00:00:00Z") if day else None)
    occurred = own or to_datetime(raw.get("CreatedDate"))
    record = _with(raw, ctx, {
        "type": "meeting", "subject": raw.get("Subject"), "occurred_at": occurred,
        "duration_seconds": minutes * 60 if minutes is not None else None,
        "owner_id": raw.get("OwnerId"), **_who_what(raw),
    })
    estimated = own is None and occurred is not None and record["occurred_at"] is occurred
    return _created_instead(record) if estimated else record


def dated_rate(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """DatedConversionRate → currency_rates (Salesforce rates are units per 1 corporate)."""
    rate = _float(raw.get("ConversionRate"))
    if not rate:
        raise Unmappable("ConversionRate", "conversion rate is missing or zero")
    return _with(raw, ctx, {
        "currency": raw.get("IsoCode"), "base_currency": ctx.corporate_currency,
        "rate_to_base": 1.0 / rate, "valid_from": raw.get("StartDate"),
        "valid_to": None if raw.get("NextStartDate") in (None, "9999-12-31")
        else raw.get("NextStartDate"),
    })


#: Rates without Advanced Currency Management apply since forever.
UNDATED_VALID_FROM = "1900-01-01"


def currency_type(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """CurrencyType → currency_rates (orgs without dated rates)."""
    rate = _float(raw.get("ConversionRate"))
    if not rate:
        raise Unmappable("ConversionRate", "conversion rate is missing or zero")
    return _with(raw, ctx, {
        "currency": raw.get("IsoCode"), "base_currency": ctx.corporate_currency,
        "rate_to_base": 1.0 / rate, "valid_from": UNDATED_VALID_FROM,
    })


MAPPERS: Mapping[str, Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]] = {
    "User": user, "Account": account, "Contact": contact, "Lead": lead,
    "OpportunityStage": stage, "Opportunity": opportunity,
    "OpportunityContactRole": opportunity_contact, "Task": task, "Event": event,
    "DatedConversionRate": dated_rate, "CurrencyType": currency_type,
}
