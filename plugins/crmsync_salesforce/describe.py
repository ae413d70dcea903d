"""What an object looks like in this org, from ``/sobjects/{Object}/describe/``.

Describe runs once per object per run, so custom fields created since the last sync appear.
Field-level security hides a field from describe *and* rejects it in SOQL with ``INVALID_FIELD``,
so only fields describe lists are selected; the standard fields a mapping wants but cannot read
are skipped with a warning naming them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ObjectDescription", "KEY_PREFIXES", "object_for_id"]

log = logging.getLogger(__name__)

#: Key prefixes of the standard objects WhoId/WhatId point to. They are fixed across every org
#: (the first three characters of every record Id), so no global describe is needed for them.
KEY_PREFIXES: Mapping[str, str] = {
    "001": "Account", "003": "Contact", "005": "User", "006": "Opportunity", "00Q": "Lead",
    "00E": "UserRole", "00T": "Task", "00U": "Event", "00K": "OpportunityContactRole",
    "008": "OpportunityHistory", "01J": "OpportunityStage",
}

#: Field types that cannot be selected usefully (compound fields repeat their components).
_UNSELECTABLE = frozenset({"address", "location", "base64", "complexvalue"})


def object_for_id(record_id: str | None) -> str | None:
    """The standard object a record Id belongs to, by its key prefix; ``None`` if unknown."""
    if not record_id or len(record_id) < 3:
        return None
    return KEY_PREFIXES.get(record_id[:3])


@dataclass(frozen=True)
class ObjectDescription:
    """The readable fields of one object.

    :param name: the object's API name.
    :param fields: describe's field entries by API name.
    :param key_prefix: the object's key prefix.
    """

    name: str
    fields: Mapping[str, Mapping[str, Any]]
    key_prefix: str | None = None
    record_types: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    replicateable: bool = False

    @classmethod
    def from_describe(cls, body: Mapping[str, Any]) -> ObjectDescription:
        """Build from a describe response body."""
        fields = {f["name"]: f for f in body.get("fields", [])}
        return cls(name=body["name"], fields=fields, key_prefix=body.get("keyPrefix"),
                   record_types=tuple(body.get("recordTypeInfos") or ()),
                   replicateable=bool(body.get("replicateable")))

    def has(self, name: str) -> bool:
        """Whether the field exists and this user can read it."""
        return name in self.fields

    def type_of(self, name: str) -> str | None:
        """Describe's type (``string``, ``datetime``, ``currency``…) of a field."""
        f = self.fields.get(name)
        return str(f["type"]) if f else None

    @property
    def stamp_field(self) -> str:
        """The field an incremental read goes by: ``SystemModstamp``, or ``CreatedDate`` on
        objects whose rows are never edited and have no SystemModstamp (field history)."""
        return "SystemModstamp" if self.has("SystemModstamp") or not self.has("CreatedDate") \
            else "CreatedDate"

    @property
    def has_record_types(self) -> bool:
        """Whether the object has record types besides the master one."""
        return any(not info.get("master") for info in self.record_types)

    @property
    def multi_currency(self) -> bool:
        """True in multi-currency orgs: only they have ``CurrencyIsoCode`` on records."""
        return "CurrencyIsoCode" in self.fields

    @property
    def custom_fields(self) -> list[str]:
        """Readable custom fields (``__c``), in describe order."""
        return [n for n, f in self.fields.items()
                if n.endswith("__c") and f.get("type") not in _UNSELECTABLE]

    def select_list(self, standard: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
        """The fields to SELECT: readable ``standard`` ones, relationship paths whose lookup is
        readable (``UserRole.Name`` needs ``UserRoleId``), ``extra`` and every custom field.
        Unreadable standard fields are logged once, by name."""
        out: list[str] = []
        skipped: list[str] = []
        for name in standard:
            base = name.split(".", 1)[0]
            if "." in name:
                lookup = base + "Id" if not base.endswith("__r") else base[:-3] + "__c"
                ok = self.has(lookup)
            else:
                ok = self.has(name)
            (out if ok else skipped).append(name)
        for name in extra:  # field_map sources
            if name in out:
                continue
            (out if self.has(name) else skipped).append(name)
        for name in self.custom_fields:
            if name not in out:
                out.append(name)
        if skipped:
            log.warning("%s: skipping fields this user cannot read (or the org lacks): %s",
                        self.name, ", ".join(f"{self.name}.{n}" for n in skipped))
        return out

    def parse_csv_value(self, name: str, text: str) -> Any:
        """A Bulk API CSV cell as the REST API's JSON would give it (CSV has only strings)."""
        if text == "":
            return None
        kind = self.type_of(name.split(".", 1)[0]) if "." not in name else "string"
        if kind == "boolean":
            return text.lower() == "true"
        if kind == "int":
            return int(float(text))
        if kind in ("double", "currency", "percent"):
            return float(text)
        return text
