"""Built-in KPIs: records (see docs/metrics/records.md).

Record-level metrics: one value per live record (``subject_id`` = the record's ``remote_id``),
period ``all``, no dimension. These are the values ``[[writeback]]`` will send to CRM custom
fields. Durations and windows are measured up to ``ctx.as_of`` (``ctx.now()``); activities
after it are ignored. Record states (status, stage, amount) are the store's current ones.

Every query reads the fact tables once, grouped per parent record, and left-joins the groups
onto the subject table (no per-row correlated scans of the million-row ``activities`` table).
A count or sum is 0 only when the record's connection syncs the counted table at all: without
activities (or deals) synced there is no value (``MetricContext.has_data``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync import Metric, MetricContext
from crmsync_kpis.results import result_columns

__all__ = [
    "OpportunityAgeDays", "DaysInCurrentStage", "ActivitiesLast30d",
    "OpportunityDaysSinceLastActivity", "AccountWonRevenue", "AccountWinRate",
    "AccountOpenPipeline", "AccountDaysSinceLastActivity", "ResponseMinutes", "Touches",
    "METRICS",
]

#: Activity types that count as a touch of a lead.
TOUCH_TYPES = ("call", "email", "meeting")
#: The window of ``activities_last_30d``.
RECENT_DAYS = 30


def _at(value: dt.datetime) -> ColumnElement[dt.datetime]:
    return sa.literal(value, sa.DateTime())


def _human(a: Any) -> ColumnElement[bool]:
    """Activities a person did (``is_automated`` false or unknown)."""
    return sa.or_(a.c.is_automated.is_(None), a.c.is_automated == sa.false())


def _outbound_touch(a: Any) -> ColumnElement[bool]:
    """A human call, e-mail or meeting towards the customer. Meetings carry no direction in
    most CRMs: a meeting counts unless it is marked inbound."""
    return sa.and_(
        _human(a), a.c.type.in_(TOUCH_TYPES),
        sa.or_(a.c.direction == "outbound",
               sa.and_(a.c.type == "meeting", a.c.direction.is_(None))))


def _row(subject: Any, value: Any, numerator: Any = None,
         denominator: Any = None) -> list[sa.Label[Any]]:
    """The contract columns of one record's value (no dimension, period ``all``)."""
    return result_columns(value=value, numerator=numerator, denominator=denominator,
                          subject=subject)


class _RecordMetric(Metric):
    periods = ("all",)
    dimensions = ()
    version = 1


# -- opportunities ---------------------------------------------------------------------------

def _opportunity_activity(ctx: MetricContext) -> Any:
    """Per (connection, opportunity): last human activity up to as_of and the number of
    human activities in the (as_of − 30 days, as_of] window."""
    a = ctx.table("activities")
    now, since = _at(ctx.as_of), _at(ctx.as_of - dt.timedelta(days=RECENT_DAYS))
    return (
        sa.select(a.c.connection, a.c.opportunity_id.label("ref"),
                  sa.func.max(a.c.occurred_at).label("last_at"),
                  sa.func.sum(sa.case((a.c.occurred_at > since, 1), else_=0)).label("recent"))
        .where(ctx.live(a), _human(a), a.c.opportunity_id.is_not(None),
               a.c.occurred_at <= now)
        .group_by(a.c.connection, a.c.opportunity_id)
        .subquery("opp_acts")
    )


class OpportunityAgeDays(_RecordMetric):
    """Days from a deal's creation to as_of (open) or to its close (won/lost)."""

    NAME = "opportunity_age_days"
    title = "Deal age (days)"
    description = ("Per deal: days from its creation to now for open deals, to its close "
                   "(closed_at) for won and lost deals.")
    unit = "days"
    direction = "lower_is_better"
    subject = "opportunity"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        end = sa.case((o.c.status == "open", ctx.now()),
                      else_=o.c.closed_at)
        return sa.select(*_row(o.c.remote_id, ctx.days_between(o.c.remote_created_at, end))
                         ).where(ctx.live(o))


