"""Built-in KPIs: customers (see docs/metrics/customers.md).

A *customer* is an account (``connection``, ``account_id``) with at least one live won deal;
its revenue is the base-currency amount of its won deals, converted at the close-date rate.
Feedback scores (NPS, CSAT, CES) come from the ``feedback`` table by ``responded_at`` period.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select
from sqlalchemy.sql.elements import ColumnElement

from crmsync import Metric, MetricContext, MetricError

__all__ = ["RetentionRate", "ChurnRate", "CustomerLifetimeValue", "Cac", "LtvToCac", "Nps",
           "Csat", "Ces", "METRICS"]

_ACCOUNT_DIMENSIONS = ("segment", "region", "industry")
_FEEDBACK_DIMENSIONS = ("owner", "team", "segment", "region", "industry")


def _won(ctx: MetricContext, o: Any) -> ColumnElement[bool]:
    """Live won deals with a close time and an account."""
    return sa.and_(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None),
                   o.c.account_id.is_not(None))


def _month_plus(ctx: MetricContext, column: Any, months: Any) -> ColumnElement[Any]:
    """The first day of ``column``'s month plus ``months`` (an integer column) months."""
    if ctx.dialect == "sqlite":
        return sa.func.date(column, "start of month",
                            "+" + sa.cast(months, sa.String) + " months")
    return (sa.func.date_trunc("month", column)
            + months * sa.literal_column("interval '1 month'", sa.Interval))


def _retention(ctx: MetricContext) -> Select:
    """Columns dimension_value, period_start, retained, cohort (see RetentionRate)."""
    o = ctx.table("opportunities")
    won = sa.select(o.c.connection, o.c.account_id, o.c.closed_at).where(_won(ctx, o))
    wins = won.subquery("wins")
    ks = sa.union_all(*(sa.select(sa.literal(k, sa.Integer).label("k"))
                        for k in range(1, 13))).subquery("ks")
    # A win at c puts its account in the cohort of every period starting in (c, c + 12 months]:
    # periods are month-aligned, so each such start is the start of the period holding
    # month_start(c) + k months for some k in 1..12 (the ``> c`` test drops the period of c).
    start = ctx.period_start(_month_plus(ctx, wins.c.closed_at, ks.c.k))
    cohort = (
        sa.select(wins.c.connection, wins.c.account_id, start.label("period_start"))
        .select_from(wins.join(ks, sa.true()))
        .where(start > wins.c.closed_at, start <= ctx.period_start(ctx.now()))
        .distinct()
        .subquery("cohort")
    )
    again = o.alias("again")
    retained_one = sa.exists().where(_won(ctx, again), again.c.connection == cohort.c.connection,
                                     again.c.account_id == cohort.c.account_id,
                                     ctx.period_start(again.c.closed_at) == cohort.c.period_start)
    frm, dim = ctx.dimension_of(cohort)
    retained = sa.func.sum(sa.case((retained_one, 1), else_=0))
    return (
        sa.select(dim.label("dimension_value"), cohort.c.period_start.label("period_start"),
                  retained.label("retained"), sa.func.count().label("cohort"))
        .select_from(frm)
        .group_by(*ctx.group_keys(dim, cohort.c.period_start))
    )


def _cohorts(ctx: MetricContext) -> Any:
    """:func:`_retention` as a fact set shared by retention, churn and the CLV estimate."""
    return ctx.shared("retention_cohorts", _retention(ctx)).alias("r")


def _lifetime_values(ctx: MetricContext) -> Any:
    """:func:`_clv` as a fact set shared by customer_lifetime_value and ltv_to_cac."""
    return ctx.shared("lifetime_values", _clv(ctx)).alias("ltv")


