"""A first load into an SQLite file with a rollback journal: each new page written once.

In WAL mode SQLite writes every page twice: into the WAL when a transaction commits, then into
the database at the checkpoint. A first load appends nearly all its pages, and a rollback
journal keeps only the former content of pages that existed when the transaction began; the
appended ones are written once, into the file (500k activities: 1.05× the database's size
written, against 2.05× in WAL; ``docs/performance.md``).

Readers wait for a rollback journal's commits where they never wait under WAL, so the switch
is made only when nothing else has the file open — any connection, of this process or another,
makes the switch fail at once (no busy wait) and the load runs in WAL as before. While it
lasts, this process's new connections leave the journal mode alone (:func:`appending`); a
connection from another process sets WAL again as it opens (``crmsync.store.database``),
between two batches, and the load goes on in WAL. When the load ends, WAL comes back; a
process killed mid-load leaves a hot journal that the next connection rolls back before it
sets WAL, so the committed batches are all there is (the crash tests cover it).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine

__all__ = ["RollbackJournal", "appending", "file_key"]

log = logging.getLogger(__name__)

#: SQLite files this process is loading with a rollback journal (by :func:`file_key`).
_APPENDING: set[str] = set()
#: The busy timeout every store connection has (``crmsync.store.database``), in ms.
BUSY_TIMEOUT_MS = 30_000


def file_key(database: str | None) -> str | None:
    """The key of an SQLite database file (its absolute path); ``None`` for memory."""
    if database in (None, "", ":memory:") or str(database).startswith("file:"):
        return None
    return str(Path(str(database)).expanduser().resolve())


def appending(key: str | None) -> bool:
    """Whether this process is loading the file ``key`` with a rollback journal."""
    return key is not None and key in _APPENDING


def _switch(engine: Engine, mode: str, *, wait: bool) -> str:
    """Set the file's journal mode on one connection; returns the mode it has after."""
    with engine.connect() as conn:
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if not wait:
                cur.execute("PRAGMA busy_timeout=0")
            return str(cur.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:  # another connection has the file open
            log.debug("journal mode %s not set: %s", mode, exc)
            return "wal" if mode != "wal" else "delete"
        finally:
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()


class RollbackJournal:
    """The rollback-journal mode of one load (``crmsync.store.bulk.FirstLoad``): :meth:`start`
    before its first write (a load with nothing to write leaves the file alone), then
    :meth:`end`, however the load ended."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.key = file_key(engine.url.database) if engine.dialect.name == "sqlite" else None
        self.on: bool | None = None  # None: not tried yet

    def start(self) -> bool:
        """Switch the file to a rollback journal, once, if nothing else has it open; returns
        whether it is in that mode. Anything but a file on SQLite stays as it is."""
        if self.on is None:
            self.on = False
            if self.key is not None and self.key not in _APPENDING:
                self.engine.dispose()  # this process's idle connections hold the WAL open
                _APPENDING.add(self.key)
                self.on = _switch(self.engine, "delete", wait=False) == "delete"
                if not self.on:
                    _APPENDING.discard(self.key)
        return self.on

    def end(self) -> None:
        """Back to WAL, if :meth:`start` left it."""
        if not self.on or self.key is None:
            return
        self.on = False
        _APPENDING.discard(self.key)
        if _switch(self.engine, "wal", wait=True) != "wal":
            log.warning("%s: still in rollback-journal mode after a first load; the next "
                        "connection sets WAL again", self.key)
