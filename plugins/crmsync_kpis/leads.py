"""Lead KPIs: response time and SLA, conversion, follow-up, appointments
(see docs/metrics/leads.md).

Every metric counts live leads with a ``remote_created_at`` in the period of their creation.
A lead's activities are the live activities of its connection linked to the lead
(``activities.lead_id``) or to the contact it was converted into
(``activities.contact_id = leads.converted_contact_id``), occurring at or after the lead's
creation. A *touch* is such an activity that is a call, e-mail or meeting, outbound (meetings
without a direction count too) and not automated.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from crmsync import Metric, MetricContext

__all__ = ["LeadResponseMinutes", "LeadResponseSlaRate", "LeadToOpportunityRate",
           "LeadConversionRate", "FollowUpRate", "AppointmentRate", "METRICS"]

_LEAD_DIMENSIONS = ("owner", "team", "lead_source")


def _linked(ctx: MetricContext, a: sa.FromClause, lead: sa.FromClause) -> ColumnElement[bool]:
    """Live activities of ``lead`` (directly or through its converted contact), not before
    the lead's creation."""
    return sa.and_(
        ctx.live(a), a.c.connection == lead.c.connection,
        sa.or_(a.c.lead_id == lead.c.remote_id,
               sa.and_(lead.c.converted_contact_id.is_not(None),
                       a.c.contact_id == lead.c.converted_contact_id)),
        a.c.occurred_at >= lead.c.remote_created_at)


def _touch(a: sa.FromClause) -> ColumnElement[bool]:
    """Outbound, human calls, e-mails and meetings (meetings may lack a direction)."""
    return sa.and_(
        a.c.type.in_(("call", "email", "meeting")),
        sa.or_(a.c.direction == "outbound",
               sa.and_(a.c.type == "meeting", a.c.direction.is_(None))),
        sa.func.coalesce(a.c.is_automated, sa.false()) == sa.false())


def _leads(ctx: MetricContext, **extra: Any) -> Subquery:
    """Live leads with a creation time, with the dimension columns and ``extra`` columns
    (each built from the ``leads`` table and an ``activities`` alias: ``f(ctx, lead, a)``)."""
    lead = ctx.table("leads")
    cols = []
    for name, build in extra.items():
        a = ctx.table("activities").alias(f"a_{name}")
        cols.append(build(ctx, lead, a).label(name))
    return (
        sa.select(lead.c.connection, lead.c.remote_id, lead.c.owner_id, lead.c.lead_source,
                  lead.c.converted_opportunity_id, lead.c.remote_created_at.label("created_at"),
                  *cols)
        .where(ctx.live(lead), lead.c.remote_created_at.is_not(None))
        .subquery("lead_facts")
    )


def _first_touch(ctx: MetricContext, lead: sa.FromClause, a: sa.FromClause) -> ColumnElement:
    return (sa.select(sa.func.min(a.c.occurred_at)).where(_linked(ctx, a, lead), _touch(a))
            .scalar_subquery())


def _ratio(ctx: MetricContext, facts: Subquery, hit: ColumnElement[bool],
           among: ColumnElement[bool] | None = None) -> Select:
    """``count(hit) / count(among)`` per dimension value and creation period."""
    frm, dim = ctx.dimension_of(facts)
    period = ctx.period_start(facts.c.created_at)
    num = sa.func.sum(sa.case((hit, 1), else_=0))
    den = sa.func.count() if among is None else sa.func.sum(sa.case((among, 1), else_=0))
    return (
        sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                  period.label("period_start"),
                  (num * 1.0 / sa.func.nullif(den, 0)).label("value"),
                  num.label("numerator"), den.label("denominator"))
        .select_from(frm)
        .group_by(*ctx.group_keys(dim, period))
    )


class LeadResponseMinutes(Metric):
    """Median minutes from a lead's creation to its first touch."""

    NAME = "lead_response_minutes"
    title = "Lead response time (median minutes)"
    description = ("Median minutes from a lead's creation to its first outbound, human call, "
                   "e-mail or meeting, over leads created in the period that got one.")
    unit = "minutes"
    direction = "lower_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        f = _leads(ctx, first_touch=_first_touch)
        frm, dim = ctx.dimension_of(f)
        facts = (
            sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                      ctx.period_start(f.c.created_at).label("period_start"),
                      ctx.minutes_between(f.c.created_at, f.c.first_touch).label("x"))
            .select_from(frm)
            .where(f.c.first_touch.is_not(None))
        )
        return ctx.median(facts)


