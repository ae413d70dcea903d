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
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from crmsync import Metric, MetricContext
from crmsync_kpis.lead_accounts import ACCOUNT_DIMENSIONS, lead_account
from crmsync_kpis.results import observations, result, share

__all__ = ["lead_activities", "LeadResponseMinutes", "LeadResponseSlaRate", "LeadToOpportunityRate",
           "LeadConversionRate", "FollowUpRate", "AppointmentRate", "METRICS"]

#: The account dimensions reach the lead's account (:mod:`crmsync_kpis.lead_accounts`).
_LEAD_DIMENSIONS = ("owner", "team", "lead_source", *ACCOUNT_DIMENSIONS)


def _touch(a: sa.FromClause) -> ColumnElement[bool]:
    """Outbound, human calls, e-mails and meetings (meetings may lack a direction)."""
    return sa.and_(
        a.c.type.in_(("call", "email", "meeting")),
        sa.or_(a.c.direction == "outbound",
               sa.and_(a.c.type == "meeting", a.c.direction.is_(None))),
        sa.func.coalesce(a.c.is_automated, sa.false()) == sa.false())


def lead_activities(ctx: MetricContext) -> Subquery:
    """One row per live lead and live activity linked to it, directly (``lead_id``) or
    through its converted contact; keep ``occurred_at >= created_at`` for activities at or
    after the lead's creation.

    Two joins glued with ``UNION ALL`` rather than one ``lead_id = … OR contact_id = …``
    condition: each side uses its index, where the ``OR`` made every lead scan the activities
    table. An activity linked both ways counts once (the contact side skips it).
    """
    lead = ctx.table("leads").alias("l")
    a = ctx.table("activities").alias("act")
    cols = (lead.c.connection, lead.c.remote_id.label("lead_id"),
            lead.c.remote_created_at.label("created_at"), a.c.occurred_at, a.c.type,
            a.c.direction, a.c.is_automated)
    # "not before the lead's creation" is applied by the callers on the union's columns: as a
    # join condition it made SQLite range-scan leads by creation time instead of using the
    # equality index on converted_contact_id.
    common = sa.and_(ctx.live(lead), ctx.live(a))
    direct = (sa.select(*cols)
              .select_from(lead.join(a, sa.and_(a.c.connection == lead.c.connection,
                                                a.c.lead_id == lead.c.remote_id)))
              .where(common))
    via_contact = (sa.select(*cols)
                   .select_from(lead.join(a, sa.and_(
                       a.c.connection == lead.c.connection,
                       a.c.contact_id == lead.c.converted_contact_id)))
                   .where(common, lead.c.converted_contact_id.is_not(None),
                          sa.or_(a.c.lead_id.is_(None), a.c.lead_id != lead.c.remote_id)))
    return sa.union_all(direct, via_contact).subquery("lead_activity")


def _leads(ctx: MetricContext) -> sa.FromClause:
    """Live leads with a creation time, their dimension columns and, from one pass over their
    activities: ``first_touch``, ``early_touches`` (touches within ``follow_up_days``),
    ``touched`` and ``met`` (1 when any touch / any meeting), ``account_id`` (the lead's
    account, :mod:`crmsync_kpis.lead_accounts`), ``won`` (the converted
    opportunity is live and won) and ``tracked`` (1 when the lead's connection syncs activities
    at all: without them a lead is not "never touched", its touches are unknown)."""
    lead = ctx.table("leads")
    la = lead_activities(ctx)
    touch = _touch(la)
    days = float(ctx.option("follow_up_days"))
    per_lead = (
        sa.select(
            la.c.connection, la.c.lead_id,
            sa.func.min(sa.case((touch, la.c.occurred_at))).label("first_touch"),
            sa.func.sum(sa.case((sa.and_(touch, ctx.days_between(la.c.created_at,
                                                                 la.c.occurred_at) <= days),
                                 1), else_=0)).label("early_touches"),
            sa.func.max(sa.case((touch, 1), else_=0)).label("touched"),
            sa.func.max(sa.case((la.c.type == "meeting", 1), else_=0)).label("met"))
        .where(la.c.occurred_at >= la.c.created_at)
        .group_by(la.c.connection, la.c.lead_id)
        .subquery("per_lead"))
    o = ctx.table("opportunities")
    won = (sa.select(o.c.id)
           .where(ctx.live(o), o.c.connection == lead.c.connection,
                  o.c.remote_id == lead.c.converted_opportunity_id, o.c.status == "won")
           .exists())
    with_account, account_id = lead_account(ctx, lead)
    facts = (
        sa.select(lead.c.connection, lead.c.remote_id, lead.c.owner_id, lead.c.lead_source,
                  account_id.label("account_id"),
                  lead.c.converted_opportunity_id, lead.c.remote_created_at.label("created_at"),
                  per_lead.c.first_touch,
                  sa.func.coalesce(per_lead.c.early_touches, 0).label("early_touches"),
                  sa.func.coalesce(per_lead.c.touched, 0).label("touched"),
                  sa.func.coalesce(per_lead.c.met, 0).label("met"),
                  sa.case((won, 1), else_=0).label("won"),
                  sa.case((ctx.has_data("activities", lead), 1), else_=0).label("tracked"))
        .select_from(with_account.outerjoin(per_lead, sa.and_(
            per_lead.c.connection == lead.c.connection,
            per_lead.c.lead_id == lead.c.remote_id)))
        .where(ctx.live(lead), lead.c.remote_created_at.is_not(None))
    )
    # the six lead metrics of a run read these facts once (a temporary table), not six times
    return ctx.shared("lead_facts", facts).alias("lead_facts")


