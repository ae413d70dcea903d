"""Customer acquisition: the new customers, where each came from, and the spend that brought
them — the facts of ``cac`` and ``ltv_to_cac`` (docs/metrics/customers.md, "Acquisition").

A *new customer* is an account (``connection``, ``account_id``) counted in the period of its
first live won deal (ties: the lowest ``remote_id``). Its **channel** is, first found:

1. the ``channel`` of the deal's primary campaign (``opportunities.campaign_id`` → the
   ``spend`` row of that campaign, same connection: Salesforce's Campaign ``Type``);
2. the deal's ``lead_source``;
3. the ``lead_source`` of the lead converted into that deal (``leads.converted_opportunity_id``).

Its **segment** is its account's ``segment``. Spend rows carry their own ``channel`` and
``segment``; spend without one is grouped under the empty value, as are customers without one.
Amounts of spend are converted to the base currency at the rate valid on the spend's
``period_start`` (no rate: no amount, never 1:1).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from crmsync import MetricContext
from crmsync_kpis.dimensions import CHANNEL
from crmsync_kpis.results import result

__all__ = ["CHANNEL", "BY", "won", "new_customers", "acquisition_facts", "attributed_ltv"]

#: The breakdowns the acquisition facts carry, besides the organisation.
BY = ("channel", "segment")


def won(ctx: MetricContext, o: Any) -> ColumnElement[bool]:
    """Live won deals with a close time and an account."""
    return sa.and_(ctx.live(o), o.c.status == "won", o.c.closed_at.is_not(None),
                   o.c.account_id.is_not(None))


def _first_wins(ctx: MetricContext) -> Subquery:
    """Each account's first won deal."""
    o = ctx.table("opportunities")
    rank = sa.func.row_number().over(partition_by=(o.c.connection, o.c.account_id),
                                     order_by=(o.c.closed_at, o.c.remote_id))
    ranked = (sa.select(o.c.connection, o.c.account_id, o.c.remote_id, o.c.closed_at,
                        o.c.campaign_id, o.c.lead_source, rank.label("n"))
              .where(won(ctx, o)).subquery("ranked"))
    return (sa.select(*(c for c in ranked.c if c.name != "n"))
            .where(ranked.c.n == 1).subquery("first_wins"))


def new_customers(ctx: MetricContext) -> Subquery:
    """One row per customer: ``connection``, ``account_id``, ``first_won``, ``channel`` and
    ``segment`` (module doc)."""
    f = _first_wins(ctx)
    s = ctx.table("spend").alias("campaign")
    lead = ctx.table("leads").alias("origin")
    a = ctx.table("accounts").alias("customer")
    campaign = (sa.select(s.c.channel)
                .where(s.c.connection == f.c.connection, s.c.remote_id == f.c.campaign_id,
                       ctx.live(s))
                .limit(1).scalar_subquery())
    converted = (sa.select(lead.c.lead_source)
                 .where(lead.c.connection == f.c.connection,
                        lead.c.converted_opportunity_id == f.c.remote_id, ctx.live(lead),
                        lead.c.lead_source.is_not(None))
                 .order_by(lead.c.remote_id).limit(1).scalar_subquery())
    segment = (sa.select(a.c.segment)
               .where(a.c.connection == f.c.connection, a.c.remote_id == f.c.account_id,
                      ctx.live(a))
               .limit(1).scalar_subquery())
    return sa.select(f.c.connection, f.c.account_id, f.c.closed_at.label("first_won"),
                     sa.func.coalesce(campaign, f.c.lead_source, converted).label("channel"),
                     segment.label("segment")).subquery("new_customers")


def acquisition_facts(ctx: MetricContext) -> Subquery:
    """Spend and new customers per period, one row each: ``p`` (period start), ``spend``
    (base currency; NULL on a customer's row, so a period without spend rows sums to NULL,
    never 0), ``new`` (1 on a customer's row), ``channel`` and ``segment``."""
    s = ctx.table("spend")
    rows = (sa.select(s.c.connection, s.c.currency, s.c.amount,
                      sa.cast(sa.null(), sa.Float).label("amount_base"), s.c.period_start,
                      s.c.channel, s.c.segment)
            .where(ctx.live(s)).subquery("spend_rows"))
    c = new_customers(ctx)
    return sa.union_all(
        sa.select(ctx.period_start(rows.c.period_start).label("p"),
                  ctx.amount_in_base(rows, rows.c.period_start).label("spend"),
                  sa.literal(0, sa.Integer).label("new"), rows.c.channel, rows.c.segment),
        sa.select(ctx.period_start(c.c.first_won).label("p"),
                  sa.cast(sa.null(), sa.Float).label("spend"),
                  sa.literal(1, sa.Integer).label("new"), c.c.channel, c.c.segment),
    ).subquery("acquisition")


def attributed_ltv(ctx: MetricContext) -> sa.Select[Any]:
    """customer_lifetime_value by the customers' acquisition ``channel`` or ``segment``
    (``ctx.dimension``): won revenue up to each period's end ÷ the customers it came from,
    grouped by how each customer was acquired. Contract columns."""
    o = ctx.table("opportunities")
    c = new_customers(ctx)
    wins = (sa.select(o.c.connection, o.c.account_id,
                      ctx.amount_in_base(o, o.c.closed_at).label("amount"),
                      ctx.period_start(o.c.closed_at).label("won_period"))
            .where(won(ctx, o)).subquery("wins"))
    frm = wins.join(c, sa.and_(c.c.connection == wins.c.connection,
                               c.c.account_id == wins.c.account_id))
    dim = c.c[str(ctx.dimension)]
    customer = wins.c.connection + sa.literal("\x1f") + wins.c.account_id
    total = sa.func.sum(wins.c.amount)
    customers = sa.func.count(sa.distinct(sa.case((wins.c.amount.is_not(None), customer))))
    period: Any = sa.null()
    if ctx.period != "all":
        periods = sa.select(wins.c.won_period.label("p")).distinct().subquery("periods")
        frm = frm.join(periods, wins.c.won_period <= periods.c.p)
        period = periods.c.p
    return (result(value=total / sa.func.nullif(customers, 0), numerator=total,
                   denominator=customers, dimension=dim, period=period)
            .select_from(frm).group_by(*ctx.group_keys(dim, period)))
