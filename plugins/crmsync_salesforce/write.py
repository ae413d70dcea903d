"""Write-back: field discovery, custom-field creation and record updates.

* :func:`fields` reads describe (``updateable``, ``calculated``, ``type``).
* :func:`ensure_field` creates a custom field through the Metadata API (``createMetadata``),
  typed from the metric's unit. simple-salesforce's ``sf.mdapi`` talks SOAP through zeep, which
  builds its *own* requests session, ignoring ours; the connector hands zeep its session
  so the CA bundle, the call counter and the quota check apply. Metadata failures come back as a
  bare ``Exception`` listing ``(statusCode, message)`` pairs; the status code is read from it.
* :func:`write` sends sObject Collections ``PATCH composite/sobjects`` (200 records a call,
  ``allOrNone: false``). HTTP 200 does **not** mean success: each SaveResult, in request order,
  says whether its record was saved; its errors carry ``statusCode`` (not ``errorCode``).
  ``UNABLE_TO_LOCK_ROW`` records are sent again (twice at most) in a later call. Above
  ``bulk_threshold`` records go through a Bulk API 2.0 ingest job instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmsync import (
    FIELD_TYPES,
    AuthError,
    ConnectorError,
    FieldInfo,
    FieldSpec,
    WriteResult,
    WriteUpdate,
)
from crmsync_salesforce import bulk, soql
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.errors import RETRYABLE_RECORD_CODES

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["WRITABLE_OBJECTS", "fields", "field_api_name", "ensure_field", "write",
           "read_values", "wire_value", "COLLECTION_SIZE", "LOCK_RETRIES"]

#: Schema tables write-back can target, and their Salesforce objects.
WRITABLE_OBJECTS: Mapping[str, str] = {
    "opportunities": "Opportunity", "accounts": "Account", "contacts": "Contact",
    "leads": "Lead", "users": "User",
}
#: sObject Collections accept at most 200 records a call.
COLLECTION_SIZE = 200
#: How many more times a record that hit UNABLE_TO_LOCK_ROW is sent.
LOCK_RETRIES = 2
#: Prefix of the custom fields crmsync creates (its "namespace").
FIELD_PREFIX = "crmsync_"

#: Salesforce field types → write-back kinds (``crmsync.FIELD_TYPES``).
_KINDS: Mapping[str, str] = {
    "double": "number", "int": "number", "long": "number", "currency": "currency",
    "percent": "percent", "date": "date", "datetime": "datetime", "boolean": "boolean",
    "string": "string", "textarea": "string", "picklist": "string", "email": "string",
    "phone": "string", "url": "string",
    # Metadata API type names (of fields ensure_field creates)
    "number": "number", "text": "string", "checkbox": "boolean",
}
#: Save errors that mean the record is not there to write (deleted, merged, wrong id).
_MISSING_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID",
                            "NOT_FOUND"})


#: Metric units accepted as field types too (write-back sends kinds; other callers may not).
_UNIT_KINDS: Mapping[str, tuple[str, int]] = {
    "count": ("number", 0), "days": ("number", 2), "minutes": ("number", 2),
    "score": ("number", 2), "ratio": ("number", 4), "multiple": ("number", 2),
}


def _metadata_field(kind: str, scale: int | None) -> dict[str, Any] | None:
    """The Metadata API ``CustomField`` type and sizes for a write-back kind (or a unit)."""
    if kind in _UNIT_KINDS:
        kind, default_scale = _UNIT_KINDS[kind]
        scale = default_scale if scale is None else scale
    digits = 2 if scale is None else max(0, min(scale, 8))
    types: dict[str, dict[str, Any]] = {
        "number": {"type": "Number", "precision": 18, "scale": digits},
        "currency": {"type": "Currency", "precision": 18, "scale": digits},
        "percent": {"type": "Percent", "precision": 18, "scale": digits},
        "date": {"type": "Date"},
        "datetime": {"type": "DateTime"},
        "string": {"type": "Text", "length": 255},
        "boolean": {"type": "Checkbox", "defaultValue": "false"},
    }
    return types.get(kind)


_STATUS_CODE = re.compile(r"\(([A-Z_]+), ")


def sobject(entity: str) -> str:
    """The Salesforce object write-back targets for ``entity``."""
    try:
        return WRITABLE_OBJECTS[entity]
    except KeyError:
        raise ConnectorError(f"write-back to {entity} is not supported (supported: "
                             f"{', '.join(WRITABLE_OBJECTS)})", entity=entity) from None


def fields(description: ObjectDescription) -> list[FieldInfo]:
    """The object's fields as :class:`FieldInfo` (describe's ``updateable`` → ``writable``)."""
    return [_info(name, f) for name, f in description.fields.items()]


def _info(name: str, f: Mapping[str, Any]) -> FieldInfo:
    kind = _KINDS.get(str(f.get("type")), str(f.get("type")))
    scale = f.get("scale") if kind in ("number", "currency", "percent") else None
    return FieldInfo(name=name, type=kind, label=f.get("label"),
                     writable=bool(f.get("updateable")), calculated=bool(f.get("calculated")),
                     custom=bool(f.get("custom")), scale=scale)


def field_api_name(spec_name: str) -> str:
    """The API name crmsync gives a field, in Salesforce's own style for custom fields:
    ``Crmsync_Days_In_Stage__c`` for ``days_in_stage`` (kept as given if already ``__c``).
    Salesforce matches API names in any case, so ``crmsync_days_in_stage__c`` names the
    same field."""
    if spec_name.endswith("__c"):
        return spec_name
    base = re.sub(r"[^A-Za-z0-9]+", "_", spec_name).strip("_")
    base = re.sub(r"_+", "_", base)
    if not base.lower().startswith(FIELD_PREFIX):
        base = FIELD_PREFIX + base
    words = [w[:1].upper() + w[1:] for w in base.split("_")]
    return "_".join(words)[:40].rstrip("_") + "__c"


def ensure_field(client: SalesforceClient, description: ObjectDescription, spec: FieldSpec
                 ) -> FieldInfo:
    """Create ``spec`` on the object unless describe already lists it.

    :raises ConnectorError: naming the field and Salesforce's status code (e.g.
        ``INSUFFICIENT_ACCESS`` when the user may not customise the application).
    """
    name = field_api_name(spec.name)
    existing = description.fields.get(name)
    if existing is not None:
        return _info(name, existing)
    kind = _metadata_field(spec.type.lower(), spec.scale)
    if kind is None:
        raise ConnectorError(f"cannot create {description.name}.{name}: unknown field type "
                             f"{spec.type!r} (known: {', '.join(FIELD_TYPES)})")
    full_name = f"{description.name}.{name}"

    def create(sf: Any) -> None:
        md = sf.mdapi
        # zeep's own session would skip our CA bundle, counter and quota check.
        md._client.transport.session = client.session
        params = {k: v for k, v in kind.items() if k != "type"}
        md.CustomField.create([md.CustomField(
            fullName=full_name, label=spec.label[:40], description=spec.description[:255],
            type=md.FieldType(kind["type"]), **params)])

    try:
        client.call(f"create field {full_name}", create)
    except (ConnectorError, AuthError):
        raise
    except Exception as exc:  # simple-salesforce raises a bare Exception with status codes
        codes = _STATUS_CODE.findall(str(exc)) or ["UNKNOWN"]
        hint = (" (the user needs the Customize Application permission)"
                if "INSUFFICIENT_ACCESS" in codes else "")
        raise ConnectorError(f"cannot create custom field {full_name}: "
                             f"{', '.join(codes)}{hint}", connection=client.connection,
                             entity=client.entity) from None
    return FieldInfo(name=name, type=_KINDS.get(kind["type"].lower(), spec.type.lower()),
                     label=spec.label, writable=True, custom=True, scale=kind.get("scale"))


def _collection_call(client: SalesforceClient, obj: str, chunk: Sequence[WriteUpdate]
                     ) -> list[Mapping[str, Any]]:
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": obj}, "Id": u.remote_id,
         **{k: wire_value(v) for k, v in u.values.items()}} for u in chunk]}
    results = client.restful(f"update {obj}", "composite/sobjects", method="PATCH", json=body)
    if not isinstance(results, list) or len(results) != len(chunk):
        raise ConnectorError(f"update {obj}: Salesforce returned {len(results or [])} "
                             f"results for {len(chunk)} records", connection=client.connection,
                             entity=client.entity)
    return results


def _result(update: WriteUpdate, save: Mapping[str, Any]) -> WriteResult:
    if save.get("success"):
        return WriteResult(remote_id=update.remote_id, ok=True)
    errors = save.get("errors") or [{}]
    first = errors[0]
    code = first.get("statusCode") or first.get("errorCode")
    fields_ = ", ".join(first.get("fields") or [])
    message = " ".join(str(first.get("message") or "").split())
    return WriteResult(remote_id=update.remote_id, ok=False, error_code=code,
                       error=f"{code}: {message}" + (f" (fields: {fields_})" if fields_ else ""),
                       retryable=code in RETRYABLE_RECORD_CODES, missing=code in _MISSING_CODES)


def wire_value(value: Any) -> Any:
    """A Python value as Salesforce's JSON wants it (dates ISO, datetimes UTC ``Z``)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def write(client: SalesforceClient, obj: str, updates: Iterable[WriteUpdate], *,
          bulk_threshold: int) -> Iterator[WriteResult]:
    """Update records; one :class:`WriteResult` per update, in no particular order."""
    pending = list(updates)
    if len(pending) > bulk_threshold:
        yield from _write_bulk(client, obj, pending)
        return
    for attempt in range(LOCK_RETRIES + 1):
        locked: list[WriteUpdate] = []
        for start in range(0, len(pending), COLLECTION_SIZE):
            chunk = pending[start:start + COLLECTION_SIZE]
            for update, save in zip(chunk, _collection_call(client, obj, chunk), strict=True):
                result = _result(update, save)
                if result.error_code == "UNABLE_TO_LOCK_ROW" and attempt < LOCK_RETRIES:
                    locked.append(update)
                else:
                    yield result
        if not locked:
            return
        pending = locked


