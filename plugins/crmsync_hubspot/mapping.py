"""HubSpot records → unified-schema records (the mapping table of docs/connectors/hubspot.md).

Quirks handled here (docs/connectors/hubspot.md#client-library-quirks):

* **Every property value is a string or null**: numbers (``"0.9000000000000000222…"``),
  booleans (``"true"``), dates (``"2024-08-10T23:13:12.293Z"``, date-only properties such as
  ``closedate`` as midnight-UTC datetimes). :func:`number`, :func:`flag` and :func:`when` parse
  them and raise :class:`Unmappable` naming the property.
* **dealstage is an id**, resolved through the pipelines API (:class:`StageIndex`); stage
  ``metadata.probability``/``isClosed`` are strings too. Won = closed with probability 1.
* **Inline associations repeat ids** (``deal_to_company`` and ``deal_to_company_unlabeled``):
  :func:`associated_ids` de-duplicates them, keeping HubSpot's order.
* Contacts use ``lastmodifieddate``; every other object ``hs_lastmodifieddate``.
* **An engagement may lack ``hs_timestamp``**: its creation time stands in, flagged
  (:func:`engagement_to_activity`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync import FLAGS_KEY
from crmsync_hubspot.properties import ENGAGEMENT_TYPES
from crmsync_hubspot.values import (
    Unmappable,
    _text,
    associated_ids,
    flag,
    forecast_code,
    number,
    when,
)

__all__ = [
    "Unmappable",
    "number",
    "flag",
    "when",
    "associated_ids",
    "StageIndex",
    "owner_to_user",
    "pipelines_to_records",
    "company_to_account",
    "contact_to_contact",
    "contact_to_lead",
    "lead_object_to_lead",
    "deal_to_opportunity",
    "engagement_to_activity",
    "merged_ids",
    "custom_values",
]


def merged_ids(props: Mapping[str, Any]) -> list[str]:
    """Ids merged into this record (``hs_merged_object_ids``, ``;``-separated)."""
    value = props.get("hs_merged_object_ids") or ""
    return [v.strip() for v in str(value).split(";") if v.strip()]


def custom_values(props: Mapping[str, Any], custom: Iterable[str]) -> dict[str, Any] | None:
    """The record's custom properties (``custom`` column), or ``None`` when it has none."""
    out = {name: props[name] for name in custom if props.get(name) not in (None, "")}
    return out or None


def _base(record: Mapping[str, Any], modified: str = "hs_lastmodifieddate") -> dict[str, Any]:
    props = record.get("properties") or {}
    return {
        "remote_id": str(record["id"]),
        "remote_created_at": when(props, "createdate") or record.get("createdAt"),
        "remote_updated_at": when(props, modified) or record.get("updatedAt"),
    }


# -- owners and pipelines ------------------------------------------------------------------


def owner_to_user(owner: Mapping[str, Any]) -> dict[str, Any]:
    """An owner (``/crm/v3/owners``) → ``users``; the primary team (else the first) → team."""
    teams = owner.get("teams") or []
    primary = next((t for t in teams if t.get("primary")), teams[0] if teams else None)
    name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p) or None
    return {
        "remote_id": str(owner["id"]),
        "remote_created_at": owner.get("createdAt"),
        "remote_updated_at": owner.get("updatedAt"),
        "name": name or owner.get("email"),
        "email": owner.get("email"),
        "is_active": not owner.get("archived", False),
        "team": primary.get("name") if primary else None,
    }


@dataclass
class StageIndex:
    """Deal stages by id, from the pipelines API."""

    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_pipelines(cls, pipelines: Iterable[Mapping[str, Any]]) -> StageIndex:
        """Index every stage of every pipeline."""
        index = cls()
        for _, stage in pipelines_to_records(pipelines)[1]:
            index.stages[stage["remote_id"]] = stage
        return index

    def get(self, stage_id: str | None) -> dict[str, Any] | None:
        """The ``stages`` record of ``stage_id``."""
        return self.stages.get(stage_id) if stage_id else None


