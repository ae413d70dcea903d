"""Metric values as of past instants: the instant a date names, the weekly instants of a
backfill, and reading ``metric_snapshots`` (docs/as-of.md).

The values themselves are computed by :func:`crmsync.metrics.engine.compute` with
``rebuilt=True``, which stores them in ``metric_snapshots`` under ``snapshot_at``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crmsync.core.errors import MetricError
from crmsync.core.internal_tables import metric_snapshots
from crmsync.core.periods import as_date
from crmsync.metrics.engine import MetricValue
from crmsync.store import Store

__all__ = ["SNAPSHOT_METRICS", "end_of_day", "parse_as_of", "backfill_instants",
           "snapshot_values", "snapshot_series", "snapshot_instants"]

#: The headline KPIs ``crmsync metrics snapshot`` records (those registered).
SNAPSHOT_METRICS = ("pipeline_value", "weighted_pipeline_value", "pipeline_coverage",
                    "quota_attainment", "win_rate", "revenue", "avg_deal_size",
                    "sales_cycle_days", "dq_stale_opportunities")


def end_of_day(day: dt.date, timezone: str) -> dt.datetime:
    """The last instant of ``day`` in ``timezone`` (23:59:59.999999 there), as naive UTC:
    what ``--as-of DAY`` means — everything that happened on that day has happened."""
    local = dt.datetime.combine(day, dt.time.max, tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def parse_as_of(text: str, timezone: str) -> dt.datetime:
    """``--as-of``: a date (``2026-03-31``: the end of that day in ``timezone``) or a date and
    time (``2026-03-31T12:00``, UTC unless it carries an offset), as naive UTC."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            return end_of_day(dt.date.fromisoformat(text.strip()), timezone)
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise MetricError(f"--as-of {text!r} is not a date (YYYY-MM-DD) or a date and time "
                          "(YYYY-MM-DDTHH:MM)") from None
    if at.tzinfo is not None:
        at = at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return at


def backfill_instants(spec: str, now: dt.datetime, timezone: str) -> list[dt.datetime]:
    """The instants of ``--backfill Nw``: the ends of the ``N`` last whole weeks (Sunday, end
    of day in ``timezone``) before ``now`` (naive UTC), oldest first."""
    match = re.fullmatch(r"(\d{1,3})w", spec.strip())
    if match is None or int(match.group(1)) < 1:
        raise MetricError(f"--backfill {spec!r}: expected a number of weeks such as 12w")
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(timezone)).date()
    last_sunday = today - dt.timedelta(days=today.isoweekday() % 7)
    if last_sunday == today:  # today's week is not over yet
        last_sunday -= dt.timedelta(days=7)
    weeks = int(match.group(1))
    return [end_of_day(last_sunday - dt.timedelta(weeks=k), timezone)
            for k in reversed(range(weeks))]


def _newest_runs(at: dt.datetime | None, metric: str | Collection[str] | None,
                 period: str | None, dimension: str | None) -> sa.Subquery:
    """Per (snapshot instant, metric, period, dimension): the newest run's last row id."""
    ms = metric_snapshots
    newest = sa.select(ms.c.snapshot_at, ms.c.metric, ms.c.period, ms.c.dimension,
                       sa.func.max(ms.c.id).label("last_id"))
    if at is not None:
        newest = newest.where(ms.c.snapshot_at == at)
    if isinstance(metric, str):
        newest = newest.where(ms.c.metric == metric)
    elif metric is not None:
        newest = newest.where(ms.c.metric.in_(sorted(metric)))
    if period:
        newest = newest.where(ms.c.period == period)
    newest = newest.where(ms.c.dimension == dimension if dimension else ms.c.dimension.is_(None))
    return newest.group_by(ms.c.snapshot_at, ms.c.metric, ms.c.period,
                           ms.c.dimension).subquery("newest")


def _read(store: Store, at: dt.datetime | None, metric: str | Collection[str] | None,
          period: str | None, dimension: str | None, subjects: bool
          ) -> list[tuple[dt.datetime, MetricValue]]:
    ms = metric_snapshots
    newest = _newest_runs(at, metric, period, dimension)
    last = ms.alias("last")
    stmt = (
        sa.select(ms)
        .join(newest, sa.and_(ms.c.snapshot_at == newest.c.snapshot_at,
                              ms.c.metric == newest.c.metric, ms.c.period == newest.c.period,
                              sa.func.coalesce(ms.c.dimension, "")
                              == sa.func.coalesce(newest.c.dimension, "")))
        .join(last, sa.and_(last.c.id == newest.c.last_id, last.c.run_id == ms.c.run_id))
        .order_by(ms.c.snapshot_at, ms.c.metric, ms.c.period_start, ms.c.dimension_value,
                  ms.c.subject_id)
    )
    if not subjects:
        stmt = stmt.where(ms.c.subject_id.is_(None))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [(r["snapshot_at"], MetricValue(
        metric=r["metric"], period=r["period"], period_start=as_date(r["period_start"]),
        period_end=as_date(r["period_end"]), dimension=r["dimension"],
        dimension_value=r["dimension_value"], value=r["value"], numerator=r["numerator"],
        denominator=r["denominator"], subject_id=r["subject_id"])) for r in rows]


def snapshot_values(store: Store, at: dt.datetime, *, metric: str | Collection[str] | None = None,
                    period: str | None = None, dimension: str | None = None,
                    subjects: bool = True) -> list[MetricValue]:
    """The values computed as of ``at`` (the newest run per metric, period and dimension)."""
    return [v for _, v in _read(store, at, metric, period, dimension, subjects)]


def snapshot_series(store: Store, metric: str, *, period: str | None = None,
                    dimension: str | None = None
                    ) -> list[tuple[dt.datetime, MetricValue]]:
    """Every snapshot of ``metric`` (aggregates only), oldest first: the trend of a KPI as it
    stood at each instant."""
    return _read(store, None, metric, period, dimension, subjects=False)


def snapshot_instants(store: Store) -> list[dt.datetime]:
    """The instants ``metric_snapshots`` holds values for, oldest first."""
    ms = metric_snapshots
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(ms.c.snapshot_at).distinct()
                                 .order_by(ms.c.snapshot_at)).scalars())
