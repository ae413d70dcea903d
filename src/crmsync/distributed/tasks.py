"""Celery tasks: one connection's entity sync, a metrics computation, a write-back, and a
``[schedule]`` job fanned out into them."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from celery import chain, group, shared_task
from celery.canvas import Signature

from crmsync import api
from crmsync.config import Config
from crmsync.distributed.app import context
from crmsync.errors import ConfigError
from crmsync.registry import Registry
from crmsync.reports import LOCKED

__all__ = ["sync_entity", "compute", "writeback", "job", "job_signature", "sync_signatures"]

log = logging.getLogger(__name__)
_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="crmsync.sync_entity", bind=True, max_retries=None, **_OPTIONS)
def sync_entity(self: Any, connection: str, entity: str, full: bool = False) -> dict[str, Any]:
    """Sync one connection's entity under its run lock. A target another worker holds is
    retried after ``[celery] lock_retry_seconds`` (the holder's run does the work meanwhile)."""
    ctx = context()
    report = api.sync(ctx.config, ctx.registry, [connection], entities=[entity], full=full,
                      store=ctx.store)
    if report.status == LOCKED:
        log.info("%s/%s is locked (attempt %d); retrying", connection, entity,
                 self.request.retries + 1)
        raise self.retry(countdown=ctx.config.celery.lock_retry_seconds)
    data = report.as_dict()
    data["worker_pid"] = os.getpid()
    data["retries"] = self.request.retries
    data["redelivered"] = bool((self.request.delivery_info or {}).get("redelivered"))
    return data


@shared_task(name="crmsync.compute", **_OPTIONS)
def compute(metrics: Sequence[str] = (), period: str | None = None) -> dict[str, Any]:
    """Compute metrics (default: all) and store the values."""
    ctx = context()
    result = api.compute_metrics(ctx.config, ctx.registry, list(metrics), period=period,
                                 store=ctx.store, keep_values=False)
    return {"run_id": result.run_id, "stored": result.stored}


@shared_task(name="crmsync.writeback", **_OPTIONS)
def writeback(connections: Sequence[str] = ()) -> dict[str, Any]:
    """Apply write-back (each mapping under its own run lock)."""
    ctx = context()
    apply = getattr(api, "writeback_apply", None)
    if apply is None:
        raise ConfigError("write-back is not available in this crmsync "
                          "(crmsync.api.writeback_apply is missing)")
    report = apply(ctx.config, ctx.registry, connections=list(connections), store=ctx.store)
    return report.as_dict() if hasattr(report, "as_dict") else {"status": "success"}


def sync_signatures(config: Config, registry: Registry, connections: Sequence[str] = (),
                    entities: Sequence[str] = ()) -> list[Signature]:
    """One :func:`sync_entity` signature per connection and entity (default: all)."""
    names = list(connections) or list(config.connections)
    out = []
    for name in names:
        conn = config.connections.get(name)
        if conn is None:
            raise ConfigError(f"no connection named '{name}'", file=config.file,
                              section="connections")
        wanted = list(entities) or list(registry.connector(conn.type).ENTITIES)
        out.extend(sync_entity.si(name, entity) for entity in wanted)
    return out


def job_signature(config: Config, registry: Registry, name: str) -> Signature:
    """The Celery canvas of ``[schedule.NAME]``: a group of entity syncs, then compute, then
    write-back, as the job's task asks."""
    try:
        spec = config.schedule[name]
    except KeyError:
        raise ConfigError(f"no job named '{name}'", file=config.file,
                          section="schedule") from None
    steps: list[Signature] = []
    if spec.syncs:
        steps.append(group(sync_signatures(config, registry, spec.connections,
                                           spec.entities)))
    if spec.task in ("compute", "run"):
        steps.append(compute.si(list(spec.metrics), spec.period))
    if spec.task in ("writeback", "run"):
        steps.append(writeback.si(list(spec.connections)))
    return steps[0] if len(steps) == 1 else chain(*steps)


@shared_task(name="crmsync.job", **_OPTIONS)
def job(name: str) -> str:
    """Dispatch ``[schedule.NAME]`` (what beat sends); returns the dispatched canvas's id."""
    ctx = context()
    result = job_signature(ctx.config, ctx.registry, name).apply_async()
    if hasattr(result, "save"):  # a GroupResult: keep it so GroupResult.restore(id) finds it
        result.save()
    return str(result.id)
