"""Built-in KPIs: survey feedback, NPS, CSAT and CES (see docs/metrics/feedback.md).

Scores come from the ``feedback`` table by ``responded_at`` period. A response belongs to its
own ``owner_id``, else to its contact's owner, else to its account's owner: survey tools rarely
know the rep, so the ``owner`` and ``team`` breakdowns would otherwise be empty.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync import Metric, MetricContext
from crmsync_kpis.results import result

__all__ = ["Nps", "Csat", "Ces", "METRICS"]

_FEEDBACK_DIMENSIONS = ("owner", "team", "segment", "region", "territory", "industry")


def _responses(ctx: MetricContext) -> Any:
    """Live survey responses with the owner they are attributed to: the response's own
    ``owner_id``, else its contact's owner, else its account's owner (survey tools rarely know
    the rep); ``account_id`` likewise falls back to the contact's account. The ``owner``,
    ``team`` and account dimensions read these columns."""
    f = ctx.table("feedback")
    c = ctx.table("contacts").alias("fb_contact")
    a = ctx.table("accounts").alias("fb_account")
    account_id = sa.func.coalesce(f.c.account_id, c.c.account_id)
    frm = (f.outerjoin(c, sa.and_(c.c.connection == f.c.connection,
                                  c.c.remote_id == f.c.contact_id, ctx.live(c)))
           .outerjoin(a, sa.and_(a.c.connection == f.c.connection,
                                 a.c.remote_id == account_id, ctx.live(a))))
    return (
        sa.select(f.c.connection, f.c.type, f.c.score, f.c.responded_at,
                  sa.func.coalesce(f.c.owner_id, c.c.owner_id, a.c.owner_id).label("owner_id"),
                  account_id.label("account_id"))
        .select_from(frm)
        .where(ctx.live(f), f.c.score.is_not(None), f.c.responded_at.is_not(None))
        .subquery("responses")
    )


def _feedback(ctx: MetricContext, kind: str, top: Any, bottom: Any, scale: float
              ) -> sa.Select[Any]:
    """Contract columns for a feedback score: value = scale × Σtop ÷ Σbottom."""
    f = _responses(ctx)
    frm, dim = ctx.dimension_of(f)
    period = ctx.period_start(f.c.responded_at)
    num = sa.func.sum(top(f))
    den = sa.func.sum(bottom(f))
    return (
        result(value=num * scale / sa.func.nullif(den, 0), numerator=num, denominator=den,
               dimension=dim, period=period)
        .select_from(frm)
        .where(f.c.type == kind)
        .group_by(*ctx.group_keys(dim, period))
    )


def _in(f: Any, low: float, high: float) -> ColumnElement[int]:
    return sa.case((f.c.score.between(low, high), 1), else_=0)


class Nps(Metric):
    """Net promoter score: % promoters (9–10) − % detractors (0–6), on 0–10 scores."""

    NAME = "nps"
    inputs = ("feedback",)
    title = "Net promoter score"
    description = ("(promoters (9–10) − detractors (0–6)) ÷ responses × 100, over feedback of "
                   "type 'nps' scored 0–10, by responded_at period; by owner: the response's "
                   "owner, else its contact's, else its account's.")
    unit = "score"
    direction = "higher_is_better"
    dimensions = _FEEDBACK_DIMENSIONS
    #: 2: a response without an owner belongs to its contact's, else its account's owner.
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _feedback(ctx, "nps", lambda f: _in(f, 9, 10) - _in(f, 0, 6),
                         lambda f: _in(f, 0, 10), 100.0)


class Csat(Metric):
    """Share of 1–5 CSAT scores that are 4 or 5."""

    NAME = "csat"
    inputs = ("feedback",)
    title = "Customer satisfaction (CSAT)"
    description = ("Responses scored 4–5 ÷ responses scored 1–5, over feedback of type 'csat', "
                   "by responded_at period; by owner: the response's owner, else its "
                   "contact's, else its account's.")
    unit = "ratio"
    direction = "higher_is_better"
    dimensions = _FEEDBACK_DIMENSIONS
    #: 2: a response without an owner belongs to its contact's, else its account's owner.
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _feedback(ctx, "csat", lambda f: _in(f, 4, 5), lambda f: _in(f, 1, 5), 1.0)


class Ces(Metric):
    """Mean customer effort score."""

    NAME = "ces"
    inputs = ("feedback",)
    title = "Customer effort score (CES)"
    description = ("Mean score of feedback of type 'ces', by responded_at period; by owner: the "
                   "response's owner, else its contact's, else its account's.")
    unit = "score"
    direction = "higher_is_better"
    dimensions = _FEEDBACK_DIMENSIONS
    #: 2: a response without an owner belongs to its contact's, else its account's owner.
    version = 2

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        return _feedback(ctx, "ces", lambda f: f.c.score, lambda f: sa.literal(1), 1.0)


#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = (Nps, Csat, Ces)
