"""Celery tasks: one connection's entity sync, a metrics computation, a write-back, and a
``[schedule]`` job fanned out into them."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from celery import chain, group, shared_task
from celery.canvas import Signature

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.core.reports import LOCKED
from crmsync.orchestration import runs
from crmsync.orchestration import writeback as writeback_runs
from crmsync.orchestration.coaching import coach as coach_findings
from crmsync.orchestration.distributed.context import context
from crmsync.orchestration.distributed.settings import CELERY
from crmsync.orchestration.jobs import SCHEDULE
from crmsync.plugin.registry import Registry

__all__ = ["sync_entity", "compute", "coach", "writeback", "run", "job", "job_signature",
           "sync_signatures"]

log = logging.getLogger(__name__)
_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="crmsync.sync_entity", bind=True, max_retries=None, **_OPTIONS)
def sync_entity(self: Any, connection: str, entity: str, full: bool = False) -> dict[str, Any]:
    """Sync one connection's entity under its run lock. A target another worker holds is
    retried after ``[celery] lock_retry_seconds`` (the holder's run does the work meanwhile)."""
    ctx = context()
    report = runs.sync(ctx.config, ctx.registry, [connection], entities=[entity], full=full,
                      store=ctx.store)
    if report.status == LOCKED:
        log.info("%s/%s is locked (attempt %d); retrying", connection, entity,
                 self.request.retries + 1)
        raise self.retry(countdown=CELERY.get(ctx.config).lock_retry_seconds)
    data = report.as_dict()
    data["worker_pid"] = os.getpid()
    data["retries"] = self.request.retries
    data["redelivered"] = bool((self.request.delivery_info or {}).get("redelivered"))
    return data


@shared_task(name="crmsync.compute", **_OPTIONS)
def compute(metrics: Sequence[str] = (), period: str | None = None) -> dict[str, Any]:
    """Compute metrics (default: all) and store the values."""
    ctx = context()
    result = runs.compute_metrics(ctx.config, ctx.registry, list(metrics), period=period,
                                 store=ctx.store, keep_values=False)
    return {"run_id": result.run_id, "stored": result.stored}


@shared_task(name="crmsync.coach", **_OPTIONS)
def coach(period: str | None = None) -> dict[str, int]:
    """Evaluate the coaching rules, track the findings and send the digest."""
    ctx = context()
    result = coach_findings(ctx.config, ctx.registry, period=period, store=ctx.store,
                            notify=True)
    return dict(result.get("changes") or {})


@shared_task(name="crmsync.writeback", **_OPTIONS)
def writeback(connections: Sequence[str] = ()) -> dict[str, Any]:
    """Apply write-back (each mapping under its own run lock) from the stored values."""
    ctx = context()
    report = writeback_runs.apply(ctx.config, ctx.registry, connections=list(connections),
                                 store=ctx.store)
    return report.as_dict()


@shared_task(name="crmsync.run", **_OPTIONS)
def run() -> dict[str, Any]:
    """``crmsync run``: sync (incremental: after the fanned-out syncs of a ``run`` job there is
    little left), compute, write back."""
    ctx = context()
    result = writeback_runs.run(ctx.config, ctx.registry, store=ctx.store)
    return {"sync": result.sync.as_dict(), "computed": result.computed,
            "writeback": result.writeback.as_dict() if result.writeback else None,
            "skipped_connections": result.skipped_connections}


def sync_signatures(config: Config, registry: Registry, connections: Sequence[str] = (),
                    entities: Sequence[str] = ()) -> list[Signature]:
    """One :func:`sync_entity` signature per connection and entity (default: all)."""
    names = list(connections) or list(config.connections)
    out: list[Signature] = []
    for name in names:
        conn = config.connections.get(name)
        if conn is None:
            raise ConfigError(f"no connection named '{name}'", file=config.file,
                              section="connections")
        wanted = list(entities) or list(registry.connector(conn.type).ENTITIES)
        out.extend(sync_entity.si(name, entity) for entity in wanted)
    return out


def job_signature(config: Config, registry: Registry, name: str) -> Signature:
    """The Celery canvas of ``[schedule.NAME]``: a ``sync`` job is a group of entity syncs
    spread over the workers; a ``run`` job is that group for every connection, then
    :func:`run` (compute and write-back after a catch-up sync) once they all ended."""
    try:
        spec = SCHEDULE.get(config)[name]
    except KeyError:
        raise ConfigError(f"no job named '{name}'", file=config.file,
                          section="schedule") from None
    if spec.task == "sync":
        return group(sync_signatures(config, registry, spec.connections, spec.entities))
    if spec.task == "compute":
        return compute.si(list(spec.metrics), spec.period)
    if spec.task == "writeback":
        return writeback.si(list(spec.connections))
    if spec.task == "coach":
        return coach.si(spec.period)
    return chain(group(sync_signatures(config, registry)), run.si())


@shared_task(name="crmsync.job", **_OPTIONS)
def job(name: str) -> str:
    """Dispatch ``[schedule.NAME]`` (what beat sends); returns the dispatched canvas's id."""
    ctx = context()
    result = job_signature(ctx.config, ctx.registry, name).apply_async()
    if hasattr(result, "save"):  # a GroupResult: keep it so GroupResult.restore(id) finds it
        result.save()
    return str(result.id)