class DaysInCurrentStage(_RecordMetric):
    """Days since the deal entered the stage it is in (the open stage-history visit)."""

    NAME = "days_in_current_stage"
    title = "Days in current stage"
    description = ("Per deal: days from entered_at of its open stage-history visit (exited_at "
                   "empty) to now; empty when the history has no open visit.")
    unit = "days"
    direction = "lower_is_better"
    subject = "opportunity"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        h = ctx.table("opportunity_stage_history")
        visits = (
            sa.select(h.c.connection, h.c.opportunity_id.label("ref"),
                      sa.func.max(h.c.entered_at).label("entered_at"))
            .where(ctx.live(h), h.c.exited_at.is_(None), h.c.entered_at <= ctx.now())
            .group_by(h.c.connection, h.c.opportunity_id)
            .subquery("open_visit")
        )
        frm = o.outerjoin(visits, sa.and_(visits.c.connection == o.c.connection,
                                          visits.c.ref == o.c.remote_id))
        return (sa.select(*_row(o.c.remote_id,
                                ctx.days_between(visits.c.entered_at, ctx.now())))
                .select_from(frm).where(ctx.live(o)))


class ActivitiesLast30d(_RecordMetric):
    """Human activities linked to the deal in the last 30 days."""

    NAME = "activities_last_30d"
    title = "Activities, last 30 days"
    description = ("Per deal: non-automated activities linked to it (opportunity_id) that "
                   "occurred in the 30 days up to now; 0 when none, empty when its connection "
                   "syncs no activities.")
    unit = "count"
    direction = "higher_is_better"
    subject = "opportunity"
    #: 2: empty without activity data (version 1: 0).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        acts = _opportunity_activity(ctx)
        frm = o.outerjoin(acts, sa.and_(acts.c.connection == o.c.connection,
                                        acts.c.ref == o.c.remote_id))
        none = sa.case((ctx.has_data("activities", o), 0), else_=None)
        return (sa.select(*_row(o.c.remote_id, sa.func.coalesce(acts.c.recent, none)))
                .select_from(frm).where(ctx.live(o)))


class OpportunityDaysSinceLastActivity(_RecordMetric):
    """Days from the deal's last human activity to now."""

    NAME = "opportunity_days_since_last_activity"
    title = "Days since the deal's last activity"
    description = ("Per deal: days from the latest non-automated activity linked to it "
                   "(opportunity_id) to now; empty when it has none.")
    unit = "days"
    direction = "lower_is_better"
    subject = "opportunity"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        acts = _opportunity_activity(ctx)
        frm = o.outerjoin(acts, sa.and_(acts.c.connection == o.c.connection,
                                        acts.c.ref == o.c.remote_id))
        return (sa.select(*_row(o.c.remote_id, ctx.days_between(acts.c.last_at, ctx.now())))
                .select_from(frm).where(ctx.live(o)))


# -- accounts ----------------------------------------------------------------------------------

def _account_deals(ctx: MetricContext) -> Any:
    """Per (connection, account): won revenue at the close-date rate, won, closed and open
    counts, open pipeline at the latest rate."""
    o = ctx.table("opportunities")
    won = sa.and_(o.c.status == "won", o.c.closed_at.is_not(None))
    closed = sa.and_(o.c.status.in_(("won", "lost")), o.c.closed_at.is_not(None))
    return (
        sa.select(
            o.c.connection, o.c.account_id.label("ref"),
            sa.func.sum(sa.case((won, ctx.amount_in_base(o, o.c.closed_at)))).label("won_rev"),
            sa.func.sum(sa.case((won, 1), else_=0)).label("won"),
            sa.func.sum(sa.case((closed, 1), else_=0)).label("closed"),
            sa.func.sum(sa.case((o.c.status == "open", 1), else_=0)).label("open"),
            sa.func.sum(sa.case((o.c.status == "open", ctx.amount_in_base(o)))).label("pipe"))
        .where(ctx.live(o), o.c.account_id.is_not(None))
        .group_by(o.c.connection, o.c.account_id)
        .subquery("acct_deals")
    )


