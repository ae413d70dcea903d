"""Batched, dialect-aware upserts keyed on ``(connection, remote_id)``.

One ``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE`` statement executed with the whole
batch as ``executemany`` parameters: the driver loops in C, never Python row-at-a-time round
trips. SQLite and PostgreSQL share the syntax; other dialects are refused clearly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crmsync.errors import StoreError

__all__ = ["upsert_rows", "upsert_statement", "mark_deleted"]

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_KEY = ("connection", "remote_id")


@lru_cache(maxsize=128)
def upsert_statement(dialect: str, table: sa.Table, columns: tuple[str, ...],
                     key: tuple[str, ...] = _KEY) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` setting ``columns`` (cached per shape)."""
    try:
        insert = _INSERTS[dialect]
    except KeyError:
        raise StoreError(f"the store does not support the {dialect} dialect; "
                         "use SQLite or PostgreSQL") from None
    stmt = insert(table)
    updates = {c: stmt.excluded[c] for c in columns if c not in key and c != "id"}
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updates)


def upsert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update ``rows`` (all with the same keys, including ``connection`` and
    ``remote_id``) in one executemany. Returns the number of rows sent."""
    if not rows:
        return 0
    stmt = upsert_statement(conn.dialect.name, table, tuple(rows[0]))
    conn.execute(stmt, list(rows))
    return len(rows)


def mark_deleted(conn: Connection, table: sa.Table, connection: str,
                 deletions: Sequence[tuple[str, dt.datetime | None]],
                 now: dt.datetime) -> int:
    """Mark records deleted (soft delete: ``is_deleted``, ``deleted_at``).

    :param deletions: ``(remote_id, deleted_at)`` pairs; a missing time becomes ``now``.
    :return: how many stored rows were marked (records never synced are not invented).
    """
    if not deletions:
        return 0
    stmt = (
        sa.update(table)
        .where(table.c.connection == sa.bindparam("b_connection"),
               table.c.remote_id == sa.bindparam("b_remote_id"))
        .values(is_deleted=True, deleted_at=sa.bindparam("b_deleted_at"),
                synced_at=sa.bindparam("b_now"))
    )
    params = [{"b_connection": connection, "b_remote_id": rid, "b_deleted_at": at or now,
               "b_now": now} for rid, at in deletions]
    result = conn.execute(stmt, params)
    return max(result.rowcount, 0)
