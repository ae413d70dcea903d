"""The forecast roll-up in SQL: every deal of a period's forecast with its category, base
amount, weight and history-based chance, and the sums per rep or team (docs/forecast.md).

A deal is in the forecast of the period ``[start, end)`` seen at instant ``at`` when it was
won in the period by ``at`` (category ``closed``), or is open at ``at`` with an expected close
date in the period (category: the deal's own ``forecast_category``, else its stage's, each
normalised by :func:`category_sql`; ``pipeline`` when neither is known). Deals are the
stored ones (``at`` is now) or, for a past instant, :func:`crmsync.opportunities_as_of`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from crmsync.core.schema import SYNCED_TABLES
from crmsync.metrics.forecast_history import MIN_SAMPLE, chances, stage_age_bucket
from crmsync.plugin.context import MetricContext
from crmsync.plugin.history import opportunities_as_of

__all__ = ["CATEGORIES", "ForecastScope", "category_sql", "forecast_deals", "rollup",
           "quota_totals", "won_totals"]

#: The forecast categories, from the most to the least certain.
CATEGORIES = ("closed", "commit", "best_case", "pipeline", "omitted")
#: Spellings CRMs use (lower case, without spaces, ``_`` or ``-``) → category. Salesforce's
#: ``ForecastCategoryName`` (``BestCase``, ``Closed``, ``Omitted``), HubSpot's
#: ``hs_manual_forecast_category`` (``BEST_CASE``, ``OMIT``) and the stages' labels.
SPELLINGS = {
    "closed": "closed", "closedwon": "closed", "won": "closed",
    "commit": "commit", "committed": "commit",
    "bestcase": "best_case", "best": "best_case", "upside": "best_case",
    "pipeline": "pipeline", "open": "pipeline",
    "omitted": "omitted", "omit": "omitted", "closedlost": "omitted", "lost": "omitted",
}


@dataclass(frozen=True)
class ForecastScope:
    """What a forecast query describes.

    :param dialect: ``sqlite`` or ``postgresql``.
    :param start: the period's first day; ``end``: the first day after it.
    :param at: the instant the forecast is seen at (naive UTC).
    :param dimension: ``owner``, ``team`` or ``None`` (the organisation).
    :param as_of: rebuild the deals as they stood at ``at`` from history (else the stored
        deals, which describe now).
    :param min_sample: past stage entries a history-based chance needs (else the stage's
        probability stands in).
    """

    dialect: str
    start: dt.date
    end: dt.date
    at: dt.datetime
    dimension: str | None = None
    base_currency: str = "USD"
    as_of: bool = False
    min_sample: int = MIN_SAMPLE

    def context(self) -> MetricContext:
        """The metric context whose SQL helpers the queries use."""
        return MetricContext(dialect=self.dialect, base_currency=self.base_currency,
                             as_of=self.at)


def category_sql(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A CRM's forecast category text as one of :data:`CATEGORIES`, ``NULL`` when empty or
    not a known spelling (:data:`SPELLINGS`)."""
    key: ColumnElement[Any] = sa.func.lower(sa.func.coalesce(value, ""))
    for char in (" ", "_", "-"):
        key = sa.func.replace(key, char, "")
    return sa.case(*((key == spelling, sa.literal(category))
                     for spelling, category in SPELLINGS.items()), else_=sa.null())


def _deals(scope: ForecastScope) -> FromClause:
    if scope.as_of:
        return opportunities_as_of(scope.dialect, scope.at).subquery("deal")
    return SYNCED_TABLES["opportunities"].alias("deal")


def _instant(value: dt.datetime | dt.date) -> ColumnElement[Any]:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return sa.literal(value, sa.DateTime())


def _dimension(scope: ForecastScope, frm: FromClause, owner: ColumnElement[Any],
               connection: ColumnElement[Any]) -> tuple[FromClause, ColumnElement[Any]]:
    """The dimension's value (the owner's remote id, the owner's team, or ``NULL``)."""
    if scope.dimension == "owner":
        return frm, owner
    if scope.dimension == "team":
        users = SYNCED_TABLES["users"].alias("owner_user")
        return frm.outerjoin(users, sa.and_(users.c.connection == connection,
                                            users.c.remote_id == owner,
                                            users.c.is_deleted == sa.false())), users.c.team
    return frm, sa.null()


