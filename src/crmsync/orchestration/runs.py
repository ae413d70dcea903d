"""Runs: sync and metric computation, each reported to the ``crmsync_after_run`` hooks.

See docs/architecture.md.
"""


from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from crmsync.core.config import Config
from crmsync.core.errors import AuthError, ConfigError, CrmsyncError
from crmsync.core.reports import (
    LOCKED,
    PARTIAL,
    STOPPED_QUOTA,
    WHOLE_CONNECTION,
    EntityResult,
    RunReport,
)
from crmsync.metrics import engine as metric_engine
from crmsync.metrics.engine import ComputeResult
from crmsync.orchestration.connections import (
    close_quietly,
    connect,
    connection_config,
    failure_line,
    open_store,
    redactor_for,
)
from crmsync.orchestration.reading import StoredResults
from crmsync.orchestration.standard import StandardResult, compute_standard
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.locks import (
    DEFAULT_TTL,
    RunLocked,
    connection_lock_name,
    run_lock,
    sync_lock_name,
)
from crmsync.sync.engine import NOT_STARTED, ProgressCallback, SyncEngine

if TYPE_CHECKING:
    pass


log = logging.getLogger(__name__)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
        report.ended_at = now_utc()
        if own_store:
            store.dispose()
        registry.after_run(report, config, StoredResults(config, registry))


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
        connection_config(config, name)  # an unknown name is a usage error: nothing syncs
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
    (and ``report.connection_errors[name]``) instead of stopping the other connections, and
    so does a bug (any other exception but Ctrl-C): one line naming the connection, the
    plugin and the exception, the traceback in the debug log (docs/plugins.md, "Blast
    radius")."""
    try:
        connector, redactor = connect(config, name, registry)
    except CrmsyncError as exc:
        report.connection_errors[name] = exc
        return [EntityResult(connection=name, entity=WHOLE_CONNECTION, status="failed",
                             error=redactor_for(config, registry).text(str(exc)))]
    except Exception as exc:
        return [_failed_by_bug(config, registry, name, "failed to start", exc)]
    engine: SyncEngine | None = None
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
    except Exception as exc:
        if isinstance(exc, CrmsyncError):
            raise  # the user's to fix, as before: e.g. an entity the connector does not read
        # The entities done are kept; the rest of this connection stops, the others sync.
        done = list(engine.results) if engine is not None else []
        return [*done, _failed_by_bug(config, registry, name, "failed", exc,
                                      connector_only=False)]
    finally:
        close_quietly(connector)


def _failed_by_bug(config: Config, registry: Registry, name: str, what: str,
                   exc: BaseException, *, connector_only: bool = True) -> EntityResult:
    """A connection stopped by an unexpected error, as one detail (entity ``*``)."""
    line = failure_line(config, registry, name, what, exc, connector_only=connector_only)
    return EntityResult(connection=name, entity=WHOLE_CONNECTION, status="failed",
                        error=redactor_for(config, registry).text(line))


def _status(failed: list[EntityResult], locked: list[EntityResult],
            stopped: list[EntityResult], details: list[EntityResult]) -> str:
    """``partial`` when some connections failed and others synced, else ``failed``, else
    ``locked``, else a quota stop, else ``success``."""
    if failed:
        failed_connections = {d.connection for d in failed}
        synced = {d.connection for d in details
                  if d.status in ("success", STOPPED_QUOTA)} - failed_connections
        return PARTIAL if synced else "failed"
    if locked:
        return LOCKED
    return STOPPED_QUOTA if stopped else "success"


def _conclude(report: RunReport) -> None:
    """The run's status and error line from its details (:func:`_status`)."""
    failed = [d for d in report.details if d.status not in ("success", STOPPED_QUOTA, LOCKED)]
    stopped = [d for d in report.details if d.status == STOPPED_QUOTA]
    locked = [d for d in report.details if d.status == LOCKED]
    report.status = _status(failed, locked, stopped, report.details)
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
                    keep_values: bool = True,
                    progress: Callable[[int, int], None] | None = None) -> ComputeResult:
    """Compute metrics (default: every registered one) and store the values;
    ``progress(done, total)`` is called as the metric queries run.

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
                                       keep_values=keep_values, progress=progress,
                                       declared=registry.dimensions())
        report.status = "success"
        report.details = [{"run_id": result.run_id, "values": result.stored,
                           "skipped": result.skipped}]
    return result


def compute_standard_metrics(config: Config, registry: Registry, *,
                             period: str | None = None, store: Store | None = None,
                             as_of: dt.datetime | None = None,
                             progress: Callable[[int, int], None] | None = None
                             ) -> StandardResult:
    """What ``crmsync metrics compute`` without options stores: the catalogue for the period
    (default ``[metrics] period``) for the organisation and by owner and team, the snapshot
    metrics, and the metrics ``[[writeback]]`` mappings send
    (:func:`crmsync.orchestration.standard.compute_standard`)."""
    report = RunReport(kind="metrics")
    with _reported(config, registry, report, store) as store:
        result = compute_standard(store, config, registry.metrics(), period=period,
                                  as_of=as_of, progress=progress)
        report.status = "success"
        report.details = [{"run_id": run_id, "values": n, "purpose": purpose,
                           "period": p, "dimensions": list(dims), "connection": connection}
                          for purpose, p, dims, connection, run_id, n in result.runs]
    return result
