"""Write-back as the API offers it: plan, apply, ``run`` (sync → compute → write-back) and the
status summary. :mod:`crmsync.api` re-exports these; the CLI calls them through it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.core.reports import STOPPED_QUOTA, RunReport
from crmsync.metrics import engine as metric_engine
from crmsync.orchestration import runs
from crmsync.orchestration.connections import connect, open_store, redactor_for
from crmsync.orchestration.reading import StoredResults
from crmsync.orchestration.standard import writeback_requests
from crmsync.plugin.connector import Connector
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.locks import run_lock, writeback_lock_name
from crmsync.sync.engine import ProgressCallback as SyncProgress
from crmsync.writeback.apply import ApplyResult, ProgressCallback, apply_plan
from crmsync.writeback.mapping import WRITEBACK, WritebackMapping
from crmsync.writeback.plan import WritebackPlan, make_plan

__all__ = ["plan", "apply", "run", "RunResult"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _mappings(config: Config, connections: Sequence[str]) -> list[WritebackMapping]:
    unknown = [c for c in connections if c not in config.connections]
    if unknown:
        raise ConfigError(f"no connection named {unknown[0]!r} (configured: "
                          f"{', '.join(config.connections) or 'none'})", file=config.file,
                          section="connections")
    return [m for m in WRITEBACK.get(config) if not connections or m.connection in connections]


@contextmanager
def _connectors(config: Config, registry: Registry, mappings: Sequence[WritebackMapping]
                ) -> Iterator[dict[str, Connector]]:
    opened: dict[str, Connector] = {}
    try:
        for name in dict.fromkeys(m.connection for m in mappings):
            opened[name] = connect(config, name, registry)[0]
        yield opened
    finally:
        for connector in opened.values():
            connector.close()


@contextmanager
def _store(config: Config, store: Store | None) -> Iterator[Store]:
    if store is not None:
        yield store
        return
    own = open_store(config)
    try:
        yield own
    finally:
        own.dispose()


def plan(config: Config, registry: Registry, *, connections: Sequence[str] = (),
         store: Store | None = None, now: dt.datetime | None = None) -> WritebackPlan:
    """What ``apply`` would do, mapping by mapping; nothing is written."""
    mappings = _mappings(config, connections)
    with _store(config, store) as st, _connectors(config, registry, mappings) as conns:
        return make_plan(st, mappings, conns, registry.metrics(), now=now or _utcnow())


def _report(result: ApplyResult | None, plan_: WritebackPlan, started: dt.datetime
            ) -> RunReport:
    report = RunReport(kind="writeback", started_at=started.replace(tzinfo=dt.timezone.utc))
    if result is None:
        report.status = "cancelled"
        report.details = [dict(p.as_dict(sample=0), sent=0) for p in plan_.mappings]
        return report
    calls = result.write_calls
    report.details = [dict(r.as_dict(), write_calls=calls.get(r.plan.mapping.connection, 0))
                      for r in result.mappings]
    report.status, report.error = result.status, result.error
    if report.status == "success" and any(r.failed or r.parked for r in result.mappings):
        report.status = "failed"
        bad = sum(r.failed + r.parked for r in result.mappings)
        report.error = f"{bad} value(s) could not be written (see `crmsync status`)"
    return report


def apply(config: Config, registry: Registry, *, connections: Sequence[str] = (),
          store: Store | None = None, now: dt.datetime | None = None,
          confirm: Callable[[WritebackPlan], bool] | None = None,
          progress: ProgressCallback | None = None,
          sleep: Callable[[float], None] = time.sleep) -> RunReport:
    """Plan, then (if ``confirm(plan)`` agrees, or without ``confirm``) execute the plan.

    Each mapping is locked for the duration (:func:`crmsync.store.locks.run_lock`), so two applies
    never send the same values. The report's ``details`` hold one row per mapping.
    """
    now = now or _utcnow()
    mappings = _mappings(config, connections)
    report = RunReport(kind="writeback")
    redactor = redactor_for(config, registry)
    plan_ = None
    try:
        with _store(config, store) as st, ExitStack() as locks:
            for m in mappings:
                locks.enter_context(run_lock(st, writeback_lock_name(
                    f"{m.connection}:{m.object}:{m.field or m.metric}")))
            with _connectors(config, registry, mappings) as conns:
                plan_ = make_plan(st, mappings, conns, registry.metrics(), now=now)
                if confirm is not None and not confirm(plan_):
                    report = _report(None, plan_, now)
                    return report
                result = apply_plan(st, plan_, conns, now=now, sleep=sleep, progress=progress,
                                    redactor=redactor)
                report = _report(result, plan_, now)
                return report
    except BaseException as exc:
        report.status = "failed"
        report.error = str(exc)
        raise
    finally:
        report.ended_at = dt.datetime.now(dt.timezone.utc)
        report.error = redactor.text(report.error) if report.error else report.error
        registry.after_run(report, config, StoredResults(config, registry))


@dataclass
class RunResult:
    """What ``crmsync run`` did: the sync, the metric values computed, the write-back plan
    and (unless it was a dry run) the write-back report."""

    sync: RunReport
    computed: int
    plan: WritebackPlan | None
    writeback: RunReport | None
    #: Connections whose sync failed: their mappings were not planned.
    skipped_connections: list[str]

    @property
    def ok(self) -> bool:
        """The sync and the write-back both succeeded."""
        return self.sync.ok and (self.writeback is None or self.writeback.ok)


def run(config: Config, registry: Registry, *, dry_run: bool = False,
        store: Store | None = None, now: dt.datetime | None = None,
        sync_progress: SyncProgress | None = None,
        progress: ProgressCallback | None = None,
        confirm: Callable[[WritebackPlan], bool] | None = None) -> RunResult:
    """Sync every connection, compute the metrics (the catalogue for the configured period,
    and the mapped record-level metrics per connection), then plan and apply write-back
    (``dry_run``: stop after the plan)."""
    with _store(config, store) as st:
        synced = runs.sync(config, registry, store=st, progress=sync_progress)
        failed = sorted({d.connection for d in synced.details
                         if d.status not in ("success", STOPPED_QUOTA)})
        computed = runs.compute_metrics(config, registry, store=st, keep_values=False).stored
        wanted = [m.connection for m in WRITEBACK.get(config) if m.connection not in failed]
        # record-level metrics: period all; per-rep ones: by owner, for their period
        for r in writeback_requests(WRITEBACK.get(config), registry.metrics(),
                                    connections=wanted):
            computed += metric_engine.compute(
                st, r.metrics, config.metrics, period=r.period, dimensions=r.dimensions,
                connection=r.connection, keep_values=False).stored
        if not wanted:
            return RunResult(synced, computed, None, None, failed)
        if dry_run:
            return RunResult(synced, computed,
                             plan(config, registry, connections=wanted, store=st, now=now),
                             None, failed)
        report = apply(config, registry, connections=wanted, store=st, now=now,
                       confirm=confirm, progress=progress)
        return RunResult(synced, computed, None, report, failed)
