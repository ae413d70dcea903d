"""Built-in KPIs: subscriptions and recurring revenue (see docs/metrics/subscriptions.md).

Subscriptions are derived in SQL from the store, not synced: every recurring line item
(``billing_frequency`` other than ``one_time``, the line's or its product's) of a live won deal
with an account is one subscription of that account, from its ``billing_start_date`` (else the
day the deal closed) for ``term_months`` (the line's, else its product's; none = until now).
Its monthly recurring revenue (MRR) is the line's base-currency amount ÷ the months its billing
period covers (:data:`crmsync.BILLING_MONTHS`), converted at the close-date rate.

An account's MRR at a period boundary ``b`` sums its subscriptions billing on the day before
``b`` (``start < b`` and ``end >= b`` or no end). For a period ``[S, E)`` each account has a
starting MRR ``m0`` (at ``S``) and an ending one ``m1`` (at ``E``, or the day after ``as_of``
for the current period), and exactly one movement: new (``m0 = 0 < m1``), expansion
(``0 < m0 < m1``), contraction (``0 < m1 < m0``) or churn (``m0 > 0 = m1``). So, by
construction, start + new + expansion − contraction − churn = end, and one period's end is the
next one's start.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync import BILLING_MONTHS, Metric, MetricContext
from crmsync_kpis.results import result, share

__all__ = ["Mrr", "Arr", "NewMrr", "ExpansionMrr", "ContractionMrr", "ChurnedMrr",
           "NetRevenueRetention", "GrossRevenueRetention", "LogoChurnRate", "METRICS",
           "HISTORY_MONTHS"]

_ACCOUNT_DIMENSIONS = ("segment", "region", "territory", "industry")
_PERIODS = ("month", "quarter", "year")
#: How far back MRR is computed: the months before ``as_of`` the period list covers.
HISTORY_MONTHS = 300


def _add_months(ctx: MetricContext, day: Any, months: Any) -> ColumnElement[Any]:
    """The date ``day`` plus ``months`` (an integer expression; negative: back)."""
    if ctx.dialect == "sqlite":
        return sa.func.date(day, sa.func.printf("%+d months", months), type_=sa.Date)
    step = sa.literal_column("interval '1 month'", sa.Interval)
    return sa.cast(sa.cast(day, sa.Date) + months * step, sa.Date)


def _as_date(ctx: MetricContext, column: Any) -> ColumnElement[Any]:
    """A timestamp column as a date."""
    if ctx.dialect == "sqlite":
        return sa.func.date(column, type_=sa.Date)
    return sa.cast(column, sa.Date)


def _subscriptions(ctx: MetricContext) -> Any:
    """One row per recurring line item of a live won deal with an account: ``connection``,
    ``account_id``, ``start_date``, ``end_date`` (``NULL``: open-ended) and ``mrr``."""
    li = ctx.table("opportunity_line_items")
    o = ctx.table("opportunities")
    p = ctx.table("products").alias("product")
    frequency = sa.func.coalesce(li.c.billing_frequency, p.c.billing_frequency)
    months = sa.case(*((sa.func.lower(frequency) == f, m) for f, m in BILLING_MONTHS.items()),
                     else_=sa.null())
    lines = (
        sa.select(li.c.connection, o.c.account_id, o.c.closed_at,
                  li.c.amount, li.c.amount_base,
                  sa.func.coalesce(li.c.currency, o.c.currency).label("currency"),
                  months.label("months"),
                  sa.func.coalesce(li.c.term_months, p.c.term_months).label("term"),
                  sa.func.coalesce(li.c.billing_start_date,
                                   _as_date(ctx, o.c.closed_at)).label("start_date"))
        .select_from(li.join(o, sa.and_(o.c.connection == li.c.connection,
                                        o.c.remote_id == li.c.opportunity_id))
                     .outerjoin(p, sa.and_(p.c.connection == li.c.connection,
                                           p.c.remote_id == li.c.product_id,
                                           p.c.is_deleted == sa.false())))
        .where(ctx.live(li), ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None),
               o.c.account_id.is_not(None), months.is_not(None))
        .subquery("lines")
    )
    mrr = ctx.amount_in_base(lines, lines.c.closed_at) / lines.c.months
    end = sa.case((sa.and_(lines.c.term.is_not(None), lines.c.term > 0),
                   _add_months(ctx, lines.c.start_date, lines.c.term)), else_=sa.null())
    return sa.select(lines.c.connection, lines.c.account_id,
                     lines.c.start_date.label("start_date"), end.label("end_date"),
                     mrr.label("mrr")).subquery("subs")


def _periods(ctx: MetricContext, first: Any) -> Any:
    """The periods from the one holding ``first`` (a scalar date) to the one holding
    ``as_of``: ``period_start`` and ``boundary`` (its end, or the day after ``as_of``)."""
    digits = sa.union_all(*(sa.select(sa.literal(d, sa.Integer).label("d"))
                            for d in range(10))).subquery("digits")
    ones, tens, hundreds = digits.alias("ones"), digits.alias("tens"), digits.alias("hundreds")
    k = ones.c.d + 10 * tens.c.d + 100 * hundreds.c.d
    today = sa.literal(ctx.as_of.date(), sa.Date)
    month = _add_months(ctx, _month_start(ctx, today), -k)
    starts = (sa.select(ctx.period_start(month).label("period_start"))
              .select_from(ones.join(tens, sa.true()).join(hundreds, sa.true()))
              .where(k < HISTORY_MONTHS, month >= _month_start(ctx, first))
              .distinct().subquery("starts"))
    tomorrow = _add_days(ctx, today, 1)
    end = ctx.period_end(starts.c.period_start)
    boundary = sa.case((end > tomorrow, tomorrow), else_=end)
    return sa.select(starts.c.period_start, boundary.label("boundary")).subquery("periods")


def _month_start(ctx: MetricContext, day: Any) -> ColumnElement[Any]:
    """The first day of ``day``'s month."""
    if ctx.dialect == "sqlite":
        return sa.func.date(day, "start of month", type_=sa.Date)
    return sa.cast(sa.func.date_trunc("month", day), sa.Date)


