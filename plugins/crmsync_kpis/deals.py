"""Deal outcome KPIs: win, close and decision rates, deal size, revenue and its growth, sales
cycle.

Definitions (docs/metrics/deals.md): deals count in the period of their ``closed_at`` (taken
from stage history, not the editable close date) unless a metric says otherwise (close rate,
decision rate and the ``won_over_created`` win rate use the creation period); deleted deals
never count; money is in the base currency, converted at the rate valid at the close.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmsync import Metric, MetricContext
from crmsync_kpis.growth import period_over_period
from crmsync_kpis.results import observations, once, result, share

__all__ = ["WinRate", "CloseRate", "DecisionRate", "AvgDealSize", "MedianDealSize", "Revenue",
           "RevenueGrowth", "SalesCycleDays", "SalesCycleDaysMean", "METRICS"]

_DEAL_DIMENSIONS = ("owner", "team", "pipeline", "deal_type", "lead_source", "segment",
                    "region", "industry", "territory", "custom")


class WinRate(Metric):
    """won ÷ (won + lost), deals attributed to the period of ``closed_at``.

    Variants: ``won_over_created`` (won ÷ deals created, by creation period) and
    ``amount_weighted`` (won base amount ÷ closed base amount, by close period)."""

    NAME = "win_rate"
    title = "Win rate"
    description = "Won deals ÷ closed (won + lost) deals, by the period the deals closed in."
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS
    variants = ("won_over_created", "amount_weighted")

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        if ctx.variant == "won_over_created":
            return _share_of_created(ctx, statuses=("won",))
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        won: sa.ColumnElement[Any]
        closed: sa.ColumnElement[Any]
        if ctx.variant == "amount_weighted":
            amount = ctx.amount_in_base(o, o.c.closed_at)
            won = sa.func.sum(sa.case((o.c.status == "won", amount), else_=None))
            closed = sa.func.sum(amount)
        else:
            won = sa.func.sum(sa.case((o.c.status == "won", 1), else_=0))
            closed = sa.func.count()
        return (
            result(value=share(won, closed), numerator=won, denominator=closed,
                   dimension=dim, period=period)
            .select_from(frm)
            .where(ctx.live(o), o.c.status.in_(("won", "lost")), o.c.closed_at.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


def _share_of_created(ctx: MetricContext, statuses: tuple[str, ...]) -> sa.Select[Any]:
    """Deals created in the period (``remote_created_at``) whose status is now one of
    ``statuses`` ÷ all deals created in the period."""
    o = ctx.table("opportunities")
    frm, dim = ctx.dimension_of(o)
    period = ctx.period_start(o.c.remote_created_at)
    hits = sa.func.sum(sa.case((o.c.status.in_(statuses), 1), else_=0))
    created = sa.func.count()
    return (
        result(value=share(hits, created), numerator=hits, denominator=created,
               dimension=dim, period=period)
        .select_from(frm)
        .where(ctx.live(o), o.c.remote_created_at.is_not(None))
        .group_by(*ctx.group_keys(dim, period))
    )


class CloseRate(Metric):
    """Deals created in the period that were won ÷ deals created in the period."""

    NAME = "close_rate"
    title = "Close rate (won ÷ created)"
    description = ("Deals created in the period that are now won ÷ all deals created in the "
                   "period, by creation period (lost and still-open deals count against it).")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS
    #: 2: won ÷ created (version 1 counted won and lost deals as "closed").
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _share_of_created(ctx, statuses=("won",))


class DecisionRate(Metric):
    """Deals created in the period that are now decided (won or lost) ÷ deals created."""

    NAME = "decision_rate"
    title = "Decision rate (won or lost ÷ created)"
    description = ("Deals created in the period that are now decided, won or lost, ÷ all "
                   "deals created in the period, by creation period; the rest are still open.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _share_of_created(ctx, statuses=("won", "lost"))


class AvgDealSize(Metric):
    """Mean base-currency amount of won deals, by ``closed_at`` period."""

    NAME = "avg_deal_size"
    title = "Average deal size"
    description = ("Mean amount (base currency, converted at the close-date rate) of deals won "
                   "in the period; deals without a known rate are left out.")
    unit = "currency"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        won = once(_won_amounts(ctx), "won")  # each deal converted once, not per aggregate
        total = sa.func.sum(won.c.x)
        count = sa.func.count(won.c.x)
        return (
            result(value=total / sa.func.nullif(count, 0), numerator=total, denominator=count,
                   dimension=won.c.dimension_value, period=won.c.period_start)
            .group_by(won.c.dimension_value, won.c.period_start)
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

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        facts = (
            observations(ctx.days_between(o.c.remote_created_at, o.c.closed_at),
                         dimension=dim, period=period)
            .select_from(frm)
            .where(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None),
                   o.c.remote_created_at.is_not(None))
        )
        return ctx.median(facts)


def _won_amounts(ctx: MetricContext) -> sa.Select[Any]:
    """One row per won deal: dimension, ``closed_at`` period and base amount ``x`` (rate at
    the close), with the contract's ``subject_id`` (``NULL``)."""
    o = ctx.table("opportunities")
    frm, dim = ctx.dimension_of(o)
    return (
        observations(ctx.amount_in_base(o, o.c.closed_at), dimension=dim,
                     period=ctx.period_start(o.c.closed_at))
        .select_from(frm)
        .where(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None))
    )


