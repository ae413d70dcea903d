"""An in-memory CRM with an HTTP-shaped API, and the ``World`` over it
(docs/testing-plugins.md, "Meta-tests").

The API answers ``request(method, path, params, token)`` with a :class:`Response` (status,
headers, JSON body): list endpoints sorted by ``(updated, id)`` with an inclusive ``since``
filter, an ``after_id`` keyset tie-break, ``start``/``limit`` offset paging and
``sort=id`` (creation order); a
deleted-records feed; field listing and creation (the CRM assigns field keys); batched
writes; 401 on a wrong bearer token; scripted 429/5xx/401 answers. Timestamps go over the
wire with the account's ``+02:00`` offset, ids are zero-padded sequence numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MemoryCrm", "Response", "Session", "TOKEN", "WIRE_ZONE"]

TOKEN = "tok-5ecret-4d1e9b"
#: The account's time zone: every timestamp on the wire carries this offset.
WIRE_ZONE = dt.timezone(dt.timedelta(hours=2))

#: schema column → CRM field, per entity
FIELDS: dict[str, dict[str, str]] = {
    "accounts": {"name": "name", "industry": "industry", "employee_count": "employees"},
    "opportunities": {"name": "title", "status": "state", "amount": "value",
                      "currency": "currency"},
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "accounts": {"name": "Acme", "industry": "Retail", "employees": 10},
    "opportunities": {"title": "Deal", "state": "open", "value": 1000.0, "currency": "EUR"},
}


@dataclass
class Response:
    """One API answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def wire(when: dt.datetime) -> str:
    """A timestamp as the API writes it."""
    return when.astimezone(WIRE_ZONE).isoformat()