def _sum_or_zero(ctx: MetricContext, acc: Any, total: Any, count: Any) -> Any:
    """``total`` of an account's deals: 0 when it has none (``count`` 0 or no group) in a
    connection that syncs deals; ``NULL`` when its connection syncs no deals, or when its deals'
    amounts are all unknown (no rate) — never 0 for an unknown sum."""
    none = sa.case((ctx.has_data("opportunities", acc), 0.0), else_=None)
    return sa.case((sa.func.coalesce(count, 0) == 0, none), else_=total)


def _account_join(ctx: MetricContext, sub: Any) -> tuple[Any, Any]:
    acc = ctx.table("accounts")
    return acc, acc.outerjoin(sub, sa.and_(sub.c.connection == acc.c.connection,
                                           sub.c.ref == acc.c.remote_id))


class AccountWonRevenue(_RecordMetric):
    """Σ base-currency amount of the account's won deals, at the close-date rate."""

    NAME = "account_won_revenue"
    title = "Account won revenue"
    description = ("Per account: sum of the amounts (base currency, converted at the "
                   "close-date rate) of its won deals; 0 when none, empty when no won amount "
                   "can be converted or its connection syncs no deals.")
    unit = "currency"
    direction = "higher_is_better"
    subject = "account"
    #: 2: empty, not 0, for unknown amounts or no deal data.
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        acc, frm = _account_join(ctx, d := _account_deals(ctx))
        return (sa.select(*_row(acc.c.remote_id, _sum_or_zero(ctx, acc, d.c.won_rev, d.c.won)))
                .select_from(frm).where(ctx.live(acc)))


class AccountWinRate(_RecordMetric):
    """won ÷ closed deals of the account."""

    NAME = "account_win_rate"
    title = "Account win rate"
    description = ("Per account: its won deals ÷ its closed (won + lost) deals; empty when "
                   "it has no closed deal.")
    unit = "ratio"
    direction = "higher_is_better"
    subject = "account"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        acc, frm = _account_join(ctx, d := _account_deals(ctx))
        won, closed = sa.func.coalesce(d.c.won, 0), sa.func.coalesce(d.c.closed, 0)
        return (sa.select(*_row(acc.c.remote_id, won * 1.0 / sa.func.nullif(closed, 0),
                                won, closed))
                .select_from(frm).where(ctx.live(acc)))


class AccountOpenPipeline(_RecordMetric):
    """Σ base-currency amount of the account's open deals, at the latest rate."""

    NAME = "account_open_pipeline"
    title = "Account open pipeline"
    description = ("Per account: sum of the amounts (base currency, latest rate) of its open "
                   "deals; 0 when none, empty when no open amount can be converted or its "
                   "connection syncs no deals.")
    unit = "currency"
    direction = "higher_is_better"
    subject = "account"
    #: 2: empty, not 0, for unknown amounts or no deal data.
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        acc, frm = _account_join(ctx, d := _account_deals(ctx))
        return (sa.select(*_row(acc.c.remote_id, _sum_or_zero(ctx, acc, d.c.pipe, d.c.open)))
                .select_from(frm).where(ctx.live(acc)))


class AccountDaysSinceLastActivity(_RecordMetric):
    """Days from the account's last human activity to now."""

    NAME = "account_days_since_last_activity"
    title = "Days since the account's last activity"
    description = ("Per account: days from the latest non-automated activity linked to it "
                   "(account_id) to now; empty when it has none.")
    unit = "days"
    direction = "lower_is_better"
    subject = "account"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        a = ctx.table("activities")
        last = (
            sa.select(a.c.connection, a.c.account_id.label("ref"),
                      sa.func.max(a.c.occurred_at).label("last_at"))
            .where(ctx.live(a), _human(a), a.c.account_id.is_not(None),
                   a.c.occurred_at <= ctx.now())
            .group_by(a.c.connection, a.c.account_id)
            .subquery("acct_acts")
        )
        acc, frm = _account_join(ctx, last)
        return (sa.select(*_row(acc.c.remote_id, ctx.days_between(last.c.last_at, ctx.now())))
                .select_from(frm).where(ctx.live(acc)))


