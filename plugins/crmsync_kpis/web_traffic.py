"""Built-in KPIs: website traffic — sessions, visit-to-lead conversion, traffic growth (see
docs/metrics/web_traffic.md).

Every metric reads the ``web_traffic`` table (one row per day and channel), by the period of
its ``date``. The only breakdown is ``channel`` (the row's own column): traffic has no owner,
team or account. A period without any traffic row has no value — not zero sessions — and a
row whose count is empty is left out of the sums that need it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmsync import Metric, MetricContext
from crmsync_kpis.growth import period_over_period
from crmsync_kpis.results import result, share

__all__ = ["Sessions", "VisitToLeadRate", "TrafficGrowth", "METRICS"]

class _WebTrafficMetric(Metric):
    """Common settings of the web traffic metrics: their one breakdown is ``channel``
    (:data:`crmsync_kpis.dimensions.CHANNEL`), declared for them by the plugin."""

    dimensions = ()
    inputs = ("web_traffic",)


class Sessions(_WebTrafficMetric):
    """Sum of sessions, by the period of the traffic's date."""

    NAME = "sessions"
    title = "Website sessions"
    description = ("Sum of web_traffic sessions dated in the period; no value for a period "
                   "without traffic data.")
    unit = "count"
    direction = "higher_is_better"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        w = ctx.table("web_traffic")
        frm, dim = ctx.dimension_of(w)
        period = ctx.period_start(w.c.date)
        total = sa.func.sum(w.c.sessions)
        return (
            result(value=total, numerator=total, dimension=dim, period=period)
            .select_from(frm)
            .where(ctx.live(w), w.c.date.is_not(None), w.c.sessions.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


class VisitToLeadRate(_WebTrafficMetric):
    """New contacts the website brought ÷ sessions."""

    NAME = "visit_to_lead_rate"
    title = "Visit-to-lead conversion"
    description = ("Sum of web_traffic new_contacts ÷ sum of sessions, over traffic rows dated "
                   "in the period that give both (the analytics tool's own count of contacts "
                   "whose first session came from the channel, not the leads table).")
    unit = "ratio"
    direction = "higher_is_better"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        w = ctx.table("web_traffic")
        frm, dim = ctx.dimension_of(w)
        period = ctx.period_start(w.c.date)
        contacts, sessions = sa.func.sum(w.c.new_contacts), sa.func.sum(w.c.sessions)
        return (
            result(value=share(contacts, sessions), numerator=contacts, denominator=sessions,
                   dimension=dim, period=period)
            .select_from(frm)
            .where(ctx.live(w), w.c.date.is_not(None), w.c.sessions.is_not(None),
                   w.c.new_contacts.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


class TrafficGrowth(_WebTrafficMetric):
    """(sessions − previous period's sessions) ÷ previous period's sessions."""

    NAME = "traffic_growth"
    title = "Traffic growth"
    description = ("Change of sessions against the immediately preceding period, as a share of "
                   "that period's sessions; no value when either period has no traffic data.")
    unit = "ratio"
    direction = "higher_is_better"
    periods = ("day", "week", "month", "quarter", "year")
    denominator_is_n = False  # the previous period's sessions, not this value's population

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return period_over_period(ctx, Sessions().query(ctx).subquery("sessions"))


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (Sessions, VisitToLeadRate, TrafficGrowth)
