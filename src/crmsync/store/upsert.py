"""Batched, dialect-aware upserts keyed on ``(connection, remote_id)``.

SQLAlchemy compiles one ``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE`` per table
and column set (cached, positional parameters); the batch goes to the driver's
``executemany`` as value lists, so the loop over rows runs in the driver (C for sqlite3,
pipelined for psycopg), not as Python round trips. Values arrive already adapted for the
dialect (:mod:`crmsync.store.adapt`), because SQLAlchemy's per-row bind processing would
otherwise cost more than the database work itself (``bench/sync_files.py``).
SQLite and PostgreSQL share the syntax; other dialects are refused clearly. On SQLite a stored
row re-sent with its indexed columns unchanged leaves the indexes alone (:func:`_sqlite_pair`).
A record re-sent with every column as stored (``synced_at`` aside) is not written at all
(:func:`_unchanged`): a ``--full`` sync of an unchanged source writes no rows, and on
PostgreSQL leaves no dead row versions behind (``docs/performance.md``).

On PostgreSQL a batch of at least :data:`COPY_THRESHOLD` rows is sent with ``COPY`` into a
temporary table and merged with one ``INSERT … SELECT … ON CONFLICT``: per-row statement
execution costs more than the merge itself (``docs/performance.md``). The result is the
same rows (a key sent twice: the last one wins, as with ``executemany``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

from crmsync.core.errors import StoreError
from crmsync.store.adapt import value_adapter

__all__ = ["upsert_rows", "upsert_prepared", "upsert_statement", "mark_deleted",
           "COPY_THRESHOLD"]

#: The fewest rows a PostgreSQL upsert sends with ``COPY`` (fewer: ``executemany``).
COPY_THRESHOLD = 1000

#: The dialect's ``INSERT`` with ``ON CONFLICT`` support.
_INSERTS: dict[str, Callable[[sa.Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}
_KEY = ("connection", "remote_id")


#: Columns the engine sets on every write of a record; the others say whether it changed.
_STAMPS = ("synced_at",)


@lru_cache(maxsize=128)
def upsert_statement(dialect: str, table: sa.Table, columns: tuple[str, ...],
                     key: tuple[str, ...] = _KEY, *, skip_unchanged: bool = False) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` setting ``columns`` (cached per shape); with
    ``skip_unchanged``, a stored row whose columns other than the engine's stamps already
    hold the values sent is left as it is (:func:`_unchanged`)."""
    try:
        insert = _INSERTS[dialect]
    except KeyError:
        raise StoreError(f"the store does not support the {dialect} dialect; "
                         "use SQLite or PostgreSQL") from None
    stmt = insert(table)
    updates = {c: stmt.excluded[c] for c in columns if c not in key and c != "id"}
    same = _unchanged(table, stmt, columns) if skip_unchanged else None
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updates,
                                      where=None if same is None else sa.not_(same))


def _unchanged(table: sa.Table, stmt: Any, columns: Sequence[str]) -> Any:
    """True where the stored row holds every value sent (``IS``: NULL is NULL) but the
    engine's stamps (:data:`_STAMPS`), which change on every write and say nothing of the
    record; ``None`` when no such column is sent.

    Writing a row again with its own values is not free: SQLite journals and writes its pages,
    PostgreSQL writes a new version of it (and of its index entries) to the table and the WAL
    and leaves the old one for ``VACUUM``. ``synced_at`` then tells when the record last
    changed in the store."""
    compared = [c for c in columns if c not in _KEY and c != "id" and c not in _STAMPS]
    if not compared:
        return None
    return sa.and_(*(table.c[c].is_not_distinct_from(stmt.excluded[c]) for c in compared))


def _positional(stmt: Any, dialect_name: str, table: sa.Table, columns: tuple[str, ...]) -> str:
    """``stmt``'s SQL with positional parameters in ``columns`` order."""
    dialect: Dialect
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import psycopg

        # SQLAlchemy leaves this dialect's __init__ unannotated.
        dialect = psycopg.dialect(paramstyle="format")  # type: ignore[no-untyped-call]
    else:
        dialect = sqlite.dialect()
    # for_executemany: no implicit ``RETURNING id``, whose rows executemany would discard.
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    if list(compiled.positiontup or ()) != list(columns):
        raise StoreError(f"upsert of {table.name}: columns must be in table order")
    return str(compiled)


@lru_cache(maxsize=128)
def _compiled(dialect_name: str, table: sa.Table, columns: tuple[str, ...]) -> str:
    """The upsert's SQL with positional parameters in ``columns`` order."""
    return _positional(upsert_statement(dialect_name, table, columns, skip_unchanged=True),
                       dialect_name, table, columns)


#: The SQL function through which SQLite's first statement names the rows the second one
#: must write (:func:`_sqlite_pair`).
_MOVED = "crmsync_moved"


