"""Running metric SQL and storing the values in ``metric_values``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core.errors import MetricError
from crmsync.core.internal_tables import metric_snapshots
from crmsync.core.periods import (
    as_date,
    is_period,
    period_end_sql,
    rolling_days,
)
from crmsync.core.schema import metric_values
from crmsync.metrics.findings import Finding, unconverted_deals
from crmsync.metrics.shared import drop_shared, materialise, shared_uses
from crmsync.plugin.context import CUSTOM_PREFIX, DIMENSIONS, MetricContext, is_dimension
from crmsync.plugin.dimensions import (
    Dimension,
    custom_key,
    declared_dimensions,
    offered_dimensions,
)

if TYPE_CHECKING:
    from crmsync.core.config import MetricsConfig
    from crmsync.plugin.metric import Metric
    from crmsync.store import Store

__all__ = ["MetricValue", "ComputeResult", "compute", "latest_values", "supports_period"]

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
    #: How many values the run stored (also when ``values`` was not kept).
    stored: int = 0


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def metric_select(metric: Metric, ctx: MetricContext) -> sa.Select[Any]:
    """The metric's query, checked against the column contract and reduced to it (rows
    outside a rolling window dropped)."""
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
    return stmt


def _store(conn: Any, metric: Metric, ctx: MetricContext, select: sa.Select[Any], run_id: str,
           variant: str | None, now: dt.datetime) -> int:
    """``INSERT INTO metric_values … SELECT`` the metric's rows (``metric_snapshots`` in a run
    as of a past instant, ``ctx.rebuilt``): values never pass through Python, so memory stays
    flat however many subjects a metric has."""
    m = select.subquery("q")
    dim_value = m.c.dimension_value if ctx.dimension is not None else sa.null()

    def typed(column: Any, type_: Any) -> Any:
        # PostgreSQL types a bare NULL in a subquery as text; SQLite's column affinity does
        # the right thing (and CAST(… AS DATE) there would turn '2026-01-01' into 2026).
        return sa.cast(column, type_) if ctx.dialect == "postgresql" else column

    start = typed(m.c.period_start, sa.Date())
    source = sa.select(
        sa.literal(run_id), sa.literal(metric.NAME), sa.literal(metric.version),
        sa.literal(variant, sa.String()), sa.literal(ctx.period), start,
        typed(period_end_sql(ctx.dialect, ctx.period, start), sa.Date()),
        sa.literal(ctx.dimension, sa.String()), sa.cast(dim_value, sa.String()),
        sa.cast(m.c.subject_id, sa.String()), typed(m.c.value, sa.Float()),
        typed(m.c.numerator, sa.Float()), typed(m.c.denominator, sa.Float()),
        sa.literal(now, sa.DateTime()),
        *([sa.literal(ctx.as_of, sa.DateTime())] if ctx.rebuilt else []))
    columns = ["run_id", "metric", "version", "variant", "period", "period_start", "period_end",
               "dimension", "dimension_value", "subject_id", "value", "numerator",
               "denominator", "computed_at", *(["snapshot_at"] if ctx.rebuilt else [])]
    target = metric_snapshots if ctx.rebuilt else metric_values
    # SQLAlchemy keeps an INSERT's row count only when asked (psycopg would report -1)
    result = conn.execute(sa.insert(target).from_select(columns, source)
                          .execution_options(preserve_rowcount=True))
    return max(result.rowcount or 0, 0)


def supports_period(metric: Metric, period: str) -> bool:
    """Whether ``metric`` can be computed for ``period``: one of its ``periods``, or a rolling
    ``last_<N>d`` window for a metric that buckets facts by day."""
    return period in metric.periods or (rolling_days(period) is not None
                                        and "day" in metric.periods)


def _supports_dimension(metric: Metric, dimension: str,
                        declared: Mapping[str, Dimension]) -> bool:
    """Whether ``metric`` offers ``dimension``: it lists it (``custom`` for every
    ``custom.<field>``), declares it, or the declared dimension applies to it."""
    if dimension.startswith(CUSTOM_PREFIX):
        return "custom" in metric.dimensions
    return dimension in offered_dimensions(metric, declared)


#: SQLite page cache (negative: KiB) while metrics run; see :func:`compute`.
METRIC_CACHE_SIZE = -8192


#: One planned query of a run: the metric, its context, its checked select and its variant.
_Planned = tuple["Metric", MetricContext, sa.Select[Any], str | None]


def _check_request(period: str, dimensions: Sequence[str | None],
                   declared: Mapping[str, Dimension]) -> None:
    """An unknown period or dimension is an error naming it and what is known (built-in and
    declared dimensions)."""
    if not is_period(period):
        raise MetricError(f"unknown period '{period}' (day, week, month, quarter, year, all "
                          "or last_<N>d)")
    for d in dimensions:
        if d is None:
            continue
        custom_key(d)  # a custom.<field> the store cannot hold is an error saying why
        if not is_dimension(d, declared):
            raise MetricError(f"unknown dimension '{d}' (known: "
                              f"{', '.join([*DIMENSIONS, *declared])}, or custom.<field>)")


def _variant(metric: Metric, config: MetricsConfig) -> str | None:
    """The definition ``[metrics.definitions]`` chose for ``metric`` (checked), or ``None``."""
    variant = config.definitions.get(metric.NAME)
    if variant is not None and variant not in metric.variants:
        raise MetricError(f"metric '{metric.NAME}' has no variant '{variant}' "
                          f"(variants: {', '.join(metric.variants) or 'none'})")
    return variant


def _plan(metrics: Sequence[Metric], config: MetricsConfig, period: str,
          dimensions: Sequence[str | None], settings: dict[str, Any],
          skipped: list[str]) -> list[_Planned]:
    """Every query of the run, built before any runs, so the run knows which fact sets
    several metrics share; what a metric cannot do (period, dimension) goes to ``skipped``.
    ``settings`` are the :class:`MetricContext` fields common to the whole run."""
    plan: list[_Planned] = []
    for metric in metrics:
        if not supports_period(metric, period):
            skipped.append(f"{metric.NAME}: no period '{period}'")
            continue
        variant = _variant(metric, config)
        for dim in dimensions:
            if dim is not None and not _supports_dimension(metric, dim, settings["declared"]):
                skipped.append(f"{metric.NAME}: no dimension '{dim}'")
                continue
            ctx = MetricContext(**settings, dimension=dim, variant=variant)
            plan.append((metric, ctx, metric_select(metric, ctx), variant))
    return plan


@contextmanager
def _tuned(conn: sa.Connection, dialect: str) -> Iterator[None]:
    """The connection's settings for metric queries, restored afterwards."""
    cache_size = None
    if dialect == "postgresql":
        # PostgreSQL's JIT compiles every costly plan first: on metric queries it spent
        # ~2 s of a 2.5 s revenue query compiling; the work itself is short scans/sorts.
        conn.exec_driver_sql("SET LOCAL jit = off")
    elif dialect == "sqlite":
        # Each sort (GROUP BY, window, ORDER BY) may hold cache_size bytes in memory before
        # spilling, and a metric query runs several: the sync's 32 MiB cache took the
        # catalogue's peak RSS from 113 MiB (medium) to 230-280 MiB (large); 8 MiB keeps
        # it at ~120 MiB for both, no slower.
        cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA cache_size={METRIC_CACHE_SIZE}")
    try:
        yield
    finally:
        if cache_size is not None:  # the connection goes back to the pool: restore it
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")


