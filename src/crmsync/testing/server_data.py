"""The records of the toolkit test server's CRM and their translation from schema terms
(docs/toolkit.md, "The test server").

The CRM is shaped like Pipedrive: users, pipelines and stages; organisations, persons, deals
and activities stamped with ``update_time`` (``YYYY-MM-DD HH:MM:SS``, UTC, to the second);
soft deletes as ``deleted: true``; hard deletes listed by a deleted-records feed; custom
fields keyed by 40 hex digits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

__all__ = ["CrmData", "ENDPOINTS", "ENTITY_OF", "CRM_TIME", "crm_time"]

#: Schema table → the CRM's collection.
ENDPOINTS = {"users": "users", "pipelines": "pipelines", "stages": "stages",
             "accounts": "organizations", "contacts": "persons", "opportunities": "deals",
             "activities": "activities"}
#: The CRM's collection → the object type its deleted-records feed names.
ENTITY_OF = {"organizations": "organization", "persons": "person", "deals": "deal",
             "activities": "activity"}
#: The CRM's timestamp format (UTC, no zone).
CRM_TIME = "%Y-%m-%d %H:%M:%S"
#: Where every server's clock starts.
EPOCH = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.timezone.utc)


def crm_time(when: dt.datetime) -> str:
    """``when`` as the CRM writes it."""
    return when.astimezone(dt.timezone.utc).strftime(CRM_TIME)


def _email(value: Any) -> list[dict[str, Any]]:
    return [{"value": value, "primary": True}] if value else []


#: Schema column → (CRM key, value in the CRM's form) per collection, for World.create and
#: World.update (docs/toolkit.md, "The test server").
_Shape = dict[str, tuple[str, Callable[[Any], Any]]]
_SAME: Callable[[Any], Any] = lambda v: v  # noqa: E731
SHAPES: dict[str, _Shape] = {
    "organizations": {"name": ("name", _SAME), "owner_id": ("owner_id", int)},
    "persons": {"first_name": ("first_name", _SAME), "last_name": ("last_name", _SAME),
                "email": ("email", _email), "account_id": ("org_id", int),
                "owner_id": ("owner_id", int)},
    "deals": {"name": ("title", _SAME), "amount": ("value", _SAME),
              "currency": ("currency", _SAME), "status": ("status", _SAME),
              "stage_id": ("stage_id", int), "pipeline_id": ("pipeline_id", int),
              "account_id": ("org_id", int), "owner_id": ("user_id", int),
              "expected_close_date": ("expected_close_date", str)},
    "activities": {"type": ("type", _SAME), "subject": ("subject", _SAME),
                   "owner_id": ("user_id", int), "opportunity_id": ("deal_id", int),
                   "contact_id": ("person_id", int), "account_id": ("org_id", int)},
}
#: What World.update changes when it is given no fields: (schema column, new value).
_BUMPS: dict[str, Callable[[dict[str, Any]], tuple[str, Any]]] = {
    "organizations": lambda r: ("name", f"{r['name']} +"),
    "persons": lambda r: ("last_name", f"{r['last_name']} +"),
    "deals": lambda r: ("amount", float(r["value"]) + 100.0),
    "activities": lambda r: ("subject", f"{r['subject']} +"),
}


class CrmData:
    """The server's records, clock, custom fields and deleted-records feed (not
    thread-safe: the server holds its lock around every call)."""

    def __init__(self) -> None:
        self.now = EPOCH
        self.records: dict[str, dict[int, dict[str, Any]]] = {e: {} for e in ENDPOINTS.values()}
        self.deleted: list[dict[str, Any]] = []
        self.fields: dict[str, list[dict[str, Any]]] = {"deals": []}
        self._next_id = 1

    # -- the clock and ids ------------------------------------------------------------------

    def stamp(self) -> str:
        """The clock to the second, as the CRM writes it."""
        return crm_time(self.now)

    @property
    def last_id(self) -> int:
        """The last id given out."""
        return self._next_id

    def new_id(self) -> int:
        """The next record id (one sequence for the whole CRM, increasing)."""
        self._next_id += 1
        return self._next_id

    # -- records ---------------------------------------------------------------------------

    def add(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a new record of ``collection``, stamped now."""
        rid = self.new_id()
        record = {"id": rid, "add_time": self.stamp(), "update_time": self.stamp(),
                  "deleted": False, **record}
        self.records[collection][rid] = record
        return record

    def change(self, collection: str, rid: int, values: dict[str, Any]) -> dict[str, Any]:
        """Change a record's values and stamp it now; ``KeyError`` when it does not exist."""
        record = self.records[collection][rid]
        record.update(values)
        record["update_time"] = self.stamp()
        return record

    def remove(self, collection: str, rid: int, *, hard: bool) -> None:
        """Archive a record (``deleted: true``, stamped now) or remove it for good, listing
        it in the deleted-records feed."""
        if not hard:
            self.change(collection, rid, {"deleted": True})
            return
        del self.records[collection][rid]
        self.deleted.append({"id": self.new_id(), "object": ENTITY_OF[collection],
                             "object_id": rid, "deleted_time": self.stamp()})

    def listing(self, collection: str, since: str | None) -> list[dict[str, Any]]:
        """The records changed at or after ``since`` (all when ``None``), sorted by
        ``(update_time, id)``."""
        rows = [r for r in self.records[collection].values()
                if since is None or r.get("update_time", "") >= since]
        return sorted(rows, key=lambda r: (r.get("update_time", ""), r["id"]))

    def deleted_since(self, obj: str | None, since: str | None) -> list[dict[str, Any]]:
        """The deleted-records feed, sorted by ``(deleted_time, id)``."""
        return [d for d in self.deleted if (obj is None or d["object"] == obj)
                and (since is None or d["deleted_time"] >= since)]

    # -- custom fields ----------------------------------------------------------------------

    def add_field(self, collection: str, name: str, field_type: str) -> dict[str, Any]:
        """A new custom field; the CRM picks its key (40 hex digits)."""
        key = hashlib.sha1(f"{collection}/{name}/{self.new_id()}".encode()).hexdigest()
        field = {"key": key, "name": name, "field_type": field_type, "edit_flag": True,
                 "add_time": self.stamp()}
        self.fields.setdefault(collection, []).append(field)
        return field

    def field_key(self, collection: str, name_or_key: str) -> str:
        """A custom field's key from its name or key (``name_or_key`` when unknown)."""
        for field in self.fields.get(collection, []):
            if name_or_key in (field["name"], field["key"]):
                return str(field["key"])
        return name_or_key

    # -- schema terms (the World protocol) ------------------------------------------------------

    def crm_values(self, collection: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Schema columns → the CRM's keys and forms; ``KeyError`` for a column it lacks."""
        shape = SHAPES[collection]
        out: dict[str, Any] = {}
        for column, value in fields.items():
            key, to_crm = shape[column]
            out[key] = None if value is None else to_crm(value)
        return out

    def bump(self, collection: str, rid: int) -> dict[str, Any]:
        """Change something a connector reads; the schema column and its new value."""
        column, value = _BUMPS[collection](self.records[collection][rid])
        self.change(collection, rid, self.crm_values(collection, {column: value}))
        return {column: value}
