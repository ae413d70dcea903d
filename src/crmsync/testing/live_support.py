"""What the live contract suite's tests share: reading everything a connector yields, comparing
records in the store's terms, syncing through the real engine and snapshotting the store
(docs/testing-plugins.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.connector import Batch, Connector, Reject
from crmsync.store import Store
from crmsync.sync.validate import validator_for

__all__ = ["ReadResult", "read_all", "raised_by", "normalised", "mismatches", "stored_rows",
           "stored_row", "snapshot", "texts_of"]


@dataclass
class ReadResult:
    """Everything one ``read(entity, cursor)`` yielded, in order."""

    entity: str
    batches: list[Batch] = field(default_factory=list)

    @property
    def records(self) -> list[Mapping[str, Any]]:
        """Every record of every batch, in the order read."""
        return [r for b in self.batches for r in b.records]

    @property
    def ids(self) -> list[str]:
        """The remote ids of :attr:`records`, in the order read (repeats kept)."""
        return [str(r.get("remote_id")) for r in self.records]

    @property
    def latest(self) -> dict[str, Mapping[str, Any]]:
        """Each record's last version in this read."""
        return {str(r.get("remote_id")): r for r in self.records}

    @property
    def rejects(self) -> list[Reject]:
        """Every reject of every batch."""
        return [j for b in self.batches for j in b.rejects]

    @property
    def deleted(self) -> set[str]:
        """Remote ids reported deleted: as a ``Deletion`` or a record with ``is_deleted``."""
        ids = {d.remote_id for b in self.batches for d in b.deleted}
        return ids | {str(r.get("remote_id")) for r in self.records if r.get("is_deleted")}

    def cursor(self, before: Any = None) -> Any:
        """The cursor the engine would save after this read (the last one not ``None``)."""
        return next((b.cursor for b in reversed(self.batches) if b.cursor is not None), before)


def read_all(connector: Connector, entity: str, cursor: Any = None) -> ReadResult:
    """Run ``connector.read(entity, cursor)`` to the end."""
    return ReadResult(entity, list(connector.read(entity, cursor)))


def raised_by(call: Callable[[], Any]) -> BaseException | None:
    """The exception ``call()`` raised (a generator is run to the end), or ``None``."""
    try:
        result = call()
        if hasattr(result, "__next__"):
            list(result)
    except Exception as exc:
        return exc
    return None


def normalised(entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` as the engine would store it (coerced per column; aware times in UTC).

    :raises AssertionError: when the record does not validate.
    """
    validator = validator_for(entity)
    row, problems = validator.validate(record)
    assert row is not None, (f"{entity} record {record.get('remote_id')!r} does not validate: "
                             + "; ".join(f"{p.field}: {p.reason}" for p in problems))
    return dict(zip(validator.columns, row, strict=True))


def mismatches(entity: str, record: Mapping[str, Any], expected: Mapping[str, Any]
               ) -> list[str]:
    """The columns of ``expected`` whose value ``record`` does not have, compared as the
    engine stores both (``'name': read 'a', expected 'b'``)."""
    got = normalised(entity, record)
    want = normalised(entity, {**record, **expected})
    return [f"{k!r}: read {got.get(k)!r}, expected {want.get(k)!r}" for k in expected
            if got.get(k) != want.get(k)]


def stored_rows(store: Store, entity: str, connection: str) -> dict[str, dict[str, Any]]:
    """The stored rows of ``entity`` for ``connection``, by remote id."""
    table = SYNCED_TABLES[entity]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.connection == connection)).mappings()
        return {str(r["remote_id"]): dict(r) for r in rows}


def stored_row(store: Store, entity: str, connection: str, remote_id: str) -> dict[str, Any]:
    """One stored row.

    :raises AssertionError: when it is not stored.
    """
    row = stored_rows(store, entity, connection).get(remote_id)
    assert row is not None, f"{entity} record {remote_id!r} was never stored"
    return row


def snapshot(store: Store, entity: str, connection: str) -> dict[str, dict[str, Any]]:
    """:func:`stored_rows` without what differs between two identical syncs (row ids and
    sync times)."""
    return {rid: {k: v for k, v in row.items() if k not in ("id", "synced_at")}
            for rid, row in stored_rows(store, entity, connection).items()}


def texts_of(values: Iterable[Any]) -> list[str]:
    """``values`` as text, for looking for secrets in them."""
    return [v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v)
            for v in values if v is not None]
