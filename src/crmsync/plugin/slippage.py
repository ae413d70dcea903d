"""Close-date slippage from ``opportunity_field_history`` (docs/pipeline-changes.md,
"Slippage"): how many times each deal's expected close date was pushed (moved later) and by how
many days in all. Plain SQL on SQLite and PostgreSQL, for the ``pipeline changes`` report and
the slippage KPIs alike.

A *push* is a change of ``expected_close_date`` from a date to a later date. Setting a first
date, clearing it or moving it earlier is not a push. As in the as-of reconstruction
(:mod:`crmsync.plugin.history`), a deal's observed changes of the field are ignored where the
CRM reports its own changes of it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Subquery

from crmsync.core.schema import SYNCED_TABLES

__all__ = ["close_date_pushes"]


def _days(dialect: str, old: ColumnElement[Any], new: ColumnElement[Any]
          ) -> ColumnElement[Any]:
    """Whole days from the ISO date text ``old`` to ``new``."""
    if dialect == "sqlite":
        return sa.cast(sa.func.julianday(new) - sa.func.julianday(old), sa.Integer)
    return sa.cast(new, sa.Date) - sa.cast(old, sa.Date)


def close_date_pushes(dialect: str, until: dt.datetime | ColumnElement[Any] | None = None, *,
                      since: dt.datetime | None = None,
                      history: FromClause | None = None,
                      split: dt.datetime | None = None) -> Subquery:
    """Per deal with at least one push: the pushes of its expected close date made in
    ``(since, until]`` (naive UTC; ``None``: no bound).

    Columns: ``connection``, ``opportunity_id``, ``pushes`` (how many), ``push_days`` (the days
    they added up to); with ``split``, also ``pushes_after`` and ``push_days_after``: those
    made after ``split`` (in the same read of the history).

    :param dialect: ``sqlite`` or ``postgresql``.
    :param history: the history table to read (default ``opportunity_field_history``; a
        metric passes ``ctx.table("opportunity_field_history")``).
    """
    h = history if history is not None else SYNCED_TABLES["opportunity_field_history"]
    keys = (h.c.connection, h.c.opportunity_id)
    changes = sa.select(
        *keys, h.c.changed_at, h.c.old_value, h.c.new_value, h.c.source,
        sa.func.max(sa.case((h.c.source == "crm", 1), else_=0))
        .over(partition_by=keys).label("has_crm"),
    ).where(h.c.field == "expected_close_date", h.c.is_deleted == sa.false()).subquery("cd")
    c = changes.c
    # ISO dates compare as text; a push moves the date later
    pushed = sa.and_(c.old_value.is_not(None), c.new_value.is_not(None),
                     sa.func.nullif(c.old_value, "").is_not(None),
                     c.new_value > c.old_value)
    where: list[ColumnElement[bool]] = [
        pushed, sa.or_(c.source == "crm", c.source.is_(None), c.has_crm == 0)]
    if until is not None:
        bound = until if isinstance(until, ColumnElement) else sa.literal(until, sa.DateTime())
        where.append(c.changed_at <= bound)
    if since is not None:
        where.append(c.changed_at > sa.literal(since, sa.DateTime()))
    days = _days(dialect, c.old_value, c.new_value)
    after: list[ColumnElement[Any]] = []
    if split is not None:
        later = c.changed_at > sa.literal(split, sa.DateTime())
        after = [sa.func.count(sa.case((later, 1))).label("pushes_after"),
                 sa.func.sum(sa.case((later, days))).label("push_days_after")]
    return (
        sa.select(c.connection, c.opportunity_id,
                  sa.func.count().label("pushes"),
                  sa.func.sum(days).label("push_days"), *after)
        .where(*where)
        .group_by(c.connection, c.opportunity_id)
        .subquery("pushes")
    )
