"""Built-in KPIs: activity (see docs/metrics/activity.md).

Only activities a person did count: automated ones (``is_automated``, e.g. sequence emails) and
deleted ones never do. An activity belongs to the period of its ``occurred_at`` and to its
``owner_id`` (dimensions ``owner`` and ``team``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync import Metric, MetricContext
from crmsync_kpis.results import result, share

__all__ = ["Calls", "Emails", "Meetings", "Tasks", "CallConnectRate",
           "ActivitiesPerOpportunity", "DaysSinceLastActivity", "METRICS"]

#: The account dimensions reach an activity's account (``activities.account_id``).
_ACCOUNT_DIMENSIONS = ("segment", "region", "territory", "industry")
_ACTIVITY_DIMENSIONS = ("owner", "team", *_ACCOUNT_DIMENSIONS)
_DEAL_DIMENSIONS = ("owner", "team", "pipeline", "deal_type", "lead_source", "segment",
                    "region", "industry", "territory")


def _manual(ctx: MetricContext, a: sa.FromClause) -> ColumnElement[bool]:
    """Live activities done by a person (``is_automated`` false or unknown)."""
    return sa.and_(ctx.live(a), sa.func.coalesce(a.c.is_automated, sa.false()) == sa.false())


def _activity_counts(ctx: MetricContext) -> sa.FromClause:
    """Manual activities counted per connection, owner, period, type, direction and
    connected flag (and account, when the run breaks down by an account dimension): one scan
    of the activities that the count metrics and the connect rate of a run share
    (``ctx.shared``)."""
    a = ctx.table("activities")
    by_account = [a.c.account_id] if ctx.dimension in _ACCOUNT_DIMENSIONS else []
    period = ctx.period_start(a.c.occurred_at)
    outcome = sa.func.lower(sa.func.trim(a.c.outcome))
    connected = sa.case((outcome == "connected", 1), else_=0)
    # a call without an outcome is unknown, not "not connected" (docs/metrics/activity.md)
    known = sa.case((sa.func.coalesce(outcome, "") != "", 1), else_=0)
    facts = (
        sa.select(a.c.connection, a.c.owner_id, *by_account, period.label("period_start"),
                  a.c.type,
                  a.c.direction, connected.label("connected"), known.label("known"),
                  sa.func.count().label("n"))
        .where(_manual(ctx, a), a.c.occurred_at.is_not(None))
        .group_by(a.c.connection, a.c.owner_id, *by_account, *ctx.group_keys(period), a.c.type,
                  a.c.direction, connected, known)
    )
    return ctx.shared("activity_counts", facts).alias("counts")


class _ActivityCount(Metric):
    """Count of non-automated activities of one type, by ``occurred_at`` period."""

    unit = "count"
    direction = "higher_is_better"
    dimensions = _ACTIVITY_DIMENSIONS
    #: The activity ``type`` counted.
    activity_type: ClassVar[str] = ""
    #: When set, only activities with this ``direction`` count.
    only_direction: ClassVar[str | None] = None

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        c = _activity_counts(ctx)
        frm, dim = ctx.dimension_of(c)
        count = sa.func.sum(c.c.n)
        conditions = [c.c.type == self.activity_type]
        if self.only_direction is not None:
            conditions.append(c.c.direction == self.only_direction)
        return (
            result(value=count, numerator=count, dimension=dim, period=c.c.period_start)
            .select_from(frm)
            .where(*conditions)
            .group_by(*ctx.group_keys(dim), c.c.period_start)
        )


class Calls(_ActivityCount):
    """Non-automated calls (either direction)."""

    NAME = "calls"
    title = "Calls"
    description = "Number of non-automated calls (inbound and outbound), by occurred_at period."
    activity_type = "call"


class Emails(_ActivityCount):
    """Non-automated outbound emails."""

    NAME = "emails"
    title = "Emails sent"
    description = "Number of non-automated outbound emails, by occurred_at period."
    activity_type = "email"
    only_direction = "outbound"


class Meetings(_ActivityCount):
    """Non-automated meetings."""

    NAME = "meetings"
    title = "Meetings"
    description = "Number of non-automated meetings, by occurred_at period."
    activity_type = "meeting"


class Tasks(_ActivityCount):
    """Non-automated tasks."""

    NAME = "tasks"
    title = "Tasks"
    description = "Number of non-automated tasks, by occurred_at period."
    activity_type = "task"


class CallConnectRate(Metric):
    """Connected calls ÷ calls with an outcome; connected = outcome ``connected`` (any case)."""

    NAME = "call_connect_rate"
    title = "Call connect rate"
    description = ("Non-automated calls whose outcome is 'connected' (case-insensitive) ÷ "
                   "non-automated calls with an outcome recorded, by occurred_at period; no "
                   "value when no call has an outcome.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _ACTIVITY_DIMENSIONS
    #: 2: calls without an outcome are left out (version 1 counted them as not connected).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        c = _activity_counts(ctx)
        frm, dim = ctx.dimension_of(c)
        connected = sa.func.sum(c.c.n * c.c.connected)
        calls = sa.func.sum(c.c.n * c.c.known)
        return (
            result(value=share(connected, calls), numerator=connected, denominator=calls,
                   dimension=dim, period=c.c.period_start)
            .select_from(frm)
            .where(c.c.type == "call")
            .group_by(*ctx.group_keys(dim), c.c.period_start)
        )


class ActivitiesPerOpportunity(Metric):
    """Activities logged on deals closed in the period ÷ those deals."""

    NAME = "activities_per_opportunity"
    title = "Activities per closed deal"
    description = ("Non-automated activities linked to a deal and done up to its close, over "
                   "deals closed (won or lost) in the period ÷ those deals; deals of a "
                   "connection that syncs no activities are left out.")
    unit = "count"
    direction = "lower_is_better"
    dimensions = _DEAL_DIMENSIONS
    #: 2: no value without activity data (version 1: 0 activities per deal).
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        a = ctx.table("activities").alias("act")
        frm, dim = ctx.dimension_of(o)
        period = ctx.period_start(o.c.closed_at)
        per_deal = (
            sa.select(sa.func.count())
            .select_from(a)
            .where(_manual(ctx, a), a.c.connection == o.c.connection,
                   a.c.opportunity_id == o.c.remote_id, a.c.occurred_at <= o.c.closed_at)
            .scalar_subquery()
        )
        known = sa.case((ctx.has_data("activities", o), per_deal), else_=None)
        total = sa.func.sum(known)
        deals = sa.func.count(known)
        return (
            result(value=share(total, deals), numerator=total, denominator=deals,
                   dimension=dim, period=period)
            .select_from(frm)
            .where(ctx.live(o), o.c.status.in_(("won", "lost")), o.c.closed_at.is_not(None))
            .group_by(*ctx.group_keys(dim, period))
        )


class DaysSinceLastActivity(Metric):
    """Days from the latest non-automated activity (up to ``as_of``) to ``as_of``."""

    NAME = "days_since_last_activity"
    title = "Days since last activity"
    description = ("Days from the most recent non-automated activity that has happened (up to "
                   "now) to now, per owner or team; period 'all' only.")
    unit = "days"
    direction = "lower_is_better"
    dimensions = _ACTIVITY_DIMENSIONS
    periods = ("all",)

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        a = ctx.table("activities")
        frm, dim = ctx.dimension_of(a)
        last = sa.func.max(a.c.occurred_at)
        return (
            result(value=ctx.days_between(last, ctx.now()), denominator=sa.func.count(),
                   dimension=dim)
            .select_from(frm)
            .where(_manual(ctx, a), a.c.occurred_at.is_not(None),
                   a.c.occurred_at <= ctx.now())
            .group_by(*ctx.group_keys(dim))
        )


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (Calls, Emails, Meetings, Tasks, CallConnectRate,
                                     ActivitiesPerOpportunity, DaysSinceLastActivity)
