"""The fake portal's endpoints: each takes the parsed request and returns ``(status, body)``.

Shapes follow HubSpot's CRM v3 objects/search/batch/properties/pipelines, owners v3,
associations v4 and OAuth v1 (docs/connectors/hubspot.md#the-fake-portal-and-the-benchmark).
Every property value sent is a string or null.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fakes.hs_data import DAY_MS, iso, parse_ms
from fakes.hs_objects import ARCHIVED, LIVE, SINGULAR
from fakes.hs_search import SearchError, search
from fakes.hs_state import Portal

__all__ = ["Request", "error", "batch_envelope", "not_found", "list_objects", "get_object",
           "search_objects", "batch_read", "batch_update", "merge_objects"]

#: objectTypeIds and singular names HubSpot accepts in place of the plural names
ALIASES = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-48": "calls",
           "0-49": "emails", "0-47": "meetings", "0-27": "tasks", "0-46": "notes",
           "0-136": "leads", **{v: k for k, v in SINGULAR.items()}}


class Request:
    """A parsed request: method, path, multi-valued query, JSON or form body."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body if body is not None else {}

    def q(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def qlist(self, name: str) -> list[str] | None:
        """A list parameter, sent repeated (hubspot-api-client) or comma-separated."""
        if name not in self.query:
            return None
        return [p for v in self.query[name] for p in v.split(",") if p]


def error(status: int, category: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    """HubSpot's error body: ``{status: "error", message, correlationId, category}``."""
    return status, {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                    "category": category, **extra}


def _type(portal: Portal, name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in portal.tables else None


def batch_envelope(results: list[Any], errors: list[dict[str, Any]], started: str
                    ) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                            "completedAt": iso(int(time.time() * 1000))}
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return 207, body
    return 200, body


def not_found(object_type: str, ids: list[str]) -> dict[str, Any]:
    return {"status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                       f"deleted or not exist. Check that ids are valid.",
            "context": {"ids": ids}}


# -- objects ---------------------------------------------------------------------------------------

def list_objects(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """GET /crm/v3/objects/{type}: id order, ``after`` = the next id, ≤ 100 (≤ 50 with history)."""
    t = portal.table(object_type)
    history = req.qlist("propertiesWithHistory") or []
    limit = int(req.q("limit", "10") or 10)
    if not 0 < limit <= 100:
        return error(400, "VALIDATION_ERROR", f"limit must be between 1 and 100, got {limit}")
    limit = min(limit, 50) if history else limit
    limit = min(limit, portal.page_caps.get("objects", limit))
    after = req.q("after")
    start = t.index_bound(int(after), upper=False) if after else 0
    status = ARCHIVED if (req.q("archived") or "").lower() == "true" else LIVE
    found = []
    for i in t.scan(start, status):
        found.append(i)
        if len(found) > limit:
            break
    props = req.qlist("properties")
    assoc = [a for a in (_type(portal, x) for x in req.qlist("associations") or []) if a]
    body: dict[str, Any] = {"results": [portal.render(object_type, i, props, history=history,
                                                      associations=assoc)
                                        for i in found[:limit]]}
    if len(found) > limit:
        nxt = t.id_of(found[limit])
        body["paging"] = {"next": {"after": nxt,
                                   "link": f"/crm/v3/objects/{object_type}?after={nxt}"}}
    return 200, body


def get_object(portal: Portal, req: Request, object_type: str, record_id: str
               ) -> tuple[int, dict[str, Any]]:
    """GET /crm/v3/objects/{type}/{id}: a merged-away id answers with its survivor."""
    t = portal.table(object_type)
    i = t.index_of(record_id)
    if i is not None:
        i = t.resolve(i)
    archived = (req.q("archived") or "").lower() == "true"
    if i is None or t.status[i] != (ARCHIVED if archived else LIVE):
        return error(404, "OBJECT_NOT_FOUND", "resource not found")
    return 200, portal.render(object_type, i, req.qlist("properties"),
                              history=req.qlist("propertiesWithHistory") or [],
                              associations=[a for a in (_type(portal, x) for x in
                                                        req.qlist("associations") or []) if a])


def search_objects(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """POST /crm/v3/objects/{type}/search: ``after`` is an offset; 400 past 10,000."""
    t = portal.table(object_type)
    catalogue = portal.properties[object_type]

    def ptype(name: str) -> str:
        return catalogue.get(name, {}).get("type", "string")

    query = dict(req.body)
    if "search" in portal.page_caps and int(query.get("limit") or 10) <= 200:
        query["limit"] = min(int(query.get("limit") or 10), portal.page_caps["search"])
    try:
        total, page, nxt = search(t, query, ptype)
    except (SearchError, ValueError) as exc:
        return error(400, "VALIDATION_ERROR", f"There was a problem with the request. {exc}")
    props = req.body.get("properties") or None
    body: dict[str, Any] = {"total": total,
                            "results": [portal.render(object_type, i, props) for i in page]}
    if nxt is not None:
        body["paging"] = {"next": {"after": str(nxt)}}
    return 200, body


def batch_read(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """POST …/batch/read: ≤ 100 inputs (≤ 50 with history); missing ids → 207 errors; a
    merged-away id returns its survivor (a different id)."""
    started = iso(int(time.time() * 1000))
    t = portal.table(object_type)
    inputs = req.body.get("inputs") or []
    history = req.body.get("propertiesWithHistory") or []
    cap = 50 if history else 100
    if len(inputs) > cap:
        return error(400, "VALIDATION_ERROR", f"Too many inputs: {len(inputs)} (max {cap}"
                     f"{' with propertiesWithHistory' if history else ''})")
    id_property = req.body.get("idProperty")
    wanted_status = ARCHIVED if (req.q("archived") or "").lower() == "true" else LIVE
    seen: list[int] = []
    missing: list[str] = []
    for item in inputs:
        rid = str(item.get("id", ""))
        if id_property and id_property != "hs_object_id":
            i = next((j for j in t.scan(0, wanted_status)
                      if t.properties(j).get(id_property) == rid), None)
        else:
            i = t.index_of(rid)
            i = t.resolve(i) if i is not None else None
        if i is None or t.status[i] != wanted_status:
            missing.append(rid)
        elif i not in seen:
            seen.append(i)
    results = [portal.render(object_type, i, req.body.get("properties"), history=history)
               for i in seen]
    return batch_envelope(results, [not_found(object_type, missing)] if missing else [],
                           started)


def _invalid(portal: Portal, object_type: str, name: str, value: Any) -> dict[str, Any] | None:
    definition = portal.properties[object_type].get(name)
    problem: tuple[str, str] | None = None
    if definition is None:
        problem = ("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    elif definition["modificationMetadata"]["readOnlyValue"]:
        problem = ("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
    elif value not in (None, ""):
        text, ptype = str(value), definition["type"]
        if ptype == "number":
            try:
                float(text)
            except ValueError:
                problem = ("INVALID_FLOAT", f"{text} was not a valid number.")
        elif ptype == "date":
            try:
                if parse_ms(text) % DAY_MS:
                    problem = ("INVALID_DATE", f"{text} is not midnight UTC!")
            except ValueError:
                problem = ("INVALID_DATE", f"{text} was not a valid date.")
        elif ptype == "datetime":
            try:
                parse_ms(text)
            except ValueError:
                problem = ("INVALID_DATETIME", f"{text} was not a valid datetime.")
        elif ptype == "enumeration" and definition["options"] and name != "hubspot_owner_id":
            allowed = {o["value"] for o in definition["options"]}
            if any(v not in allowed for v in text.split(";")):
                problem = ("INVALID_OPTION", f"{text} was not one of the allowed options: "
                           f"[{', '.join(sorted(allowed))}]")
        elif ptype == "bool" and text not in ("true", "false"):
            problem = ("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
    if problem is None:
        return None
    return {"isValid": False, "message": problem[1], "error": problem[0], "name": name}


def batch_update(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """POST …/batch/update: an invalid value fails the whole batch (400, as HubSpot does);
    unknown ids and scripted rejections fail per record (207 ``errors``)."""
    started = iso(int(time.time() * 1000))
    t = portal.table(object_type)
    inputs = req.body.get("inputs") or []
    if not inputs or len(inputs) > 100:
        return error(400, "VALIDATION_ERROR", f"inputs must hold 1 to 100 items, got {len(inputs)}")
    problems = [p for item in inputs for name, value in (item.get("properties") or {}).items()
                if (p := _invalid(portal, object_type, name, value))]
    if problems:
        return error(400, "VALIDATION_ERROR",
                     f"Property values were not valid: {json.dumps(problems)}")
    rejections = portal.write_rejections.get(object_type, {})
    results, errors, missing = [], [], []
    for item in inputs:
        rid = str(item.get("id", ""))
        i = t.index_of(rid)
        if i is None or t.status[i] != LIVE:
            missing.append(rid)
            continue
        if rid in rejections:
            errors.append({"status": "error", "category": "VALIDATION_ERROR",
                           "message": rejections[rid], "context": {"ids": [rid]}})
            continue
        props = {k: (None if v is None else str(v)) for k, v in item["properties"].items()}
        for name, value in props.items():  # dates are stored as HubSpot shows them
            if value and portal.properties[object_type][name]["type"] == "date":
                props[name] = iso(parse_ms(value))
        t.update(i, props, portal.now_ms(), "INTEGRATION")
        results.append(portal.render(object_type, i, list(props)))
    if missing:
        errors.insert(0, not_found(object_type, missing))
    return batch_envelope(results, errors, started)


def merge_objects(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """POST /crm/v3/objects/{type}/merge {primaryObjectId, objectIdToMerge}."""
    t = portal.table(object_type)
    primary, other = (t.index_of(req.body.get(k)) for k in ("primaryObjectId", "objectIdToMerge"))
    if primary is None or other is None or LIVE not in (t.status[primary],) or \
            t.status[other] != LIVE:
        return error(400, "VALIDATION_ERROR", "Both objects must exist to be merged")
    t.merge(primary, other, portal.now_ms())
    return 200, portal.render(object_type, primary, None)