class MedianDealSize(Metric):
    """Median base-currency amount of won deals, by ``closed_at`` period."""

    NAME = "median_deal_size"
    title = "Median deal size"
    description = ("Median amount (base currency, converted at the close-date rate) of deals "
                   "won in the period; deals without a known rate are left out.")
    unit = "currency"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return ctx.median(_won_amounts(ctx))


class Revenue(Metric):
    """Sum of won base-currency amounts, by ``closed_at`` period."""

    NAME = "revenue"
    title = "Revenue (won)"
    description = ("Sum of the amounts (base currency, close-date rate) of deals won in the "
                   "period; the denominator is the number of deals summed.")
    unit = "currency"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        won = once(_won_amounts(ctx), "won")  # each deal converted once, not per aggregate
        total = sa.func.sum(won.c.x)
        return (
            result(value=total, numerator=total, denominator=sa.func.count(won.c.x),
                   dimension=won.c.dimension_value, period=won.c.period_start)
            .where(won.c.x.is_not(None))
            .group_by(won.c.dimension_value, won.c.period_start)
        )


class RevenueGrowth(Metric):
    """(revenue − previous period's revenue) ÷ previous period's revenue."""

    NAME = "revenue_growth"
    title = "Revenue growth"
    description = ("Change of won revenue against the immediately preceding period, as a "
                   "share of that period's revenue.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _DEAL_DIMENSIONS
    periods = ("day", "week", "month", "quarter", "year")
    denominator_is_n = False  # an amount or a metric value, not a count

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return period_over_period(ctx, Revenue().query(ctx).subquery("revenue"))


class SalesCycleDaysMean(Metric):
    """Mean days from creation to close over deals won in the period."""

    NAME = "sales_cycle_days_mean"
    title = "Sales cycle (mean days)"
    description = ("Mean days from a won deal's creation to its close, over deals won in the "
                   "period.")
    unit = "days"
    direction = "lower_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        days = sa.func.sum(ctx.days_between(o.c.remote_created_at, o.c.closed_at))
        count = sa.func.count()
        return (
            result(value=days / sa.func.nullif(count, 0), numerator=days, denominator=count,
                   dimension=dim, period=period)
            .select_from(frm)
            .where(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None),
                   o.c.remote_created_at.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (WinRate, CloseRate, DecisionRate, AvgDealSize,
                                     MedianDealSize, Revenue, RevenueGrowth, SalesCycleDays,
                                     SalesCycleDaysMean)
