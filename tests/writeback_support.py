"""An in-memory CRM connector for the write-back engine tests, and helpers to set up a store
with records and metric values. The connector class is built and registered inside a fixture
(``wb`` in the test modules), so nothing leaks between tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from crmsync import (
    Batch,
    Connector,
    ConnectorError,
    FieldInfo,
    FieldSpec,
    WriteResult,
    WriteUpdate,
    hookimpl,
)
from crmsync.core.config import Config, ConnectionConfig
from crmsync.core.schema import metric_values
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.writeback.mapping import parse_writeback

NOW = dt.datetime(2026, 6, 1, 12, 0)


@dataclass
class Crm:
    """The CRM's data and behaviour, shared by every instance of the connector class."""

    fields: dict[str, dict[str, FieldInfo]] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    batch_size: int = 2
    #: record id → (error code, retryable): the record fails on its own
    fail: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: a batch holding one of these ids is refused as a whole (the connector raises)
    poison: set[str] = field(default_factory=set)
    deny_create: bool = False
    #: entities whose write raises a bug of the connector's own (not a crmsync error)
    buggy: set[str] = field(default_factory=set)
    #: the CRM names a field it creates with a key of its own (Pipedrive's 40-hex keys): the
    #: requested name becomes its label, and writes must use the key
    assigns_keys: bool = False
    can_read_values: bool = True
    #: every record's creation time (what ``read`` reports)
    created: dt.datetime = dt.datetime(2026, 1, 1)
    #: ``read`` fails (a connection whose sync fails)
    broken: bool = False
    writes: list[list[WriteUpdate]] = field(default_factory=list)
    reads: list[list[str]] = field(default_factory=list)

    def add_field(self, entity: str, name: str, type: str = "number", **kw: Any) -> None:
        kw.setdefault("writable", True)
        self.fields.setdefault(entity, {})[name] = FieldInfo(name=name, type=type, custom=True,
                                                             **kw)

    def value(self, entity: str, remote_id: str, name: str) -> Any:
        return self.records[entity][remote_id].get(name)

    @property
    def write_calls(self) -> int:
        return len(self.writes)

    @property
    def sent(self) -> list[str]:
        """Record ids of every update sent, in order."""
        return [u.remote_id for batch in self.writes for u in batch]


def connector_class(crm: Crm) -> type[Connector]:
    class MemCrm(Connector):
        NAME = "memcrm"
        ENTITIES = ("opportunities", "accounts", "leads", "users")

        def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
            if crm.broken:
                raise ConnectorError("the CRM is down", connection=self.name, entity=entity)
            extra = {"opportunities": {"status": "open"}}.get(entity, {})
            yield Batch(records=[dict(extra, remote_id=rid, remote_created_at=crm.created)
                                 for rid in crm.records.get(entity, {})], cursor={"done": 1})

        def fields(self, entity: str) -> list[FieldInfo]:
            self.api_calls.count("GET fields")
            return list(crm.fields.get(entity, {}).values())

        def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
            self.api_calls.count("POST fields")
            if crm.deny_create:
                raise ConnectorError("INSUFFICIENT_ACCESS: no permission to create fields",
                                     connection=self.name, entity=entity)
            if not crm.assigns_keys:
                crm.add_field(entity, spec.name, spec.type, scale=spec.scale)
                return crm.fields[entity][spec.name]
            known = [f for f in crm.fields.get(entity, {}).values() if f.label == spec.name]
            if known:
                return known[0]
            key = f"{len(crm.fields.get(entity, {})) + 1:040x}"
            crm.add_field(entity, key, spec.type, scale=spec.scale, label=spec.name)
            return crm.fields[entity][key]

        def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
            todo = list(updates)
            if entity in crm.buggy:
                raise KeyError("Id")  # a bug: the plugin read a key the response lacks
            for i in range(0, len(todo), crm.batch_size):
                chunk = todo[i:i + crm.batch_size]
                self.api_calls.count("PATCH records")
                crm.writes.append(chunk)
                if crm.poison & {u.remote_id for u in chunk}:
                    raise ConnectorError("400 INVALID_BATCH: the batch was refused",
                                         connection=self.name, entity=entity)
                for u in chunk:
                    record = crm.records.get(entity, {}).get(u.remote_id)
                    if record is None:
                        yield WriteResult(u.remote_id, ok=False, error="no such record",
                                          error_code="ENTITY_IS_DELETED", missing=True)
                    elif set(u.values) - set(crm.fields.get(entity, {})):
                        unknown = sorted(set(u.values) - set(crm.fields.get(entity, {})))
                        yield WriteResult(u.remote_id, ok=False, error=f"no field {unknown}",
                                          error_code="INVALID_FIELD")
                    elif u.remote_id in crm.fail:
                        code, retryable = crm.fail[u.remote_id]
                        yield WriteResult(u.remote_id, ok=False, error=f"{code} happened",
                                          error_code=code, retryable=retryable)
                    else:
                        record.update(u.values)
                        yield WriteResult(u.remote_id, ok=True)

        def read_values(self, entity: str, remote_ids: Sequence[str],
                        fields: Sequence[str]) -> dict[str, dict[str, Any]]:
            if not crm.can_read_values:
                return super().read_values(entity, remote_ids, fields)
            crm.reads.append(list(remote_ids))
            records = crm.records.get(entity, {})
            return {rid: {f: records[rid].get(f) for f in fields}
                    for rid in remote_ids if rid in records}

    return MemCrm