@lru_cache(maxsize=128)
def _sqlite_pair(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, str] | None:
    """SQLite: the upsert in two statements that leave the secondary indexes alone when a
    stored row's indexed columns keep their values; ``None`` when no column sent is indexed
    or every column sent but the key is.

    SQLite rewrites the entry of every index holding a column an ``UPDATE`` sets, whether its
    value changed or not: re-sending a row costs a page of each index. The first statement
    inserts the new rows and, for a stored row whose indexed columns are the same (``IS``:
    NULL is NULL), sets only the columns no secondary index holds — unless those already
    hold the values sent too (:func:`_unchanged`): that row is not written at all. A stored
    row whose indexed columns changed is not written either; the first statement passes its
    key to :data:`_MOVED`, and the second statement, which sets every column, is run for
    those rows only. Telling them apart any other way (the first statement's ``rowcount``)
    would cost a second pass over every row an unchanged source sends again: binding a
    row's values costs more than writing it (``docs/performance.md``)."""
    indexed = {c.name for i in table.indexes for c in i.columns} - set(_KEY)
    sent = [c for c in columns if c in indexed]
    stmt = sqlite.insert(table)
    rest = {c: stmt.excluded[c] for c in columns if c not in _KEY and c not in indexed
            and c != "id"}
    if not sent or not rest:
        return None
    same = sa.and_(*(table.c[c].is_not_distinct_from(stmt.excluded[c]) for c in sent))
    every = {c: stmt.excluded[c] for c in columns if c not in _KEY and c != "id"}
    kept = _unchanged(table, stmt, [c for c in columns if c not in indexed])
    # the function returns 0, so such a row is not written here: the call notes its key
    moved = sa.and_(sa.not_(same), getattr(sa.func, _MOVED)(
        *(stmt.excluded[k] for k in _KEY)) == sa.literal_column("1"))
    alike = stmt.on_conflict_do_update(
        index_elements=list(_KEY), set_=rest,
        where=sa.or_(same if kept is None else sa.and_(same, sa.not_(kept)), moved))
    changed = stmt.on_conflict_do_update(index_elements=list(_KEY), set_=every,
                                         where=sa.not_(same))
    return (_positional(alike, "sqlite", table, columns),
            _positional(changed, "sqlite", table, columns))