def compute(store: Store, metrics: Sequence[Metric], config: MetricsConfig, *,
            period: str | None = None, dimensions: Sequence[str | None] = (None,),
            connection: str | None = None, as_of: dt.datetime | None = None,
            pipelines: Sequence[str] = (), deal_types: Sequence[str] = (),
            keep_values: bool = True,
            progress: Callable[[int, int], None] | None = None,
            declared: Mapping[str, Dimension] | None = None,
            rebuilt: bool = False) -> ComputeResult:
    """Compute ``metrics`` for ``period`` (default: the configured one) and each dimension
    (``None`` = the whole organisation), store them under a new run id and return them
    (``keep_values=False`` returns only the count, for runs too large to hold in memory).
    ``progress(done, total)`` is called as the metric queries run.

    A metric that does not support the period or a dimension is skipped and named in
    ``skipped``; an unknown dimension is an error. ``declared`` are the dimensions metrics
    and plugins declare (``Registry.dimensions()``); default: those of ``metrics``.

    ``rebuilt``: compute as the store stood at ``as_of`` (required), every table rebuilt from
    history (``MetricContext.table``), and store the values in ``metric_snapshots`` with
    ``snapshot_at = as_of``, leaving ``metric_values`` as it is (docs/as-of.md).
    """
    if rebuilt and as_of is None:
        raise MetricError("a computation as of a past instant needs the instant (as_of)")
    period = period or config.period
    declared = {**declared_dimensions(metrics), **(declared or {})}
    _check_request(period, dimensions, declared)
    run_id = uuid.uuid4().hex
    skipped: list[str] = []
    stored = 0
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    settings: dict[str, Any] = dict(
        dialect=store.dialect, period=period, base_currency=config.base_currency,
        timezone=config.timezone, fiscal_year_start_month=config.fiscal_year_start_month,
        connection=connection, options=dict(config.options), pipelines=tuple(pipelines),
        deal_types=tuple(deal_types), declared=declared, rebuilt=rebuilt)
    if as_of:
        settings["as_of"] = as_of
    plan = _plan(metrics, config, period, dimensions, settings, skipped)
    uses = shared_uses(ctx for _, ctx, _, _ in plan)
    created: dict[str, str] = {}
    with store.engine.begin() as conn, _tuned(conn, store.dialect):  # all values or none
        try:
            for done, (metric, ctx, select, variant) in enumerate(plan):
                if progress is not None:
                    progress(done, len(plan))
                materialise(conn, ctx, created, uses)
                stored += _store(conn, metric, ctx, select, run_id, variant, now)
        finally:
            drop_shared(conn, created)
    money = any(m.unit == "currency" for m in metrics)
    findings = unconverted_deals(store, config) if money else []
    values = run_values(store, run_id, snapshots=rebuilt) if keep_values else []
    return ComputeResult(run_id=run_id, values=values, skipped=skipped, findings=findings,
                         stored=stored)


