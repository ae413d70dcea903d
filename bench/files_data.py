"""What ``bench/sync_files.py`` loads, and the raw loaders it measures crmsync against.

The data is shaped like a real CRM export: one ``activities.csv`` whose timestamps end in
``Z`` (``2024-09-08T12:40:48Z``, ``…05.000Z`` for ``remote_updated_at``, as Salesforce and
HubSpot write them), references with random keys (so secondary indexes see random inserts),
a few empty cells.

The raw loaders read the same CSV with ``csv.reader`` and hand the cells to the database as
they are (no validation), in the same transactions of ``batch`` rows:

* SQLite: ``executemany`` of ``INSERT … ON CONFLICT (connection, remote_id) DO UPDATE`` into a
  table with the same columns and only the unique key (the issue's ceiling);
* PostgreSQL: ``COPY`` into a temporary table, then ``INSERT … SELECT … ON CONFLICT`` into a
  table with only the unique key; and ``COPY`` into a bare table (no key at all).

With ``indexes=True`` the SQLite loader and the PostgreSQL merge also build, once the load is
over, the secondary indexes crmsync's ``activities`` table has (read from its schema), as
crmsync does after a first load: the fastest loader of the table crmsync produces.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "write_activities", "touch_activities", "raw_sqlite", "raw_pg"]

COLUMNS = ("remote_id", "type", "direction", "subject", "occurred_at", "status", "outcome",
           "duration_seconds", "is_automated", "owner_id", "contact_id", "account_id",
           "opportunity_id", "remote_created_at", "remote_updated_at")
_TYPES = ("call", "email", "meeting", "task", "note")
_BASE = dt.datetime(2024, 1, 1)
NOW = "2026-01-01 00:00:00.000000"


def _rows(n: int, seed: int, changed: float = 0.0) -> Iterator[list[str]]:
    r = random.Random(seed)
    touched = random.Random(seed + 1)
    for i in range(n):
        t = _BASE + dt.timedelta(seconds=r.randrange(0, 730 * 86400))
        u = t + dt.timedelta(seconds=r.randrange(0, 3 * 86400))
        subject = f"Follow-up {i}"
        if changed and touched.random() < changed:
            u, subject = dt.datetime(2026, 6, 1), f"Follow-up {i} (edited)"
        yield [f"00T{i:012d}", _TYPES[i % 5], "outbound" if i % 3 else "inbound", subject,
               t.strftime("%Y-%m-%dT%H:%M:%SZ"), "Completed", "Connected" if i % 4 else "",
               str(r.randrange(0, 3600)), "false" if i % 7 else "true", f"005{i % 200:012d}",
               f"003{r.randrange(0, 100_000):012d}", f"001{r.randrange(0, 20_000):012d}",
               f"006{r.randrange(0, 50_000):012d}" if i % 2 else "",
               t.strftime("%Y-%m-%dT%H:%M:%SZ"), u.strftime("%Y-%m-%dT%H:%M:%S.000Z")]


def write_activities(folder: Path, n: int, *, changed: float = 0.0, seed: int = 7) -> Path:
    """Write ``folder/activities.csv`` with ``n`` rows (reused when already complete);
    ``changed`` is the share of rows edited later (a newer ``remote_updated_at``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "activities.csv"
    marker = folder / f".complete-{n}-{changed}"
    if marker.exists() and path.exists():
        return path
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_rows(n, seed, changed))
    for old in folder.glob(".complete-*"):
        old.unlink()
    marker.touch()
    return path


def touch_activities(folder: Path, n: int, changed: float) -> Path:
    """Rewrite ``folder/activities.csv`` with ``changed`` of its ``n`` rows edited."""
    return write_activities(folder, n, changed=changed)


