"""Opening a store: engine set-up per dialect and automatic migration."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from crmsync.core.errors import StoreError
from crmsync.store import migrate
from crmsync.store.bulk import PAGE_CACHE_KIB
from crmsync.store.business_hours import business_minutes
from crmsync.store.journal import BUSY_TIMEOUT_MS, appending, file_key

__all__ = ["DEFAULT_URL", "Store", "open_store", "redact_url", "ANALYZE_FRACTION"]

DEFAULT_URL = "sqlite:///crmsync.db"
#: A table is analysed again once a sync changed this share of the rows it had when last
#: analysed (PostgreSQL autovacuum's default ``autovacuum_analyze_scale_factor``).
ANALYZE_FRACTION = 0.1


def redact_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid url>"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_time(value: str | None, zone: str) -> str | None:
    """SQL function ``crmsync_local_time(ts, zone)``: a stored naive-UTC timestamp as wall-clock
    time in ``zone`` (SQLite has no time-zone database; PostgreSQL uses its own)."""
    if value is None:
        return None
    utc = dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc)
    return utc.astimezone(_zone(zone)).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_pragmas(dbapi_conn: Any, key: str | None) -> None:
    dbapi_conn.create_function("crmsync_local_time", 2, _local_time, deterministic=True)
    dbapi_conn.create_function("crmsync_business_minutes", 6, business_minutes,
                               deterministic=True)
    cur = dbapi_conn.cursor()
    # First: switching a fresh file to WAL needs its lock, and other processes may hold it.
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL lets readers (status, metrics) work while a sync writes; NORMAL is durable in WAL
    # for everything but a power cut, and a power cut loses at most the batch in flight.
    # Not while this process makes a first load with a rollback journal (store.journal).
    if not appending(key):
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # the page cache (32 MB): index maintenance during large syncs stays in memory
    cur.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    cur.close()


def _read_only(dbapi_conn: Any, _record: Any) -> None:
    """Make a new connection refuse writes (see :class:`Store`'s ``read_only``)."""
    cur = dbapi_conn.cursor()
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur.execute("PRAGMA query_only=ON")
    else:
        cur.execute("SET default_transaction_read_only = on")
        dbapi_conn.commit()
    cur.close()


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store url is not a database URL: {url!r}") from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver we install; SQLAlchemy's bare default is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(f"no database driver for {redact_url(url)}: {exc}; "
                         "for PostgreSQL install 'crmsync[postgresql]'") from exc
    if engine.dialect.name == "sqlite":
        key = file_key(parsed.database)

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_conn, key)

        event.listen(engine, "connect", pragmas)
    return engine


class Store:
    """A database holding the unified schema.

    :param url: a SQLAlchemy URL (``sqlite:///crmsync.db``, ``postgresql://…``).
    :param upgrade: apply pending migrations on open (the default).
    :param read_only: every connection refuses writes (SQLite ``PRAGMA query_only``,
        PostgreSQL ``default_transaction_read_only``); implies ``upgrade=False``. Readers
        such as the dashboard use it: under WAL they never block a running sync.
    """

    def __init__(self, url: str = DEFAULT_URL, *, upgrade: bool = True,
                 read_only: bool = False) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self.read_only = read_only
        if read_only:
            event.listen(self.engine, "connect", _read_only)
        elif upgrade:
            self.upgrade()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> list[str]:
        """Apply migrations up to ``revision``; returns the revisions applied."""
        try:
            return migrate.upgrade(self.engine, revision)
        except OperationalError as exc:
            raise StoreError(f"cannot open store {redact_url(self.url)}: "
                             f"{str(exc.orig).strip()}") from exc

    def analyze(self, changed: Mapping[str, int]) -> list[str]:
        """Refresh the query planner's statistics of the tables a sync changed a lot: without
        them SQLite picks poor indexes for the metric joins (100× slower on lead metrics).

        :param changed: table → rows upserted or deleted by the sync.
        :return: the tables analysed: those without statistics yet, and those whose changed
            rows reach :data:`ANALYZE_FRACTION` of the rows they had when last analysed (the
            rule of PostgreSQL's autovacuum, ``autovacuum_analyze_scale_factor`` = 0.1). A
            small incremental sync leaves the distribution, and so the plans, as they were;
            analysing whole indexes again would cost it about a second per million rows.

        SQLite reads whole indexes here: a sampled ``analysis_limit`` caps the row estimate of
        a leading column, and every index starts with ``connection``, which usually has one
        value — the planner then believes ``connection = ?`` finds a thousand rows and loops
        over a small table first (stage visits: 6× slower)."""
        with self.engine.begin() as conn:
            due = [t for t, rows in changed.items()
                   if rows and rows >= ANALYZE_FRACTION * (self._analysed_rows(conn, t) or 0)]
            if self.dialect == "sqlite" and due:
                conn.exec_driver_sql("PRAGMA analysis_limit=0")
            for table in due:
                conn.exec_driver_sql(f'ANALYZE "{table}"')
        return due

    def _analysed_rows(self, conn: Connection, table: str) -> int | None:
        """The table's row count when it was last analysed; ``None`` if it never was."""
        if self.dialect == "sqlite":
            if not conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = "
                                        "'sqlite_stat1'").first():
                return None
            stat = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1",
                                        (table,)).scalar()
            return int(str(stat).split()[0]) if stat else None
        if self.dialect == "postgresql":
            rows = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = "
                                        "to_regclass(%(t)s)", {"t": table}).scalar()
            return int(rows) if rows is not None and rows >= 0 else None
        return None

    def current_revision(self) -> str | None:
        """The store's migration revision."""
        return migrate.current(self.engine)

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


def open_store(url: str = DEFAULT_URL, *, upgrade: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url``."""
    return Store(url, upgrade=upgrade)