def forecast_deals(scope: ForecastScope) -> Select[Any]:
    """One row per deal in the forecast: ``dimension_value``, ``remote_id``, ``category``,
    ``amount`` (base currency: won deals at the close date's rate, open ones at the latest),
    ``weighted`` (amount × stage probability, else the deal's; closed at 100 %) and
    ``history`` (amount × the history-based chance, closed at 100 %), ``chance_n`` (the
    sample behind the chance; ``NULL`` when the stage probability stood in)."""
    fact = _facts(scope)
    odds = chances(scope.dialect, fact, at=scope.at, end=scope.end)
    frm, dim = _dimension(scope, odds.join(fact), fact.c.owner_id, fact.c.connection)
    won = fact.c.won == 1
    sampled = odds.n >= scope.min_sample
    chance = sa.case((sampled, odds.rate), else_=fact.c.weight)
    return (
        sa.select(dim.label("dimension_value"), fact.c.remote_id, fact.c.connection,
                  fact.c.category, fact.c.amount,
                  (fact.c.amount * sa.case((won, 1.0), else_=fact.c.weight)).label("weighted"),
                  (fact.c.amount * sa.case((won, 1.0), else_=chance)).label("history"),
                  sa.case((won, None), (sampled, odds.n), else_=None).label("chance_n"))
        .select_from(frm)
    )


def _materialized(select: Select[Any], name: str) -> FromClause:
    """``select`` as a CTE computed once (``AS MATERIALIZED``: SQLite and PostgreSQL would
    otherwise inline it and repeat its correlated look-ups wherever a column is used)."""
    return select.cte(name).prefix_with("MATERIALIZED")


def _facts(scope: ForecastScope) -> FromClause:
    """Each deal of the forecast with its ``category``, base ``amount``, ``weight`` (the
    stage probability, else the deal's, else 0) and age ``bucket`` in its stage."""
    ctx = scope.context()
    deal = _population(scope)
    stage = SYNCED_TABLES["stages"].alias("deal_stage")
    won = deal.c.won == 1
    own = category_sql(deal.c.forecast_category)
    stage_category = category_sql(stage.c.forecast_category)
    # an open deal filed as closed is not closed yet: the firmest open category
    open_category = sa.case((sa.func.coalesce(own, stage_category) == "closed", "commit"),
                            else_=sa.func.coalesce(own, stage_category, "pipeline"))
    amount = sa.case((won, ctx.amount_in_base(deal, deal.c.closed_at)),
                     else_=ctx.amount_in_base(deal))
    return _materialized(
        sa.select(deal.c.connection, deal.c.remote_id, deal.c.owner_id, deal.c.stage_id,
                  deal.c.won, sa.case((won, "closed"), else_=open_category).label("category"),
                  amount.label("amount"),
                  sa.func.coalesce(stage.c.probability, deal.c.probability, 0.0)
                  .label("weight"),
                  stage_age_bucket(scope.dialect, deal, scope.at).label("bucket"))
        .select_from(deal.outerjoin(stage, sa.and_(stage.c.connection == deal.c.connection,
                                                   stage.c.remote_id == deal.c.stage_id,
                                                   stage.c.is_deleted == sa.false()))),
        "forecast_fact")


