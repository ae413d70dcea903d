"""Run locks: one connection+entity (or one write-back mapping, or one scheduled job) never runs
twice at once, across processes and machines.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a stable 64-bit hash
  of the store's schema and the lock name, held on a dedicated connection for the whole run.
  The server releases it when that connection ends, so a killed holder frees it at once.
* SQLite: a row in ``run_locks`` (owner, heartbeat, expiry). A heartbeat thread pushes the
  expiry forward while the run lasts; a row whose ``expires_at`` has passed belongs to a
  crashed holder and the next taker replaces it.

  A holder that stalls past its expiry can lose its lock to the next taker. It then must not go
  on writing: while the lock is held, every commit made by the thread that took it first checks,
  inside the transaction being committed, that the ``run_locks`` row is still its own (SQLite
  lets one writer at a time, so nobody can take the lock between that check and the commit).
  A lost lock refuses the commit with :class:`LockLost` — the transaction is rolled back and the
  run stops — and every later commit of that thread until the lock is released.

Use :func:`run_lock` as a context manager::

    with run_lock(store, sync_lock_name("crm", "deals"), wait=30):
        ...
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from crmsync.core.errors import CrmsyncError
from crmsync.core.schema import run_locks
from crmsync.store.database import Store
from crmsync.store.migrate import advisory_key

__all__ = ["RunLocked", "LockLost", "LockInfo", "run_lock", "sync_lock_name",
           "connection_lock_name",
           "writeback_lock_name",
           "job_lock_name", "advisory_key", "process_owner", "DEFAULT_TTL"]

log = logging.getLogger(__name__)

#: Seconds a SQLite lock lives without a heartbeat (the heartbeat runs every third of it).
DEFAULT_TTL = 60.0
#: Seconds between two attempts while waiting for a held lock.
POLL_INTERVAL = 0.25


class RunLocked(CrmsyncError):
    """The target is being run by another process; names the target and the holder."""

    exit_code = 4

    def __init__(self, name: str, holder: str, waited: float) -> None:
        self.name = name
        self.holder = holder
        self.waited = waited
        super().__init__(f"{name} is locked by {holder} (waited {waited:g}s; retry later or "
                         "pass --wait SECONDS)")


class LockLost(CrmsyncError):
    """The run's lock expired and another process took it: the run's writes are refused."""

    exit_code = 4

    def __init__(self, name: str, holder: str) -> None:
        self.name = name
        self.holder = holder
        super().__init__(f"{name}: this run lost its lock to {holder} (its heartbeat stalled "
                         "past the lock's expiry); its last batch was not stored and it stopped "
                         "— run it again")


@dataclass
class LockInfo:
    """A held lock, for messages."""

    name: str
    owner: str
    acquired_at: dt.datetime | None = None


def sync_lock_name(connection: str, entity: str) -> str:
    """The lock of one connection's entity sync."""
    return f"sync:{connection}:{entity}"


def connection_lock_name(connection: str) -> str:
    """The lock a sync of several entities of one connection holds for its whole run, so
    two such syncs never leapfrog entity by entity (docs/deploying.md, "Run locks")."""
    return f"sync:{connection}"


def writeback_lock_name(mapping: str) -> str:
    """The lock of one write-back mapping."""
    return f"writeback:{mapping}"


def job_lock_name(job: str) -> str:
    """The lock of one scheduled job (so two schedulers never run it at once)."""
    return f"job:{job}"


def process_owner() -> str:
    """``host:pid:random``: who holds a lock, unique per acquisition."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _current_owner(dbapi_connection: Any, name: str) -> str | None:
    """The owner of lock ``name`` as the transaction on ``dbapi_connection`` sees it."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("select owner from run_locks where name = ?", (name,))
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else str(row[0])


@contextmanager
def _commit_guard(engine: sa.Engine, name: str, owner: str) -> Iterator[threading.Event]:
    """Refuse, with :class:`LockLost`, the commits of this thread once lock ``name`` is no
    longer ``owner``'s; yields the event set when the loss is known."""
    thread = threading.get_ident()
    lost = threading.Event()

    def before_commit(conn: Connection) -> None:
        if threading.get_ident() != thread:
            return
        if not lost.is_set():
            holder = _current_owner(conn.connection.dbapi_connection, name)
            if holder == owner:
                return
            lost.set()
            log.error("lock %s: lost to %s; this run's writes are refused", name, holder)
        raise LockLost(name, _current_owner(conn.connection.dbapi_connection, name)
                       or "another process (since released)")

    sa.event.listen(engine, "commit", before_commit)
    try:
        yield lost
    finally:
        sa.event.remove(engine, "commit", before_commit)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@contextmanager
def run_lock(store: Store, name: str, *, wait: float = 0.0, ttl: float = DEFAULT_TTL,
             owner: str | None = None,
             clock: Callable[[], float] = time.monotonic) -> Iterator[LockInfo]:
    """Hold the run lock ``name`` for the ``with`` block.

    :param wait: seconds to wait for a held lock before giving up (0: do not wait).
    :param ttl: (SQLite) seconds the lock survives its holder's last heartbeat.
    :param owner: who holds it (default :func:`process_owner`).
    :raises RunLocked: the lock is still held by another process after ``wait`` seconds.
    """
    owner = owner or process_owner()
    if store.dialect == "sqlite" and store.engine.url.database in (None, "", ":memory:"):
        # An in-memory store lives in this process only: nothing else can run against it.
        yield LockInfo(name, owner, _utcnow())
        return
    if store.dialect == "postgresql":
        with _advisory_lock(store, name, owner, wait, clock) as info:
            yield info
    else:
        with _table_lock(store, name, owner, wait, ttl, clock) as info:
            yield info