def run_values(store: Store, run_id: str, *, snapshots: bool = False) -> list[MetricValue]:
    """The values one :func:`compute` run stored (``snapshots``: a rebuilt run's, in
    ``metric_snapshots``)."""
    mv = metric_snapshots if snapshots else metric_values
    # the stored period_end (the SQL twin of period_end() wrote it), not recomputed per row:
    # a run can hold hundreds of thousands of values
    columns = (mv.c.metric, mv.c.period, mv.c.period_start, mv.c.period_end, mv.c.dimension,
               mv.c.dimension_value, mv.c.value, mv.c.numerator, mv.c.denominator,
               mv.c.subject_id)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).where(mv.c.run_id == run_id)
                            .order_by(mv.c.metric, mv.c.dimension, mv.c.period_start,
                                      mv.c.dimension_value, mv.c.subject_id)).all()
    return [MetricValue(metric=m, period=p, period_start=as_date(start),
                        period_end=as_date(end), dimension=d, dimension_value=dv,
                        value=_float(v), numerator=_float(n), denominator=_float(den),
                        subject_id=subject)
            for m, p, start, end, d, dv, v, n, den, subject in rows]


def _latest(columns: Sequence[Any], *, metric: str | Collection[str] | None,
            period: str | None, dimension: str | None,
            dimension_values: Collection[str] | None, subjects: bool,
            period_starts: Collection[dt.date] | None) -> sa.Select[Any]:
    """``columns`` of the most recently computed values, filtered (see
    :func:`latest_values`)."""
    mv = metric_values
    newest = sa.select(mv.c.metric, mv.c.period, mv.c.dimension,
                       sa.func.max(mv.c.id).label("last_id"))
    if isinstance(metric, str):
        newest = newest.where(mv.c.metric == metric)
    elif metric is not None:
        newest = newest.where(mv.c.metric.in_(sorted(metric)))
    if period:
        newest = newest.where(mv.c.period == period)
    newest = newest.where(mv.c.dimension == dimension if dimension else mv.c.dimension.is_(None))
    newest_sq = newest.group_by(mv.c.metric, mv.c.period, mv.c.dimension).subquery()
    last = mv.alias("last")
    stmt = (
        sa.select(*columns)
        .join(newest_sq, sa.and_(mv.c.metric == newest_sq.c.metric,
                                 mv.c.period == newest_sq.c.period,
                                 sa.func.coalesce(mv.c.dimension, "")
                                 == sa.func.coalesce(newest_sq.c.dimension, "")))
        .join(last, sa.and_(last.c.id == newest_sq.c.last_id, last.c.run_id == mv.c.run_id))
    )
    if dimension_values is not None:
        stmt = stmt.where(mv.c.dimension_value.in_(sorted(dimension_values)))
    if not subjects:
        stmt = stmt.where(mv.c.subject_id.is_(None))
    if period_starts is not None:
        stmt = stmt.where(mv.c.period_start.in_(sorted(period_starts)))
    return stmt


