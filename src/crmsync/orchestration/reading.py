"""Reading results: metric values, the metric report and the store's status.

See docs/architecture.md.
"""


from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core.config import Config
from crmsync.core.periods import is_period, rolling_days
from crmsync.core.schema import sync_rejects, sync_runs, sync_state
from crmsync.metrics import engine as metric_engine
from crmsync.metrics.baselines import TRENDS, history_starts
from crmsync.metrics.engine import MetricValue
from crmsync.metrics.report import report_rows
from crmsync.metrics.targets import TARGETS, stored_targets
from crmsync.orchestration.alerts import mark_sent, run_alerts
from crmsync.orchestration.connections import now_utc, open_store, redactor_for
from crmsync.orchestration.inputs import missing_inputs
from crmsync.orchestration.jobs import SCHEDULE, covers, last_runs, next_due
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.database import redact_url

if TYPE_CHECKING:
    pass


def metric_values(config: Config, *, metric: str | None = None, period: str | None = None,
                  dimension: str | None = None, store: Store | None = None,
                  dimension_values: Collection[str] | None = None,
                  subjects: bool = True,
                  period_starts: Collection[dt.date] | None = None) -> list[MetricValue]:
    """The latest stored values per metric, period and dimension (only those of
    ``dimension_values`` if given; only aggregate values, no per-subject ones, with
    ``subjects=False``; only the periods starting on ``period_starts`` if given)."""
    own = store is None
    store = store or open_store(config)
    try:
        return metric_engine.latest_values(store, metric=metric, period=period,
                                           dimension=dimension,
                                           dimension_values=dimension_values,
                                           subjects=subjects, period_starts=period_starts)
    finally:
        if own:
            store.dispose()


def metric_report(config: Config, registry: Registry, *, metric: str | None = None,
                  period: str | None = None, dimension: str | None = None,
                  below_target: bool = False, store: Store | None = None,
                  dimension_values: Collection[str] | None = None,
                  subjects: bool = True,
                  period_starts: Collection[dt.date] | None = None) -> list[dict[str, Any]]:
    """The latest values with their targets (``[targets]`` and the synced ``targets`` table)
    and below-target flags, as the rows ``crmsync metrics show --json`` prints.

    :param dimension_values: only the values of these dimension values (the dashboard's rep
        page reads one team's reps, not every rep's).
    :param subjects: include per-subject values (per stage, per record); ``False`` reads
        only the aggregate values, filtered in the database.
    :param period_starts: only the periods starting on these days (a value's change is
        against the previous period, its baselines read the periods before and the same
        period last year: include their starts to have them; when a ``[targets]`` target is
        relative to a baseline, they are read for it).
    """
    definitions = registry.metrics()
    own = store is None
    store = store or open_store(config)
    wanted = None
    try:
        targets = [*TARGETS.get(config), *stored_targets(store)]
        if period_starts is not None and period is not None and is_period(period) \
                and period != "all" and rolling_days(period) is None \
                and any(t.baseline is not None for t in targets):
            # relative targets read the periods before (docs/trends.md)
            wanted = {s.isoformat() for s in period_starts}
            period_starts = history_starts(period, period_starts)
        values = metric_values(config, metric=metric, period=period, dimension=dimension,
                               store=store, dimension_values=dimension_values,
                               subjects=subjects, period_starts=period_starts)
        rows = report_rows(store, values, targets, definitions,
                           timezone=config.metrics.timezone, below_target=below_target,
                           declared=registry.dimensions(), rule=TRENDS.get(config))
        return rows if wanted is None else [r for r in rows if r["period_start"] in wanted]
    finally:
        if own:
            store.dispose()


#: A cursor's text longer than this is shown by its length (e.g. the files connector's line
#: index: megabytes of digests, of no use to a reader and costly to scrub).
SHOWN_CURSOR_TEXT = 256


