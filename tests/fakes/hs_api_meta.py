"""The fake portal's metadata endpoints: properties (+ groups), pipelines, owners,
associations v4, OAuth v1 token refresh and account details."""

from __future__ import annotations

import time
from typing import Any

from fakes.hs_api import Request, batch_envelope, error, not_found
from fakes.hs_data import iso
from fakes.hs_objects import LIVE
from fakes.hs_schema import definition, pipelines_json
from fakes.hs_state import ASSOCIATION_TYPES, Portal

__all__ = ["properties", "groups", "pipelines", "list_owners", "associations_batch_read",
           "associations_page", "oauth_token", "account_details", "ROW_LINKS"]

#: Associations one v4 batch-read row holds; the rest are paged (``paging.next.after``).
ROW_LINKS = 500


def properties(portal: Portal, req: Request, object_type: str, name: str | None
               ) -> tuple[int, dict[str, Any]]:
    """GET/POST /crm/v3/properties/{type}[/{name}]: 409 when it exists, 403 without scope."""
    catalogue = portal.properties[object_type]
    if req.method == "GET":
        if name is None:
            return 200, {"results": list(catalogue.values())}
        if name not in catalogue:
            return error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
        return 200, catalogue[name]
    if f"crm.schemas.{object_type}.write" not in portal.scopes:
        return error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes "
                     "to make this call. Read more about required scopes here: "
                     "https://developers.hubspot.com/scopes.",
                     errors=[{"message": "One or more of the following scopes are required.",
                              "context": {"requiredGranularScopes":
                                          [f"crm.schemas.{object_type}.write"]}}])
    body = req.body
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        return error(400, "VALIDATION_ERROR", f"Missing required fields: {', '.join(missing)}")
    if body["name"] in catalogue:
        return error(409, "OBJECT_ALREADY_EXISTS",
                     f"Property named '{body['name']}' already exists.")
    if body["groupName"] not in portal.groups[object_type]:
        return error(400, "VALIDATION_ERROR",
                     f"group {body['groupName']} does not exist for {object_type}")
    if body["type"] not in ("string", "number", "date", "datetime", "enumeration", "bool"):
        return error(400, "VALIDATION_ERROR", f"Unknown property type {body['type']}")
    created = definition(body["name"], body["type"], body["groupName"], custom=True,
                             label=body["label"], field_type=body["fieldType"],
                             description=body.get("description", ""),
                             options=tuple(o["value"] for o in body.get("options") or []),
                             unique=bool(body.get("hasUniqueValue")))
    created["createdAt"] = created["updatedAt"] = iso(portal.now_ms())
    catalogue[body["name"]] = created
    return 201, created


