"""A first load into an empty table: its secondary indexes built once, after the rows.

Maintaining an index row by row during a large load writes each of its pages many times (on
SQLite, 27× the final database size for 500k activities; ``docs/performance.md``). Into an
empty table, :func:`first_load` drops the table's secondary indexes (those of the schema:
the unique key on ``(connection, remote_id)`` stays, the upserts need it) before the first
write and creates them again when the load ends, sorted in one pass. On SQLite the load and
its index builds run under a rollback journal when nothing else has the file open
(:mod:`crmsync.store.journal`). A load that writes nothing touches neither.

Crash-safe: a process killed mid-load leaves the rows it committed and a table without some
of its indexes — usable, only slower to query. The next sync of the table creates the
missing ones before it loads anything (:func:`first_load` on a table that is not empty).

Concurrent: syncs of different connections share a table (Celery workers); on PostgreSQL their
index changes on one table wait for each other under an advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, DropIndex

from crmsync.store.journal import RollbackJournal
from crmsync.store.migrate import advisory_key

__all__ = ["FirstLoad", "first_load", "restore_indexes", "missing_indexes", "PAGE_CACHE_KIB",
           "SORT_CACHE_KIB"]


def _existing(conn: Connection, table: sa.Table) -> set[str]:
    """The names of the indexes ``table`` has in the database."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
            (table.name,))
    else:
        rows = conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :t"), {"t": table.name})
    return {str(name) for (name,) in rows}


def _serialise_ddl(conn: Connection, table: sa.Table) -> None:
    """On PostgreSQL, wait for any other sync's index changes on ``table`` (in this schema) to
    commit before making ours: two sessions creating or dropping one index at once collide in
    the catalog even with ``IF [NOT] EXISTS`` (workers syncing different connections share
    the table). Called before the transaction touches the table, else two syncs each holding
    a lock the other's DDL waits for deadlock. The lock ends with the transaction. SQLite
    serialises writers already."""
    if conn.dialect.name == "postgresql":
        schema = conn.execute(sa.text("select current_schema()")).scalar() or ""
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"),
                     {"k": advisory_key("crmsync-index", f"{schema}.{table.name}")})


#: The page cache of every SQLite connection of a store (``crmsync.store.database``), in KiB:
#: index maintenance during large syncs stays in memory.
PAGE_CACHE_KIB = 32_768
#: The page cache, and so the sorter's memory, while SQLite builds indexes after a first load.
SORT_CACHE_KIB = 8_192


def _secondary(table: sa.Table) -> list[sa.Index]:
    """The table's secondary indexes in the schema, by name."""
    return sorted((i for i in table.indexes if i.name), key=lambda i: str(i.name))


def missing_indexes(conn: Connection, table: sa.Table) -> list[sa.Index]:
    """The schema's indexes of ``table`` that the database lacks."""
    existing = _existing(conn, table)
    return [i for i in _secondary(table) if i.name not in existing]


def restore_indexes(conn: Connection, table: sa.Table) -> list[str]:
    """Create the schema's indexes of ``table`` that the database lacks; returns their names.

    SQLite's sorter keeps as much in memory as the page cache holds: the build runs with
    :data:`SORT_CACHE_KIB` and spills the rest into temporary files, which is no slower and
    keeps the build from adding the whole page cache to a sync's peak memory
    (docs/performance.md). PostgreSQL gets more ``maintenance_work_mem`` for the build.
    """
    if not missing_indexes(conn, table):
        return []
    _serialise_ddl(conn, table)
    missing = missing_indexes(conn, table)  # again: another sync may have made them meanwhile
    sqlite = conn.dialect.name == "sqlite"
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '128MB'")
    elif sqlite:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SORT_CACHE_KIB}")
    try:
        for index in missing:  # IF NOT EXISTS: another sync of the table may race this one
            conn.execute(CreateIndex(index, if_not_exists=True))
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    return [str(i.name) for i in missing]


class FirstLoad:
    """A load into ``table``; :attr:`empty` whether the table held no rows when it began.

    :meth:`start` runs before the load's first write: into a table still empty, it switches
    an SQLite file to a rollback journal (:mod:`crmsync.store.journal`) and drops the
    secondary indexes, to be built when the load ends. A load that writes nothing (most
    entities of most syncs) changes nothing."""

    def __init__(self, engine: Engine, table: sa.Table, empty: bool) -> None:
        self.engine, self.table, self.empty = engine, table, empty
        self.journal = RollbackJournal(engine)
        self.started = False
        self.dropped = False

    def start(self) -> None:
        """Before the first write (once): hold the secondary indexes off, if still empty."""
        if self.started or not self.empty:
            return
        self.started = True
        self.journal.start()  # first: it needs this process's connections closed
        with self.engine.begin() as conn:
            _serialise_ddl(conn, self.table)  # first: a lock on the table while waiting deadlocks
            if conn.execute(sa.select(sa.literal(1)).select_from(self.table).limit(1)).first():
                return  # another connection's sync loaded the table meanwhile
            existing = _existing(conn, self.table)
            for index in _secondary(self.table):
                if index.name in existing:
                    conn.execute(DropIndex(index, if_exists=True))
            self.dropped = True

    def end(self) -> None:
        """Build the indexes :meth:`start` dropped, then leave the rollback journal."""
        try:
            if self.dropped:
                with self.engine.begin() as conn:
                    restore_indexes(conn, self.table)
        finally:
            self.journal.end()


@contextmanager
def first_load(engine: Engine, table: sa.Table) -> Iterator[FirstLoad]:
    """A load into ``table``: yields its :class:`FirstLoad`, whose ``start()`` the writer
    calls before its first write. When the table is empty, its secondary indexes are held off
    from then on and created when the block ends, however it ends. Indexes a killed first
    load left out are created before the block runs.
    """
    with engine.begin() as conn:  # its own transaction: the DDL lock comes first
        restore_indexes(conn, table)
    with engine.begin() as conn:
        empty = conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() \
            is None
    load = FirstLoad(engine, table, empty)
    try:
        yield load
    finally:
        load.end()
