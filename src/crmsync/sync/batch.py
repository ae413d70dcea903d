"""One batch on its way to the store: its valid rows and its reject rows.

The sync engine validates a connector's :class:`~crmsync.plugin.connector.Batch` into a
:class:`PendingBatch` and commits it in one transaction (docs/writing-a-connector.md,
"Batches"; rejects as in docs/concepts.md, "Rejects").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmsync.core.redact import Redactor
from crmsync.core.schema import sync_rejects, sync_state
from crmsync.core.timeparse import naive_utc
from crmsync.plugin.connector import Batch
from crmsync.store.upsert import upsert_statement
from crmsync.sync.limits import storable
from crmsync.sync.value_rules import bound_payload, bound_text

__all__ = ["PendingBatch", "source_of", "deletions_of", "save_cursor", "replace_rejects"]


@dataclass
class PendingBatch:
    """One batch's valid rows by remote id (with each one's index in the batch) and its
    reject rows, ready for ``sync_rejects``.

    :param sources: the batch's sources when standing rejects are resolved by source: then
        :attr:`stored_sources` lists the sources of the rows.
    """

    run_id: int | None
    connection: str
    entity: str
    dialect: str | None
    redactor: Redactor
    now: dt.datetime
    sources: Sequence[str] | None = None
    rows: dict[str, list[Any]] = field(default_factory=dict)
    origins: dict[str, int] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    stored_sources: list[str] = field(default_factory=list)
    #: Records rejected (one record may have several reject rows, one per problem).
    rejected: int = 0

    def add(self, remote_id: str, row: list[Any], i: int) -> None:
        """Keep ``row``, the batch's ``i``-th record (a later version of it replaces it)."""
        self.rows[remote_id] = row
        self.origins[remote_id] = i
        if self.sources is not None:
            self.stored_sources.append(self.sources[i])

    def drop(self, remote_id: str) -> list[Any]:
        """Take a kept row back out (the database refused it); returns it."""
        row = self.rows.pop(remote_id)
        if self.sources is not None:
            self.stored_sources.remove(self.sources[self.origins[remote_id]])
        return row

    def reject(self, remote_id: Any, source: str | None,
               problems: Iterable[tuple[str | None, str]], payload: Any) -> None:
        """Reject one record: a reject row per ``(field, reason)``, secrets removed from the
        reasons and ``payload``."""
        self.rejected += 1
        payload = self.redactor.data(payload)
        self.rejects.extend(self._row(remote_id, source, f, reason, payload)
                            for f, reason in problems)

    def _row(self, remote_id: Any, source: str | None, field: str | None, reason: str,
             payload: Any) -> dict[str, Any]:
        # A reject row must store whatever the record held (U+0000 on PostgreSQL included),
        # or the bad record would block its batch after all.
        dialect = self.dialect
        return {
            "run_id": self.run_id, "connection": self.connection, "entity": self.entity,
            "remote_id": None if remote_id in (None, "") else storable(str(remote_id)[:255],
                                                                      dialect),
            "source": storable(source, dialect), "field": storable(field, dialect),
            "reason": storable(bound_text(self.redactor.text(reason)), dialect),
            "payload": (storable(bound_payload(payload), dialect) if isinstance(payload, dict)
                        else None),
            "created_at": self.now,
        }


def source_of(batch: Batch, i: int) -> str | None:
    """Where the batch's ``i``-th record came from, when the connector said."""
    return batch.sources[i] if batch.sources is not None else None


def deletions_of(batch: Batch) -> list[tuple[str, dt.datetime | None]]:
    """The batch's deletions as ``(remote_id, deleted_at)``, times in naive UTC."""
    return [(d.remote_id, naive_utc(d.deleted_at) if d.deleted_at is not None else None)
            for d in batch.deleted]


def save_cursor(conn: Connection, connection: str, entity: str, cursor: Any,
                run_id: int | None, now: dt.datetime) -> None:
    """Store the entity's cursor, in the transaction of the batch it is safe after."""
    stmt = upsert_statement(conn.dialect.name, sync_state,
                            ("connection", "entity", "cursor", "updated_at", "last_run_id"),
                            key=("connection", "entity"))
    conn.execute(stmt, [{"connection": connection, "entity": entity, "cursor": cursor,
                         "updated_at": now, "last_run_id": run_id}])


def replace_rejects(conn: Connection, connection: str, entity: str,
                    rejects: list[dict[str, Any]], run_started: dt.datetime) -> None:
    """Store rejects; a record rejected again replaces its earlier standing rejects, so
    re-reading the same bad row on every sync never piles up duplicates (resolved ones
    are kept as history, but for one resolved by this very run, started at ``run_started``:
    the record was both stored and rejected in it, e.g. a duplicate row)."""
    ids = {r["remote_id"] for r in rejects if r["remote_id"] is not None}
    sources = {r["source"] for r in rejects if r["remote_id"] is None and r["source"]}
    for column, keys in ((sync_rejects.c.remote_id, ids), (sync_rejects.c.source, sources)):
        ordered = sorted(keys)
        for chunk in (ordered[i:i + 500] for i in range(0, len(ordered), 500)):
            conn.execute(sa.delete(sync_rejects).where(
                sync_rejects.c.connection == connection,
                sync_rejects.c.entity == entity,
                sa.or_(sync_rejects.c.resolved_at.is_(None),
                       sync_rejects.c.resolved_at >= run_started),
                column.in_(chunk)))
    conn.execute(sa.insert(sync_rejects), rejects)
