"""Built-in KPIs: customers (see docs/metrics/customers.md).

A *customer* is an account (``connection``, ``account_id``) with at least one live won deal;
its revenue is the base-currency amount of its won deals, converted at the close-date rate.
Survey scores (NPS, CSAT, CES) live in :mod:`crmsync_kpis.feedback`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync import Metric, MetricContext, MetricError
from crmsync_kpis.acquisition import BY, CHANNEL, acquisition_facts, attributed_ltv
from crmsync_kpis.acquisition import won as _won
from crmsync_kpis.results import result, share

__all__ = ["RetentionRate", "ChurnRate", "RepeatPurchaseRate", "CustomerLifetimeValue", "Cac",
           "LtvToCac", "METRICS"]

_ACCOUNT_DIMENSIONS = ("segment", "region", "territory", "industry")


def _month_plus(ctx: MetricContext, column: Any, months: Any) -> ColumnElement[Any]:
    """The first day of ``column``'s month plus ``months`` (an integer column) months."""
    if ctx.dialect == "sqlite":
        return sa.func.date(column, "start of month",
                            "+" + sa.cast(months, sa.String) + " months")
    shifted: ColumnElement[Any] = (sa.func.date_trunc("month", column)
                                   + months * sa.literal_column("interval '1 month'",
                                                                sa.Interval))
    return shifted


def _shift_months(ctx: MetricContext, column: Any, months: int) -> ColumnElement[Any]:
    """The timestamp ``column`` moved by ``months`` calendar months (negative: back)."""
    if ctx.dialect == "sqlite":
        return sa.func.datetime(column, f"{months:+d} months")
    shifted: ColumnElement[Any] = column + sa.text(f"interval '{months} months'")
    return shifted


def _window_months(ctx: MetricContext) -> int:
    """``[metrics] retention_window_months``, checked."""
    months = int(ctx.option("retention_window_months"))
    if not 1 <= months <= 120:
        raise MetricError(f"[metrics] retention_window_months must be 1 to 120, not {months}")
    return months


def _retention(ctx: MetricContext) -> sa.Select[Any]:
    """Per dimension value and period: ``cohort`` (accounts active at the period start),
    ``kept`` (still active at its end, or now for the current period) and ``repeat`` (won
    again within the period). *Active at t* = a won deal closed in the ``W`` months before t
    (``W`` = ``[metrics] retention_window_months``); docs/metrics/customers.md."""
    months = _window_months(ctx)
    o = ctx.table("opportunities")
    won = sa.select(o.c.connection, o.c.account_id, o.c.closed_at).where(_won(ctx, o))
    wins = won.subquery("wins")
    ks = sa.union_all(*(sa.select(sa.literal(k, sa.Integer).label("k"))
                        for k in range(1, months + 1))).subquery("ks")
    # A win at c puts its account in the cohort of every period starting in (c, c + W months]:
    # periods are month-aligned, so each such start is the start of the period holding
    # month_start(c) + k months for some k in 1..W (the ``> c`` test drops the period of c).
    start = ctx.period_start(_month_plus(ctx, wins.c.closed_at, ks.c.k))
    cohort = (
        sa.select(wins.c.connection, wins.c.account_id, start.label("period_start"))
        .select_from(wins.join(ks, sa.true()))
        .where(start > wins.c.closed_at, start <= ctx.period_start(ctx.now()))
        .distinct()
        .subquery("cohort")
    )
    period_end: ColumnElement[Any] = ctx.period_end(cohort.c.period_start)
    if ctx.dialect == "sqlite":
        period_end = sa.func.datetime(period_end)
    else:
        period_end = sa.cast(period_end, sa.DateTime())
    # the current period is measured up to now: customers lapsed so far count as lost
    end = sa.case((period_end > ctx.now(), ctx.now()), else_=period_end)
    again = o.alias("again")
    same = (_won(ctx, again), again.c.connection == cohort.c.connection,
            again.c.account_id == cohort.c.account_id)
    kept_one = sa.exists().where(*same, again.c.closed_at >= _shift_months(ctx, end, -months),
                                 again.c.closed_at < end)
    repeat_one = sa.exists().where(
        *same, ctx.period_start(again.c.closed_at) == cohort.c.period_start)
    frm, dim = ctx.dimension_of(cohort)
    return (
        sa.select(dim.label("dimension_value"), cohort.c.period_start.label("period_start"),
                  sa.func.sum(sa.case((kept_one, 1), else_=0)).label("kept"),
                  sa.func.sum(sa.case((repeat_one, 1), else_=0)).label("repeat"),
                  sa.func.count().label("cohort"))
        .select_from(frm)
        .group_by(*ctx.group_keys(dim, cohort.c.period_start))
    )


