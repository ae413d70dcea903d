"""The history-based forecast's chances, in SQL: for an open deal at instant ``T`` in stage
``S`` for ``d`` days, the share of the org's past entries into ``S`` that, having stayed
``lo`` days (the lower bound of ``d``'s age bucket), were won within the ``r`` days the
period has left after ``T`` (docs/forecast.md, "History-based forecast").

Only past entries whose whole window ``[entered + lo, entered + lo + r]`` ended by ``T``
count, so a forecast rebuilt for a past instant uses only what was known then.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Subquery

from crmsync.core.schema import SYNCED_TABLES

__all__ = ["BUCKETS", "MIN_SAMPLE", "Chances", "chances", "day_number", "age_bucket",
           "stage_rates", "stage_age_bucket"]

#: Lower bounds (days in the stage) of the age buckets: [0, 7), [7, 30), [30, 90), 90+.
BUCKETS = (0, 7, 30, 90)
#: Past stage entries a bucket needs before its won share replaces the stage probability.
MIN_SAMPLE = 20


def day_number(dialect: str, column: Any) -> ColumnElement[float]:
    """A timestamp as a number of days (fractional), for differences and offsets."""
    if dialect == "sqlite":
        return cast("ColumnElement[float]", sa.func.julianday(column))
    return cast("ColumnElement[float]", sa.extract("epoch", column) / 86400.0)


def age_bucket(age: ColumnElement[float]) -> ColumnElement[int]:
    """The lower bound of the bucket (:data:`BUCKETS`) holding ``age`` days."""
    whens = [(age < upper, sa.literal(lower))
             for lower, upper in itertools.pairwise(BUCKETS)]
    return sa.case(*whens, else_=sa.literal(BUCKETS[-1]))


def _remaining(at: dt.datetime, end: dt.date) -> float:
    """Days from ``at`` to the end of the period (0 once it has ended)."""
    return max((dt.datetime.combine(end, dt.time()) - at).total_seconds() / 86400.0, 0.0)


def _day_literal(dialect: str, at: dt.datetime) -> float:
    """``day_number`` of the instant ``at``, computed here (a constant, not per row)."""
    days = (at - dt.datetime(1970, 1, 1)).total_seconds() / 86400.0
    return days + 2440587.5 if dialect == "sqlite" else days


def stage_rates(dialect: str, at: dt.datetime, end: dt.date) -> Subquery:
    """Per (``connection``, ``stage_id``) and age bucket ``lo`` (:data:`BUCKETS`):
    ``n_<lo>``, the past entries into the stage that stayed ``lo`` days and whose window of
    the period's remaining days ended by ``at``, and ``won_<lo>``, those of them won within
    that window. One pass over the stage history (each bucket is a conditional sum over
    each entry's day numbers, computed once)."""
    h = SYNCED_TABLES["opportunity_stage_history"].alias("past_entry")
    o = SYNCED_TABLES["opportunities"].alias("past_deal")
    t = _day_literal(dialect, at)
    r = _remaining(at, end)
    entries = (
        sa.select(h.c.connection, h.c.stage_id,
                  day_number(dialect, h.c.entered_at).label("entered"),
                  day_number(dialect, h.c.exited_at).label("exited"),
                  sa.case((o.c.status == "won", day_number(dialect, o.c.closed_at)),
                          else_=None).label("won_at"))
        .select_from(h.outerjoin(o, sa.and_(o.c.connection == h.c.connection,
                                            o.c.remote_id == h.c.opportunity_id,
                                            o.c.is_deleted == sa.false())))
        .where(h.c.is_deleted == sa.false(), day_number(dialect, h.c.entered_at) + r <= t)
        .cte("past_entries").prefix_with("MATERIALIZED")
    )
    e = entries.c
    columns: list[ColumnElement[Any]] = []
    for lo in BUCKETS:
        ref = e.entered + lo
        counted = sa.and_(ref + r <= t, sa.or_(e.exited.is_(None), e.exited > ref))
        won = sa.and_(counted, e.won_at > ref, e.won_at <= ref + r)
        columns += [sa.func.sum(sa.case((counted, 1), else_=0)).label(f"n_{lo}"),
                    sa.func.sum(sa.case((won, 1), else_=0)).label(f"won_{lo}")]
    return (
        sa.select(e.connection, e.stage_id, *columns)
        .group_by(e.connection, e.stage_id)
        .subquery("stage_rate")
    )


@dataclass(frozen=True)
class Chances:
    """How a deal query reaches its history-based chance: ``join`` adds the rates to a FROM
    holding the deal; ``n`` is the sample and ``rate`` the won share (``NULL`` without a
    sample)."""

    join: Callable[[FromClause], FromClause]
    n: ColumnElement[Any]
    rate: ColumnElement[Any]


def stage_age_bucket(dialect: str, deal: FromClause, at: dt.datetime) -> ColumnElement[int]:
    """The age bucket (:data:`BUCKETS`) of ``deal`` (a FROM with ``connection``,
    ``remote_id``, ``stage_id``, ``remote_created_at``) at ``at``: its days in its stage
    since its latest entry into it by then (stage history), else since its creation."""
    h = SYNCED_TABLES["opportunity_stage_history"].alias("entry")
    at_sql = sa.literal(at, sa.DateTime())
    entered = (
        sa.select(sa.func.max(h.c.entered_at))
        .where(h.c.connection == deal.c.connection, h.c.opportunity_id == deal.c.remote_id,
               h.c.stage_id == deal.c.stage_id, h.c.is_deleted == sa.false(),
               h.c.entered_at <= at_sql)
        .scalar_subquery()
    )
    since = sa.func.coalesce(entered, deal.c.remote_created_at, at_sql)
    return age_bucket(day_number(dialect, at_sql) - day_number(dialect, since))


def chances(dialect: str, fact: FromClause, *, at: dt.datetime, end: dt.date) -> Chances:
    """The chance of each open deal of ``fact`` (a FROM with ``connection``, ``stage_id``
    and its age ``bucket``: :func:`stage_age_bucket`) to be won by ``end``, seen at ``at``:
    the won share of :func:`stage_rates` for its stage and bucket."""
    rates = stage_rates(dialect, at, end)

    def pick(prefix: str) -> ColumnElement[Any]:
        return sa.case(*((fact.c.bucket == lo, rates.c[f"{prefix}_{lo}"])
                         for lo in BUCKETS[:-1]),
                       else_=rates.c[f"{prefix}_{BUCKETS[-1]}"])

    def join(frm: FromClause) -> FromClause:
        return frm.outerjoin(rates, sa.and_(rates.c.connection == fact.c.connection,
                                            rates.c.stage_id == fact.c.stage_id))

    n = pick("n")
    return Chances(join=join, n=sa.func.coalesce(n, 0),
                   rate=pick("won") * 1.0 / sa.func.nullif(n, 0))