def pipelines_to_records(pipelines: Iterable[Mapping[str, Any]]
                         ) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Deal pipelines → (``pipelines`` records, ``[(pipeline id, stages record)]``).

    Stage ``metadata.probability`` and ``isClosed`` are strings; a stage is won when it is
    closed with probability 1 (or HubSpot marks it won).
    """
    out_pipelines: list[dict[str, Any]] = []
    out_stages: list[tuple[str, dict[str, Any]]] = []
    for p in pipelines:
        pid = str(p["id"])
        out_pipelines.append({
            "remote_id": pid, "label": p.get("label") or pid,
            "display_order": p.get("displayOrder"), "is_default": pid == "default",
            "remote_created_at": p.get("createdAt"), "remote_updated_at": p.get("updatedAt"),
            "is_deleted": bool(p.get("archived")),
        })
        for s in p.get("stages") or ():
            meta = s.get("metadata") or {}
            probability = number(meta, "probability")
            closed = bool(flag(meta, "isClosed"))
            won = closed and (probability == 1.0 or bool(flag(meta, "isWon")))
            out_stages.append((pid, {
                "remote_id": str(s["id"]), "pipeline_id": pid, "label": s.get("label") or s["id"],
                "display_order": s.get("displayOrder"), "probability": probability,
                "is_closed": closed, "is_won": won,
                "remote_created_at": s.get("createdAt"), "remote_updated_at": s.get("updatedAt"),
                "is_deleted": bool(s.get("archived")),
            }))
    return out_pipelines, out_stages


# -- CRM objects -------------------------------------------------------------------------------


def company_to_account(record: Mapping[str, Any]) -> dict[str, Any]:
    """A company → ``accounts``."""
    props = record.get("properties") or {}
    employees = number(props, "numberofemployees")
    return {
        **_base(record),
        "name": _text(props, "name"), "domain": _text(props, "domain"),
        "industry": _text(props, "industry"), "segment": _text(props, "type"),
        "region": _text(props, "country"),
        "employee_count": int(employees) if employees is not None else None,
        "annual_revenue": number(props, "annualrevenue"),
        "owner_id": _text(props, "hubspot_owner_id"),
        "parent_id": _text(props, "hs_parent_company_id"),
    }


def _account_of(record: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    companies = associated_ids(record, "companies")
    return companies[0] if companies else _text(props, "associatedcompanyid")


def contact_to_contact(record: Mapping[str, Any]) -> dict[str, Any]:
    """A contact → ``contacts`` (its primary company → ``account_id``)."""
    props = record.get("properties") or {}
    return {
        **_base(record, "lastmodifieddate"),
        "first_name": _text(props, "firstname"), "last_name": _text(props, "lastname"),
        "email": _text(props, "email"), "phone": _text(props, "phone"),
        "title": _text(props, "jobtitle"), "account_id": _account_of(record, props),
        "owner_id": _text(props, "hubspot_owner_id"),
        "lifecycle_stage": _text(props, "lifecyclestage"),
        "lead_source": _text(props, "hs_analytics_source"),
    }


_LEAD_DATES = ("hs_lifecyclestage_lead_date", "hs_lifecyclestage_marketingqualifiedlead_date",
               "hs_lifecyclestage_salesqualifiedlead_date")
_CONVERTED_DATES = ("hs_lifecyclestage_opportunity_date", "hs_lifecyclestage_customer_date")
_LEAD_STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead")


def contact_to_lead(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """``lead_definition = "lifecycle"``: a contact that reached the lead, MQL or SQL lifecycle
    stage → ``leads`` (``None`` for one that never did). It is converted when it became an
    opportunity or customer."""
    props = record.get("properties") or {}
    entered = [d for d in (when(props, n) for n in _LEAD_DATES) if d]
    stage = _text(props, "lifecyclestage")
    if not entered and stage not in _LEAD_STAGES:
        return None
    base = _base(record, "lastmodifieddate")
    return {
        **base,
        "remote_created_at": min(entered) if entered else base["remote_created_at"],
        "name": _full_name(props), "company": _text(props, "company"),
        "email": _text(props, "email"),
        "status": _text(props, "hs_lead_status") or stage,
        "lead_source": _text(props, "hs_analytics_source"),
        "owner_id": _text(props, "hubspot_owner_id"),
        **_lead_conversion(record, props),
    }


def _full_name(props: Mapping[str, Any]) -> str | None:
    return " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or None


def _lead_conversion(record: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """``converted_at`` and the converted contact and account: when the contact first became
    an opportunity or customer."""
    converted = [d for d in (when(props, n) for n in _CONVERTED_DATES) if d]
    if not converted:
        return {"converted_at": None, "converted_contact_id": None,
                "converted_account_id": None}
    return {"converted_at": min(converted), "converted_contact_id": str(record["id"]),
            "converted_account_id": _account_of(record, props)}


#: The Leads object's default pipeline stage of a lead that was qualified (converted).
QUALIFIED_LEAD_STAGE = "qualified-stage-id"


def lead_object_to_lead(record: Mapping[str, Any]) -> dict[str, Any]:
    """``lead_definition = "leads_object"``: a record of HubSpot's Leads object → ``leads``.

    A lead in the qualified stage is converted, into its associated contact; HubSpot exposes
    no conversion time on the Leads object, so ``converted_at`` stays empty.
    """
    props = record.get("properties") or {}
    contacts = associated_ids(record, "contacts")
    stage = _text(props, "hs_pipeline_stage")
    converted = stage == QUALIFIED_LEAD_STAGE
    return {
        **_base(record),
        "name": _text(props, "hs_lead_name"), "status": stage,
        "lead_source": _text(props, "hs_lead_source"),
        "owner_id": _text(props, "hubspot_owner_id"),
        "converted_contact_id": contacts[0] if converted and contacts else None,
    }


def deal_to_opportunity(record: Mapping[str, Any], stages: StageIndex) -> dict[str, Any]:
    """A deal → ``opportunities``.

    Status: ``hs_is_closed_won``/``hs_is_closed`` (strings) when HubSpot computed them, else
    the stage's ``isClosed``/probability from the pipelines API. ``amount_base`` is
    ``amount_in_home_currency`` (HubSpot converts at the portal's rates). ``closed_at`` of a
    closed deal is when it entered its current (closed) stage (``hs_v2_date_entered_<stage>``,
    else ``hs_v2_date_entered_current_stage``), else ``closedate`` (a date only);
    ``opportunity_stage_history`` has the full history.
    """
    props = record.get("properties") or {}
    stage_id = _text(props, "dealstage")
    stage = stages.get(stage_id)
    status = _deal_status(props, stage)
    closedate = when(props, "closedate")
    closed_at = None if status == "open" else _closed_at(props, stage_id, closedate)
    probability = number(props, "hs_deal_stage_probability")
    if probability is None and stage is not None:
        probability = stage["probability"]
    amount = number(props, "amount")
    return {
        **_base(record),
        "name": _text(props, "dealname"), "type": _text(props, "dealtype"),
        "pipeline_id": _text(props, "pipeline") or (stage or {}).get("pipeline_id"),
        "stage_id": stage_id, "status": status, "amount": amount,
        "currency": _text(props, "deal_currency_code"),
        "amount_base": number(props, "amount_in_home_currency"),
        "probability": probability,
        "expected_close_date": closedate.date() if closedate else None,
        "closed_at": closed_at,
        "owner_id": _text(props, "hubspot_owner_id"),
        "account_id": next(iter(associated_ids(record, "companies")), None),
        "lead_source": _text(props, "hs_analytics_source"),
        "won_reason": _text(props, "closed_won_reason"),
        "lost_reason": _text(props, "closed_lost_reason"),
        "forecast_category": forecast_code(props.get("hs_manual_forecast_category")),
    }


def _deal_status(props: Mapping[str, Any], stage: dict[str, Any] | None) -> str:
    """``won``, ``lost`` or ``open``: HubSpot's computed flags, else the stage's."""
    won, closed = flag(props, "hs_is_closed_won"), flag(props, "hs_is_closed")
    if won is None and closed is None and stage is not None:
        won, closed = stage["is_won"], stage["is_closed"]
    return "won" if won else "lost" if closed else "open"


def _closed_at(props: Mapping[str, Any], stage_id: str | None, closedate: dt.datetime | None
               ) -> dt.datetime | None:
    """When a closed deal entered its current stage, else ``closedate``."""
    return (when(props, f"hs_v2_date_entered_{stage_id}") if stage_id else None) \
        or when(props, "hs_v2_date_entered_current_stage") or closedate


_DIRECTIONS = {"INBOUND": "inbound", "OUTBOUND": "outbound", "INCOMING_EMAIL": "inbound",
               "EMAIL": "outbound", "FORWARDED_EMAIL": "outbound"}
#: hs_email_sent_via values of emails no person typed.
_AUTOMATED_VIA = ("SEQUENCES", "AUTOMATION", "WORKFLOWS")


def engagement_to_activity(object_type: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A call, email, meeting, task or note → ``activities``.

    ``occurred_at`` is ``hs_timestamp``. An engagement without one (a task created through the
    API without a due time, an imported note) is kept, not rejected: ``occurred_at`` falls back
    to its creation time (``hs_createdate``, else ``createdAt``) and is flagged in ``custom``
    (:data:`crmsync.FLAGS_KEY`) so a data-quality check can count it. Call durations are
    milliseconds; meeting durations come from start and end times. Emails sent by a sequence
    or automation are ``is_automated``.
    """
    props = record.get("properties") or {}
    kind = ENGAGEMENT_TYPES[object_type]
    created = when(props, "hs_createdate") or when(record, "createdAt")
    occurred = when(props, "hs_timestamp")
    flags: dict[str, str] = {}
    if occurred is None and created is not None:
        occurred, flags["occurred_at"] = created, "remote_created_at"
    if occurred is None:
        raise Unmappable("hs_timestamp", f"{object_type} record has no hs_timestamp and no "
                                         f"creation time to fall back on")
    out: dict[str, Any] = {
        **_base(record), "type": kind, "occurred_at": occurred,
        "owner_id": _text(props, "hubspot_owner_id"),
        "contact_id": next(iter(associated_ids(record, "contacts")), None),
        "account_id": next(iter(associated_ids(record, "companies")), None),
        "opportunity_id": next(iter(associated_ids(record, "deals")), None),
    }
    out["remote_created_at"] = created
    if flags:
        out["custom"] = {FLAGS_KEY: flags}
    out.update(_KIND_FIELDS.get(kind, _note_fields)(props))
    return out


def _call_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    """Call durations are milliseconds."""
    duration = number(props, "hs_call_duration")
    return {"direction": _DIRECTIONS.get(str(props.get("hs_call_direction") or "")),
            "subject": _text(props, "hs_call_title"), "status": _text(props, "hs_call_status"),
            "outcome": _text(props, "hs_call_disposition"),
            "duration_seconds": int(duration / 1000) if duration is not None else None,
            "is_automated": False}


def _email_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    """Emails sent by a sequence or automation are ``is_automated``."""
    via = str(props.get("hs_email_sent_via") or "").upper()
    return {"direction": _DIRECTIONS.get(str(props.get("hs_email_direction") or "")),
            "subject": _text(props, "hs_email_subject"),
            "status": _text(props, "hs_email_status"),
            "is_automated": bool(_text(props, "hs_sequence_id")) or via in _AUTOMATED_VIA}


def _meeting_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    """Meeting durations come from start and end times."""
    start, end = when(props, "hs_meeting_start_time"), when(props, "hs_meeting_end_time")
    return {"subject": _text(props, "hs_meeting_title"),
            "outcome": _text(props, "hs_meeting_outcome"),
            "duration_seconds": int((end - start).total_seconds()) if start and end else None,
            "is_automated": False}


def _task_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    return {"subject": _text(props, "hs_task_subject"),
            "status": _text(props, "hs_task_status"), "is_automated": False}


def _note_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    body = _text(props, "hs_note_body")
    return {"subject": body[:200] if body else None, "is_automated": False}


#: The fields of each kind of activity beyond the common ones.
_KIND_FIELDS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "call": _call_fields, "email": _email_fields, "meeting": _meeting_fields,
    "task": _task_fields,
}
