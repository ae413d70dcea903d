"""What a write-back plan reads from the store: the metric values of the newest run that
covers the mapping's connection, with each record's deleted flag, last change and (when the
policy needs the CRM's current value) its synced ``custom`` fields."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crmsync.core.schema import SYNCED_TABLES, metric_values
from crmsync.writeback.mapping import WritebackMapping
from crmsync.writeback.validate import mapping_period

__all__ = ["Subject", "load_values", "custom_value"]

#: Newest metric runs searched for one that covers the mapping's connection.
_RUNS_SEARCHED = 20


@dataclass
class Subject:
    remote_id: str
    value: float | None
    deleted: bool
    #: the CRM's last change of the record (a record found missing that changed since exists
    #: again, e.g. restored from the recycle bin)
    updated_at: dt.datetime | None
    custom: Any


def load_values(conn: sa.Connection, m: WritebackMapping, with_custom: bool,
            per_rep: bool = False, today: dt.date | None = None) -> list[Subject]:
    """The metric's values from its newest run that covers this connection's records: one
    per record (``subject_id``), or for a per-rep mapping one per user (``dimension_value``
    of the ``owner`` breakdown, the latest period started by ``today``).

    Runs are visited newest first by walking ``metric_values.id`` down (the primary key and
    the ``run_id`` index), never by grouping the metric's whole history."""
    mv, t = metric_values, SYNCED_TABLES[m.entity]
    period = mapping_period(m)
    if per_rep:
        subject = mv.c.dimension_value
        base = sa.and_(mv.c.metric == m.metric, mv.c.period == period,
                       mv.c.dimension == "owner", mv.c.subject_id.is_(None),
                       mv.c.dimension_value.is_not(None))
    else:
        subject = mv.c.subject_id
        base = sa.and_(mv.c.metric == m.metric, mv.c.period == "all", mv.c.dimension.is_(None),
                       mv.c.subject_id.is_not(None))
    joined = mv.join(t, sa.and_(t.c.connection == m.connection, t.c.remote_id == subject))
    cols: list[Any] = [subject, mv.c.value, t.c.is_deleted, t.c.remote_updated_at,
                       t.c.custom if with_custom else sa.null()]
    below: int | None = None
    for _ in range(_RUNS_SEARCHED):
        newest = sa.select(mv.c.run_id).where(base).order_by(mv.c.id.desc()).limit(1)
        if below is not None:
            newest = newest.where(mv.c.id < below)
        run_id = conn.execute(newest).scalar()
        if run_id is None:
            break
        where = [base, mv.c.run_id == run_id]
        if per_rep and period != "all":  # the current period: the latest one started
            where.append(mv.c.period_start == sa.select(sa.func.max(mv.c.period_start)).where(
                base, mv.c.run_id == run_id,
                mv.c.period_start <= (today or dt.date.today())).scalar_subquery())
        rows = conn.execute(sa.select(*cols).select_from(joined).where(*where)).all()
        if rows:
            return [Subject(*r) for r in rows]
        below = conn.execute(sa.select(sa.func.min(mv.c.id))
                             .where(mv.c.run_id == run_id)).scalar()
    return []


def custom_value(custom: Any, name: str) -> tuple[bool, Any]:
    """(found, value) of field ``name`` in a record's ``custom`` JSON."""
    if not isinstance(custom, dict):
        return False, None
    if name in custom:
        return True, custom[name]
    lowered = name.lower()
    for key, value in custom.items():
        if key.lower() == lowered:
            return True, value
    return False, None
