"""Deal outcome KPIs: win rate, average deal size, sales cycle length.

Definitions (docs/metrics.md): deals count in the period of their ``closed_at`` (taken from
stage history, not the editable close date); deleted deals never count; money is in the base
currency, converted at the rate valid at the close.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Select

from crmsync import Metric, MetricContext

__all__ = ["WinRate", "AvgDealSize", "SalesCycleDays", "METRICS"]

_DEAL_DIMENSIONS = ("owner", "team", "pipeline", "deal_type", "lead_source", "segment",
                    "region", "industry")


class WinRate(Metric):
    """won ÷ (won + lost), deals attributed to the period of ``closed_at``."""

    NAME = "win_rate"
    title = "Win rate"
    description = "Won deals ÷ closed (won + lost) deals, by the period the deals closed in."
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        won = sa.func.sum(sa.case((o.c.status == "won", 1), else_=0))
        closed = sa.func.count()
        return (
            sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                      period.label("period_start"),
                      (won * 1.0 / closed).label("value"), won.label("numerator"),
                      closed.label("denominator"))
            .select_from(frm)
            .where(ctx.live(o), o.c.status.in_(("won", "lost")), o.c.closed_at.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


class AvgDealSize(Metric):
    """Mean base-currency amount of won deals, by ``closed_at`` period."""

    NAME = "avg_deal_size"
    title = "Average deal size"
    description = ("Mean amount (base currency, converted at the close-date rate) of deals won "
                   "in the period; deals without a known rate are left out.")
    unit = "currency"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        amount = ctx.amount_in_base(o, o.c.closed_at)
        total = sa.func.sum(amount)
        count = sa.func.count(amount)
        return (
            sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                      period.label("period_start"),
                      (total / sa.func.nullif(count, 0)).label("value"),
                      total.label("numerator"), count.label("denominator"))
            .select_from(frm)
            .where(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


class SalesCycleDays(Metric):
    """Median days from creation to close over deals won in the period."""

    NAME = "sales_cycle_days"
    title = "Sales cycle (median days)"
    description = ("Median days from a won deal's creation to its close, over deals won in "
                   "the period.")
    unit = "days"
    direction = "lower_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        facts = (
            sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                      period.label("period_start"),
                      ctx.days_between(o.c.remote_created_at, o.c.closed_at).label("x"))
            .select_from(frm)
            .where(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None),
                   o.c.remote_created_at.is_not(None))
        )
        return ctx.median(facts)


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (WinRate, AvgDealSize, SalesCycleDays)