def _csv_batches(path: Path, batch: int, extra: tuple[Any, ...]) -> Iterator[list[list[Any]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        rows: list[list[Any]] = []
        for row in reader:
            rows.append([*(v or None for v in row), *extra])
            if len(rows) >= batch:
                yield rows
                rows = []
        if rows:
            yield rows


_ALL = (*COLUMNS, "connection", "synced_at", "is_deleted")
#: crmsync's column types for the PostgreSQL baselines (the rest is text).
_PG_TYPES = {"occurred_at": "timestamp", "remote_created_at": "timestamp",
             "remote_updated_at": "timestamp", "synced_at": "timestamp",
             "duration_seconds": "integer", "is_automated": "boolean", "is_deleted": "boolean"}


def schema_indexes() -> list[tuple[str, list[str]]]:
    """The secondary indexes of crmsync's ``activities`` table: (name, columns)."""
    from crmsync.core.schema import SYNCED_TABLES

    return sorted((str(i.name), [c.name for c in i.columns])
                  for i in SYNCED_TABLES["activities"].indexes if i.name)


def _build_indexes(execute: Any) -> None:
    """Build :func:`schema_indexes`; an indexed column the CSV has not (``lead_id``) is
    added first, empty, as crmsync's table has it."""
    indexes = schema_indexes()
    for column in sorted({c for _, cs in indexes for c in cs} - set(_ALL)):
        execute(f"ALTER TABLE activities ADD COLUMN {column} text")
    for name, columns in indexes:
        execute(f"CREATE INDEX {name} ON activities ({', '.join(columns)})")


def raw_sqlite(path: Path, db: str, batch: int, *, indexes: bool = False) -> None:
    """csv.reader + ``executemany`` upsert, ``batch`` rows per transaction, unique key only
    (and the schema's secondary indexes built at the end, with ``indexes``)."""
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-32768")
    con.execute(f"CREATE TABLE activities (id INTEGER PRIMARY KEY, {', '.join(_ALL)}, "
                "UNIQUE (connection, remote_id))")
    sets = ", ".join(f"{c} = excluded.{c}" for c in _ALL if c not in ("connection", "remote_id"))
    sql = (f"INSERT INTO activities ({', '.join(_ALL)}) VALUES ({', '.join('?' * len(_ALL))}) "
           f"ON CONFLICT (connection, remote_id) DO UPDATE SET {sets}")
    for rows in _csv_batches(path, batch, ("bench", NOW, 0)):
        con.executemany(sql, rows)
        con.commit()
    if indexes:
        _build_indexes(con.execute)
        con.commit()
    con.close()


def raw_pg(path: Path, url: str, batch: int, *, merge: bool, indexes: bool = False) -> None:
    """COPY of each batch into a temporary table + ``INSERT … ON CONFLICT`` (``merge``), or
    COPY straight into a bare table; one transaction per batch (and the schema's secondary
    indexes built at the end, with ``indexes``, with crmsync's ``maintenance_work_mem``)."""
    import psycopg

    columns = ", ".join(_ALL)
    with psycopg.connect(url) as con:
        key = ", UNIQUE (connection, remote_id)" if merge else ""
        typed = ", ".join(f"{c} {_PG_TYPES.get(c, 'text')}" for c in _ALL)
        con.execute(f"CREATE TABLE activities (id bigserial PRIMARY KEY, {typed}{key})")
        con.commit()
        sets = ", ".join(f"{c} = excluded.{c}" for c in _ALL
                         if c not in ("connection", "remote_id"))
        for rows in _csv_batches(path, batch, ("bench", NOW, "0")):
            with con.transaction(), con.cursor() as cur:
                target = "activities"
                if merge:
                    cur.execute("CREATE TEMP TABLE IF NOT EXISTS staged "
                                "(LIKE activities INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
                    target = "staged"
                with cur.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                if merge:
                    cur.execute(f"INSERT INTO activities ({columns}) SELECT {columns} FROM "
                                f"staged ON CONFLICT (connection, remote_id) DO UPDATE SET {sets}")
        if indexes:
            with con.transaction():
                con.execute("SET LOCAL maintenance_work_mem = '128MB'")
                _build_indexes(con.execute)