def _sqlite_upsert(conn: Connection, cursor: Any, pair: tuple[str, str],
                   columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Run :func:`_sqlite_pair`'s statements: the first for every row, the second for the
    rows the first found with an indexed column changed; the rows they wrote."""
    moved: set[tuple[Any, Any]] = set()

    def found(connection: Any, remote_id: Any) -> int:
        moved.add((connection, remote_id))
        return 0

    raw = conn.connection.dbapi_connection
    raw.create_function(_MOVED, 2, found)  # type: ignore[union-attr]
    cursor.executemany(pair[0], rows)
    written: int = max(cursor.rowcount, 0)
    if moved:
        at = [list(columns).index(k) for k in _KEY]
        cursor.executemany(pair[1], [r for r in rows if (r[at[0]], r[at[1]]) in moved])
        written += max(cursor.rowcount, 0)
    return written


def upsert_prepared(conn: Connection, table: sa.Table, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, typed: bool = False,
                    append: bool = False) -> int:
    """Insert or update rows given as value lists in ``columns`` order (table order, every
    column but ``id``), with values already adapted for the dialect
    (:class:`crmsync.sync.validate.RecordValidator` makes them), in one ``executemany``.

    :param typed: every value is of the one Python type the validator makes for its column
        (``str``, naive ``datetime``, ``int``, ``float``, ``bool``, ``date``, ``Jsonb``) or
        ``None``: on PostgreSQL, ``COPY`` then sends the binary form, which psycopg writes
        in C several times faster than text (``docs/performance.md``).
    :param append: the rows are expected to be new (a first load into an empty table): on
        PostgreSQL a ``COPY`` batch then goes straight into the table, without the staging
        table and its merge, in a savepoint; a key already stored rolls it back to the merge.
        The rows stored are the same either way.
    :return: the number of rows written: inserted, or stored with a value changed. A row that
        already held every value sent (:func:`_unchanged`) is not counted.
    """
    if not rows:
        return 0
    dialect = conn.dialect.name
    cursor = conn.connection.cursor()
    try:
        pair = _sqlite_pair(table, tuple(columns)) if dialect == "sqlite" else None
        if dialect == "postgresql" and len(rows) >= COPY_THRESHOLD:
            return _copy_upsert(cursor, table, tuple(columns), rows, typed, append)
        if pair is not None:
            return _sqlite_upsert(conn, cursor, pair, columns, rows)
        # both drivers sum the rows each execution changed
        cursor.executemany(_compiled(dialect, table, tuple(columns)), rows)
        return int(max(cursor.rowcount, 0))
    finally:
        cursor.close()


@lru_cache(maxsize=128)
def _merge_sql(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, str, str, str, str]:
    """The SQL of a ``COPY`` upsert: create the session's staging table, ``COPY`` into it,
    merge it into ``table`` (its own statement, for its row count), empty it; and ``COPY``
    straight into ``table`` (``append``)."""
    from sqlalchemy.dialects.postgresql import psycopg

    stage = f"crmsync_stage_{table.name}_{len(columns)}"
    names = ", ".join(f'"{c}"' for c in columns)
    create = (f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" ON COMMIT DELETE ROWS AS '
              f'SELECT {names} FROM "{table.name}" WITH NO DATA')
    staged = sa.table(stage, *(sa.column(c) for c in columns))
    stmt = postgresql.insert(table).from_select(list(columns), sa.select(*staged.c))
    same = _unchanged(table, stmt, columns)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={c: stmt.excluded[c] for c in columns if c not in _KEY and c != "id"},
        where=None if same is None else sa.not_(same))
    # SQLAlchemy leaves this dialect's __init__ unannotated.
    merge = str(stmt.compile(dialect=psycopg.dialect()))  # type: ignore[no-untyped-call]
    return (create, f'COPY "{stage}" ({names}) FROM STDIN', merge, f'DELETE FROM "{stage}"',
            f'COPY "{table.name}" ({names}) FROM STDIN')


#: PostgreSQL types whose binary ``COPY`` form psycopg makes from the validator's values.
_BINARY = {"VARCHAR": "varchar", "TEXT": "text", "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
           "JSONB": "jsonb", "BOOLEAN": "bool", "FLOAT": "float8", "INTEGER": "int4",
           "BIGINT": "int8", "SMALLINT": "int2", "DATE": "date"}


@lru_cache(maxsize=128)
def _binary_types(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, ...] | None:
    """The PostgreSQL types of ``columns`` for a binary ``COPY``; ``None`` when one has a
    type :data:`_BINARY` lacks."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    names = [table.c[c].type.compile(dialect=dialect).split("(")[0] for c in columns]
    return tuple(_BINARY[n] for n in names) if all(n in _BINARY for n in names) else None


def _copy_rows(cursor: Any, copy_sql: str, types: tuple[str, ...] | None,
               rows: Sequence[Sequence[Any]]) -> None:
    with cursor.copy(copy_sql if types is None else f"{copy_sql} (FORMAT BINARY)") as copy:
        if types is not None:
            copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _copy_upsert(cursor: Any, table: sa.Table, columns: tuple[str, ...],
                 rows: Sequence[Sequence[Any]], typed: bool = False,
                 append: bool = False) -> int:
    """Upsert ``rows`` through ``COPY`` and a staging table (PostgreSQL); with ``append``,
    ``COPY`` straight into the table first (see :func:`upsert_prepared`)."""
    import psycopg

    create, copy_sql, merge, clear, direct = _merge_sql(table, columns)
    types = _binary_types(table, columns) if typed else None
    keyed = all(k in columns for k in _KEY)
    if keyed:  # one row per key, the last, as executemany leaves
        at = [columns.index(k) for k in _KEY]
        last = {(row[at[0]], row[at[1]]): row for row in rows}
        if len(last) < len(rows):
            rows = list(last.values())
    if append and keyed:
        cursor.execute("SAVEPOINT crmsync_append")
        try:
            _copy_rows(cursor, direct, types, rows)
        except psycopg.errors.UniqueViolation:  # a key stored already: merge instead
            cursor.execute("ROLLBACK TO SAVEPOINT crmsync_append")
        else:
            cursor.execute("RELEASE SAVEPOINT crmsync_append")
            return len(rows)
    cursor.execute(create)
    _copy_rows(cursor, copy_sql, types, rows)
    cursor.execute(merge)
    written: int = max(cursor.rowcount, 0)
    cursor.execute(clear)
    return written


def upsert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                append: bool = False) -> int:
    """Insert or update ``rows`` given as mappings of Python values (a missing column is
    NULL); a convenience over :func:`upsert_prepared` (``append`` as there).

    :return: the number of rows sent.
    """
    if not rows:
        return 0
    columns = [c for c in table.columns if c.name != "id"]
    adapters = [value_adapter(conn.dialect.name, c) for c in columns]
    prepared = []
    for row in rows:
        values = [row.get(c.name) for c in columns]
        prepared.append([v if v is None or a is None else a(v)
                         for v, a in zip(values, adapters, strict=True)])
    return upsert_prepared(conn, table, [c.name for c in columns], prepared, append=append)


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
