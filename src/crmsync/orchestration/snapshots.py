"""Computing metrics as of past instants and recording snapshots of the headline KPIs
(``crmsync metrics compute --as-of``, ``crmsync metrics snapshot``; docs/as-of.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmsync.core.config import Config
from crmsync.core.reports import RunReport
from crmsync.metrics import engine as metric_engine
from crmsync.metrics.engine import ComputeResult, supports_period
from crmsync.metrics.report import report_rows
from crmsync.metrics.snapshots import SNAPSHOT_METRICS, backfill_instants, snapshot_values
from crmsync.metrics.targets import TARGETS, stored_targets
from crmsync.orchestration.connections import open_store
from crmsync.orchestration.runs import _reported
from crmsync.orchestration.standard import STANDARD_DIMENSIONS
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["compute_as_of", "compute_standard_as_of", "record_snapshots", "SnapshotResult",
           "snapshot_report"]


def compute_as_of(config: Config, registry: Registry, at: dt.datetime,
                  metrics: Sequence[str] = (), *, period: str | None = None,
                  dimensions: Sequence[str | None] = (None,), store: Store | None = None,
                  pipelines: Sequence[str] = (), deal_types: Sequence[str] = (),
                  keep_values: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> ComputeResult:
    """Compute metrics (default: every registered one) as the store stood at ``at`` (naive
    UTC), every table rebuilt from history, and store them in ``metric_snapshots`` under
    ``snapshot_at = at``; ``metric_values`` is left as it is."""
    chosen = ([registry.metric(m) for m in metrics] if metrics
              else list(registry.metrics().values()))
    report = RunReport(kind="metrics")
    with _reported(config, registry, report, store) as store:
        result = metric_engine.compute(store, chosen, config.metrics, period=period,
                                       dimensions=dimensions, as_of=at, pipelines=pipelines,
                                       deal_types=deal_types, keep_values=keep_values,
                                       progress=progress, declared=registry.dimensions(),
                                       rebuilt=True)
        report.status = "success"
        report.details = [{"run_id": result.run_id, "values": result.stored,
                           "skipped": result.skipped, "as_of": at.isoformat()}]
    return result


def compute_standard_as_of(config: Config, registry: Registry, at: dt.datetime, *,
                           period: str | None = None, store: Store | None = None,
                           progress: Callable[[int, int], None] | None = None
                           ) -> list[ComputeResult]:
    """``crmsync metrics compute --as-of`` without options: every metric for the period
    (default ``[metrics] period``) and the snapshot (``all``-only) metrics for ``all``, for the
    organisation and by owner and team, as of ``at``; one result per period."""
    period = period or config.metrics.period
    every = list(registry.metrics().values())
    results = []
    for p, chosen in ((period, [m.NAME for m in every if supports_period(m, period)]),
                      ("all", [m.NAME for m in every if not supports_period(m, period)
                               and supports_period(m, "all")])):
        if chosen:
            results.append(compute_as_of(config, registry, at, chosen, period=p,
                                         dimensions=(None, *STANDARD_DIMENSIONS), store=store,
                                         keep_values=False, progress=progress))
    return results


@dataclass
class SnapshotResult:
    """What :func:`record_snapshots` stored: values per instant."""

    #: ``(instant, values stored)``, oldest first.
    instants: list[tuple[dt.datetime, int]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def record_snapshots(config: Config, registry: Registry, *, at: dt.datetime | None = None,
                     backfill: str | None = None, metrics: Sequence[str] = (),
                     period: str | None = None, store: Store | None = None,
                     now: dt.datetime | None = None,
                     progress: Callable[[int, int], None] | None = None) -> SnapshotResult:
    """Snapshots of the headline KPIs (:data:`SNAPSHOT_METRICS` registered, or ``metrics``):
    for the period (default ``[metrics] period``) and ``all`` for the snapshot metrics, for
    the organisation and by owner and team — as of ``at`` (default now), or, with
    ``backfill`` (``12w``), as of the end of each of the last weeks.

    :param now: the current time (naive UTC); tests pin it.
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    tz = config.metrics.timezone
    instants = backfill_instants(backfill, now, tz) if backfill else [at or now]
    names = list(metrics) or [m for m in SNAPSHOT_METRICS if m in registry.metrics()]
    chosen = [registry.metric(m) for m in names]
    period = period or config.metrics.period
    out = SnapshotResult()
    own = store is None
    store = store or open_store(config)
    try:
        for i, instant in enumerate(instants):
            if progress is not None:
                progress(i, len(instants))
            stored = 0
            for p in dict.fromkeys((period, "all")):
                wanted = [m.NAME for m in chosen if supports_period(m, p)
                          and (p == period or not supports_period(m, period))]
                if not wanted:
                    continue
                result = compute_as_of(config, registry, instant, wanted, period=p,
                                       dimensions=(None, *STANDARD_DIMENSIONS), store=store,
                                       keep_values=False)
                stored += result.stored
                out.skipped += [s for s in result.skipped if s not in out.skipped]
            out.instants.append((instant, stored))
    finally:
        if own:
            store.dispose()
    return out


def snapshot_report(config: Config, registry: Registry, at: dt.datetime, *,
                    metric: str | None = None, period: str | None = None,
                    dimension: str | None = None, below_target: bool = False,
                    store: Store | None = None) -> list[dict[str, Any]]:
    """The report rows (as :func:`crmsync.orchestration.reading.metric_report`) of the values
    computed as of ``at``; empty when none were."""
    own = store is None
    store = store or open_store(config)
    try:
        values = snapshot_values(store, at, metric=metric, period=period, dimension=dimension)
        targets = [*TARGETS.get(config), *stored_targets(store)]
        return report_rows(store, values, targets, registry.metrics(),
                           timezone=config.metrics.timezone, below_target=below_target,
                           declared=registry.dimensions(), now=at)
    finally:
        if own:
            store.dispose()