class RetentionRate(Metric):
    """Accounts that won in the 12 months before the period and won again in it ÷ the former."""

    NAME = "retention_rate"
    title = "Customer retention rate"
    description = ("Accounts with a won deal in the 12 months before the period start that "
                   "won again within the period ÷ accounts with a won deal in those 12 months.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _ACCOUNT_DIMENSIONS
    periods = ("month", "quarter", "year")

    def query(self, ctx: MetricContext) -> Select:
        r = _cohorts(ctx)
        return sa.select(sa.null().label("subject_id"), r.c.dimension_value, r.c.period_start,
                         (r.c.retained * 1.0 / sa.func.nullif(r.c.cohort, 0)).label("value"),
                         r.c.retained.label("numerator"), r.c.cohort.label("denominator"))


class ChurnRate(Metric):
    """1 − retention_rate: the cohort's accounts that did not win again in the period."""

    NAME = "churn_rate"
    title = "Customer churn rate"
    description = ("Accounts with a won deal in the 12 months before the period start and no "
                   "won deal within the period ÷ accounts with a won deal in those 12 months.")
    unit = "ratio"
    direction = "lower_is_better"
    dimensions = _ACCOUNT_DIMENSIONS
    periods = ("month", "quarter", "year")

    def query(self, ctx: MetricContext) -> Select:
        r = _cohorts(ctx)
        lost = r.c.cohort - r.c.retained
        return sa.select(sa.null().label("subject_id"), r.c.dimension_value, r.c.period_start,
                         (lost * 1.0 / sa.func.nullif(r.c.cohort, 0)).label("value"),
                         lost.label("numerator"), r.c.cohort.label("denominator"))


def _clv(ctx: MetricContext) -> Select:
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
        sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                  period.label("period_start"),
                  (total / sa.func.nullif(customers, 0)).label("value"),
                  total.label("numerator"), customers.label("denominator"))
        .select_from(frm)
        .group_by(*ctx.group_keys(dim, period))
    )


def _clv_estimate(ctx: MetricContext) -> Select:
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
    churn = (r.c.cohort - r.c.retained) * 1.0 / sa.func.nullif(r.c.cohort, 0)
    joined = arpa.join(r, sa.and_(sa.func.coalesce(arpa.c.dv, "") ==
                                  sa.func.coalesce(r.c.dimension_value, ""),
                                  arpa.c.p == r.c.period_start))
    top = arpa.c.arpa * float(margin)
    return (sa.select(sa.null().label("subject_id"), arpa.c.dv.label("dimension_value"),
                      arpa.c.p.label("period_start"),
                      (top / sa.func.nullif(churn, 0)).label("value"),
                      top.label("numerator"), churn.label("denominator"))
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

    def query(self, ctx: MetricContext) -> Select:
        if ctx.variant == "estimate":
            return _clv_estimate(ctx)
        return sa.select(*_lifetime_values(ctx).c)


def _cac(ctx: MetricContext) -> Select:
    """Contract columns of cac (organisation only)."""
    o = ctx.table("opportunities")
    s = ctx.table("spend")
    first = (sa.select(sa.func.min(o.c.closed_at).label("first_won"))
             .where(_won(ctx, o)).group_by(o.c.connection, o.c.account_id).subquery("first"))
    new_period = ctx.period_start(first.c.first_won)
    spend_period = ctx.period_start(s.c.period_start)
    parts = sa.union_all(
        sa.select(spend_period.label("p"), s.c.amount.label("spend"),
                  sa.literal(0, sa.Integer).label("new")).where(ctx.live(s)),
        sa.select(new_period.label("p"), sa.literal(0.0, sa.Float).label("spend"),
                  sa.literal(1, sa.Integer).label("new")).select_from(first),
    ).subquery("parts")
    period = sa.null() if ctx.period == "all" else parts.c.p
    spend = sa.func.sum(parts.c.spend)
    new = sa.func.sum(parts.c.new)
    return (
        sa.select(sa.null().label("subject_id"), sa.null().label("dimension_value"),
                  period.label("period_start"),
                  (spend / sa.func.nullif(new, 0)).label("value"),
                  spend.label("numerator"), new.label("denominator"))
        .group_by(*ctx.group_keys(period))
    )


class Cac(Metric):
    """Spend in the period ÷ accounts whose first won deal closed in it."""

    NAME = "cac"
    title = "Customer acquisition cost"
    description = ("Spend (all categories, amounts taken as base currency) whose period starts "
                   "in the period ÷ accounts whose first won deal closed in the period.")
    unit = "currency"
    direction = "lower_is_better"
    dimensions = ()

    def query(self, ctx: MetricContext) -> Select:
        return _cac(ctx)


class LtvToCac(Metric):
    """customer_lifetime_value ÷ cac of the same period."""

    NAME = "ltv_to_cac"
    title = "LTV : CAC"
    description = "customer_lifetime_value ÷ cac, for the same period (organisation only)."
    unit = "score"
    direction = "higher_is_better"
    dimensions = ()

    def query(self, ctx: MetricContext) -> Select:
        org = MetricContext(**{**ctx.__dict__, "dimension": None})
        ltv = _lifetime_values(org)
        cac = _cac(org).subquery("cac")
        on = sa.true() if ctx.period == "all" else ltv.c.period_start == cac.c.period_start
        return (
            sa.select(sa.null().label("subject_id"), sa.null().label("dimension_value"),
                      cac.c.period_start,
                      (ltv.c.value / sa.func.nullif(cac.c.value, 0)).label("value"),
                      ltv.c.value.label("numerator"), cac.c.value.label("denominator"))
            .select_from(cac.join(ltv, on))
        )


def _feedback(ctx: MetricContext, kind: str, top: Any, bottom: Any, scale: float
              ) -> Select:
    """Contract columns for a feedback score: value = scale × Σtop ÷ Σbottom."""
    f = ctx.table("feedback")
    frm, dim = ctx.dimension_of(f)
    period = ctx.period_start(f.c.responded_at)
    num = sa.func.sum(top(f))
    den = sa.func.sum(bottom(f))
    return (
        sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                  period.label("period_start"),
                  (num * scale / sa.func.nullif(den, 0)).label("value"),
                  num.label("numerator"), den.label("denominator"))
        .select_from(frm)
        .where(ctx.live(f), f.c.type == kind, f.c.score.is_not(None),
               f.c.responded_at.is_not(None))
        .group_by(*ctx.group_keys(dim, period))
    )