def _stage_at(scope: ForecastScope, deal: FromClause) -> ColumnElement[Any]:
    """The deal's stage: for a rebuilt forecast the stage its stage history places it in at
    ``at`` (the latest entry by then), else the rebuilt one. A store whose CRM keeps stage
    history but no field history would otherwise leave a deal closed after ``at`` in its
    closed stage while it was open."""
    if not scope.as_of:
        return deal.c.stage_id
    h = SYNCED_TABLES["opportunity_stage_history"].alias("stage_then")
    entry = (
        sa.select(h.c.stage_id)
        .where(h.c.connection == deal.c.connection, h.c.opportunity_id == deal.c.remote_id,
               h.c.is_deleted == sa.false(), h.c.entered_at <= _instant(scope.at))
        .order_by(h.c.entered_at.desc(), h.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(entry, deal.c.stage_id)


def _population(scope: ForecastScope) -> FromClause:
    """The deals of the forecast (won in the period by ``at``, or open at ``at`` and
    expected to close in it) with the columns the roll-up reads and ``won`` (1 or 0): the
    stage, rate and history look-ups then run on these deals only."""
    deal = _deals(scope)
    start, end, at = _instant(scope.start), _instant(scope.end), _instant(scope.at)
    won = sa.and_(deal.c.status == "won", deal.c.closed_at >= start, deal.c.closed_at < end,
                  deal.c.closed_at <= at)
    open_in_period = sa.and_(deal.c.status == "open",
                             deal.c.expected_close_date >= sa.literal(scope.start, sa.Date()),
                             deal.c.expected_close_date < sa.literal(scope.end, sa.Date()))
    columns = ("connection", "remote_id", "owner_id", "amount", "amount_base",
               "currency", "probability", "forecast_category", "closed_at",
               "remote_created_at")
    return _materialized(
        sa.select(*(deal.c[c] for c in columns), _stage_at(scope, deal).label("stage_id"),
                  sa.case((won, 1), else_=0).label("won"))
        .where(deal.c.is_deleted == sa.false(), sa.or_(won, open_in_period)),
        "forecast_population")


def rollup(scope: ForecastScope) -> Select[Any]:
    """Per (``dimension_value``, ``category``): ``n`` deals, ``amount``, ``weighted``,
    ``history`` (sums, base currency), ``unconverted`` (deals whose amount has no rate) and
    ``history_n`` (open deals whose chance came from history)."""
    d = forecast_deals(scope).subquery("forecast_deal")
    return (
        sa.select(d.c.dimension_value, d.c.category, sa.func.count().label("n"),
                  sa.func.sum(d.c.amount).label("amount"),
                  sa.func.sum(d.c.weighted).label("weighted"),
                  sa.func.sum(d.c.history).label("history"),
                  sa.func.sum(sa.case((d.c.amount.is_(None), 1), else_=0)).label("unconverted"),
                  sa.func.count(d.c.chance_n).label("history_n"))
        .group_by(d.c.dimension_value, d.c.category)
    )


def quota_totals(scope: ForecastScope) -> Select[Any]:
    """Rep quotas starting in the period in the base currency, summed per
    ``dimension_value`` (a team's quota is its reps' quotas summed, as ``quota_attainment``
    does; unknown when one has no rate): ``quota``."""
    q = SYNCED_TABLES["quotas"]
    frm, dim = _dimension(scope, q, q.c.owner_id, q.c.connection)
    return (
        sa.select(dim.label("dimension_value"), scope.context().quota_total(q).label("quota"))
        .select_from(frm)
        .where(q.c.is_deleted == sa.false(), q.c.owner_id.is_not(None),
               q.c.period_start >= sa.literal(scope.start, sa.Date()),
               q.c.period_start < sa.literal(scope.end, sa.Date()))
        .group_by(*([dim] if scope.dimension else []))
    )


def won_totals(scope: ForecastScope) -> Select[Any]:
    """What actually closed won in the period, by the deal's owner now (the stored deals,
    whatever ``at``): ``dimension_value``, ``n``, ``amount`` (base currency, close-date
    rate)."""
    ctx = scope.context()
    deal = SYNCED_TABLES["opportunities"].alias("won_deal")
    frm, dim = _dimension(scope, deal, deal.c.owner_id, deal.c.connection)
    amount = ctx.amount_in_base(deal, deal.c.closed_at)
    return (
        sa.select(dim.label("dimension_value"), sa.func.count().label("n"),
                  sa.func.sum(amount).label("amount"))
        .select_from(frm)
        .where(deal.c.is_deleted == sa.false(), deal.c.status == "won",
               deal.c.closed_at >= _instant(scope.start), deal.c.closed_at < _instant(scope.end))
        .group_by(*([dim] if scope.dimension else []))
    )