class MemoryCrm:
    """The CRM and the :class:`crmsync.testing.World` over it."""

    ENTITIES = ("accounts", "opportunities")

    def __init__(self) -> None:
        self.clock = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.timezone.utc)
        self.records: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in self.ENTITIES}
        self.deleted: dict[str, list[dict[str, str]]] = {e: [] for e in self.ENTITIES}
        self.custom_fields: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in
                                                                     self.ENTITIES}
        #: Every request, query included (the contract finds pages read twice in it).
        self.calls: list[str] = []
        self.sessions = 0
        self._ids = 0
        self._failures: list[tuple[int, str | None]] = []
        self._actions: list[list[Any]] = []

    # -- the World protocol ----------------------------------------------------------------------

    def create(self, entity: str, **fields: Any) -> str:
        """Create a record with defaults for what ``fields`` leaves out."""
        self._ids += 1
        rid = f"{self._ids:06d}"
        raw = {**DEFAULTS[entity], **self._crm_fields(entity, fields), "id": rid,
               "created": wire(self.clock), "updated": wire(self.clock), "archived": False,
               "fields": {}}
        self.records[entity][rid] = raw
        return rid

    def update(self, entity: str, remote_id: str, **fields: Any) -> Mapping[str, Any]:
        """Change a record (its name, by default); return the schema values changed."""
        raw = self.records[entity][remote_id]
        changes = fields or {"name": f"{raw[FIELDS[entity]['name']]} v{self._ids}"}
        self._ids += 1
        raw.update(self._crm_fields(entity, changes), updated=wire(self.clock))
        return {**changes, "remote_updated_at": self.clock}

    def delete(self, entity: str, remote_id: str, *, hard: bool = False) -> None:
        """Archive a record, or remove it into the deleted-records feed."""
        if hard:
            del self.records[entity][remote_id]
            self.deleted[entity].append({"id": remote_id, "deleted": wire(self.clock)})
        else:
            self.records[entity][remote_id].update(archived=True, updated=wire(self.clock))

    def advance(self, seconds: float) -> None:
        """Move the clock."""
        self.clock += dt.timedelta(seconds=seconds)

    def fail_next(self, status: int, *, retry_after: str | None = None,
                  times: int = 1) -> None:
        """Answer the next ``times`` calls with ``status``."""
        self._failures.extend([(status, retry_after)] * times)

    def on_next_call(self, action: Callable[[], None], *, skip: int = 0) -> None:
        """Run ``action`` before answering the call after the next ``skip`` ones."""
        self._actions.append([skip, action])

    def value(self, entity: str, remote_id: str, field: str) -> Any:
        """A record's current value of CRM field ``field``."""
        return self.records[entity][remote_id]["fields"].get(field)

    def open_connections(self) -> int:
        """Sessions opened and not closed."""
        return self.sessions

    # -- the API ---------------------------------------------------------------------------------

    def connect(self) -> Session:
        """Open a session (a keep-alive connection pool)."""
        self.sessions += 1
        return Session(self)

    def request(self, method: str, path: str, params: Mapping[str, Any], token: str
                ) -> Response:
        """Answer one API call."""
        self.calls.append(f"{method} {path} {sorted(params.items())}")
        due = [a for a in self._actions if a[0] == 0]
        self._actions = [[a[0] - 1, a[1]] for a in self._actions if a[0] > 0]
        for _, action in due:
            action()
        if self._failures:
            status, retry_after = self._failures.pop(0)
            return Response(status, {"error": f"HTTP {status}"},
                            {"Retry-After": retry_after} if retry_after else {})
        if token != TOKEN:
            return Response(401, {"error": "invalid token"})
        return self._route(method, path.strip("/").split("/"), params)

    def _route(self, method: str, parts: list[str], params: Mapping[str, Any]) -> Response:
        if parts == ["me"]:
            return Response(200, {"company": "Memory CRM"})
        if parts[0] == "deleted" and method == "GET":
            return Response(200, self._page(self.deleted[parts[1]], "deleted", params))
        if parts[0] == "fields":
            return self._fields(method, parts[1], params)
        entity = parts[0]
        if entity not in self.records:
            return Response(404, {"error": "no such endpoint"})
        if method == "PATCH":
            return Response(200, self._write(entity, params["updates"]))
        if parts[1:] == ["values"]:
            wanted = [self.records[entity].get(rid) for rid in params["ids"]]
            return Response(200, {r["id"]: {f: r["fields"].get(f) for f in params["fields"]}
                                  for r in wanted if r is not None})
        return Response(200, self._page(list(self.records[entity].values()), "updated",
                                        params))

    @staticmethod
    def _page(rows: list[dict[str, Any]], stamp: str, params: Mapping[str, Any]
              ) -> list[dict[str, Any]]:
        def key(r: dict[str, Any]) -> tuple[dt.datetime, str]:
            return dt.datetime.fromisoformat(r[stamp]), r["id"]

        since = params.get("since")
        if since:
            anchor = (dt.datetime.fromisoformat(since), params.get("after_id") or "")
            rows = [r for r in rows if key(r) > anchor]
        rows = sorted(rows, key=(lambda r: r["id"]) if params.get("sort") == "id" else key)
        start = int(params.get("start") or 0)
        return [dict(r) for r in rows[start:start + int(params["limit"])]]

    def _fields(self, method: str, entity: str, params: Mapping[str, Any]) -> Response:
        custom = self.custom_fields[entity]
        if method == "POST":
            key = hashlib.sha1(f"{entity}{len(custom)}".encode()).hexdigest()
            custom[key] = {"key": key, "name": params["name"], "type": params["type"],
                           "custom": True, "editable": True}
            return Response(201, custom[key])
        standard = [{"key": f, "name": f, "type": "text", "custom": False, "editable": True}
                    for f in FIELDS[entity].values()]
        return Response(200, standard + list(custom.values()))

    def _write(self, entity: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        results = []
        for u in updates:
            raw = self.records[entity].get(u["id"])
            if raw is None:
                results.append({"id": u["id"], "ok": False, "error": "not_found"})
                continue
            raw["fields"].update(u["fields"])
            raw["updated"] = wire(self.clock)
            results.append({"id": u["id"], "ok": True, "error": None})
        return {"results": results}

    @staticmethod
    def _crm_fields(entity: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {FIELDS[entity][k]: v for k, v in fields.items()}


class Session:
    """An open connection to the CRM; closed sessions refuse calls."""

    def __init__(self, crm: MemoryCrm) -> None:
        self.crm = crm
        self.open = True

    def request(self, method: str, path: str, params: Mapping[str, Any], token: str
                ) -> Response:
        """One call; a closed session raises ``OSError`` like a closed socket."""
        if not self.open:
            raise OSError("session closed")
        return self.crm.request(method, path, params, token)

    def close(self) -> None:
        """Close it (idempotent)."""
        if self.open:
            self.open = False
            self.crm.sessions -= 1
