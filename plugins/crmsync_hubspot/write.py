"""Write-back into HubSpot properties: discovery, creation and batch update.

* ``fields()`` reads ``GET /crm/v3/properties/{type}``: a property is writable unless HubSpot
  marks it calculated, read-only (``modificationMetadata.readOnlyValue``) or unique
  (``hasUniqueValue``, which crmsync must not overwrite).
* ``ensure_field()`` creates a property in the ``crmsync`` property group (created first when
  missing); its ``type``/``fieldType`` follow the spec's kind (:data:`PROPERTY_TYPES`). A 409
  means it already exists; 403 ``MISSING_SCOPES`` is a ConnectorError naming the category.
* ``write()`` sends ``POST /crm/v3/objects/{type}/batch/update`` with at most 100 inputs.
  HubSpot answers 207 with ``errors[{category, message, context: {ids}}]`` for per-record
  failures: ``OBJECT_NOT_FOUND`` (archived or merged-away ids) → ``missing``; rate-limit and
  server-side categories → ``retryable``. A batch refused as a whole (HTTP 400) raises
  :class:`~crmsync.ConnectorError`: write-back splits the batch to isolate the bad records
  (the interface's contract), so one bad record never fails the others. Dates are sent as
  midnight UTC epoch milliseconds (what HubSpot stores for date properties).
* ``read_values()`` batch-reads current values, 100 ids a call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from crmsync import ConfigError, ConnectorError, FieldInfo, FieldSpec, WriteResult, WriteUpdate

if TYPE_CHECKING:
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["PropertyWriter", "PROPERTY_TYPES", "GROUP", "WRITE_BATCH", "property_value",
           "WRITABLE", "writable_object"]

#: Object types crmsync can write back to, by schema table.
WRITABLE = {"accounts": "companies", "contacts": "contacts", "opportunities": "deals",
            "leads": "contacts", "users": None}


def writable_object(entity: str, lead_definition: str) -> str:
    """The object type write-back writes ``entity`` to (leads: the leads object when they are
    read from it, else contacts)."""
    object_type = WRITABLE.get(entity)
    if entity == "leads" and lead_definition == "leads_object":
        object_type = "leads"
    if not object_type:
        raise ConfigError(f"the hubspot connector cannot write to {entity!r} "
                          f"(it writes: accounts, contacts, opportunities)")
    return object_type

#: The property group crmsync's properties are created in.
GROUP = "crmsync"
#: Batch update's input limit.
WRITE_BATCH = 100
#: HubSpot (type, fieldType) for each FieldSpec kind (crmsync.FIELD_TYPES).
PROPERTY_TYPES: dict[str, tuple[str, str]] = {
    "number": ("number", "number"), "currency": ("number", "number"),
    "percent": ("number", "number"), "date": ("date", "date"),
    "datetime": ("datetime", "date"), "string": ("string", "text"),
    "boolean": ("bool", "booleancheckbox"),
}
#: Extra property attributes per kind: how HubSpot displays the number.
_DISPLAY: dict[str, dict[str, Any]] = {"currency": {"showCurrencySymbol": True},
            "percent": {"numberDisplayHint": "percentage"}}
#: 207 error categories worth retrying later (rate limits, HubSpot-side failures).
RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "RATE_LIMIT", "INTERNAL_ERROR", "TIMEOUT",
                                  "LOCKED", "CONFLICT", "SERVICE_UNAVAILABLE"})


def property_value(value: Any) -> str:
    """A Python value as the string HubSpot expects: dates as midnight UTC epoch ms,
    datetimes as epoch ms, booleans as ``true``/``false``, ``None`` as empty (clears)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return str(int(aware.timestamp() * 1000))
    if isinstance(value, dt.date):
        midnight = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        return str(int(midnight.timestamp() * 1000))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class PropertyWriter:
    """Properties API and batch update on one client."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self._properties: dict[str, list[dict[str, Any]]] = {}

    def properties(self, object_type: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The raw property definitions of ``object_type`` (cached)."""
        if refresh or object_type not in self._properties:
            res = self.client.call(f"GET /crm/v3/properties/{object_type}",
                                   self.client.properties.get_all, object_type, archived="false")
            self._properties[object_type] = list(res.data.get("results", ()))
        return self._properties[object_type]

    def forget(self) -> None:
        """Drop the cached property definitions."""
        self._properties.clear()

    def fields(self, object_type: str) -> list[FieldInfo]:
        """``FieldInfo`` per property."""
        return [_field_info(p) for p in self.properties(object_type)]

    def _ensure_group(self, object_type: str) -> None:
        res = self.client.call(f"GET /crm/v3/properties/{object_type}/groups",
                               self.client.property_groups.get_all, object_type)
        if any(g.get("name") == GROUP for g in res.data.get("results", ())):
            return
        try:
            self.client.call(f"POST /crm/v3/properties/{object_type}/groups",
                             self.client.property_groups.create, object_type,
                             {"name": GROUP, "label": "crmsync", "displayOrder": -1})
        except ConnectorError as exc:
            if "HTTP 409" not in str(exc):
                raise

    def ensure_field(self, object_type: str, spec: FieldSpec) -> FieldInfo:
        """Create ``spec`` as a property of ``object_type`` unless one of that name exists."""
        existing = {p["name"]: p for p in self.properties(object_type)}
        if spec.name in existing:
            return _field_info(existing[spec.name])
        if spec.type not in PROPERTY_TYPES:
            raise ConnectorError(f"cannot create property {spec.name!r}: unknown type "
                                 f"{spec.type!r} (known: {', '.join(sorted(PROPERTY_TYPES))})")
        kind, field_type = PROPERTY_TYPES[spec.type]
        self._ensure_group(object_type)
        body = {"name": spec.name, "label": spec.label, "type": kind, "fieldType": field_type,
                "groupName": GROUP, "description": spec.description,
                **_DISPLAY.get(spec.type, {})}
        try:
            res = self.client.call(f"POST /crm/v3/properties/{object_type}",
                                   self.client.properties.create, object_type, body)
            created = res.data
        except ConnectorError as exc:
            if "HTTP 409" not in str(exc):
                raise
            created = next(p for p in self.properties(object_type, refresh=True)
                           if p["name"] == spec.name)
        self._properties.setdefault(object_type, []).append(created)
        return _field_info(created)

    def write(self, object_type: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        """Batch-update ``updates``, 100 a call; yield one result per record."""
        chunk: list[WriteUpdate] = []
        for update in updates:
            chunk.append(update)
            if len(chunk) == WRITE_BATCH:
                yield from self._send(object_type, chunk)
                chunk = []
        if chunk:
            yield from self._send(object_type, chunk)

    def _send(self, object_type: str, chunk: Sequence[WriteUpdate]) -> Iterator[WriteResult]:
        body = {"inputs": [{"id": u.remote_id,
                            "properties": {k: property_value(v) for k, v in u.values.items()}}
                           for u in chunk]}
        # A batch refused as a whole raises; write-back splits it (Connector.write contract).
        res = self.client.call(f"POST /crm/v3/objects/{object_type}/batch/update",
                               self.client.objects_batch.update, object_type, body)
        failed: dict[str, tuple[str, str]] = {}
        for err in res.data.get("errors", ()) or ():
            for rid in (err.get("context") or {}).get("ids", ()) or ():
                failed[str(rid)] = (str(err.get("message") or "failed"),
                                    str(err.get("category") or "ERROR"))
        for u in chunk:
            if u.remote_id in failed:
                message, category = failed[u.remote_id]
                yield WriteResult(u.remote_id, ok=False, error=message, error_code=category,
                                  retryable=category in RETRYABLE_CATEGORIES,
                                  missing=category == "OBJECT_NOT_FOUND")
            else:
                yield WriteResult(u.remote_id, ok=True)


    def read_values(self, object_type: str, remote_ids: Sequence[str],
                    fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Current values of ``fields`` on ``remote_ids`` (batch read, 100 a call); ids that
        no longer exist, or now answer as another (merged) record, are left out."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(remote_ids), WRITE_BATCH):
            chunk = [str(i) for i in remote_ids[start:start + WRITE_BATCH]]
            body = {"inputs": [{"id": i} for i in chunk], "properties": list(fields)}
            res = self.client.call(f"POST /crm/v3/objects/{object_type}/batch/read",
                                   self.client.objects_batch.read, object_type, body,
                                   archived="false")
            wanted = set(chunk)
            for r in res.data.get("results", ()):
                if str(r["id"]) in wanted:
                    props = r.get("properties") or {}
                    out[str(r["id"])] = {f: props.get(f) for f in fields}
        return out


def _kind(p: dict[str, Any]) -> str:
    """The write-back kind (crmsync.FIELD_TYPES) of a property definition."""
    kind, field_type = str(p.get("type") or ""), str(p.get("fieldType") or "")
    if kind == "number":
        hint = str(p.get("numberDisplayHint") or "").lower()
        if hint == "percentage":
            return "percent"
        if hint == "currency" or p.get("showCurrencySymbol"):
            return "currency"
        return "number"
    if kind == "bool" or field_type == "booleancheckbox":
        return "boolean"
    if kind in ("date", "datetime", "string"):
        return kind
    return kind or "string"


def _field_info(p: dict[str, Any]) -> FieldInfo:
    """A property definition → FieldInfo. ``hasUniqueValue`` properties are ids crmsync
    must never overwrite, so they count as not writable, like read-only ones."""
    meta = p.get("modificationMetadata") or {}
    calculated = bool(p.get("calculated"))
    read_only = bool(meta.get("readOnlyValue"))
    return FieldInfo(name=str(p["name"]), type=_kind(p), label=p.get("label"),
                     writable=not (read_only or p.get("hasUniqueValue")),
                     calculated=calculated, custom=not p.get("hubspotDefined", False))