def _write_bulk(client: SalesforceClient, obj: str, updates: Sequence[WriteUpdate]
                ) -> Iterator[WriteResult]:
    rows = [{"Id": u.remote_id, **{k: wire_value(v) for k, v in u.values.items()}}
            for u in updates]
    _, failures = bulk.ingest_update(client, obj, rows)
    failed = {rid: (code, message) for rid, code, message in failures}
    for update in updates:
        if update.remote_id in failed:
            code, message = failed[update.remote_id]
            yield WriteResult(remote_id=update.remote_id, ok=False, error_code=code,
                              error=f"{code}: {message}",
                              retryable=code in RETRYABLE_RECORD_CODES,
                              missing=code in _MISSING_CODES)
        else:
            yield WriteResult(remote_id=update.remote_id, ok=True)


def read_values(client: SalesforceClient, obj: str, remote_ids: Sequence[str],
                names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Current values of ``names`` on the records ``remote_ids`` (missing records left out)."""
    out: dict[str, dict[str, Any]] = {}
    ids = list(dict.fromkeys(remote_ids))
    for start in range(0, len(ids), soql.IDS_PER_QUERY):
        chunk = ids[start:start + soql.IDS_PER_QUERY]
        text = soql.select(obj, ["Id", *names], where=soql.in_ids("Id", chunk), order_by=("Id",))
        for rows in client.query_pages(text, what=f"read {obj} values", include_deleted=False):
            for row in rows:
                out[row["Id"]] = {n: row.get(n) for n in names}
    return out
