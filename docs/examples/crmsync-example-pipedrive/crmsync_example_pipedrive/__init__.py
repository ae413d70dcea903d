"""An example connector on the connector toolkit: ``type = "example_pipedrive"``.

It reads a Pipedrive-shaped REST CRM (crmsync's toolkit test server, ``crmsync.testing.
CrmServer``, in its tests): users, pipelines and stages in full; organisations, persons,
deals and activities incrementally, with the deleted-records feed; and writes metric values
back to custom deal fields, whose keys the CRM picks (docs/toolkit.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

from crmsync import (
    ApiClient,
    Batch,
    BearerAuth,
    Connector,
    Deletion,
    FieldInfo,
    FieldSpec,
    HttpStatusError,
    Page,
    Quota,
    Setting,
    WriteResult,
    WriteUpdate,
    changed_since,
    hookimpl,
    map_records,
    offset_pages,
    parse_datetime,
)

__all__ = ["PipedriveConnector", "crmsync_register_connectors"]

Raw = dict[str, Any]
#: Schema table → (the CRM's collection, its object type in the deleted-records feed).
COLLECTIONS = {"users": ("users", None), "pipelines": ("pipelines", None),
               "stages": ("stages", None), "accounts": ("organizations", "organization"),
               "contacts": ("persons", "person"), "opportunities": ("deals", "deal"),
               "activities": ("activities", "activity")}
ACTIVITY_TYPES = {"call": "call", "email": "email", "meeting": "meeting", "lunch": "meeting",
                  "task": "task", "deadline": "task"}
FIELD_TYPES = {"double": "number", "monetary": "currency", "varchar": "string",
               "date": "date", "int": "number"}


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


def _primary(emails: Sequence[Raw]) -> str | None:
    return next((e["value"] for e in emails if e.get("primary")), None)


MAPPERS: dict[str, Callable[[Raw], Raw]] = {
    "users": lambda r: {"name": r["name"], "email": r["email"], "is_active": r["active_flag"]},
    "pipelines": lambda r: {"label": r["name"], "display_order": r["order_nr"]},
    "stages": lambda r: {"label": r["name"], "pipeline_id": _ref(r["pipeline_id"]),
                         "display_order": r["order_nr"], "probability": r["deal_probability"]},
    "accounts": lambda r: {"name": r["name"], "owner_id": _ref(r["owner_id"])},
    "contacts": lambda r: {"first_name": r["first_name"], "last_name": r["last_name"],
                           "email": _primary(r["email"]), "account_id": _ref(r["org_id"]),
                           "owner_id": _ref(r["owner_id"])},
    "opportunities": lambda r: {
        "name": r["title"], "amount": r["value"], "currency": r["currency"],
        "status": r["status"], "pipeline_id": _ref(r["pipeline_id"]),
        "stage_id": _ref(r["stage_id"]), "account_id": _ref(r["org_id"]),
        "owner_id": _ref(r["user_id"]), "closed_at": r["won_time"] or r["lost_time"],
        "expected_close_date": r["expected_close_date"]},
    "activities": lambda r: {
        "type": ACTIVITY_TYPES[r["type"]], "subject": r["subject"],
        "occurred_at": parse_datetime(f"{r['due_date']} {r['due_time'] or '00:00'}"),
        "status": "done" if r["done"] else "open", "owner_id": _ref(r["user_id"]),
        "opportunity_id": _ref(r["deal_id"]), "contact_id": _ref(r["person_id"]),
        "account_id": _ref(r["org_id"])},
}


class PipedriveConnector(Connector):
    """Reads a Pipedrive-shaped CRM through the connector toolkit."""

    NAME = "example_pipedrive"
    ENTITIES = tuple(COLLECTIONS)
    SETTINGS: ClassVar[dict[str, Setting]] = {
        "base_url": Setting(str, "the API's base URL, e.g. https://acme.example.com/v1"),
        "api_token": Setting(str, "an API token", secret=True),
        "page_size": Setting(int, "records per page (one page is one transaction)",
                             default=100),
    }

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        self.client = ApiClient(self.settings["base_url"], connection=name,
                                auth=BearerAuth(self.settings["api_token"]),
                                api_calls=self.api_calls)

    def check(self) -> str:
        me = self.client.get("/users/me")["data"]
        return f"{me['company_name']} as {me['name']}"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        collection, feed = COLLECTIONS[entity]
        mapper = self._mapper(entity)
        if feed is None:  # small lists without an update filter: read in full
            pages = offset_pages(lambda start: self._page(f"/{collection}", start, {}),
                                 id_of=lambda r: r["id"])
            for raws in pages:
                yield map_records(raws, mapper, entity=entity)
            return
        state = dict(cursor or {})
        for raws, at in changed_since(self._since(f"/{collection}", "updated_since", {}),
                                      state.get("changed"), key=self._key("update_time")):
            state["changed"] = at or state.get("changed")
            yield map_records(raws, mapper, entity=entity, cursor=dict(state))
        for raws, at in changed_since(self._since("/deleted", "since", {"object": feed}),
                                      state.get("deleted"), key=self._key("deleted_time")):
            state["deleted"] = at or state.get("deleted")
            yield Batch(cursor=dict(state), deleted=[
                Deletion(str(r["object_id"]), parse_datetime(r["deleted_time"])) for r in raws])

    def _mapper(self, entity: str) -> Callable[[Raw], Raw]:
        custom = {f["key"]: f["name"] for f in self._fields() if f["edit_flag"]} \
            if entity == "opportunities" else {}

        def mapped(raw: Raw) -> Raw:
            record = {**MAPPERS[entity](raw), "remote_id": str(raw["id"]),
                      "remote_created_at": raw.get("add_time"),
                      "remote_updated_at": raw.get("update_time")}
            record["custom"] = {name: raw[key] for key, name in custom.items() if key in raw}
            return {**record, "is_deleted": True} if raw.get("deleted") else record

        return mapped

    def _page(self, path: str, start: int, params: dict[str, Any]) -> Page[Raw]:
        body = self.client.get(path, params={**params, "start": start,
                                             "limit": self.settings["page_size"]})
        more = body["additional_data"]["pagination"]["more_items_in_collection"]
        return Page(body["data"] or [], more=more, now=self.client.server_time)

    def _since(self, path: str, param: str, params: dict[str, Any]
               ) -> Callable[[Any, int], Page[Raw]]:
        return lambda since, start: self._page(path, start, {**params, **(
            {param: since.strftime("%Y-%m-%d %H:%M:%S")} if since else {})})

    @staticmethod
    def _key(field: str) -> Callable[[Raw], Any]:
        return lambda r: (parse_datetime(r[field]), r["id"])

    def quota(self) -> Quota | None:
        return self.client.quota

    def close(self) -> None:
        self.client.close()

    # -- write-back (deals only) ------------------------------------------------------------

    def _fields(self) -> list[Raw]:
        return list(self.client.get("/dealFields")["data"])

    def _keys(self) -> dict[str, str]:
        return {f["name"]: f["key"] for f in self._fields()}

    def fields(self, entity: str) -> list[FieldInfo]:
        return [FieldInfo(f["name"], FIELD_TYPES.get(f["field_type"], str(f["field_type"])),
                          writable=f["edit_flag"], custom=f["edit_flag"])
                for f in self._fields()] if entity == "opportunities" else []

    def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
        if spec.name not in self._keys():
            kind = "monetary" if spec.type == "currency" else "double"
            self.client.post("/dealFields", json={"name": spec.name, "field_type": kind})
        return next(f for f in self.fields(entity) if f.name == spec.name)

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        keys = self._keys()
        for update in updates:
            values = {keys.get(name, name): value for name, value in update.values.items()}
            try:
                self.client.put(f"/deals/{update.remote_id}", json=values, entity=entity)
            except HttpStatusError as exc:  # not RateLimited/TransientError: those retry
                yield WriteResult(update.remote_id, ok=False, error=str(exc),
                                  error_code=str(exc.status), missing=exc.status == 404)
            else:
                yield WriteResult(update.remote_id, ok=True)

    def read_values(self, entity: str, remote_ids: Sequence[str],
                    fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        keys, out = self._keys(), {}
        for remote_id in remote_ids:
            try:
                raw = self.client.get(f"/deals/{remote_id}", entity=entity)["data"]
            except HttpStatusError as exc:
                if exc.status == 404:
                    continue
                raise
            out[remote_id] = {f: raw.get(keys.get(f, f)) for f in fields}
        return out


@hookimpl
def crmsync_register_connectors() -> list[type[Connector]]:
    """Register connector type ``example_pipedrive``."""
    return [PipedriveConnector]
