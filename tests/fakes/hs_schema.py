"""Property definitions, property groups, pipelines and owners of the fake portal, shaped like
HubSpot's ``/crm/v3/properties``, ``/crm/v3/pipelines`` and ``/crm/v3/owners`` responses."""

from __future__ import annotations

from typing import Any

from fakes import hs_inputs, hs_products
from fakes.hs_data import FIRST, LAST, LIFECYCLE, PIPELINES, START_MS, Dataset, iso

__all__ = ["definition", "property_catalogue", "default_groups", "pipelines_json", "owners",
           "DEFAULT_PROPERTIES"]

#: What a list/read returns when no ``properties`` are asked for (HubSpot's defaults).
DEFAULT_PROPERTIES = {
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage",
              "hs_lastmodifieddate", "hs_object_id", "pipeline"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                 "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}

S, N, DT, D, E, B = "string", "number", "datetime", "date", "enumeration", "bool"
FIELD_TYPE = {S: "text", N: "number", DT: "date", D: "date", E: "select", B: "booleancheckbox"}

#: name → (type, group, calculated/read-only); every type also gets the COMMON ones.
COMMON = {"hs_object_id": (N, "info", True), "hs_createdate": (DT, "info", True),
          "hs_lastmodifieddate": (DT, "info", True), "createdate": (DT, "info", True),
          "hubspot_owner_id": (E, "info", False), "hs_merged_object_ids": (E, "info", True)}
SPECIFIC: dict[str, dict[str, tuple[str, str, bool]]] = {
    "deals": {"dealname": (S, "dealinformation", False), "amount": (N, "dealinformation", False),
              "deal_currency_code": (E, "dealinformation", False),
              "amount_in_home_currency": (N, "dealinformation", True),
              "closedate": (DT, "dealinformation", False),
              "pipeline": (E, "dealinformation", False),
              "dealstage": (E, "dealinformation", False),
              "hs_is_closed": (B, "dealinformation", True),
              "hs_is_closed_won": (B, "dealinformation", True),
              "hs_deal_stage_probability": (N, "dealinformation", True),
              "dealtype": (E, "dealinformation", False),
              "closed_won_reason": (S, "dealinformation", False),
              "closed_lost_reason": (S, "dealinformation", False),
              "hs_analytics_source": (E, "analyticsinformation", True),
              "hs_priority": (E, "dealinformation", False),
              "hs_manual_forecast_category": (E, "dealinformation", False)},
    "companies": {"name": (S, "companyinformation", False),
                  "domain": (S, "companyinformation", False),
                  "industry": (E, "companyinformation", False),
                  "numberofemployees": (N, "companyinformation", False),
                  "annualrevenue": (N, "companyinformation", False),
                  "country": (S, "companyinformation", False),
                  "city": (S, "companyinformation", False),
                  "lifecyclestage": (E, "companyinformation", False),
                  "type": (E, "companyinformation", False)},
    "contacts": {"firstname": (S, "contactinformation", False),
                 "lastname": (S, "contactinformation", False),
                 "email": (S, "contactinformation", False),
                 "phone": (S, "contactinformation", False),
                 "jobtitle": (S, "contactinformation", False),
                 "company": (S, "contactinformation", False),
                 "lifecyclestage": (E, "contactinformation", False),
                 "hs_lead_status": (E, "contactinformation", False),
                 "hs_analytics_source": (E, "analyticsinformation", True),
                 "lastmodifieddate": (DT, "contactinformation", True),
                 "associatedcompanyid": (N, "contactinformation", False)},
    "calls": {"hs_timestamp": (DT, "call", False), "hs_call_title": (S, "call", False),
              "hs_call_direction": (E, "call", False), "hs_call_duration": (N, "call", False),
              "hs_call_disposition": (S, "call", False), "hs_call_status": (E, "call", False)},
    "emails": {"hs_timestamp": (DT, "email", False), "hs_email_subject": (S, "email", False),
               "hs_email_direction": (E, "email", False), "hs_email_status": (E, "email", False),
               "hs_email_sequence_id": (S, "email", True), "hs_sequence_id": (S, "email", True)},
    "meetings": {"hs_timestamp": (DT, "meeting", False), "hs_meeting_title": (S, "meeting", False),
                 "hs_meeting_outcome": (E, "meeting", False),
                 "hs_meeting_start_time": (DT, "meeting", False),
                 "hs_meeting_end_time": (DT, "meeting", False)},
    "tasks": {"hs_timestamp": (DT, "task", False), "hs_task_subject": (S, "task", False),
              "hs_task_status": (E, "task", False), "hs_task_type": (E, "task", False),
              "hs_task_priority": (E, "task", False)},
    "notes": {"hs_timestamp": (DT, "note", False), "hs_note_body": (S, "note", False)},
    "leads": {"hs_lead_name": (S, "leadinformation", False),
              "hs_pipeline": (E, "leadinformation", False),
              "hs_pipeline_stage": (E, "leadinformation", False),
              "hs_lead_source": (E, "leadinformation", False)},
}
#: Custom (portal-defined) properties: name → (type, group, options, hasUniqueValue).
CUSTOM: dict[str, dict[str, tuple[str, str, tuple[str, ...], bool]]] = {
    "deals": {"deal_region": (E, "dealinformation", ("EMEA", "AMER", "APAC"), False),
              "crm_external_key": (S, "dealinformation", (), True)},
    "companies": {"account_tier": (E, "companyinformation", ("gold", "silver"), False)},
}
ENUM_OPTIONS = {"deal_currency_code": ("USD", "EUR", "GBP"),
                "dealtype": ("newbusiness", "existingbusiness"),
                "hs_priority": ("low", "medium", "high"), "lifecyclestage": LIFECYCLE,
                "hs_manual_forecast_category": ("OMIT", "PIPELINE", "BEST_CASE", "COMMIT",
                                                "CLOSED")}


def definition(name: str, ptype: str, group: str, *, calculated: bool = False,
                custom: bool = False, options: tuple[str, ...] = (), unique: bool = False,
                label: str | None = None, field_type: str | None = None,
                description: str = "") -> dict[str, Any]:
    at = iso(START_MS - 400 * 86_400_000)
    body: dict[str, Any] = {
        "updatedAt": at, "createdAt": at, "name": name,
        "label": label or name.replace("hs_", "").replace("_", " ").capitalize(),
        "type": ptype, "fieldType": field_type or FIELD_TYPE[ptype],
        "description": description, "groupName": group,
        "options": [{"label": o, "value": o, "displayOrder": k, "hidden": False}
                    for k, o in enumerate(options or (("true", "false") if ptype == B else ()))],
        "displayOrder": -1, "calculated": calculated, "externalOptions": False,
        "hasUniqueValue": unique, "hidden": False,
        "modificationMetadata": {"archivable": custom, "readOnlyDefinition": not custom,
                                 "readOnlyValue": calculated},
        "formField": not calculated, "dataSensitivity": "non_sensitive",
    }
    if not custom:
        body["hubspotDefined"] = True
    return body


def property_catalogue(object_type: str) -> dict[str, dict[str, Any]]:
    """All property definitions of ``object_type``, by name (a fresh, mutable copy)."""
    out: dict[str, dict[str, Any]] = {}
    common = dict(COMMON)
    if object_type == "contacts":
        common.pop("hs_lastmodifieddate")
    specific = {**SPECIFIC.get(object_type, {}), **hs_products.PROPERTIES.get(object_type, {}),
                **hs_inputs.PROPERTIES.get(object_type, {})}
    for name, (ptype, group, ro) in {**common, **specific}.items():
        out[name] = definition(name, ptype, group, calculated=ro,
                                options=ENUM_OPTIONS.get(name, ()))
    custom = {**CUSTOM.get(object_type, {}), **hs_products.CUSTOM.get(object_type, {})}
    for name, (ptype, group, options, unique) in custom.items():
        out[name] = definition(name, ptype, group, custom=True, options=options, unique=unique)
    if object_type == "deals":
        for _, _, stages in PIPELINES:
            for sid, label, _, _ in stages:
                for kind in ("entered", "exited"):
                    name = f"hs_v2_date_{kind}_{sid}"
                    out[name] = definition(name, DT, "dealstages", calculated=True,
                                            label=f"Date {kind} \"{label}\"")
    if object_type == "contacts":
        for stage in LIFECYCLE:
            name = f"hs_lifecyclestage_{stage}_date"
            out[name] = definition(name, DT, "contactinformation", calculated=True)
    return out


def default_groups(object_type: str) -> dict[str, dict[str, Any]]:
    """The property groups the catalogue uses, by name."""
    names = {d["groupName"] for d in property_catalogue(object_type).values()}
    return {n: {"name": n, "label": n.capitalize(), "displayOrder": -1, "archived": False}
            for n in sorted(names)}


def pipelines_json() -> dict[str, Any]:
    """GET /crm/v3/pipelines/deals: stage metadata as STRINGS, as HubSpot sends them."""
    at = iso(START_MS - 100 * 86_400_000)
    return {"results": [
        {"id": pid, "label": label, "displayOrder": k, "archived": False, "createdAt": at,
         "updatedAt": at, "stages": [
             {"id": sid, "label": slabel, "displayOrder": j, "archived": False,
              "createdAt": at, "updatedAt": at, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
              "metadata": {"isClosed": "true" if closed else "false", "probability": prob}}
             for j, (sid, slabel, prob, closed) in enumerate(stages)]}
        for k, (pid, label, stages) in enumerate(PIPELINES)]}


def owners(dataset: Dataset) -> list[dict[str, Any]]:
    """Owners with teams (``id`` a string, ``userId`` an int); every 7th is archived."""
    at = iso(START_MS - 200 * 86_400_000)
    out = []
    for k in range(dataset.owners):
        team = k % max(dataset.teams, 1)
        teams = [{"id": str(5_000 + team), "name": f"Team {team + 1}", "primary": True}]
        if k % 5 == 4 and dataset.teams > 1:
            extra = (team + 1) % dataset.teams
            teams.append({"id": str(5_000 + extra), "name": f"Team {extra + 1}", "primary": False})
        out.append({"id": str(100_000 + k), "email": f"owner{k}@example.com",
                    "type": "PERSON", "firstName": FIRST[k % len(FIRST)],
                    "lastName": LAST[(k // len(FIRST)) % len(LAST)],
                    "userId": 9_000_000 + k, "userIdIncludingInactive": 9_000_000 + k,
                    "createdAt": at, "updatedAt": at, "archived": k % 7 == 6, "teams": teams})
    return out

