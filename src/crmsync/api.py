"""The library functions the CLI and tests call: crmsync's product surface.

Each function takes a :class:`~crmsync.core.config.Config` (see :func:`load_config`) and, where
plugins matter, a :class:`~crmsync.plugin.registry.Registry`; each returns plain data or a report.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core import logs
from crmsync.core.config import Config, ConnectionConfig, load_config
from crmsync.core.errors import AuthError, ConfigError, ConnectorError, CrmsyncError
from crmsync.core.redact import Redactor
from crmsync.core.reports import (
    LOCKED,
    PARTIAL,
    STOPPED_QUOTA,
    WHOLE_CONNECTION,
    EntityResult,
    RunReport,
)
from crmsync.core.schema import sync_rejects, sync_runs, sync_state
from crmsync.metrics import engine as metric_engine
from crmsync.metrics.engine import ComputeResult, MetricValue
from crmsync.metrics.report import report_rows
from crmsync.metrics.targets import stored_targets
from crmsync.orchestration.jobs import covers, last_runs, next_due
from crmsync.orchestration.standard import StandardResult, compute_standard
from crmsync.plugin.connector import Connector
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.database import redact_url
from crmsync.store.locks import (
    DEFAULT_TTL,
    RunLocked,
    connection_lock_name,
    run_lock,
    sync_lock_name,
)
from crmsync.sync.engine import NOT_STARTED, ProgressCallback, SyncEngine

if TYPE_CHECKING:
    from crmsync.orchestration.writeback import RunResult
    from crmsync.writeback.plan import WritebackPlan

__all__ = [
    "load_config", "open_store", "connect", "redactor_for", "check", "sync", "compute_metrics",
    "compute_standard_metrics", "metric_values",
    "metric_report",
    "status", "export", "upgrade", "show_config", "init_config", "demo", "DemoResult",
    "serve_schedule", "serve_dashboard", "report_html",
    "CheckResult",
    "writeback_plan", "writeback_apply", "run",
]


log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def open_store(config: Config) -> Store:
    """Open the configured store, applying pending migrations."""
    return Store(config.store_url)


def _connection(config: Config, name: str) -> ConnectionConfig:
    try:
        return config.connections[name]
    except KeyError:
        known = ", ".join(config.connections) or "none configured"
        raise ConfigError(f"no connection named '{name}' (configured: {known})",
                          file=config.file, section="connections") from None


def redactor_for(config: Config, registry: Registry, extra: Iterable[str] = ()) -> Redactor:
    """One redactor for every secret the configuration holds: the secret settings of every
    configured connection (an error of one CRM may echo another's token), the notification
    webhook URL, the store URL's password, and ``extra``. They are registered with logging
    too (:func:`crmsync.core.logs.register_secrets`). Connections whose type no plugin provides
    are skipped (their error is reported where they are used)."""
    secrets = set(extra)
    for conn_cfg in config.connections.values():
        try:
            cls = registry.connector(conn_cfg.type)
        except ConfigError:
            continue
        secrets |= conn_cfg.secret_values(cls)
    if config.notify is not None:
        secrets.add(config.notify.webhook_url)
    try:
        password = sa.engine.make_url(config.store_url).password
    except sa.exc.ArgumentError:  # the store reports a malformed URL itself
        password = None
    if password:
        secrets.add(str(password))
    logs.register_secrets(secrets)
    return Redactor(secrets)


def connect(config: Config, name: str, registry: Registry) -> tuple[Connector, Redactor]:
    """Instantiate the connector of connection ``name`` with validated, resolved settings;
    with it, the redactor of every configured secret (:func:`redactor_for`), to apply to all
    that is stored, logged or reported."""
    conn_cfg = _connection(config, name)
    cls = registry.connector(conn_cfg.type, file=conn_cfg.file, section=conn_cfg.section)
    settings, secrets = conn_cfg.resolve(cls)
    return cls(name, settings), redactor_for(config, registry, secrets)


@dataclass
class CheckResult:
    """The outcome of ``check`` for one connection."""

    connection: str
    type: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dict(self.__dict__)


def check(config: Config, registry: Registry, names: Sequence[str] = ()) -> list[CheckResult]:
    """Probe authentication and permissions of each connection (default: all). A connection
    that cannot even be set up (a configuration error) is a failed result like any other, so
    every connection is reported."""
    if not names and not config.connections:
        raise ConfigError("no connections configured; add a [connections.NAME] table "
                          "(crmsync init writes an example)", file=config.file)
    names = list(names) or list(config.connections)
    for name in names:
        _connection(config, name)  # an unknown name is a usage error: nothing is probed
    results = []
    for name in names:
        conn_cfg = config.connections[name]
        try:
            connector, redactor = connect(config, name, registry)
        except CrmsyncError as exc:
            results.append(CheckResult(name, conn_cfg.type, False,
                                       redactor_for(config, registry).text(str(exc))))
            continue
        try:
            results.append(CheckResult(name, conn_cfg.type, True, connector.check()))
        except CrmsyncError as exc:
            results.append(CheckResult(name, conn_cfg.type, False, redactor.text(str(exc))))
        finally:
            connector.close()
    return results



@contextmanager
def _reported(config: Config, registry: Registry, report: RunReport, store: Store | None
              ) -> Iterator[Store]:
    """A run that ends in ``report``: yields ``store`` (default the configured one, disposed
    afterwards); a failure marks the report ``failed`` (``interrupted`` for Ctrl-C) with its
    error scrubbed of every configured secret; in every case the report gets its end time and
    goes to the ``crmsync_after_run`` hooks (notifications)."""
    own_store = store is None
    store = store or open_store(config)
    try:
        yield store
    except BaseException as exc:
        report.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        report.error = report.error or redactor_for(config, registry).text(str(exc))
        raise
    finally:
        report.ended_at = _now()
        if own_store:
            store.dispose()
        registry.after_run(report, config)

def sync(config: Config, registry: Registry, names: Sequence[str] = (), *,
         entities: Sequence[str] = (), full: bool = False,
         progress: ProgressCallback | None = None, store: Store | None = None,
         wait: float = 0.0, lock_ttl: float = DEFAULT_TTL) -> RunReport:
    """Sync connections (default: all) into the store. Entities that fail are reported in
    the returned report (status ``failed``) while the others still sync.

    Every connection is reported: one that cannot be set up or whose configuration or
    authentication fails is a detail with its error (entity ``*`` when no entity started;
    the entities it kept from syncing as ``not started``) and the other connections still
    sync. When some connections failed and others synced, the run's status is ``partial``.

    A sync of several entities of a connection holds the connection's lock
    (:func:`crmsync.store.locks.connection_lock_name`) for its whole run, and each entity its own
    run lock (:mod:`crmsync.store.locks`). A lock another process holds for longer than ``wait``
    seconds is reported with status ``locked`` (a held connection as one detail, entity
    ``*``; and so is the run, unless something failed); the others still sync.
    """
    report = RunReport(kind="sync")
    names = list(names) or list(config.connections)
    if not names:
        raise ConfigError("no connections configured; add a [connections.NAME] table "
                          "(crmsync init writes an example)", file=config.file)
    for name in names:
        _connection(config, name)  # an unknown name is a usage error: nothing syncs
    with _reported(config, registry, report, store) as store:
        for name in names:
            report.details.extend(_sync_connection(
                config, registry, store, name, report, entities=entities, full=full,
                progress=progress, wait=wait, lock_ttl=lock_ttl))
        changed: dict[str, int] = {}
        for d in report.details:
            changed[d.entity] = changed.get(d.entity, 0) + d.rows_upserted + d.rows_deleted
        store.analyze({t: n for t, n in changed.items() if t != WHOLE_CONNECTION})
        _conclude(report)
    return report


def _sync_connection(config: Config, registry: Registry, store: Store, name: str,
                     report: RunReport, *, entities: Sequence[str], full: bool,
                     progress: ProgressCallback | None, wait: float, lock_ttl: float
                     ) -> list[EntityResult]:
    """Sync one connection; its configuration or authentication error becomes its details
    (and ``report.connection_errors[name]``) instead of stopping the other connections."""
    try:
        connector, redactor = connect(config, name, registry)
    except CrmsyncError as exc:
        report.connection_errors[name] = exc
        return [EntityResult(connection=name, entity=WHOLE_CONNECTION, status="failed",
                             error=redactor_for(config, registry).text(str(exc)))]
    try:
        def lock(entity: str) -> Any:
            return run_lock(store, sync_lock_name(name, entity), wait=wait, ttl=lock_ttl)

        whole = len(entities or connector.ENTITIES) > 1
        engine = SyncEngine(store, connector, redactor=redactor, progress=progress, lock=lock,
                            max_reject_ratio=config.sync.max_reject_ratio)
        try:
            with (run_lock(store, connection_lock_name(name), wait=wait, ttl=lock_ttl)
                  if whole else nullcontext()):
                return engine.run(entities or None, full=full)
        except RunLocked as exc:
            log.warning("%s", exc)
            return [EntityResult(connection=name, entity=WHOLE_CONNECTION, status=LOCKED,
                                 error=str(exc))]
        except (ConfigError, AuthError) as exc:
            report.connection_errors[name] = exc
            return engine.results or [EntityResult(
                connection=name, entity=WHOLE_CONNECTION, status="failed",
                error=redactor.text(str(exc)))]
    finally:
        connector.close()


def _conclude(report: RunReport) -> None:
    """The run's status and error line from its details: ``failed`` (or ``partial`` when
    other connections synced), else ``locked``, else a quota stop, else ``success``."""
    failed = [d for d in report.details if d.status not in ("success", STOPPED_QUOTA, LOCKED)]
    stopped = [d for d in report.details if d.status == STOPPED_QUOTA]
    locked = [d for d in report.details if d.status == LOCKED]
    failed_connections = {d.connection for d in failed}
    synced = {d.connection for d in report.details
              if d.status in ("success", STOPPED_QUOTA)} - failed_connections
    report.status = (PARTIAL if failed and synced else "failed" if failed
                     else LOCKED if locked else STOPPED_QUOTA if stopped else "success")
    if failed or stopped or locked:
        # An entity a connection's error kept from syncing adds nothing to that error's line.
        causes = [d for d in failed if not (d.error or "").startswith(NOT_STARTED)]
        report.error = "; ".join(dict.fromkeys(_described(d) for d in causes + locked + stopped))


def _described(d: EntityResult) -> str:
    """A detail's error naming its connection and entity (once)."""
    error = d.error or d.status
    if d.entity == WHOLE_CONNECTION or error.startswith((f"{d.connection}/{d.entity}:",
                                                         "sync:")):
        return error
    return f"{d.connection}/{d.entity}: {error}"