def _waiting(name: str, wait: float, clock: Callable[[], float],
             attempt: Callable[[], str | None]) -> float:
    """Call ``attempt`` (None when acquired, else the holder) until it succeeds or ``wait``
    seconds have passed; returns the seconds waited."""
    start = clock()
    while True:
        holder = attempt()
        waited = clock() - start
        if holder is None:
            return waited
        if waited >= wait:
            raise RunLocked(name, holder, round(waited, 1))
        time.sleep(min(POLL_INTERVAL, max(wait - waited, 0.01)))


# -- PostgreSQL ---------------------------------------------------------------------------------


@contextmanager
def _advisory_lock(store: Store, name: str, owner: str, wait: float,
                   clock: Callable[[], float]) -> Iterator[LockInfo]:
    # Autocommit: session-level advisory locks need no transaction, and none is left open.
    conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        # Stores in different schemas of one database must not block each other; the
        # application name shows the holder to other sessions (pg_stat_activity).
        schema = conn.execute(sa.text(
            "select current_schema(), set_config('application_name', :owner, false)"),
            {"owner": f"crmsync {owner}"[:63]}).one()[0] or ""
        key = advisory_key(schema, name)

        def attempt() -> str | None:
            got = conn.execute(sa.text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            return None if got else _advisory_holder(conn, key)

        _waiting(name, wait, clock, attempt)
        info = LockInfo(name, owner, _utcnow())
        log.debug("lock %s acquired by %s", name, owner)
        try:
            yield info
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": key})
            log.debug("lock %s released by %s", name, owner)
    finally:
        conn.close()


def _advisory_holder(conn: Connection, key: int) -> str:
    """Who holds advisory lock ``key``: the holder's application name (our owner string)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(sa.text(
        "select a.application_name, a.pid, a.state_change from pg_locks l "
        "join pg_stat_activity a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.granted and l.classid = :hi and l.objid = :lo "
        "and l.objsubid = 1"), {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
    if row is None:
        return "another process (just released)"
    app = (row.application_name or "").removeprefix("crmsync ") or "a database session"
    # The holder's lock connection stays idle from the moment it took the lock.
    since = (f", since {row.state_change.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
             if row.state_change is not None else "")
    return f"{app} (server pid {row.pid}{since})"


# -- SQLite -------------------------------------------------------------------------------------


def _holder_is_dead_here(owner: str) -> bool:
    """True when ``owner`` (``host:pid:random``) is a process of this host that no longer
    exists: its lock is taken over at once instead of after the expiry. (A recycled pid only
    delays the takeover until the expiry.)"""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@contextmanager
def _table_lock(store: Store, name: str, owner: str, wait: float, ttl: float,
                clock: Callable[[], float]) -> Iterator[LockInfo]:
    engine = store.engine
    life = dt.timedelta(seconds=ttl)

    def attempt() -> str | None:
        now = _utcnow()
        try:
            with engine.begin() as conn:
                # The DELETE takes SQLite's write lock, so the takeover of an expired row and
                # the INSERT are one atomic step: two takers cannot both succeed.
                taken = conn.execute(sa.delete(run_locks).where(
                    run_locks.c.name == name, run_locks.c.expires_at < now)).rowcount
                conn.execute(sa.insert(run_locks).values(
                    name=name, owner=owner, acquired_at=now, heartbeat_at=now,
                    expires_at=now + life))
            if taken:
                log.warning("lock %s: took over from a holder whose lock expired (crashed)",
                            name)
            return None
        except IntegrityError:
            with engine.connect() as conn:
                row = conn.execute(sa.select(run_locks).where(run_locks.c.name == name)).first()
            if row is None:
                return "another process (just released)"
            if _holder_is_dead_here(row.owner):
                with engine.begin() as conn:
                    conn.execute(sa.delete(run_locks).where(run_locks.c.name == name,
                                                            run_locks.c.owner == row.owner))
                log.warning("lock %s: took over from %s, a process on this host that is "
                            "gone (crashed)", name, row.owner)
                return attempt()
            return (f"{row.owner} (since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
                    f"expires {row.expires_at:%H:%M:%S} UTC without a heartbeat)")

    _waiting(name, wait, clock, attempt)
    stop = threading.Event()
    try:
        with _commit_guard(engine, name, owner) as lost:
            beat = threading.Thread(target=_heartbeat, args=(engine, name, owner, ttl, stop, lost),
                                    name=f"lock-heartbeat {name}", daemon=True)
            beat.start()
            log.debug("lock %s acquired by %s", name, owner)
            try:
                yield LockInfo(name, owner, _utcnow())
            finally:
                stop.set()
                beat.join()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(run_locks).where(run_locks.c.name == name,
                                                    run_locks.c.owner == owner))
        log.debug("lock %s released by %s", name, owner)


def _heartbeat(engine: sa.Engine, name: str, owner: str, ttl: float, stop: threading.Event,
               lost: threading.Event) -> None:
    """Push the lock's expiry forward every third of ``ttl`` until ``stop``; set ``lost`` and
    end when the row is no longer ``owner``'s (it expired and was taken over)."""
    life = dt.timedelta(seconds=ttl)
    while not stop.wait(ttl / 3):
        now = _utcnow()
        try:
            with engine.begin() as conn:
                kept = conn.execute(sa.update(run_locks).where(
                    run_locks.c.name == name, run_locks.c.owner == owner
                ).values(heartbeat_at=now, expires_at=now + life)).rowcount
        except Exception:  # a busy database: try again at the next beat
            log.warning("lock %s: heartbeat failed", name, exc_info=True)
            continue
        if not kept:
            lost.set()
            log.error("lock %s: lost (expired and taken over); this run's writes are refused",
                      name)
            return