class LeadResponseSlaRate(Metric):
    """Leads touched within ``response_sla_minutes`` ÷ leads created."""

    NAME = "lead_response_sla_rate"
    title = "Lead response within SLA"
    description = ("Leads created in the period whose first outbound, human call, e-mail or "
                   "meeting came within [metrics] response_sla_minutes (default 60) ÷ all "
                   "leads created in the period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        f = _leads(ctx, first_touch=_first_touch)
        sla = float(ctx.option("response_sla_minutes"))
        hit = sa.and_(f.c.first_touch.is_not(None),
                      ctx.minutes_between(f.c.created_at, f.c.first_touch) <= sla)
        return _ratio(ctx, f, hit)


class LeadToOpportunityRate(Metric):
    """Leads converted into an opportunity ÷ leads created."""

    NAME = "lead_to_opportunity_rate"
    title = "Lead-to-opportunity rate"
    description = ("Leads created in the period that have a converted_opportunity_id ÷ all "
                   "leads created in the period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        f = _leads(ctx)
        return _ratio(ctx, f, f.c.converted_opportunity_id.is_not(None))


def _won_opportunity(ctx: MetricContext, lead: sa.FromClause, a: sa.FromClause) -> ColumnElement:
    o = ctx.table("opportunities")
    return (sa.select(o.c.id)
            .where(ctx.live(o), o.c.connection == lead.c.connection,
                   o.c.remote_id == lead.c.converted_opportunity_id, o.c.status == "won")
            .exists())


class LeadConversionRate(Metric):
    """Leads whose converted opportunity is won ÷ leads created."""

    NAME = "lead_conversion_rate"
    title = "Lead conversion rate (to won deal)"
    description = ("Leads created in the period whose converted opportunity is live and won "
                   "÷ all leads created in the period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        f = _leads(ctx, won=_won_opportunity)
        return _ratio(ctx, f, f.c.won)


class FollowUpRate(Metric):
    """Leads with enough touches soon after creation ÷ leads created."""

    NAME = "follow_up_rate"
    title = "Lead follow-up rate"
    description = ("Leads created in the period with at least [metrics] follow_up_touches "
                   "(default 2) outbound, human calls, e-mails or meetings within "
                   "follow_up_days (default 7) of creation ÷ all leads created in the period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        days = float(ctx.option("follow_up_days"))

        def touches(ctx: MetricContext, lead: sa.FromClause, a: sa.FromClause) -> ColumnElement:
            return (sa.select(sa.func.count())
                    .where(_linked(ctx, a, lead), _touch(a),
                           ctx.days_between(lead.c.remote_created_at, a.c.occurred_at) <= days)
                    .scalar_subquery())

        f = _leads(ctx, touches=touches)
        return _ratio(ctx, f, f.c.touches >= int(ctx.option("follow_up_touches")))


def _any_touch(ctx: MetricContext, lead: sa.FromClause, a: sa.FromClause) -> ColumnElement:
    return sa.select(a.c.id).where(_linked(ctx, a, lead), _touch(a)).exists()


def _any_meeting(ctx: MetricContext, lead: sa.FromClause, a: sa.FromClause) -> ColumnElement:
    return sa.select(a.c.id).where(_linked(ctx, a, lead), a.c.type == "meeting").exists()


class AppointmentRate(Metric):
    """Touched leads that got a meeting ÷ touched leads."""

    NAME = "appointment_rate"
    title = "Appointment rate"
    description = ("Leads created in the period with at least one touch that also have a "
                   "meeting (any direction, automated or not) ÷ leads created in the period "
                   "with at least one touch.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> Select:
        f = _leads(ctx, touched=_any_touch, met=_any_meeting)
        return _ratio(ctx, f, sa.and_(f.c.touched, f.c.met), among=f.c.touched)


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (LeadResponseMinutes, LeadResponseSlaRate,
                                     LeadToOpportunityRate, LeadConversionRate, FollowUpRate,
                                     AppointmentRate)