def latest_values(store: Store, *, metric: str | Collection[str] | None = None,
                  period: str | None = None, dimension: str | None = None,
                  dimension_values: Collection[str] | None = None,
                  subjects: bool = True,
                  period_starts: Collection[dt.date] | None = None) -> list[MetricValue]:
    """The most recently computed values per (metric, period, dimension), of one metric or
    of several; with ``dimension_values``, only those of these dimension values (one rep and
    their team's reps, say); with ``subjects=False``, only the aggregate values (no
    per-stage or record-level ones, which can be most of a store's values); with
    ``period_starts``, only the periods starting on these days."""
    mv = metric_values
    stmt = _latest([mv], metric=metric, period=period, dimension=dimension,
                   dimension_values=dimension_values, subjects=subjects,
                   period_starts=period_starts).order_by(
        mv.c.metric, mv.c.period_start, mv.c.dimension_value, mv.c.subject_id)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [MetricValue(metric=r["metric"], period=r["period"],
                        period_start=as_date(r["period_start"]),
                        period_end=as_date(r["period_end"]), dimension=r["dimension"],
                        dimension_value=r["dimension_value"], value=r["value"],
                        numerator=r["numerator"], denominator=r["denominator"],
                        subject_id=r["subject_id"]) for r in rows]


def latest_periods(store: Store, *, metric: str | Collection[str] | None = None,
                   period: str | None = None, dimension: str | None = None,
                   dimension_values: Collection[str] | None = None,
                   subjects: bool = True) -> list[tuple[dt.date | None, dt.date | None]]:
    """The ``(start, end)`` of the periods :func:`latest_values` (same filters) has values
    for, oldest first: which period is current, without reading every value."""
    mv = metric_values
    stmt = _latest([mv.c.period_start, mv.c.period_end], metric=metric, period=period,
                   dimension=dimension, dimension_values=dimension_values,
                   subjects=subjects, period_starts=None).distinct().order_by(
        mv.c.period_start, mv.c.period_end)
    with store.engine.connect() as conn:
        return [(as_date(a), as_date(b)) for a, b in conn.execute(stmt)]


def metrics_per_period(store: Store, *, period: str, dimension: str | None = None,
                       subjects: bool = False
                       ) -> dict[tuple[dt.date | None, dt.date | None], int]:
    """How many metrics have a value (not NULL) in the latest stored values (same filters as
    :func:`latest_values`) of each period: counted in the database, not read value by value."""
    mv = metric_values
    stmt = (_latest([mv.c.period_start, mv.c.period_end, sa.func.count(sa.distinct(mv.c.metric))],
                    metric=None, period=period, dimension=dimension, dimension_values=None,
                    subjects=subjects, period_starts=None)
            .where(mv.c.value.is_not(None)).group_by(mv.c.period_start, mv.c.period_end))
    with store.engine.connect() as conn:
        return {(as_date(a), as_date(b)): int(n) for a, b, n in conn.execute(stmt)}