def groups(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """GET/POST /crm/v3/properties/{type}/groups."""
    existing = portal.groups[object_type]
    if req.method == "GET":
        return 200, {"results": list(existing.values())}
    name = req.body.get("name")
    if not name or not req.body.get("label"):
        return error(400, "VALIDATION_ERROR", "name and label are required")
    if name in existing:
        return error(409, "OBJECT_ALREADY_EXISTS",
                     f"A property group named '{name}' already exists.")
    existing[name] = {"name": name, "label": req.body["label"],
                      "displayOrder": req.body.get("displayOrder", -1), "archived": False}
    return 201, existing[name]


def pipelines(portal: Portal, req: Request, object_type: str) -> tuple[int, dict[str, Any]]:
    """GET /crm/v3/pipelines/{type}: deals have three pipelines; other types none."""
    return 200, pipelines_json() if object_type == "deals" else {"results": []}


def list_owners(portal: Portal, req: Request) -> tuple[int, dict[str, Any]]:
    """GET /crm/v3/owners/: ``after`` is an offset string; ``archived=true`` lists only those."""
    limit = int(req.q("limit", "100") or 100)
    if not 0 < limit <= 500:
        return error(400, "VALIDATION_ERROR", f"limit must be between 1 and 500, got {limit}")
    limit = min(limit, portal.page_caps.get("owners", limit))
    archived = (req.q("archived") or "").lower() == "true"
    email = req.q("email")
    rows = [o for o in portal.owners if o["archived"] == archived
            and (email is None or o["email"] == email)]
    start = int(req.q("after", "0") or 0)
    body: dict[str, Any] = {"results": rows[start:start + limit]}
    if start + limit < len(rows):
        body["paging"] = {"next": {"after": str(start + limit),
                                   "link": f"/crm/v3/owners/?after={start + limit}"}}
    return 200, body


def _association_types(from_type: str, to_type: str) -> list[dict[str, Any]]:
    unlabeled, primary = ASSOCIATION_TYPES[(from_type, to_type)]
    types = [{"category": "HUBSPOT_DEFINED", "typeId": unlabeled, "label": None}]
    if primary is not None:
        types.append({"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"})
    return types


def associations_batch_read(portal: Portal, req: Request, from_type: str, to_type: str
                            ) -> tuple[int, dict[str, Any]]:
    """POST /crm/v4/associations/{from}/{to}/batch/read: records without links are left
    out; unknown ids are 207 errors; ``toObjectId`` is a JSON number, as HubSpot sends it."""
    started = iso(int(time.time() * 1000))
    inputs = req.body.get("inputs") or []
    if len(inputs) > 1000:
        return error(400, "VALIDATION_ERROR", f"Too many inputs: {len(inputs)} (max 1000)")
    if (from_type, to_type) not in ASSOCIATION_TYPES:
        return error(400, "VALIDATION_ERROR", f"No association between {from_type} and {to_type}")
    t, to = portal.table(from_type), portal.table(to_type)
    types = _association_types(from_type, to_type)
    results, missing = [], []
    for item in inputs:
        rid = str(item.get("id", ""))
        i = t.index_of(rid)
        if i is None or t.status[t.resolve(i)] != LIVE:
            missing.append(rid)
            continue
        links = portal.links(from_type, to_type, t.resolve(i))
        cap = portal.page_caps.get("associations", ROW_LINKS)
        if links:
            row: dict[str, Any] = {"from": {"id": rid},
                                   "to": [{"toObjectId": int(to.id_of(j)),
                                           "associationTypes": types} for j in links[:cap]]}
            if len(links) > cap:  # the rest: GET /crm/v4/objects/{from}/{id}/associations/{to}
                row["paging"] = {"next": {"after": str(cap)}}
            results.append(row)
    return batch_envelope(results, [not_found(from_type, missing)] if missing else [], started)


def associations_page(portal: Portal, req: Request, from_type: str, record_id: str,
                      to_type: str) -> tuple[int, dict[str, Any]]:
    """GET /crm/v4/objects/{from}/{id}/associations/{to}."""
    t = portal.table(from_type)
    i = t.index_of(record_id)
    if i is None or (from_type, to_type) not in ASSOCIATION_TYPES:
        return error(404, "OBJECT_NOT_FOUND", "resource not found")
    to = portal.table(to_type)
    limit = int(req.q("limit", "500") or 500)
    limit = min(limit, portal.page_caps.get("associations", limit))
    start = int(req.q("after", "0") or 0)
    links = portal.links(from_type, to_type, t.resolve(i))
    types = _association_types(from_type, to_type)
    body: dict[str, Any] = {"results": [{"toObjectId": int(to.id_of(j)), "associationTypes": types}
                                        for j in links[start:start + limit]]}
    if start + limit < len(links):
        body["paging"] = {"next": {"after": str(start + limit)}}
    return 200, body


def oauth_token(portal: Portal, req: Request) -> tuple[int, dict[str, Any]]:
    """POST /oauth/v1/token (form-encoded, grant_type=refresh_token)."""
    form = req.body
    if form.get("grant_type") != "refresh_token":
        return 400, {"status": "BAD_GRANT_TYPE", "message": "grant_type must be refresh_token",
                     "correlationId": "fake"}
    if (form.get("client_id"), form.get("client_secret")) != (portal.client_id,
                                                               portal.client_secret):
        return 400, {"status": "BAD_CLIENT_ID", "message": "missing or invalid client_id/secret",
                     "correlationId": "fake"}
    if form.get("refresh_token") != portal.refresh_token:
        return 400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token",
                     "correlationId": "fake"}
    return 200, {"token_type": "bearer", "refresh_token": portal.refresh_token,
                 "access_token": portal.issue_token(), "expires_in": portal.token_lifetime}


def account_details(portal: Portal, req: Request) -> tuple[int, dict[str, Any]]:
    """GET /account-info/v3/details."""
    return 200, {"portalId": portal.portal_id, "accountType": "STANDARD",
                 "timeZone": "Europe/Berlin", "companyCurrency": "USD",
                 "additionalCurrencies": ["EUR", "GBP"], "utcOffset": "+01:00",
                 "utcOffsetMilliseconds": 3_600_000,
                 "uiDomain": "app.hubspot.com", "dataHostingLocation": "eu1"}
