"""Built-in KPIs: close-date slippage from the field history (see docs/metrics/slippage.md).

A *push* moves a deal's expected close date later (:func:`crmsync.close_date_pushes`). Both
metrics look at the deals open at ``as_of``, bucketed by their expected close date like
``pipeline_value``, and count the pushes made up to ``as_of``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmsync import Metric, MetricContext, close_date_pushes
from crmsync_kpis.results import result, share

__all__ = ["DealsPushed3Plus", "CloseDatePushDays", "METRICS"]

_DIMENSIONS = ("owner", "team", "pipeline", "deal_type", "lead_source", "segment", "region",
               "industry", "custom")
#: Pushes from which a deal counts as pushed repeatedly.
REPEATED = 3


def _open_deals_with_pushes(ctx: MetricContext, value: Any) -> sa.Select[Any]:
    """``value`` (an aggregate over ``pushes``/``push_days``) over the open deals per
    (dimension, expected-close period), with ``denominator`` = the open deals."""
    o = ctx.table("opportunities")
    pushes = close_date_pushes(ctx.dialect, ctx.as_of,
                               history=ctx.table("opportunity_field_history"))
    frm, dim = ctx.dimension_of(o)
    frm = frm.outerjoin(pushes, sa.and_(pushes.c.connection == o.c.connection,
                                        pushes.c.opportunity_id == o.c.remote_id))
    period = ctx.period_start(o.c.expected_close_date)
    numerator, denominator = value(pushes), sa.func.count()
    return (
        result(value=share(numerator, denominator), numerator=numerator,
               denominator=denominator, dimension=dim, period=period)
        .select_from(frm)
        .where(ctx.live(o), o.c.status == "open", o.c.expected_close_date.is_not(None))
        .group_by(*ctx.group_keys(dim, period))
    )


class DealsPushed3Plus(Metric):
    """Share of open deals whose expected close date was pushed 3 times or more."""

    NAME = "deals_pushed_3plus"
    title = "Deals pushed 3+ times"
    description = ("Open deals whose expected close date was moved later at least 3 times "
                   "(field history up to as_of) ÷ open deals, by expected close period.")
    unit = "ratio"
    direction = "lower_is_better"
    dimensions = _DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _open_deals_with_pushes(ctx, lambda p: sa.func.sum(
            sa.case((p.c.pushes >= REPEATED, 1), else_=0)))

    def records(self, ctx: MetricContext) -> sa.Select[Any]:
        """The open deals due in the period containing ``as_of`` pushed 3+ times, most
        pushed first."""
        o = ctx.table("opportunities")
        today = sa.literal(ctx.as_of.date(), sa.Date())
        p = close_date_pushes(ctx.dialect, ctx.as_of,
                              history=ctx.table("opportunity_field_history"))
        return (
            sa.select(o.c.connection, sa.literal("opportunities").label("entity"),
                      o.c.remote_id, o.c.name, o.c.owner_id,
                      sa.cast(p.c.pushes, sa.String).label("detail"))
            .select_from(o.join(p, sa.and_(p.c.connection == o.c.connection,
                                           p.c.opportunity_id == o.c.remote_id)))
            .where(ctx.live(o), o.c.status == "open", p.c.pushes >= REPEATED,
                   sa.true() if ctx.period == "all" else
                   ctx.period_start(o.c.expected_close_date) == ctx.period_start(today))
            .order_by(p.c.pushes.desc(), o.c.remote_id)
        )


class CloseDatePushDays(Metric):
    """Mean days open deals' expected close dates were pushed in all (0 for never)."""

    NAME = "close_date_push_days"
    title = "Close date pushed (days per deal)"
    description = ("Σ days open deals' expected close dates were moved later (field history "
                   "up to as_of) ÷ open deals, by expected close period.")
    unit = "days"
    direction = "lower_is_better"
    dimensions = _DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _open_deals_with_pushes(ctx, lambda p: sa.func.coalesce(
            sa.func.sum(p.c.push_days), 0))


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (DealsPushed3Plus, CloseDatePushDays)
