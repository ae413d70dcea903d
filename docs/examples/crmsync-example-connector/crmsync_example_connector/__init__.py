"""An example crmsync connector: ``type = "example_crm"``.

It reads a tiny CRM that lives in this module (``FAKE_API``) the way a real connector pages
through a REST API: records sorted by (updated time, id), ``page_size`` at a time, each page
carrying the cursor that is safe to persist once it is stored. Vendor field names are mapped
to the unified schema (docs/schema.md); archived deals are marked deleted; a record that
cannot be mapped is handed back as a :class:`crmsync.Reject` with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from crmsync import Batch, Connector, ConnectorError, Reject, Setting, hookimpl

__all__ = ["ExampleCrmConnector", "FAKE_API", "Unmappable", "crmsync_register_connectors"]

#: The "API": raw records per endpoint, as the vendor shapes them.
FAKE_API: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"id": "u1", "updated": "2024-01-02T09:00:00Z", "full_name": "Ada Lovelace",
         "mail": "ada@example.com", "team": "East", "active": True},
        {"id": "u2", "updated": "2024-01-02T09:00:00Z", "full_name": "Grace Hopper",
         "mail": "grace@example.com", "team": "West", "active": True},
    ],
    "companies": [
        {"id": "c1", "updated": "2024-01-03T10:00:00Z", "title": "Acme", "owner": "u1"},
        {"id": "c2", "updated": "2024-01-04T10:00:00Z", "title": "Globex", "owner": "u2"},
    ],
    "deals": [
        {"id": "d1", "created": "2024-01-05T08:00:00Z", "updated": "2024-01-05T08:00:00Z",
         "title": "Acme pilot", "stage": "open", "value": 12000, "company": "c1", "owner": "u1"},
        {"id": "d2", "created": "2024-01-06T08:00:00Z", "updated": "2024-02-01T16:30:00Z",
         "title": "Globex rollout", "stage": "won", "value": 50000, "company": "c2",
         "owner": "u2", "closed": "2024-02-01T16:30:00Z"},
        {"id": "d3", "created": "2024-02-10T08:00:00Z", "updated": "2024-02-10T08:00:00Z",
         "title": "Acme expansion", "stage": "open", "value": 8000, "company": "c1",
         "owner": "u1"},
        {"id": "d4", "created": "2024-02-11T08:00:00Z", "updated": "2024-02-12T08:00:00Z",
         "title": "Old deal", "stage": "open", "value": 1000, "company": "c2", "owner": "u2",
         "archived": True},
        {"id": "d5", "created": "2024-02-13T08:00:00Z", "updated": "2024-02-13T08:00:00Z",
         "title": "Typo deal", "stage": "opne", "value": 500, "company": "c2", "owner": "u2"},
    ],
}


class Unmappable(Exception):
    """A raw record this connector cannot normalise; becomes a :class:`crmsync.Reject`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _deal(raw: dict[str, Any]) -> dict[str, Any]:
    if raw["stage"] not in ("open", "won", "lost"):
        raise Unmappable("stage", f"unknown deal stage {raw['stage']!r}")
    return {"name": raw["title"], "status": raw["stage"], "amount": raw["value"],
            "currency": "USD", "account_id": raw["company"], "owner_id": raw["owner"],
            "closed_at": raw.get("closed")}


#: Schema table -> (endpoint, function mapping one raw record to a schema record).
MAPPINGS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "users": ("users", lambda r: {"name": r["full_name"], "email": r["mail"],
                                  "team": r["team"], "is_active": r["active"]}),
    "accounts": ("companies", lambda r: {"name": r["title"], "owner_id": r["owner"]}),
    "opportunities": ("deals", _deal),
}


class ExampleCrmConnector(Connector):
    """Reads users, accounts and opportunities from :data:`FAKE_API`."""

    NAME = "example_crm"
    ENTITIES = ("users", "accounts", "opportunities")
    SETTINGS = {
        "page_size": Setting(int, "records per page (one page is one transaction)", default=2),
    }
    #: Where the records come from; tests point a subclass at other data.
    API: ClassVar[dict[str, list[dict[str, Any]]]] = FAKE_API

    def check(self) -> str:
        """A real connector would call a cheap authenticated endpoint here."""
        return f"fake API with {sum(len(v) for v in self.API.values())} records"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Pages of records changed after ``cursor``: ``[updated, id]`` of the last record."""
        if entity not in MAPPINGS:
            raise ConnectorError("not an entity of example_crm", connection=self.name,
                                 entity=entity)
        endpoint, to_schema = MAPPINGS[entity]
        after = tuple(cursor) if cursor else ("", "")
        page: list[dict[str, Any]] = []
        for raw in sorted(self.API[endpoint], key=lambda r: (r["updated"], r["id"])):
            if (raw["updated"], raw["id"]) > after:
                page.append(raw)
            if len(page) == self.settings["page_size"]:
                yield self._batch(endpoint, page, to_schema)
                page = []
        if page:
            yield self._batch(endpoint, page, to_schema)

    def _batch(self, endpoint: str, page: list[dict[str, Any]],
               to_schema: Callable[[dict[str, Any]], dict[str, Any]]) -> Batch:
        """Normalise one page; the cursor is the compound key of its last raw record."""
        self.api_calls.count(f"GET /{endpoint}")  # one call per page in a real API
        records, rejects = [], []
        for raw in page:
            try:
                record = to_schema(raw)
            except Unmappable as exc:
                rejects.append(Reject(str(exc), remote_id=raw["id"], field=exc.field,
                                      source=f"GET /{endpoint}", payload=raw))
                continue
            record.update(remote_id=raw["id"], remote_updated_at=raw["updated"],
                          remote_created_at=raw.get("created"))
            if raw.get("archived"):
                record.update(is_deleted=True, deleted_at=raw["updated"])
            records.append(record)
        last = page[-1]
        return Batch(records=records, rejects=rejects, cursor=[last["updated"], last["id"]])


@hookimpl
def crmsync_register_connectors() -> list[type[Connector]]:
    """Register connector type ``example_crm``."""
    return [ExampleCrmConnector]