def registry_with(cls: type[Connector]) -> Registry:
    """The installed plugins (built-in metrics included) plus ``cls``."""
    class Plugin:
        @hookimpl
        def crmsync_register_connectors(self) -> list[type[Connector]]:
            return [cls]

    pm = get_plugin_manager()
    pm.register(Plugin(), name="memcrm-test")
    return Registry(pm)


def config_with(store: Store, *mappings: dict[str, Any]) -> Config:
    """A config with connection ``crm`` (memcrm) and the given ``[[writeback]]`` tables."""
    config = Config(store_url=store.url, connections={
        "crm": ConnectionConfig(name="crm", type="memcrm", raw={"type": "memcrm"})})
    config.sections["writeback"] = parse_writeback(
        [dict({"connection": "crm"}, **m) for m in mappings], file=None,
        connections=config.connections)
    return config


def put_records(store: Store, entity: str, ids: Iterable[str], connection: str = "crm",
                custom: dict[str, dict[str, Any]] | None = None,
                deleted: Iterable[str] = ()) -> None:
    """Minimal synced rows of ``entity`` (through the real sync engine)."""
    from conftest import load_records

    gone = set(deleted)
    extra = {"opportunities": {"status": "open"}}.get(entity, {})
    rows = [dict(extra, remote_id=rid, custom=(custom or {}).get(rid),
                 is_deleted=rid in gone) for rid in ids]
    load_records(store, {entity: rows}, connection=connection)


def put_values(store: Store, metric: str, values: dict[str, float | None]) -> str:
    """One metric run of record-level values (period ``all``); returns its run id."""
    run_id = uuid.uuid4().hex
    with store.engine.begin() as conn:
        conn.execute(sa.insert(metric_values), [
            {"run_id": run_id, "metric": metric, "version": 1, "period": "all",
             "subject_id": rid, "value": v, "computed_at": NOW}
            for rid, v in values.items()])
    return run_id


def put_rep_values(store: Store, metric: str, period: str,
                   values: dict[dt.date | None, dict[str, float | None]]) -> str:
    """One metric run broken down by owner: ``{period_start: {user id: value}}``."""
    run_id = uuid.uuid4().hex
    with store.engine.begin() as conn:
        conn.execute(sa.insert(metric_values), [
            {"run_id": run_id, "metric": metric, "version": 1, "period": period,
             "period_start": start, "dimension": "owner", "dimension_value": user,
             "value": v, "computed_at": NOW}
            for start, by_user in values.items() for user, v in by_user.items()])
    return run_id