def compute_metrics(config: Config, registry: Registry, metrics: Sequence[str] = (), *,
                    period: str | None = None, dimensions: Sequence[str | None] = (None,),
                    store: Store | None = None, as_of: dt.datetime | None = None,
                    pipelines: Sequence[str] = (), deal_types: Sequence[str] = (),
                    keep_values: bool = True) -> ComputeResult:
    """Compute metrics (default: every registered one) and store the values.

    :param as_of: "now" for the metrics (naive UTC); default the current time.
    :param pipelines: only deals of these pipelines (remote ids).
    :param deal_types: only deals of these types.
    :param keep_values: return the values (else only their count, ``result.stored``).
    """
    chosen = ([registry.metric(m) for m in metrics] if metrics
              else list(registry.metrics().values()))
    report = RunReport(kind="metrics")
    with _reported(config, registry, report, store) as store:
        result = metric_engine.compute(store, chosen, config.metrics, period=period,
                                       dimensions=dimensions, as_of=as_of,
                                       pipelines=pipelines, deal_types=deal_types,
                                       keep_values=keep_values)
        report.status = "success"
        report.details = [{"run_id": result.run_id, "values": result.stored,
                           "skipped": result.skipped}]
    return result


def compute_standard_metrics(config: Config, registry: Registry, *,
                             period: str | None = None, store: Store | None = None,
                             as_of: dt.datetime | None = None) -> StandardResult:
    """What ``crmsync metrics compute`` without options stores: the catalogue for the period
    (default ``[metrics] period``) for the organisation and by owner and team, the snapshot
    metrics, and the metrics ``[[writeback]]`` mappings send
    (:func:`crmsync.orchestration.standard.compute_standard`)."""
    report = RunReport(kind="metrics")
    with _reported(config, registry, report, store) as store:
        result = compute_standard(store, config, registry.metrics(), period=period,
                                  as_of=as_of)
        report.status = "success"
        report.details = [{"run_id": run_id, "values": n, "purpose": purpose,
                           "period": p, "dimensions": list(dims), "connection": connection}
                          for purpose, p, dims, connection, run_id, n in result.runs]
    return result


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
        against the previous period: include its start to have it).
    """
    definitions = registry.metrics()
    own = store is None
    store = store or open_store(config)
    try:
        values = metric_values(config, metric=metric, period=period, dimension=dimension,
                               store=store, dimension_values=dimension_values,
                               subjects=subjects, period_starts=period_starts)
        targets = [*config.targets, *stored_targets(store)]
        return report_rows(store, values, targets, definitions,
                           timezone=config.metrics.timezone, below_target=below_target)
    finally:
        if own:
            store.dispose()


def status(config: Config, *, rejects_limit: int = 20, now: dt.datetime | None = None,
           registry: Registry | None = None, store: Store | None = None) -> dict[str, Any]:
    """Latest run per connection and entity (with its duration and next scheduled time),
    cursors, counts and the most recent of the rejects still standing (not resolved by a later
    sync), and the ``[schedule]`` jobs' last and next runs.

    Every configured secret (:func:`redactor_for`, the connectors of ``registry``, default the
    installed plugins) is scrubbed from what is shown, rows stored before it was known
    included.

    :param store: a store to read (e.g. the dashboard's read-only one); default the
        configured store.
    """
    now = now or _now()
    scrub = redactor_for(config, registry or Registry())
    own = store is None
    store = store or open_store(config)
    try:
        job_runs = last_runs(store)
        writeback = _writeback_summary(store)
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
            totals = dict(conn.execute(
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
                   for name, job in config.schedule.items()}

    def run_row(r: Any) -> dict[str, Any]:
        row = {k: iso(v) for k, v in r.items()}
        row["duration_s"] = (round((r["ended_at"] - r["started_at"]).total_seconds(), 3)
                             if r["ended_at"] and r["started_at"] else None)
        row["quota_left"] = (max(r["quota_limit"] - r["quota_used"], 0)
                             if r.get("quota_limit") is not None
                             and r.get("quota_used") is not None else None)
        times = [t for name, t in next_by_job.items()
                 if covers(config.schedule[name], r["connection"], r["entity"])]
        row["next_scheduled"] = min(times).isoformat() if times else None
        return row

    return scrub.data({
        "store": redact_url(store.url),
        "runs": [run_row(r) for r in runs],
        "jobs": [dict(job.as_dict(), last_run=iso(job_runs.get(name)),
                      next_run=next_by_job[name].isoformat())
                 for name, job in config.schedule.items()],
        "reject_totals": totals,
        "recent_rejects": [{k: iso(v) for k, v in r.items()} for r in recent],
        "writeback": writeback,
    })


def report_html(config: Config, registry: Registry, path: str | Path, *,
                period: str | None = None, as_of: dt.date | None = None,
                team: str | None = None, rep: str | None = None) -> Any:
    """Write the dashboard's pages as one self-contained HTML file (docs/dashboard.md);
    returns a :class:`crmsync.dashboard.report.ReportResult` (path, size, sections)."""
    from crmsync.dashboard.report import write_report

    return write_report(config, registry, path, period=period, as_of=as_of, team=team,
                        rep=rep)


def serve_dashboard(config: Config, registry: Registry, *, host: str = "127.0.0.1",
                    port: int = 8050, auth_token: str | None = None, no_auth: bool = False,
                    open_browser: bool = False, as_of: dt.date | None = None) -> None:
    """Serve the live, read-only dashboard until interrupted (docs/dashboard.md).

    Binding anything but a loopback address needs ``auth_token`` or an explicit
    ``no_auth``: the dashboard shows the whole sales organisation's figures.
    """
    from crmsync.dashboard.serve import serve

    serve(config, registry, host=host, port=port, auth_token=auth_token, no_auth=no_auth,
          open_browser=open_browser, as_of=as_of)


def serve_schedule(config: Config, registry: Registry, *, poll: float = 30.0) -> int:
    """Run the ``[schedule]`` jobs when due until SIGTERM/SIGINT (:mod:`crmsync.orchestration.scheduler`);
    returns the exit status."""
    from crmsync.orchestration.scheduler import Scheduler

    if not config.schedule:
        raise ConfigError("no jobs to run; add a [schedule.NAME] table with a cron "
                          "expression (docs/configuration.md)", file=config.file,
                          section="schedule")
    store = open_store(config)
    try:
        return Scheduler(config, registry, store=store, poll=poll).serve()
    finally:
        store.dispose()


def writeback_plan(config: Config, registry: Registry, *, connections: Sequence[str] = (),
                   store: Store | None = None, now: dt.datetime | None = None) -> WritebackPlan:
    """What write-back would create, send and skip per ``[[writeback]]`` mapping (only those
    of ``connections``, default all); validates every mapping and writes nothing.

    :param now: naive UTC "now" (which failed records are due for a retry).
    """
    from crmsync.orchestration import writeback as operations

    return operations.plan(config, registry, connections=connections, store=store, now=now)


def writeback_apply(config: Config, registry: Registry, *, connections: Sequence[str] = (),
                    store: Store | None = None, now: dt.datetime | None = None,
                    confirm: Callable[[WritebackPlan], bool] | None = None,
                    progress: Callable[[str, int, int], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> RunReport:
    """Plan, then (if ``confirm(plan)`` returns true, or without ``confirm``) create the
    fields, send the changed values and record every outcome in ``writeback_state``. The
    report's ``details`` hold one row per mapping; status ``failed`` when values failed.

    :param progress: ``progress(label, done, total)`` per connection/object while sending.
    """
    from crmsync.orchestration import writeback as operations

    return operations.apply(config, registry, connections=connections, store=store, now=now,
                            confirm=confirm, progress=progress, sleep=sleep)


def run(config: Config, registry: Registry, *, dry_run: bool = False,
        store: Store | None = None, now: dt.datetime | None = None,
        sync_progress: ProgressCallback | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        confirm: Callable[[WritebackPlan], bool] | None = None) -> RunResult:
    """Sync every connection, compute the metrics (the catalogue for the configured period,
    and the mapped record-level metrics per connection), then plan and apply write-back;
    ``dry_run`` stops at the plan."""
    from crmsync.orchestration import writeback as operations

    return operations.run(config, registry, dry_run=dry_run, store=store, now=now,
                          sync_progress=sync_progress, progress=progress, confirm=confirm)


def _writeback_summary(store: Store) -> dict[str, Any]:
    """Write-back state per field: sent, pending, parked, missing, recent failures, last
    apply (:func:`crmsync.writeback.status.writeback_status`); part of :func:`status`."""
    from crmsync.writeback.status import writeback_status

    return writeback_status(store)


def export(config: Config, directory: str | Path, fmt: str = "csv", *,
           connection: str | None = None) -> dict[str, int]:
    """Write the store's tables as CSV or JSONL files the ``files`` connector reads back."""
    from crmsync.orchestration.export import export_store

    store = open_store(config)
    try:
        return export_store(store.engine, directory, fmt, connection=connection)
    finally:
        store.dispose()


def upgrade(config: Config) -> list[str]:
    """Apply pending migrations; returns the revisions applied."""
    store = Store(config.store_url, upgrade=False)
    try:
        return store.upgrade()
    finally:
        store.dispose()


def show_config(config: Config, registry: Registry) -> dict[str, Any]:
    """The effective configuration with secrets redacted."""
    conns = {}
    for name, c in config.connections.items():
        try:
            cls: type[Connector] | None = registry.connector(c.type)
        except ConfigError:
            cls = None
        shown = c.redacted(cls)
        if cls is not None:
            for key, spec in cls.SETTINGS.items():
                if key not in shown and not spec.required:
                    shown[key] = spec.default
        conns[name] = shown
    return {
        "file": config.file,
        "store": {"url": redact_url(config.store_url)},
        "connections": conns,
        "metrics": dict(config.metrics.__dict__),
        "writeback": [m.as_dict() for m in config.writeback],
        "targets": [dict(t.__dict__) for t in config.targets],
    }


def init_config(path: str | Path = "crmsync.toml", *, force: bool = False) -> Path:
    """Write a commented starter ``crmsync.toml``."""
    from crmsync.orchestration.config_template import TEMPLATE

    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (use --force to overwrite)")
    target.write_text(TEMPLATE, encoding="utf-8")
    return target


@dataclass
class DemoResult:
    """What ``crmsync demo`` did."""

    store_url: str
    kept: bool
    sync: RunReport
    metrics: ComputeResult
    by_team: ComputeResult
    snapshot: ComputeResult
    period: str
    as_of: dt.datetime
    #: How many per-rep values the demo stored (not kept in memory).
    by_owner: int = 0
    #: What ``demo(then=…)`` returned.
    then_result: Any = None


#: Activity counts the demo also computes per rep and week (the dashboard's activity page).
DEMO_WEEKLY_METRICS = ("calls", "emails", "meetings", "tasks")
#: Open pipeline the demo also computes per stage and per pipeline (the dashboard's pipeline
#: page).
DEMO_STAGE_METRICS = ("pipeline_value", "weighted_pipeline_value")


def demo(registry: Registry, *, store_url: str | None = None, size: str = "small",
         period: str = "quarter", progress: ProgressCallback | None = None,
         then: Callable[[Config, dt.datetime], Any] | None = None) -> DemoResult:
    """Sync the demo CRM into a store (a throw-away one unless ``store_url``), compute every
    registered metric by ``period`` for the organisation, per team and per rep (and the
    activity counts per rep and week, the open pipeline per stage and pipeline), and the
    snapshot metrics (period ``all``), all as of the demo dataset's own "today"; return it
    all.

    :param then: called with the demo store's configuration and "today" once everything is
        computed, before a throw-away store is removed (``crmsync demo`` writes the HTML
        report with it, ``crmsync demo --dashboard`` serves the dashboard); its result is
        ``DemoResult.then_result``.
    """
    tmp = None if store_url else tempfile.mkdtemp(prefix="crmsync-demo-")
    url = store_url or f"sqlite:///{Path(tmp or '.') / 'crmsync-demo.db'}"
    config = Config(store_url=url, connections={
        "demo": ConnectionConfig(name="demo", type="demo", raw={"type": "demo", "size": size}),
    })
    store = open_store(config)
    try:
        report = sync(config, registry, ["demo"], progress=progress, store=store)
        if not report.ok:
            raise ConnectorError(f"demo sync failed: {report.error}", connection="demo")
        connector = registry.connector("demo")
        as_of = dt.datetime.fromisoformat(connector.SETTINGS["as_of"].default)
        org = compute_metrics(config, registry, period=period, store=store, as_of=as_of)
        teams = compute_metrics(config, registry, period=period, dimensions=("team",),
                                store=store, as_of=as_of)
        # per rep (the dashboard's leaderboard and rep pages) and the activity counts per
        # rep and week (its activity page)
        owners = compute_metrics(config, registry, period=period, dimensions=("owner",),
                                 store=store, as_of=as_of, keep_values=False)
        by_stage = [n for n in DEMO_STAGE_METRICS if n in registry.metrics()]
        if by_stage:  # the dashboard's open pipeline by stage and by pipeline
            compute_metrics(config, registry, by_stage, period=period,
                            dimensions=("stage", "pipeline"), store=store, as_of=as_of,
                            keep_values=False)
        weekly = [n for n in DEMO_WEEKLY_METRICS if n in registry.metrics()]
        if weekly and period != "week":
            compute_metrics(config, registry, weekly, period="week",
                            dimensions=(None, "owner"), store=store, as_of=as_of,
                            keep_values=False)
        snapshot_names = [n for n, m in registry.metrics().items()
                          if m.subject == "org" and period not in m.periods
                          and "all" in m.periods]
        snapshot = compute_metrics(config, registry, snapshot_names, period="all", store=store,
                                   as_of=as_of)
        result = DemoResult(store_url=url, kept=tmp is None, sync=report, metrics=org,
                            by_team=teams, snapshot=snapshot, period=period, as_of=as_of,
                            by_owner=owners.stored)
        if then is not None:
            store.dispose()  # the callback opens the store its own way (read-only)
            result.then_result = then(config, as_of)
        return result
    finally:
        store.dispose()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
