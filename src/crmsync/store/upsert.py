"""Batched, dialect-aware upserts keyed on ``(connection, remote_id)``.

SQLAlchemy compiles one ``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE`` per table
and column set (cached); the batch goes to the driver's ``executemany`` as parameter tuples, so
the loop over rows runs in the driver (C for sqlite3, pipelined for psycopg), not as Python
round trips. Values are adapted once per dialect here, because SQLAlchemy's per-row bind
processing would otherwise cost more than the database work itself (bench/sync_files.py).
SQLite and PostgreSQL share the syntax; other dialects are refused clearly.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

from crmsync.errors import StoreError

__all__ = ["upsert_rows", "upsert_statement", "mark_deleted"]

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_KEY = ("connection", "remote_id")

Adapter = Callable[[Any], Any]


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


# -- value adapters: what SQLAlchemy's bind processors would do, once per value -----------------

def _sqlite_datetime(v: dt.datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, so SQL comparisons and reads agree.
    return v.isoformat(" ", "microseconds")


def _sqlite_date(v: dt.date) -> str:
    return v.isoformat()


def _sqlite_bool(v: bool) -> int:
    return 1 if v else 0


def _json(v: Any) -> str:
    return json.dumps(v)


def _adapters(dialect: str, table: sa.Table, columns: Sequence[str]
              ) -> list[tuple[int, Adapter]]:
    """(position, adapter) for the columns whose Python values the driver cannot take."""
    out: list[tuple[int, Adapter]] = []
    for i, name in enumerate(columns):
        t = table.c[name].type
        if isinstance(t, sa.JSON):
            if dialect == "postgresql":
                from psycopg.types.json import Jsonb

                out.append((i, Jsonb))
            else:
                out.append((i, _json))
        elif dialect == "sqlite":
            if isinstance(t, sa.DateTime):
                out.append((i, _sqlite_datetime))
            elif isinstance(t, sa.Date):
                out.append((i, _sqlite_date))
            elif isinstance(t, sa.Boolean):
                out.append((i, _sqlite_bool))
    return out


@lru_cache(maxsize=128)
def _compiled(dialect: Dialect, table: sa.Table, columns: tuple[str, ...]
              ) -> tuple[str, tuple[str, ...], list[tuple[int, Adapter]], bool]:
    stmt = upsert_statement(dialect.name, table, columns)
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    positional = compiled.positiontup is not None
    order = tuple(compiled.positiontup) if positional else tuple(columns)
    if set(order) != set(columns):
        raise StoreError(f"cannot compile the upsert of {table.name}")  # pragma: no cover
    return str(compiled), order, _adapters(dialect.name, table, order), positional


def upsert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update ``rows`` (all with the same keys, including ``connection`` and
    ``remote_id``; values as the validator produces them) in one ``executemany``.

    :return: the number of rows sent.
    """
    if not rows:
        return 0
    sql, order, adapters, positional = _compiled(conn.dialect, table, tuple(rows[0]))
    params: list[Any] = []
    append = params.append
    for row in rows:
        values = [row[c] for c in order]
        for i, adapt in adapters:
            v = values[i]
            if v is not None:
                values[i] = adapt(v)
        append(values if positional else dict(zip(order, values)))
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()
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
