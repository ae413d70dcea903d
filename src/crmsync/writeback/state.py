"""``writeback_state``: what was last sent to each CRM record and field, and what failed.

One row per connection, object, field and record. ``sent_*`` change only when a write
succeeds; a failure keeps its value in ``pending_*`` with the vendor's error and, while
attempts remain, the time of the next attempt (:class:`RetrySchedule`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmsync.core.schema import writeback_state
from crmsync.store.upsert import upsert_statement

__all__ = ["SENT", "FAILED", "PARKED", "MISSING", "StateRow", "RetrySchedule", "load_state",
           "save_rows", "Outcome", "resolve"]

SENT, FAILED, PARKED, MISSING = "sent", "failed", "parked", "missing"
_KEY = ("connection", "object", "field", "remote_id")


@dataclass(frozen=True)
class RetrySchedule:
    """When failed records are tried again.

    :param delays: the wait after the 1st, 2nd… failure of one value; the first retry happens
        on the next apply.
    :param max_attempts: failures of one value before it is parked (reported, no longer
        retried until the value changes).
    """

    delays: tuple[dt.timedelta, ...] = (dt.timedelta(0), dt.timedelta(minutes=15),
                                        dt.timedelta(hours=1), dt.timedelta(hours=4))
    max_attempts: int = 5

    def next_attempt(self, attempts: int, now: dt.datetime) -> dt.datetime | None:
        """The time of the next attempt after ``attempts`` failures, or ``None`` to park."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delays[min(attempts, len(self.delays)) - 1]


@dataclass(frozen=True)
class StateRow:
    """One stored row, as the planner reads it."""

    remote_id: str
    status: str
    sent_value: Any
    sent_hash: str | None
    pending_hash: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    updated_at: dt.datetime


def load_state(conn: Connection, connection: str, object: str, field: str
               ) -> dict[str, StateRow]:
    """Every row of one connection, object and field, by record id."""
    w = writeback_state
    rows = conn.execute(
        sa.select(w.c.remote_id, w.c.status, w.c.sent_value, w.c.sent_hash, w.c.pending_hash,
                  w.c.attempts, w.c.next_attempt_at, w.c.updated_at)
        .where(w.c.connection == connection, w.c.object == object, w.c.field == field))
    return {r.remote_id: StateRow(*r) for r in rows}


@dataclass(frozen=True)
class Outcome:
    """What happened to one record and field in an apply."""

    connection: str
    object: str
    field: str
    remote_id: str
    metric: str
    status: str
    value: Any
    hash: str
    attempts: int = 0
    error_code: str | None = None
    error: str | None = None
    next_attempt_at: dt.datetime | None = None


_SENT_COLUMNS = ("connection", "object", "field", "remote_id", "metric", "sent_value",
                 "sent_hash", "pending_value", "pending_hash", "status", "attempts",
                 "error_code", "error", "next_attempt_at", "sent_at", "updated_at")
_FAILED_COLUMNS = ("connection", "object", "field", "remote_id", "metric", "pending_value",
                   "pending_hash", "status", "attempts", "error_code", "error",
                   "next_attempt_at", "updated_at")


def _row(o: Outcome, now: dt.datetime) -> dict[str, Any]:
    row = {"connection": o.connection, "object": o.object, "field": o.field,
           "remote_id": o.remote_id, "metric": o.metric, "status": o.status,
           "attempts": o.attempts, "error_code": o.error_code, "error": o.error,
           "next_attempt_at": o.next_attempt_at, "updated_at": now}
    if o.status == SENT:
        row.update(sent_value=o.value, sent_hash=o.hash, pending_value=None, pending_hash=None,
                   sent_at=now)
    else:
        row.update(pending_value=o.value, pending_hash=o.hash)
    return row


def save_rows(conn: Connection, outcomes: Iterable[Outcome], now: dt.datetime) -> None:
    """Upsert the outcomes (a success replaces the sent value; a failure keeps it)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for o in outcomes:
        columns: tuple[str, ...] = _SENT_COLUMNS if o.status == SENT else _FAILED_COLUMNS
        groups.setdefault(columns, []).append(_row(o, now))
    for columns, rows in groups.items():
        stmt = upsert_statement(conn.dialect.name, writeback_state, columns, _KEY)
        conn.execute(stmt, _ordered(rows, columns))


def _ordered(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    return [{c: r[c] for c in columns} for r in rows]


def resolve(conn: Connection, connection: str, object: str, field: str,
            remote_ids: Sequence[str], now: dt.datetime) -> None:
    """Mark failed or parked rows whose value is back to the one last sent as settled."""
    if not remote_ids:
        return
    w = writeback_state
    conn.execute(
        sa.update(w)
        .where(w.c.connection == connection, w.c.object == object, w.c.field == field,
               w.c.remote_id == sa.bindparam("rid"))
        .values(status=SENT, pending_value=None, pending_hash=None, attempts=0,
                error_code=None, error=None, next_attempt_at=None, updated_at=now),
        [{"rid": r} for r in remote_ids])