# -- leads -------------------------------------------------------------------------------------

def _lead_touches(ctx: MetricContext) -> Any:
    """Per lead (its surrogate ``id``): first touch time and number of touches. A touch is a
    human outbound call/e-mail/meeting linked to the lead (lead_id) or to the contact it was
    converted to (contact_id), at or after the lead's creation and up to as_of. An activity
    linked both ways counts once (UNION of (lead, activity) pairs)."""
    a = ctx.table("activities")
    ld = ctx.table("leads").alias("touched_lead")
    common = [ctx.live(ld), ctx.live(a), _outbound_touch(a), a.c.occurred_at <= ctx.now(),
              sa.or_(ld.c.remote_created_at.is_(None),
                     a.c.occurred_at >= ld.c.remote_created_at)]

    def pairs(link: ColumnElement[bool]) -> sa.Select[Any]:
        return (sa.select(ld.c.id.label("lead_pk"), a.c.id.label("activity_pk"),
                          a.c.occurred_at)
                .select_from(ld.join(a, sa.and_(a.c.connection == ld.c.connection, link)))
                .where(*common))

    both = sa.union(
        pairs(a.c.lead_id == ld.c.remote_id),
        pairs(sa.and_(ld.c.converted_contact_id.is_not(None),
                      a.c.contact_id == ld.c.converted_contact_id)),
    ).subquery("touch_pairs")
    per_lead = (sa.select(both.c.lead_pk, sa.func.min(both.c.occurred_at).label("first_at"),
                          sa.func.count().label("touches"))
                .group_by(both.c.lead_pk))
    # response_minutes and touches of one run build this once (a temporary table)
    return ctx.shared("lead_touches", per_lead).alias("lead_touches")


class ResponseMinutes(_RecordMetric):
    """Minutes from a lead's creation to its first human outbound touch."""

    NAME = "response_minutes"
    title = "Lead response time (minutes)"
    description = ("Per lead: minutes from its creation to its first non-automated outbound "
                   "call, e-mail or meeting linked to it or its converted contact; empty "
                   "while it has none.")
    unit = "minutes"
    direction = "lower_is_better"
    subject = "lead"

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        ld = ctx.table("leads")
        t = _lead_touches(ctx)
        return (sa.select(*_row(ld.c.remote_id,
                                ctx.response_minutes(ld.c.remote_created_at, t.c.first_at)))
                .select_from(ld.outerjoin(t, t.c.lead_pk == ld.c.id)).where(ctx.live(ld)))


class Touches(_RecordMetric):
    """Human outbound touches of a lead (or its converted contact)."""

    NAME = "touches"
    title = "Touches"
    description = ("Per lead: non-automated outbound calls, e-mails and meetings linked to it "
                   "or its converted contact since its creation; 0 when none, empty when its "
                   "connection syncs no activities.")
    unit = "count"
    direction = "higher_is_better"
    subject = "lead"
    #: 2: empty without activity data (version 1: 0).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        ld = ctx.table("leads")
        t = _lead_touches(ctx)
        none = sa.case((ctx.has_data("activities", ld), 0), else_=None)
        return (sa.select(*_row(ld.c.remote_id, sa.func.coalesce(t.c.touches, none)))
                .select_from(ld.outerjoin(t, t.c.lead_pk == ld.c.id)).where(ctx.live(ld)))


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (
    OpportunityAgeDays, DaysInCurrentStage, ActivitiesLast30d,
    OpportunityDaysSinceLastActivity, AccountWonRevenue, AccountWinRate, AccountOpenPipeline,
    AccountDaysSinceLastActivity, ResponseMinutes, Touches,
)