def _in(f: Any, low: float, high: float) -> ColumnElement[int]:
    return sa.case((f.c.score.between(low, high), 1), else_=0)


class Nps(Metric):
    """Net promoter score: % promoters (9–10) − % detractors (0–6), on 0–10 scores."""

    NAME = "nps"
    title = "Net promoter score"
    description = ("(promoters (9–10) − detractors (0–6)) ÷ responses × 100, over feedback of "
                   "type 'nps' scored 0–10, by responded_at period.")
    unit = "score"
    direction = "higher_is_better"
    dimensions = _FEEDBACK_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        return _feedback(ctx, "nps", lambda f: _in(f, 9, 10) - _in(f, 0, 6),
                         lambda f: _in(f, 0, 10), 100.0)


class Csat(Metric):
    """Share of 1–5 CSAT scores that are 4 or 5."""

    NAME = "csat"
    title = "Customer satisfaction (CSAT)"
    description = ("Responses scored 4–5 ÷ responses scored 1–5, over feedback of type 'csat', "
                   "by responded_at period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _FEEDBACK_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        return _feedback(ctx, "csat", lambda f: _in(f, 4, 5), lambda f: _in(f, 1, 5), 1.0)


class Ces(Metric):
    """Mean customer effort score."""

    NAME = "ces"
    title = "Customer effort score (CES)"
    description = "Mean score of feedback of type 'ces', by responded_at period."
    unit = "score"
    direction = "higher_is_better"
    dimensions = _FEEDBACK_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        return _feedback(ctx, "ces", lambda f: f.c.score, lambda f: sa.literal(1), 1.0)


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (RetentionRate, ChurnRate, CustomerLifetimeValue, Cac,
                                     LtvToCac, Nps, Csat, Ces)
