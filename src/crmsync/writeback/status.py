"""The write-back part of ``crmsync status``: per field, what was sent, what is pending or
failed, and when it was last applied."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmsync.core.schema import writeback_state
from crmsync.store import Store
from crmsync.writeback.state import FAILED, MISSING, PARKED, SENT

__all__ = ["writeback_status"]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def writeback_status(store: Store, *, failures_limit: int = 20) -> dict[str, Any]:
    """``fields``: one row per connection, object and field with the number of records
    ``sent``, ``pending`` (failed, to be retried), ``parked`` and ``missing``, the metric, the
    last successful write and the last attempt; ``failures``: the most recent failed, parked
    or missing records with the vendor's error; ``last_apply``: the latest attempt of all."""
    w = writeback_state

    def count(status: str) -> Any:
        return sa.func.sum(sa.case((w.c.status == status, 1), else_=0)).label(
            "pending" if status == FAILED else status)

    with store.engine.connect() as conn:
        fields = conn.execute(
            sa.select(w.c.connection, w.c.object, w.c.field, sa.func.max(w.c.metric)
                      .label("metric"), count(SENT), count(FAILED), count(PARKED),
                      count(MISSING), sa.func.max(w.c.sent_at).label("last_sent_at"),
                      sa.func.max(w.c.updated_at).label("last_attempt_at"))
            .group_by(w.c.connection, w.c.object, w.c.field)
            .order_by(w.c.connection, w.c.object, w.c.field)).mappings().all()
        failures = conn.execute(
            sa.select(w.c.connection, w.c.object, w.c.field, w.c.remote_id, w.c.status,
                      w.c.attempts, w.c.error_code, w.c.error, w.c.next_attempt_at,
                      w.c.updated_at)
            .where(w.c.status.in_((FAILED, PARKED, MISSING)))
            .order_by(w.c.updated_at.desc(), w.c.id.desc()).limit(failures_limit)
        ).mappings().all()
    counts = (SENT, "pending", PARKED, MISSING)
    rows = [{k: int(v or 0) if k in counts else _iso(v) for k, v in r.items()} for r in fields]
    last = max((r["last_attempt_at"] for r in fields if r["last_attempt_at"]), default=None)
    return {"fields": rows,
            "failures": [{k: _iso(v) for k, v in r.items()} for r in failures],
            "last_apply": _iso(last)}