def _ratio(ctx: MetricContext, facts: sa.FromClause, hit: ColumnElement[bool],
           among: ColumnElement[bool] | None = None) -> sa.Select[Any]:
    """``count(hit) / count(among)`` per dimension value and creation period."""
    frm, dim = ctx.dimension_of(facts)
    period = ctx.period_start(facts.c.created_at)
    num = sa.func.sum(sa.case((hit, 1), else_=0))
    den: ColumnElement[Any] = (sa.func.count() if among is None
                               else sa.func.sum(sa.case((among, 1), else_=0)))
    return (
        result(value=share(num, den), numerator=num, denominator=den, dimension=dim,
               period=period)
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

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _leads(ctx)
        frm, dim = ctx.dimension_of(f)
        facts = (
            observations(ctx.response_minutes(f.c.created_at, f.c.first_touch),
                         dimension=dim, period=ctx.period_start(f.c.created_at))
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
                   "leads created in the period; leads of a connection that syncs no "
                   "activities are left out.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS
    #: 2: no value without activity data (version 1: every lead missed the SLA).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _leads(ctx)
        sla = float(ctx.option("response_sla_minutes"))
        hit = sa.and_(f.c.first_touch.is_not(None),
                      ctx.response_minutes(f.c.created_at, f.c.first_touch) <= sla)
        return _ratio(ctx, f, hit, among=f.c.tracked == 1)


class LeadToOpportunityRate(Metric):
    """Leads converted into an opportunity ÷ leads created."""

    NAME = "lead_to_opportunity_rate"
    title = "Lead-to-opportunity rate"
    description = ("Leads created in the period that have a converted_opportunity_id ÷ all "
                   "leads created in the period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _leads(ctx)
        return _ratio(ctx, f, f.c.converted_opportunity_id.is_not(None))


class LeadConversionRate(Metric):
    """Leads whose converted opportunity is won ÷ leads created."""

    NAME = "lead_conversion_rate"
    title = "Lead conversion rate (to won deal)"
    description = ("Leads created in the period whose converted opportunity is live and won "
                   "÷ all leads created in the period.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _leads(ctx)
        return _ratio(ctx, f, f.c.won == 1)


class FollowUpRate(Metric):
    """Leads with enough touches soon after creation ÷ leads created."""

    NAME = "follow_up_rate"
    title = "Lead follow-up rate"
    description = ("Leads created in the period with at least [metrics] follow_up_touches "
                   "(default 2) outbound, human calls, e-mails or meetings within "
                   "follow_up_days (default 7) of creation ÷ all leads created in the period; "
                   "leads of a connection that syncs no activities are left out.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _LEAD_DIMENSIONS
    #: 2: no value without activity data (version 1: 0 %).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _leads(ctx)
        return _ratio(ctx, f, f.c.early_touches >= int(ctx.option("follow_up_touches")),
                      among=f.c.tracked == 1)


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

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        f = _leads(ctx)
        return _ratio(ctx, f, sa.and_(f.c.touched == 1, f.c.met == 1), among=f.c.touched == 1)


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (LeadResponseMinutes, LeadResponseSlaRate,
                                     LeadToOpportunityRate, LeadConversionRate, FollowUpRate,
                                     AppointmentRate)