def _shown(value: Any) -> Any:
    """A cursor as ``status`` shows it: text over :data:`SHOWN_CURSOR_TEXT` characters as
    ``"<N characters>"``."""
    if isinstance(value, str) and len(value) > SHOWN_CURSOR_TEXT:
        return f"<{len(value):,} characters>"
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def status(config: Config, *, rejects_limit: int = 20, now: dt.datetime | None = None,
           registry: Registry | None = None, store: Store | None = None) -> dict[str, Any]:
    """Latest run per connection and entity (with its duration and next scheduled time),
    cursors, counts and the most recent of the rejects still standing (not resolved by a later
    sync), the ``[schedule]`` jobs' last and next runs, and the inputs KPIs lack
    (:func:`crmsync.orchestration.inputs.missing_inputs`).

    Every configured secret (:func:`redactor_for`, the connectors of ``registry``, default the
    installed plugins) is scrubbed from what is shown, rows stored before it was known
    included.

    :param store: a store to read (e.g. the dashboard's read-only one); default the
        configured store.
    """
    now = now or now_utc()
    registry = registry or Registry()
    scrub = redactor_for(config, registry)
    own = store is None
    store = store or open_store(config)
    try:
        job_runs = last_runs(store)
        writeback = _writeback_summary(store)
        missing = missing_inputs(store, registry)
        with store.engine.connect() as conn:
            last = (sa.select(sync_runs.c.connection, sync_runs.c.entity,
                              sa.func.max(sync_runs.c.id).label("id"))
                    .group_by(sync_runs.c.connection, sync_runs.c.entity).subquery())
            runs = conn.execute(
                sa.select(sync_runs, sync_state.c.cursor)
                .join(last, last.c.id == sync_runs.c.id)
                .outerjoin(sync_state, sa.and_(sync_state.c.connection == sync_runs.c.connection,
                                               sync_state.c.entity == sync_runs.c.entity))
                .order_by(sync_runs.c.connection, sync_runs.c.id)).mappings().all()
            standing = sync_rejects.c.resolved_at.is_(None)  # resolved ones are history
            totals: dict[str, int] = dict(conn.execute(
                sa.select((sync_rejects.c.connection + "/" + sync_rejects.c.entity),
                          sa.func.count()).where(standing)
                .group_by(sync_rejects.c.connection, sync_rejects.c.entity)).all())
            recent = conn.execute(
                sa.select(sync_rejects).where(standing).order_by(sync_rejects.c.id.desc())
                .limit(rejects_limit)).mappings().all()
    finally:
        if own:
            store.dispose()

    def iso(v: Any) -> Any:
        return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v

    next_by_job = {name: next_due(job, job_runs.get(name), now)
                   for name, job in SCHEDULE.get(config).items()}

    def run_row(r: Any) -> dict[str, Any]:
        row = {k: iso(v) for k, v in r.items()}
        row["cursor"] = _shown(row.get("cursor"))
        row["duration_s"] = (round((r["ended_at"] - r["started_at"]).total_seconds(), 3)
                             if r["ended_at"] and r["started_at"] else None)
        row["quota_left"] = (max(r["quota_limit"] - r["quota_used"], 0)
                             if r.get("quota_limit") is not None
                             and r.get("quota_used") is not None else None)
        times = [t for name, t in next_by_job.items()
                 if covers(SCHEDULE.get(config)[name], r["connection"], r["entity"])]
        row["next_scheduled"] = min(times).isoformat() if times else None
        return row

    out: dict[str, Any] = scrub.data({
        "store": redact_url(store.url),
        "runs": [run_row(r) for r in runs],
        "jobs": [dict(job.as_dict(), last_run=iso(job_runs.get(name)),
                      next_run=next_by_job[name].isoformat())
                 for name, job in SCHEDULE.get(config).items()],
        "reject_totals": totals,
        "recent_rejects": [{k: iso(v) for k, v in r.items()} for r in recent],
        "writeback": writeback,
        "missing_inputs": missing,
    })
    return out


def _writeback_summary(store: Store) -> dict[str, Any]:
    """Write-back state per field: sent, pending, parked, missing, recent failures, last
    apply (:func:`crmsync.writeback.status.writeback_status`); part of :func:`status`."""
    from crmsync.writeback.status import writeback_status

    return writeback_status(store)


class StoredResults:
    """:class:`crmsync.RunResults` over the configured store (what ``crmsync_after_run``
    hooks are given)."""

    def __init__(self, config: Config, registry: Registry) -> None:
        self.config, self.registry = config, registry

    def below_target(self) -> list[dict[str, Any]]:
        """The latest values below their targets (``metrics show --below-target --json``)."""
        return metric_report(self.config, self.registry, below_target=True)

    def alerts(self, run_ids: Sequence[str],
               kinds: Sequence[str] = ("below_target", "anomaly")) -> list[dict[str, Any]]:
        """The alerts of the runs not sent yet
        (:func:`crmsync.orchestration.alerts.run_alerts`)."""
        return run_alerts(self.config, self.registry, run_ids, kinds=kinds)

    def mark_sent(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Remember the alerts sent (:func:`crmsync.orchestration.alerts.mark_sent`)."""
        mark_sent(self.config, alerts)
