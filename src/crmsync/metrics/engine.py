"""Running metric SQL and storing the values in ``metric_values``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.errors import MetricError
from crmsync.metrics.findings import Finding, unconverted_deals
from crmsync.metrics.context import CUSTOM_PREFIX, DIMENSIONS, MetricContext, is_dimension
from crmsync.metrics.periods import as_date, is_period, period_end, rolling_days
from crmsync.schema import metric_values

if TYPE_CHECKING:
    from crmsync.config import MetricsConfig
    from crmsync.metric import Metric
    from crmsync.store import Store

__all__ = ["MetricValue", "ComputeResult", "compute", "latest_values"]

CONTRACT = ("subject_id", "dimension_value", "period_start", "value", "numerator",
            "denominator")


@dataclass
class MetricValue:
    """One computed value."""

    metric: str
    period: str
    period_start: dt.date | None
    period_end: dt.date | None
    dimension: str | None
    dimension_value: str | None
    value: float | None
    numerator: float | None
    denominator: float | None
    subject_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = dict(self.__dict__)
        for k in ("period_start", "period_end"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


@dataclass
class ComputeResult:
    """What one ``compute`` call stored."""

    run_id: str
    values: list[MetricValue]
    skipped: list[str]
    findings: list[Finding] = field(default_factory=list)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def run_metric(store: Store, metric: Metric, ctx: MetricContext) -> list[MetricValue]:
    """Run one metric's query for one period and dimension (no storing)."""
    query = metric.query(ctx)
    names = set(query.selected_columns.keys())
    missing = [c for c in CONTRACT if c not in names]
    if missing:
        raise MetricError(f"metric '{metric.NAME}' query lacks contract column(s) "
                          f"{', '.join(missing)}")
    sub = query.subquery("m")
    stmt = sa.select(*(sub.c[c] for c in CONTRACT))
    if rolling_days(ctx.period) is not None:  # rows outside the window have no period
        stmt = stmt.where(sub.c.period_start.is_not(None))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for subject_id, dim_value, start, value, num, den in rows:
        start_d = as_date(start)
        out.append(MetricValue(
            metric=metric.NAME, period=ctx.period, period_start=start_d,
            period_end=period_end(ctx.period, start_d) if ctx.period != "all" else None,
            dimension=ctx.dimension,
            dimension_value=None if ctx.dimension is None or dim_value is None
            else str(dim_value),
            value=_float(value), numerator=_float(num), denominator=_float(den),
            subject_id=None if subject_id is None else str(subject_id)))
    out.sort(key=lambda v: (v.period_start or dt.date.min, v.dimension_value or "",
                            v.subject_id or ""))
    return out


def _supports_period(metric: Metric, period: str) -> bool:
    # a rolling window works for any metric that buckets facts by time
    return period in metric.periods or (rolling_days(period) is not None
                                        and "day" in metric.periods)


def _supports_dimension(metric: Metric, dimension: str) -> bool:
    if dimension.startswith(CUSTOM_PREFIX):
        return "custom" in metric.dimensions
    return dimension in metric.dimensions


def compute(store: Store, metrics: Sequence[Metric], config: MetricsConfig, *,
            period: str | None = None, dimensions: Sequence[str | None] = (None,),
            connection: str | None = None, as_of: dt.datetime | None = None,
            pipelines: Sequence[str] = (), deal_types: Sequence[str] = ()
            ) -> ComputeResult:
    """Compute ``metrics`` for ``period`` (default: the configured one) and each dimension
    (``None`` = the whole organisation), store them under a new run id and return them.

    A metric that does not support the period or a dimension is skipped and named in
    ``skipped``; an unknown dimension is an error.
    """
    period = period or config.period
    if not is_period(period):
        raise MetricError(f"unknown period '{period}' (day, week, month, quarter, year, all "
                          "or last_<N>d)")
    for d in dimensions:
        if d is not None and not is_dimension(d):
            raise MetricError(f"unknown dimension '{d}' (known: {', '.join(DIMENSIONS)}, "
                              "or custom.<field>)")
    run_id = uuid.uuid4().hex
    values: list[MetricValue] = []
    skipped: list[str] = []
    for metric in metrics:
        if not _supports_period(metric, period):
            skipped.append(f"{metric.NAME}: no period '{period}'")
            continue
        for dim in dimensions:
            if dim is not None and not _supports_dimension(metric, dim):
                skipped.append(f"{metric.NAME}: no dimension '{dim}'")
                continue
            ctx = MetricContext(
                dialect=store.dialect, period=period, dimension=dim,
                base_currency=config.base_currency, timezone=config.timezone,
                fiscal_year_start_month=config.fiscal_year_start_month,
                connection=connection, variant=config.definitions.get(metric.NAME),
                options=dict(config.options), pipelines=tuple(pipelines),
                deal_types=tuple(deal_types), **({"as_of": as_of} if as_of else {}))
            if ctx.variant is not None and ctx.variant not in metric.variants:
                raise MetricError(f"metric '{metric.NAME}' has no variant '{ctx.variant}' "
                                  f"(variants: {', '.join(metric.variants) or 'none'})")
            values.extend(run_metric(store, metric, ctx))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    versions = {m.NAME: m.version for m in metrics}
    variants = {m.NAME: config.definitions.get(m.NAME) for m in metrics}
    if values:
        with store.engine.begin() as conn:
            conn.execute(sa.insert(metric_values), [
                {"run_id": run_id, "metric": v.metric, "version": versions[v.metric],
                 "variant": variants[v.metric],
                 "period": v.period, "period_start": v.period_start, "period_end": v.period_end,
                 "dimension": v.dimension, "dimension_value": v.dimension_value,
                 "subject_id": v.subject_id, "value": v.value, "numerator": v.numerator,
                 "denominator": v.denominator, "computed_at": now}
                for v in values])
    money = any(m.unit == "currency" for m in metrics)
    findings = unconverted_deals(store, config) if money else []
    return ComputeResult(run_id=run_id, values=values, skipped=skipped, findings=findings)


def latest_values(store: Store, *, metric: str | None = None, period: str | None = None,
                  dimension: str | None = None) -> list[MetricValue]:
    """The most recently computed values per (metric, period, dimension)."""
    mv = metric_values
    newest = sa.select(mv.c.metric, mv.c.period, mv.c.dimension,
                       sa.func.max(mv.c.id).label("last_id"))
    if metric:
        newest = newest.where(mv.c.metric == metric)
    if period:
        newest = newest.where(mv.c.period == period)
    newest = newest.where(mv.c.dimension == dimension if dimension else mv.c.dimension.is_(None))
    newest_sq = newest.group_by(mv.c.metric, mv.c.period, mv.c.dimension).subquery()
    last = mv.alias("last")
    stmt = (
        sa.select(mv)
        .join(newest_sq, sa.and_(mv.c.metric == newest_sq.c.metric,
                                 mv.c.period == newest_sq.c.period,
                                 sa.func.coalesce(mv.c.dimension, "")
                                 == sa.func.coalesce(newest_sq.c.dimension, "")))
        .join(last, sa.and_(last.c.id == newest_sq.c.last_id, last.c.run_id == mv.c.run_id))
        .order_by(mv.c.metric, mv.c.period_start, mv.c.dimension_value, mv.c.subject_id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [MetricValue(metric=r["metric"], period=r["period"],
                        period_start=as_date(r["period_start"]),
                        period_end=as_date(r["period_end"]), dimension=r["dimension"],
                        dimension_value=r["dimension_value"], value=r["value"],
                        numerator=r["numerator"], denominator=r["denominator"],
                        subject_id=r["subject_id"]) for r in rows]
