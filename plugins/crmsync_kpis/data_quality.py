"""Built-in KPIs: data quality (see docs/metrics/data_quality.md).

Each metric is a current snapshot (period ``all`` only): ``value`` = ``numerator`` = the number
of offending deals, ``denominator`` = the population checked. "Today" is ``ctx.as_of``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync import Metric, MetricContext
from crmsync_kpis.results import result

__all__ = ["PastCloseDateOpen", "MissingAmount", "MissingOwner", "StaleOpportunities",
           "UnconvertedCurrency", "METRICS"]

_DQ_DIMENSIONS: tuple[str, ...] = ("owner", "team", "pipeline", "deal_type", "lead_source",
                                   "segment", "region", "industry")


def _offenders(ctx: MetricContext, population: ColumnElement[bool],
               offending: ColumnElement[bool], detail: Any = None) -> sa.Select[Any]:
    """The live deals :func:`_snapshot` counts as offending (:meth:`Metric.records`)."""
    o = ctx.table("opportunities")
    return (
        sa.select(o.c.connection, sa.literal("opportunities").label("entity"), o.c.remote_id,
                  o.c.name, o.c.owner_id,
                  (sa.null() if detail is None else detail).label("detail"))
        .where(ctx.live(o), population, offending)
        .order_by(o.c.owner_id, o.c.name, o.c.remote_id)
    )


def _snapshot(ctx: MetricContext, population: ColumnElement[bool],
              offending: ColumnElement[bool],
              known: ColumnElement[bool] | None = None) -> sa.Select[Any]:
    """Contract columns counting ``offending`` live deals among ``population``; a deal for
    which ``known`` is false (its connection syncs no data to judge it by) is left out of
    both counts, so no data gives no value rather than a count."""
    o = ctx.table("opportunities")
    frm, dim = ctx.dimension_of(o)
    flag: ColumnElement[Any] = sa.case((offending, 1), else_=0)
    if known is not None:
        flag = sa.case((known, flag), else_=None)
    bad = sa.func.sum(flag)  # NULL over an empty population
    return (
        result(value=bad, numerator=bad, denominator=sa.func.count(flag), dimension=dim)
        .select_from(frm)
        .where(ctx.live(o), population)
        .group_by(*ctx.group_keys(dim))
    )


class _DataQuality(Metric):
    """Shared attributes: counts, lower is better, snapshot only. Subclasses define the
    population checked and the offending condition once (:meth:`check`): the count and the
    records listed (:meth:`records`) come from the same condition."""

    unit = "count"
    direction = "lower_is_better"
    periods = ("all",)
    dimensions = _DQ_DIMENSIONS

    def check(self, ctx: MetricContext) -> tuple[ColumnElement[bool], ColumnElement[bool],
                                                  Any]:
        """``(population, offending, detail)`` over ``opportunities``."""
        raise NotImplementedError

    def known(self, ctx: MetricContext) -> ColumnElement[bool] | None:
        """Where a deal can be judged at all (its connection syncs the data the check needs);
        ``None``: always. Deals that cannot be judged are neither counted nor listed."""
        return None

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        population, offending, _ = self.check(ctx)
        return _snapshot(ctx, population, offending, known=self.known(ctx))

    def records(self, ctx: MetricContext) -> sa.Select[Any]:
        """The offending live deals."""
        population, offending, detail = self.check(ctx)
        known = self.known(ctx)
        if known is not None:
            offending = sa.and_(offending, known)
        return _offenders(ctx, population, offending, detail)


class PastCloseDateOpen(_DataQuality):
    """Open deals whose expected close date has passed."""

    NAME = "dq_past_close_date_open"
    title = "Open deals past their close date"
    description = "Open deals whose expected_close_date is before today (as_of), of open deals."

    def check(self, ctx: MetricContext) -> tuple[ColumnElement[bool], ColumnElement[bool],
                                                  Any]:
        o = ctx.table("opportunities")
        today = sa.literal(ctx.as_of.date(), sa.Date())
        return (o.c.status == "open", o.c.expected_close_date < today,
                o.c.expected_close_date)


class MissingAmount(_DataQuality):
    """Open or won deals without an amount."""

    NAME = "dq_missing_amount"
    title = "Deals without an amount"
    description = "Open or won deals whose amount is empty, of open and won deals."

    def check(self, ctx: MetricContext) -> tuple[ColumnElement[bool], ColumnElement[bool],
                                                  Any]:
        o = ctx.table("opportunities")
        return o.c.status.in_(("open", "won")), o.c.amount.is_(None), o.c.status


class MissingOwner(_DataQuality):
    """Deals without an owner, or whose owner is not a live synced user."""

    NAME = "dq_missing_owner"
    title = "Deals without a known owner"
    description = ("Deals whose owner_id is empty or names no live user of the same "
                   "connection, of all deals; a deal with an owner_id in a connection that "
                   "syncs no users cannot be judged and is left out.")
    dimensions = ("pipeline", "deal_type", "lead_source", "segment", "region", "territory",
                  "industry")
    #: 2: no users synced → owners unknown, not missing (version 1 counted every deal).
    version = 2

    def check(self, ctx: MetricContext) -> tuple[ColumnElement[bool], ColumnElement[bool],
                                                  Any]:
        o = ctx.table("opportunities")
        u = ctx.table("users").alias("owner_user")
        known = sa.exists().where(ctx.live(u), u.c.connection == o.c.connection,
                                  u.c.remote_id == o.c.owner_id)
        return sa.true(), sa.or_(o.c.owner_id.is_(None), ~known), o.c.owner_id

    def known(self, ctx: MetricContext) -> ColumnElement[bool] | None:
        o = ctx.table("opportunities")
        return sa.or_(o.c.owner_id.is_(None), ctx.has_data("users", o))


class StaleOpportunities(_DataQuality):
    """Open deals without a non-automated activity in the last ``stale_days`` days."""

    NAME = "dq_stale_opportunities"
    title = "Stale open deals"
    description = ("Open deals with no non-automated activity linked to them in the "
                   "[metrics] stale_days days up to now, of open deals; deals of a connection "
                   "that syncs no activities are left out.")
    #: 2: no activities synced → no value (version 1 counted every open deal as stale).
    version = 2

    def check(self, ctx: MetricContext) -> tuple[ColumnElement[bool], ColumnElement[bool],
                                                  Any]:
        o = ctx.table("opportunities")
        a = ctx.table("activities").alias("act")
        since = sa.literal(ctx.as_of - dt.timedelta(days=ctx.option("stale_days")),
                           sa.DateTime())
        recent = sa.exists().where(
            ctx.live(a), sa.func.coalesce(a.c.is_automated, sa.false()) == sa.false(),
            a.c.connection == o.c.connection, a.c.opportunity_id == o.c.remote_id,
            a.c.occurred_at >= since, a.c.occurred_at <= ctx.now())
        return o.c.status == "open", ~recent, None

    def known(self, ctx: MetricContext) -> ColumnElement[bool] | None:
        return ctx.has_data("activities", ctx.table("opportunities"))


class UnconvertedCurrency(_DataQuality):
    """Deals with an amount that cannot be converted to the base currency."""

    NAME = "dq_unconverted_currency"
    title = "Deals with an unconvertible amount"
    description = ("Deals with an amount but no base-currency value (no amount_base and no "
                   "rate valid at the close, or latest rate for open deals), of deals with an "
                   "amount.")

    def check(self, ctx: MetricContext) -> tuple[ColumnElement[bool], ColumnElement[bool],
                                                  Any]:
        o = ctx.table("opportunities")
        base: Any = sa.case((o.c.closed_at.is_(None), ctx.amount_in_base(o)),
                            else_=ctx.amount_in_base(o, o.c.closed_at))
        return o.c.amount.is_not(None), base.is_(None), o.c.currency


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (PastCloseDateOpen, MissingAmount, MissingOwner,
                                     StaleOpportunities, UnconvertedCurrency)
