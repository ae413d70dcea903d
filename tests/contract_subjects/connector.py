"""The reference connector over :class:`~contract_subjects.memory_crm.MemoryCrm`: passes the
whole live contract suite (docs/testing-plugins.md, "Meta-tests").

Keyset paging over ``(updated, id)``; a read starts again at the *start* of its cursor's
second, so a change landing in that second after the cursor was saved is read (at the cost
of re-reading that second's records); archived records carry ``is_deleted``; the
deleted-records feed becomes ``Deletion``s; HTTP statuses map to crmsync errors; write-back
into custom fields whose keys the CRM assigns. Each step is a method, so each mutant in
:mod:`contract_subjects.mutants` overrides one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from contract_subjects.memory_crm import MemoryCrm, Response, Session
from crmsync import (
    AuthError,
    Batch,
    Connector,
    ConnectorError,
    Deletion,
    FieldInfo,
    FieldSpec,
    RateLimited,
    Setting,
    TransientError,
    WriteResult,
    WriteUpdate,
    parse_datetime,
    parse_retry_after,
)

__all__ = ["ReferenceConnector"]

#: CRM field → schema column, per entity
COLUMNS = {
    "accounts": {"name": "name", "industry": "industry", "employees": "employee_count"},
    "opportunities": {"title": "name", "state": "status", "value": "amount",
                      "currency": "currency"},
}


class ReferenceConnector(Connector):
    """A correct connector for the in-memory CRM."""

    NAME = "memorycrm"
    ENTITIES = ("accounts", "opportunities")
    SETTINGS: ClassVar[Mapping[str, Setting]] = {
        "api_token": Setting(str, "API token", secret=True),
        "page_size": Setting(int, "records per page", default=100),
        "write_batch": Setting(int, "updates per write call", default=2),
    }

    def __init__(self, name: str, settings: Mapping[str, Any], *, crm: MemoryCrm) -> None:
        super().__init__(name, settings)
        self.crm = crm
        self._session: Session | None = None

    # -- HTTP ----------------------------------------------------------------------------------

    def call(self, method: str, path: str, entity: str | None = None, **params: Any) -> Any:
        """One counted API call; a failure status raises the crmsync error for it."""
        if self._session is None:
            self._session = self.crm.connect()
        self.api_calls.count(f"{method} /{path.strip('/').split('/')[0]}")
        response = self._session.request(method, path, params, self.settings["api_token"])
        if response.status >= 400:
            raise self.error_for(response, method, path, entity)
        return response.body

    def error_for(self, response: Response, method: str, path: str, entity: str | None
                  ) -> ConnectorError:
        """The crmsync error for a failed call."""
        message = f"{method} {path}: HTTP {response.status}"
        if response.status in (401, 403):
            return self.auth_error(message, entity)
        if response.status == 429:
            return RateLimited(message, connection=self.name, entity=entity,
                               retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if response.status >= 500:
            return TransientError(message, connection=self.name, entity=entity)
        return ConnectorError(message, connection=self.name, entity=entity)

    def auth_error(self, message: str, entity: str | None) -> ConnectorError:
        """The error for rejected credentials."""
        return AuthError(message, connection=self.name, entity=entity)

    def check(self) -> str:
        """Who the token reaches."""
        return str(self.call("GET", "/me")["company"])

    def close(self) -> None:
        """Close the session; the next call opens another."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- reading -------------------------------------------------------------------------------

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Changed records, then the deleted-records feed, each by keyset pages."""
        state = dict(cursor or {})
        since, after = self.start_key(state.get("updated"))
        for page in self.pages(entity, "", since, after):
            state["updated"] = [page[-1]["updated"], page[-1]["id"]]
            yield Batch.mapped(page, lambda raw: self.to_record(entity, raw),
                               cursor=dict(state))
        yield from self.deletions(entity, state)

    def start_key(self, saved: list[str] | None) -> tuple[str | None, str]:
        """Where a read starts: the start of the saved cursor's second (a change in that
        second after the cursor was saved may sort before it)."""
        return (saved[0], "") if saved else (None, "")

    def pages(self, entity: str, prefix: str, since: str | None, after: str
              ) -> Iterator[list[dict[str, Any]]]:
        """Keyset pages: each page starts after the last record of the one before."""
        size = self.settings["page_size"]
        stamp = "deleted" if prefix else "updated"
        while True:
            page = self.fetch(f"{prefix}/{entity}", entity, since, after, size)
            if not page:
                return
            yield page
            if len(page) < size:
                return
            since, after = page[-1][stamp], page[-1]["id"]

    def fetch(self, path: str, entity: str, since: str | None, after: str, size: int
              ) -> list[dict[str, Any]]:
        """One page."""
        return list(self.call("GET", path, entity, since=since, after_id=after, limit=size))

    def deletions(self, entity: str, state: dict[str, Any]) -> Iterator[Batch]:
        """The deleted-records feed as ``Deletion``s."""
        since, after = self.start_key(state.get("deleted"))
        for page in self.pages(entity, "/deleted", since, after):
            state["deleted"] = [page[-1]["deleted"], page[-1]["id"]]
            yield Batch(deleted=[Deletion(r["id"], deleted_at=self.timestamp(r["deleted"]))
                                 for r in page], cursor=dict(state))

    def timestamp(self, value: str) -> Any:
        """A wire timestamp as an aware datetime."""
        return parse_datetime(value)

    def to_record(self, entity: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A raw record in schema terms."""
        record = {column: raw.get(key) for key, column in COLUMNS[entity].items()}
        record.update(remote_id=raw["id"], remote_created_at=self.timestamp(raw["created"]),
                      remote_updated_at=self.timestamp(raw["updated"]),
                      custom=dict(raw["fields"]) or None)
        if raw["archived"]:
            record.update(is_deleted=True, deleted_at=record["remote_updated_at"])
        return record

    # -- write-back ----------------------------------------------------------------------------

    def fields(self, entity: str) -> list[FieldInfo]:
        """The CRM's fields; custom ones by the key the CRM assigned."""
        return [FieldInfo(f["key"], "number" if f["type"] == "number" else "string",
                          label=f["name"], writable=f["editable"], custom=f["custom"])
                for f in self.call("GET", f"/fields/{entity}", entity)]

    def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
        """The field named ``spec.name``, created when missing."""
        existing = [f for f in self.fields(entity) if f.label == spec.name]
        if existing:
            return existing[0]
        made = self.call("POST", f"/fields/{entity}", entity, name=spec.name, type=spec.type)
        return FieldInfo(made["key"], spec.type, label=made["name"], writable=True,
                         custom=True)

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        """Batched writes; one result per update."""
        pending = list(updates)
        size = self.settings["write_batch"]
        for start in range(0, len(pending), size):
            chunk = pending[start:start + size]
            body = self.call("PATCH", f"/{entity}", entity, updates=[
                {"id": u.remote_id, "fields": dict(u.values)} for u in chunk])
            yield from self.results(body["results"])

    def results(self, answers: Sequence[Mapping[str, Any]]) -> Iterator[WriteResult]:
        """The CRM's per-record answers as results."""
        for a in answers:
            yield WriteResult(a["id"], ok=a["ok"], error=a["error"],
                              missing=a["error"] == "not_found")

    def read_values(self, entity: str, remote_ids: Sequence[str], fields: Sequence[str]
                    ) -> dict[str, dict[str, Any]]:
        """Current values; records that do not exist are left out."""
        return dict(self.call("GET", f"/{entity}/values", entity, ids=list(remote_ids),
                              fields=list(fields)))
