"""The duplicate check of a pass that reads every row: which remote ids it has read.

A file may hold a remote id twice; the first row is kept and a later one rejected, so a pass
remembers a 64-bit hash of every id it read. In memory a hash costs about 60 bytes (an int
in a set): 600 MB for a file of 10M rows. Past :data:`SPILL_AT` ids the hashes move to a
temporary SQLite database on disk (SQLite's temporary directory: ``SQLITE_TMPDIR`` or
``TMPDIR``, else ``/var/tmp`` or ``/tmp``; deleted when the pass ends), which keeps the memory
of a pass flat however long the file, for a few microseconds an id
(docs/performance.md, "Peak memory of a large file").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from crmsync import ConnectorError

__all__ = ["SeenIds", "SPILL_AT"]

#: Ids held in memory before the pass moves them to disk: a file the line index covers
#: (``crmsync_files.line_index.MAX_INDEX_ROWS`` lines) keeps them in memory.
SPILL_AT = 1 << 19

#: The page cache of the database on disk: what the pass holds of it in memory.
_CACHE_KIB = 8192


class SeenIds:
    """The hashes of the remote ids a pass over ``file_name`` read (:meth:`__call__` one at
    a time, :meth:`all_new` a block at a time)."""

    def __init__(self, file_name: str = "", spill_at: int | None = None) -> None:
        self.file_name = file_name
        self.seen: set[int] = set()
        self.spill_at = SPILL_AT if spill_at is None else spill_at
        self.disk: sqlite3.Connection | None = None
        #: Whether the ids went to disk (for tests and figures).
        self.spilled = False

    def __call__(self, row: Any, rid: str) -> bool:
        """True when an earlier row had ``rid``; else note it."""
        key = hash(rid)
        if self.disk is not None:
            with self._on_disk():
                if self.disk.execute("SELECT 1 FROM seen WHERE h = ?", (key,)).fetchone():
                    return True
                self.disk.execute("INSERT INTO seen VALUES (?)", (key,))
            return False
        if key in self.seen:
            return True
        self.seen.add(key)
        self._spill_if_full()
        return False

    def all_new(self, ids: list[str]) -> bool:
        """Note ``ids`` (empty ones aside) and return true when none was seen before, nor
        twice among them; else note nothing and return false."""
        hashes = [hash(i) for i in ids if i]
        new = set(hashes)
        if len(new) != len(hashes):
            return False
        if self.disk is not None:
            listed = json.dumps(hashes)
            with self._on_disk():
                if self.disk.execute("SELECT 1 FROM seen WHERE h IN "
                                     "(SELECT value FROM json_each(?)) LIMIT 1",
                                     (listed,)).fetchone():
                    return False
                self.disk.execute("INSERT INTO seen SELECT value FROM json_each(?)", (listed,))
            return True
        if not self.seen.isdisjoint(new):
            return False
        self.seen |= new
        self._spill_if_full()
        return True

    def _spill_if_full(self) -> None:
        if len(self.seen) < self.spill_at:
            return
        with self._on_disk():
            disk = sqlite3.connect("", isolation_level=None)  # "": a temporary file
            for pragma in ("journal_mode = OFF", "synchronous = OFF",
                           f"cache_size = -{_CACHE_KIB}"):
                disk.execute(f"PRAGMA {pragma}")
            disk.execute("CREATE TABLE seen (h INTEGER PRIMARY KEY)")
            # one transaction to the end: pages reach the file only as the cache fills, never
            # at a commit (nothing needs to outlast the pass)
            disk.execute("BEGIN")
            disk.executemany("INSERT INTO seen VALUES (?)", ((h,) for h in sorted(self.seen)))
        self.disk, self.seen, self.spilled = disk, set(), True

    @contextmanager
    def _on_disk(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise ConnectorError(
                f"{self.file_name}: past {self.spill_at:,} rows the check for repeated "
                f"remote ids keeps them in a temporary file, which failed ({exc}); free some "
                "space in SQLite's temporary directory (SQLITE_TMPDIR or TMPDIR, else "
                "/var/tmp or /tmp)") from exc

    def close(self) -> None:
        """Forget the ids; remove the database on disk, if any."""
        self.seen = set()
        if self.disk is not None:
            self.disk.close()
            self.disk = None
