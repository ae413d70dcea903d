"""Stage KPIs: stage conversion, time in stage, deal slippage (see docs/metrics/stages.md).

Per-stage metrics have the stage as their subject: ``subject_id`` is the stage's remote id.
Stage visits come from ``opportunity_stage_history``; a visit counts only when the history row,
its stage and its opportunity are all live (not deleted). Breakdowns use the opportunity's
owner, account, type and lead source and the visited stage's pipeline.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from crmsync import Metric, MetricContext
from crmsync_kpis.results import observations, result_columns, share

__all__ = ["StageConversionRate", "TimeInStageDays", "DealSlippageRate", "METRICS"]

_DEAL_DIMENSIONS = ("owner", "team", "pipeline", "deal_type", "lead_source", "segment",
                    "region", "industry", "territory")


def _not_lost(stage: sa.FromClause) -> ColumnElement[bool]:
    """Stages that are not closed-lost (open stages and closed-won stages)."""
    return sa.or_(sa.func.coalesce(stage.c.is_closed, sa.false()) == sa.false(),
                  sa.func.coalesce(stage.c.is_won, sa.false()) == sa.true())


def _visits(ctx: MetricContext, *, first: bool, name: str) -> Subquery:
    """Live stage visits joined to their live stage and live opportunity.

    One row per visit, or (``first``) per deal and stage with the deal's first entry into it.
    Columns: ``connection``, ``opportunity_id``, ``stage_id``, ``entered_at``, ``exited_at``
    (``NULL`` when ``first``), the stage's ``pipeline_id``, ``display_order`` and ``is_closed``,
    and the opportunity's ``owner_id``, ``account_id``, ``type``, ``lead_source`` (what
    :meth:`MetricContext.dimension_of` needs).
    """
    h = ctx.table("opportunity_stage_history")
    s = ctx.table("stages")
    o = ctx.table("opportunities")
    entered = sa.func.min(h.c.entered_at) if first else h.c.entered_at
    exited = sa.null() if first else h.c.exited_at
    cols = [h.c.connection, h.c.opportunity_id, h.c.stage_id, s.c.pipeline_id,
            s.c.display_order, s.c.is_closed, s.c.is_won, o.c.owner_id, o.c.account_id,
            o.c.type, o.c.lead_source]
    q = (
        sa.select(*cols, entered.label("entered_at"), exited.label("exited_at"))
        .select_from(
            h.join(s, sa.and_(s.c.connection == h.c.connection, s.c.remote_id == h.c.stage_id))
            .join(o, sa.and_(o.c.connection == h.c.connection,
                             o.c.remote_id == h.c.opportunity_id)))
        .where(ctx.live(h), ctx.live(s), ctx.live(o), h.c.entered_at.is_not(None))
    )
    if first:
        q = q.group_by(*cols)
    return q.subquery(name)


def _reached(ctx: MetricContext, v: Subquery, order: ColumnElement[Any], *,
             inclusive: bool) -> ColumnElement[bool]:
    """Whether the deal of ``v``, at or after ``v.entered_at``, entered a non-lost stage of
    ``v``'s pipeline whose ``display_order`` is above ``order`` (or equal, if ``inclusive``)."""
    h2 = ctx.table("opportunity_stage_history").alias("later_visit")
    s2 = ctx.table("stages").alias("later_stage")
    later = s2.c.display_order >= order if inclusive else s2.c.display_order > order
    return (
        sa.select(h2.c.id)
        .select_from(h2.join(s2, sa.and_(s2.c.connection == h2.c.connection,
                                         s2.c.remote_id == h2.c.stage_id)))
        .where(ctx.live(h2), ctx.live(s2), h2.c.connection == v.c.connection,
               h2.c.opportunity_id == v.c.opportunity_id, h2.c.entered_at >= v.c.entered_at,
               s2.c.pipeline_id == v.c.pipeline_id, later, _not_lost(s2))
        .exists()
    )


def _ratio(subject: Any, dim: Any, period: Any, hit: ColumnElement[bool]) -> list[sa.Label[Any]]:
    """The contract columns of ``count(hit) / count(*)``."""
    num = sa.func.sum(sa.case((hit, 1), else_=0))
    den = sa.func.count()
    return result_columns(value=share(num, den), numerator=num, denominator=den,
                          subject=subject, dimension=dim, period=period)