def _add_days(ctx: MetricContext, day: Any, days: int) -> ColumnElement[Any]:
    """The date ``day`` plus ``days``."""
    if ctx.dialect == "sqlite":
        return sa.func.date(day, f"+{days} days", type_=sa.Date)
    return sa.cast(sa.cast(day, sa.Date) + days, sa.Date)


def _billing_at(subs: Any, boundary: Any) -> ColumnElement[bool]:
    """Whether a subscription bills on the day before ``boundary``."""
    return sa.and_(subs.c.start_date < boundary,
                   sa.or_(subs.c.end_date.is_(None), subs.c.end_date >= boundary))


def _positive(total: Any) -> ColumnElement[Any]:
    """An account's MRR: a sum of its subscriptions, 0 when none or not positive (credit
    lines larger than the rest)."""
    return sa.case((total > 0, total), else_=0.0)


def _accounts(ctx: MetricContext) -> Any:
    """Per account and period: ``m0`` (MRR at the period start) and ``m1`` (at its end)."""
    subs = _subscriptions(ctx)
    periods = _periods(ctx, sa.select(sa.func.min(subs.c.start_date)).scalar_subquery())
    start = periods.c.period_start
    m0 = sa.func.sum(sa.case((_billing_at(subs, start), subs.c.mrr), else_=0.0))
    m1 = sa.func.sum(sa.case((_billing_at(subs, periods.c.boundary), subs.c.mrr), else_=0.0))
    return (
        sa.select(subs.c.connection, subs.c.account_id, start.label("period_start"),
                  _positive(m0).label("m0"), _positive(m1).label("m1"))
        .select_from(subs.join(periods, sa.and_(
            subs.c.start_date < periods.c.boundary,
            sa.or_(subs.c.end_date.is_(None), subs.c.end_date >= start))))
        .group_by(subs.c.connection, subs.c.account_id, start)
        .subquery("account_mrr")
    )


def _movements(ctx: MetricContext) -> sa.Select[Any]:
    """Per dimension value and period: starting and ending MRR, each movement's sum and the
    accounts behind them (docs/metrics/subscriptions.md)."""
    a = _accounts(ctx)
    frm, dim = ctx.dimension_of(a)
    m0, m1 = a.c.m0, a.c.m1
    had, has = m0 > 0, m1 > 0
    new = sa.and_(sa.not_(had), has)
    expanded = sa.and_(had, m1 > m0)
    contracted = sa.and_(had, has, m1 < m0)
    churned = sa.and_(had, sa.not_(has))

    def total(cond: Any, amount: Any) -> Any:
        return sa.func.sum(sa.case((cond, amount), else_=0.0))

    def count(cond: Any) -> Any:
        return sa.func.sum(sa.case((cond, 1), else_=0))

    return (
        sa.select(dim.label("dimension_value"), a.c.period_start.label("period_start"),
                  sa.func.sum(m0).label("start_mrr"), sa.func.sum(m1).label("end_mrr"),
                  total(new, m1).label("new_mrr"), total(expanded, m1 - m0).label("expansion"),
                  total(contracted, m0 - m1).label("contraction"),
                  total(churned, m0).label("churned"),
                  total(had, m1).label("retained_net"),
                  total(had, sa.case((m1 < m0, m1), else_=m0)).label("retained_gross"),
                  count(had).label("start_accounts"), count(has).label("end_accounts"),
                  count(new).label("new_accounts"), count(expanded).label("expanded_accounts"),
                  count(contracted).label("contracted_accounts"),
                  count(churned).label("churned_accounts"))
        .select_from(frm)
        .group_by(*ctx.group_keys(dim, a.c.period_start))
    )