def _cohorts(ctx: MetricContext) -> Any:
    """:func:`_retention` as a fact set shared by retention, churn, repeat purchase and the CLV
    estimate."""
    return ctx.shared("retention_cohorts", _retention(ctx)).alias("r")


def _lifetime_values(ctx: MetricContext) -> Any:
    """:func:`_clv` as a fact set shared by customer_lifetime_value and ltv_to_cac."""
    return ctx.shared("lifetime_values", _clv(ctx)).alias("ltv")


def _cohort_share(ctx: MetricContext, part: Any) -> sa.Select[Any]:
    """Contract columns of ``part ÷ cohort`` over :func:`_cohorts`."""
    r = _cohorts(ctx)
    top = part(r)
    return result(value=share(top, r.c.cohort), numerator=top, denominator=r.c.cohort,
                  dimension=r.c.dimension_value, period=r.c.period_start)


class RetentionRate(Metric):
    """Customers active at the period start that are still active at its end ÷ the former."""

    NAME = "retention_rate"
    title = "Customer retention rate"
    description = ("Customers at the period start (a won deal in the 12 months before it) that "
                   "are still customers at its end, or now for the current period (a won deal "
                   "in the 12 months before that) ÷ customers at the period start.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _ACCOUNT_DIMENSIONS
    periods = ("month", "quarter", "year")
    #: 2: kept over a trailing window (version 1 was today's repeat_purchase_rate).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _cohort_share(ctx, lambda r: r.c.kept)


class ChurnRate(Metric):
    """1 − retention_rate: customers at the period start that lapsed by its end."""

    NAME = "churn_rate"
    title = "Customer churn rate"
    description = ("Customers at the period start (a won deal in the 12 months before it) with "
                   "no won deal in the 12 months before the period end (or now) ÷ customers at "
                   "the period start.")
    unit = "ratio"
    direction = "lower_is_better"
    dimensions = _ACCOUNT_DIMENSIONS
    periods = ("month", "quarter", "year")
    #: 2: 1 − the new retention_rate (version 1: no won deal within the period).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _cohort_share(ctx, lambda r: r.c.cohort - r.c.kept)


class RepeatPurchaseRate(Metric):
    """Customers at the period start that won another deal within the period ÷ the former."""

    NAME = "repeat_purchase_rate"
    title = "Repeat purchase rate"
    description = ("Customers at the period start (a won deal in the 12 months before it) that "
                   "won another deal within the period ÷ customers at the period start.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _ACCOUNT_DIMENSIONS
    periods = ("month", "quarter", "year")

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _cohort_share(ctx, lambda r: r.c.repeat)


def _clv(ctx: MetricContext) -> sa.Select[Any]:
    """Contract columns of customer_lifetime_value (cumulative up to each period's end)."""
    o = ctx.table("opportunities")
    amount = ctx.amount_in_base(o, o.c.closed_at)
    wins = (sa.select(o.c.connection, o.c.account_id, amount.label("amount"),
                      ctx.period_start(o.c.closed_at).label("won_period"))
            .where(_won(ctx, o)).subquery("wins"))
    frm, dim = ctx.dimension_of(wins)
    customer = wins.c.connection + sa.literal("\x1f") + wins.c.account_id
    total = sa.func.sum(wins.c.amount)
    customers = sa.func.count(sa.distinct(sa.case((wins.c.amount.is_not(None), customer))))
    if ctx.period == "all":
        period: Any = sa.null()
    else:
        periods = sa.select(wins.c.won_period.label("p")).distinct().subquery("periods")
        frm = frm.join(periods, wins.c.won_period <= periods.c.p)
        period = periods.c.p
    return (
        result(value=total / sa.func.nullif(customers, 0), numerator=total,
               denominator=customers, dimension=dim, period=period)
        .select_from(frm)
        .group_by(*ctx.group_keys(dim, period))
    )


def _clv_estimate(ctx: MetricContext) -> sa.Select[Any]:
    """Contract columns of the ``estimate`` variant: ARPA × margin ÷ churn, per period."""
    margin = ctx.option("margin")
    if margin is None:
        raise MetricError("customer_lifetime_value variant 'estimate' needs [metrics] margin "
                          "(the gross margin, e.g. 0.7)")
    if ctx.period == "all":
        raise MetricError("customer_lifetime_value variant 'estimate' needs a period with a "
                          "churn rate (month, quarter or year)")
    o = ctx.table("opportunities")
    amount = ctx.amount_in_base(o, o.c.closed_at)
    frm, dim = ctx.dimension_of(o)
    period = ctx.period_start(o.c.closed_at)
    customer = o.c.connection + sa.literal("\x1f") + o.c.account_id
    accounts = sa.func.count(sa.distinct(sa.case((amount.is_not(None), customer))))
    arpa = (sa.select(dim.label("dv"), period.label("p"),
                      (sa.func.sum(amount) / sa.func.nullif(accounts, 0)).label("arpa"))
            .select_from(frm).where(_won(ctx, o))
            .group_by(*ctx.group_keys(dim, period)).subquery("arpa"))
    r = _cohorts(ctx)
    churn = (r.c.cohort - r.c.kept) * 1.0 / sa.func.nullif(r.c.cohort, 0)
    joined = arpa.join(r, sa.and_(sa.func.coalesce(arpa.c.dv, "") ==
                                  sa.func.coalesce(r.c.dimension_value, ""),
                                  arpa.c.p == r.c.period_start))
    top = arpa.c.arpa * float(margin)
    return (result(value=top / sa.func.nullif(churn, 0), numerator=top, denominator=churn,
                   dimension=arpa.c.dv, period=arpa.c.p)
            .select_from(joined))


class CustomerLifetimeValue(Metric):
    """Won revenue to date ÷ customers to date, per period end."""

    NAME = "customer_lifetime_value"
    title = "Customer lifetime value"
    description = ("Base-currency revenue of all deals won up to the end of the period ÷ the "
                   "distinct accounts those deals were won with (mean revenue per customer).")
    unit = "currency"
    direction = "higher_is_better"
    dimensions = _ACCOUNT_DIMENSIONS
    variants = ("estimate",)
    #: 2: the ``estimate`` variant divides by the version-2 churn_rate.
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        if ctx.variant == "estimate":
            return _clv_estimate(ctx)
        return sa.select(*_lifetime_values(ctx).c)


def _cac(ctx: MetricContext) -> sa.Select[Any]:
    """Contract columns of cac, for the organisation or by ``channel`` or ``segment``
    (:mod:`crmsync_kpis.acquisition`)."""
    parts = acquisition_facts(ctx)
    dim: Any = parts.c[ctx.dimension] if ctx.dimension in BY else sa.null()
    period: Any = sa.null() if ctx.period == "all" else parts.c.p
    spend = sa.func.sum(parts.c.spend)
    new = sa.func.sum(parts.c.new)
    return (
        result(value=spend / sa.func.nullif(new, 0), numerator=spend, denominator=new,
               dimension=dim, period=period)
        .group_by(*ctx.group_keys(dim, period))
    )


class Cac(Metric):
    """Spend in the period ÷ accounts whose first won deal closed in it."""

    NAME = "cac"
    inputs = ("spend",)
    title = "Customer acquisition cost"
    description = ("Spend (all categories, in the base currency) whose period starts in the "
                   "period ÷ accounts whose first won deal closed in the period; by channel "
                   "or segment, the spend of that channel or segment ÷ the new customers "
                   "acquired through it; no value for a period without spend rows.")
    unit = "currency"
    direction = "lower_is_better"
    dimensions = ("segment",)
    declared_dimensions = (CHANNEL,)
    #: 3: by channel and segment; spend converted to the base currency (version 2: the
    #: organisation only, spend amounts summed as given).
    version = 3

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _cac(ctx)


class LtvToCac(Metric):
    """customer_lifetime_value ÷ cac of the same period."""

    NAME = "ltv_to_cac"
    inputs = ("spend",)
    title = "LTV : CAC"
    description = ("customer_lifetime_value ÷ cac, for the same period, a multiple such as "
                   "3.0×; by channel or segment, both sides for the customers acquired "
                   "through it (and its spend).")
    unit = "multiple"
    direction = "higher_is_better"
    dimensions = ("segment",)
    declared_dimensions = (CHANNEL,)
    #: 3: by channel and segment (version 2: the organisation only).
    version = 3
    denominator_is_n = False  # an amount or a metric value, not a count

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        if ctx.dimension is None:
            ltv = _lifetime_values(ctx)
        else:
            ltv = attributed_ltv(ctx).subquery("ltv")
        cac = _cac(ctx).subquery("cac")
        same_value = sa.func.coalesce(ltv.c.dimension_value, "") == \
            sa.func.coalesce(cac.c.dimension_value, "")
        on = same_value if ctx.period == "all" else \
            sa.and_(same_value, ltv.c.period_start == cac.c.period_start)
        return (
            result(value=ltv.c.value / sa.func.nullif(cac.c.value, 0), numerator=ltv.c.value,
                   denominator=cac.c.value, dimension=cac.c.dimension_value,
                   period=cac.c.period_start)
            .select_from(cac.join(ltv, on))
        )


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (RetentionRate, ChurnRate, RepeatPurchaseRate,
                                     CustomerLifetimeValue, Cac, LtvToCac)