class StageConversionRate(Metric):
    """Per stage: deals that moved on to a later non-lost stage ÷ deals that entered it."""

    NAME = "stage_conversion_rate"
    title = "Stage conversion rate"
    description = ("Per open stage: deals entering the stage (first entry, by its period) that "
                   "later entered a higher, not closed-lost stage of the same pipeline ÷ deals "
                   "entering it. Variant cumulative: deals entering the pipeline that reached "
                   "the stage or beyond ÷ deals entering the pipeline.")
    unit = "ratio"
    direction = "higher_is_better"
    subject = "stage"
    dimensions = _DEAL_DIMENSIONS
    variants = ("cumulative",)

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        if ctx.variant == "cumulative":
            return self._cumulative(ctx)
        # One pass over the visits instead of a lookup per visit: walking each deal's visits
        # of a pipeline from the newest back, ``reach`` is the highest non-lost stage entered
        # at or after this visit (RANGE framing includes visits at the same instant); the
        # deal's first visit of a stage counts, and it converted when ``reach`` is higher.
        a = _visits(ctx, first=False, name="visit")
        deal = (a.c.connection, a.c.opportunity_id)
        reach = sa.func.max(sa.case((_not_lost(a), a.c.display_order))).over(
            partition_by=(*deal, a.c.pipeline_id), order_by=a.c.entered_at.desc())
        nth = sa.func.row_number().over(partition_by=(*deal, a.c.stage_id),
                                        order_by=a.c.entered_at)
        v = (sa.select(*[c for c in a.c if c.name != "exited_at"], reach.label("reach"),
                       nth.label("nth"))
             .subquery("first_visit"))
        frm, dim = ctx.dimension_of(v)
        period = ctx.period_start(v.c.entered_at)
        hit = sa.func.coalesce(v.c.reach, -1) > v.c.display_order
        return (
            sa.select(*_ratio(v.c.stage_id, dim, period, hit))
            .select_from(frm)
            .where(v.c.nth == 1, sa.func.coalesce(v.c.is_closed, sa.false()) == sa.false())
            .group_by(*ctx.group_keys(v.c.stage_id, dim, period))
        )

    def _cumulative(self, ctx: MetricContext) -> sa.Select[Any]:
        """Deals entering the pipeline (first visit to any of its stages) × its non-lost
        stages: reached that stage or a later non-lost one, at or after the pipeline entry."""
        v = _visits(ctx, first=True, name="first_visit")
        entry = (
            sa.select(v.c.connection, v.c.opportunity_id, v.c.pipeline_id, v.c.owner_id,
                      v.c.account_id, v.c.type, v.c.lead_source,
                      sa.func.min(v.c.entered_at).label("entered_at"))
            .group_by(v.c.connection, v.c.opportunity_id, v.c.pipeline_id, v.c.owner_id,
                      v.c.account_id, v.c.type, v.c.lead_source)
            .subquery("pipeline_entry")
        )
        s = ctx.table("stages")
        frm, dim = ctx.dimension_of(entry)
        frm = frm.join(s, sa.and_(s.c.connection == entry.c.connection,
                                  s.c.pipeline_id == entry.c.pipeline_id))
        period = ctx.period_start(entry.c.entered_at)
        hit = _reached(ctx, entry, s.c.display_order, inclusive=True)
        return (
            sa.select(*_ratio(s.c.remote_id, dim, period, hit))
            .select_from(frm)
            .where(ctx.live(s), _not_lost(s))
            .group_by(*ctx.group_keys(s.c.remote_id, dim, period))
        )


class TimeInStageDays(Metric):
    """Per stage: median days of the visits that ended in the period."""

    NAME = "time_in_stage_days"
    title = "Time in stage (median days)"
    description = ("Per stage: median days from entering to leaving the stage, over the "
                   "completed visits (exited_at set) that ended in the period.")
    unit = "days"
    direction = "lower_is_better"
    subject = "stage"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        v = _visits(ctx, first=False, name="visit")
        frm, dim = ctx.dimension_of(v)
        period = ctx.period_start(v.c.exited_at)
        facts = (
            observations(ctx.days_between(v.c.entered_at, v.c.exited_at),
                         subject=v.c.stage_id, dimension=dim, period=period)
            .select_from(frm)
            .where(v.c.exited_at.is_not(None))
        )
        return ctx.median(facts)


def _date(ctx: MetricContext, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The calendar date (UTC) of a timestamp column."""
    return sa.func.date(column) if ctx.dialect == "sqlite" else sa.cast(column, sa.Date)


class DealSlippageRate(Metric):
    """Deals due in the period that were not closed by their expected close date."""

    NAME = "deal_slippage_rate"
    title = "Deal slippage rate"
    description = ("Deals whose expected close date lies in the period and before as_of, that "
                   "closed after that date or are still not closed ÷ those deals.")
    unit = "ratio"
    direction = "lower_is_better"
    dimensions = _DEAL_DIMENSIONS

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        due = o.c.expected_close_date
        period = ctx.period_start(due)
        closed = sa.and_(o.c.status.in_(("won", "lost")), o.c.closed_at.is_not(None))
        slipped = sa.or_(sa.not_(closed), _date(ctx, o.c.closed_at) > due)
        return (
            sa.select(*_ratio(sa.null(), dim, period, slipped))
            .select_from(frm)
            .where(ctx.live(o), due.is_not(None),
                   due < sa.literal(ctx.as_of.date(), sa.Date()))
            .group_by(*ctx.group_keys(dim, period))
        )

    def records(self, ctx: MetricContext) -> sa.Select[Any]:
        """The slipped deals due in the period containing ``as_of`` (due before it)."""
        o = ctx.table("opportunities")
        due = o.c.expected_close_date
        today = sa.literal(ctx.as_of.date(), sa.Date())
        closed = sa.and_(o.c.status.in_(("won", "lost")), o.c.closed_at.is_not(None))
        slipped = sa.or_(sa.not_(closed), _date(ctx, o.c.closed_at) > due)
        return (
            sa.select(o.c.connection, sa.literal("opportunities").label("entity"),
                      o.c.remote_id, o.c.name, o.c.owner_id, due.label("detail"))
            .where(ctx.live(o), due.is_not(None), due < today, slipped,
                   sa.true() if ctx.period == "all"
                   else ctx.period_start(due) == ctx.period_start(today))
            .order_by(o.c.owner_id, due, o.c.remote_id)
        )


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (StageConversionRate, TimeInStageDays, DealSlippageRate)