def _facts(ctx: MetricContext) -> Any:
    """:func:`_movements` as a fact set shared by every metric of this module."""
    return ctx.shared("mrr_movements", _movements(ctx)).alias("mv")


class _SubscriptionMetric(Metric):
    """What the subscription metrics share: account dimensions, month-aligned periods."""

    unit = "currency"
    dimensions = _ACCOUNT_DIMENSIONS
    periods = _PERIODS
    inputs = ("opportunity_line_items",)

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        """``(value, numerator, denominator)`` over the movements ``f``."""
        raise NotImplementedError

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _facts(ctx)
        value, numerator, denominator = self.contract(f)
        return result(value=value, numerator=numerator, denominator=denominator,
                      dimension=f.c.dimension_value, period=f.c.period_start)


class Mrr(_SubscriptionMetric):
    """Monthly recurring revenue at the end of the period."""

    NAME = "mrr"
    title = "MRR"
    description = ("Monthly recurring revenue at the period end (now for the current period): "
                   "the recurring line items of won deals billing then, each amount ÷ the "
                   "months its billing period covers, in the base currency.")

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return f.c.end_mrr, f.c.end_mrr, f.c.end_accounts


class Arr(_SubscriptionMetric):
    """12 × MRR at the end of the period."""

    NAME = "arr"
    title = "ARR"
    description = "Annual recurring revenue: 12 × MRR at the period end (now for the current one)."

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return f.c.end_mrr * 12.0, f.c.end_mrr * 12.0, f.c.end_accounts


class NewMrr(_SubscriptionMetric):
    """MRR of accounts without any at the period start."""

    NAME = "new_mrr"
    title = "New MRR"
    description = ("MRR at the period end of accounts that had none at its start (new and "
                   "returning customers).")

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return f.c.new_mrr, f.c.new_mrr, f.c.new_accounts


class ExpansionMrr(_SubscriptionMetric):
    """MRR gained over the period by accounts that had some at its start."""

    NAME = "expansion_mrr"
    title = "Expansion MRR"
    description = ("MRR gained over the period by accounts that had MRR at its start and more "
                   "at its end (upsells, price increases).")

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return f.c.expansion, f.c.expansion, f.c.expanded_accounts


class ContractionMrr(_SubscriptionMetric):
    """MRR lost over the period by accounts that kept some."""

    NAME = "contraction_mrr"
    title = "Contraction MRR"
    description = ("MRR lost over the period by accounts that still have some at its end "
                   "(downgrades, smaller renewals).")
    direction = "lower_is_better"

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return f.c.contraction, f.c.contraction, f.c.contracted_accounts


class ChurnedMrr(_SubscriptionMetric):
    """MRR at the period start of accounts with none at its end."""

    NAME = "churned_mrr"
    title = "Churned MRR"
    description = "MRR at the period start of accounts that have none at its end."
    direction = "lower_is_better"

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return f.c.churned, f.c.churned, f.c.churned_accounts


class NetRevenueRetention(_SubscriptionMetric):
    """Ending MRR of the accounts paying at the period start ÷ their starting MRR."""

    NAME = "net_revenue_retention"
    title = "Net revenue retention"
    description = ("MRR at the period end of the accounts paying at its start ÷ their MRR at "
                   "its start: (start + expansion − contraction − churn) ÷ start.")
    unit = "ratio"
    denominator_is_n = False  # an amount of MRR

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return share(f.c.retained_net, f.c.start_mrr), f.c.retained_net, f.c.start_mrr


class GrossRevenueRetention(_SubscriptionMetric):
    """Starting MRR kept (expansion left out) ÷ starting MRR."""

    NAME = "gross_revenue_retention"
    title = "Gross revenue retention"
    description = ("(start − contraction − churn) ÷ start: the share of the period's starting "
                   "MRR kept, expansion left out (at most 100 %).")
    unit = "ratio"
    denominator_is_n = False  # an amount of MRR

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return share(f.c.retained_gross, f.c.start_mrr), f.c.retained_gross, f.c.start_mrr


class LogoChurnRate(_SubscriptionMetric):
    """Paying accounts at the period start with no MRR at its end ÷ paying accounts at start."""

    NAME = "logo_churn_rate"
    title = "Logo churn rate"
    description = ("Accounts paying at the period start with no MRR at its end ÷ accounts "
                   "paying at its start.")
    unit = "ratio"
    direction = "lower_is_better"

    def contract(self, f: Any) -> tuple[Any, Any, Any]:
        return (share(f.c.churned_accounts, f.c.start_accounts), f.c.churned_accounts,
                f.c.start_accounts)


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (Mrr, Arr, NewMrr, ExpansionMrr, ContractionMrr,
                                     ChurnedMrr, NetRevenueRetention, GrossRevenueRetention,
                                     LogoChurnRate)
