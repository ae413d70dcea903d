"""The Celery app: built from ``crmsync.toml`` (``[celery]`` and ``[schedule]``).

Tasks are acknowledged late and rejected back to the queue when the worker process running
them dies (``acks_late`` + ``reject_on_worker_lost``): a killed worker's task runs again on
another worker and resumes from the cursors its predecessor committed. The run locks
(:mod:`crmsync.store.locks`) make every redelivery and duplicate harmless.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

try:
    from celery import Celery
    from celery.schedules import crontab
except ModuleNotFoundError as exc:  # pragma: no cover - exercised without the extra
    from crmsync.core.errors import CrmsyncError

    raise CrmsyncError("Celery is not installed: pip install 'crmsync[celery]'") from exc

from crmsync.core.config import CONFIG_ENV, Config
from crmsync.orchestration.admin import load_config
from crmsync.orchestration.distributed.context import WorkerContext, context, set_context
from crmsync.orchestration.distributed.settings import CELERY
from crmsync.orchestration.jobs import SCHEDULE, Job
from crmsync.plugin.registry import Registry

__all__ = ["create_app", "beat_schedule", "start_worker", "WorkerContext", "context",
           "cron_fields", "ZoneNow"]

_ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
            "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
            "@hourly": "0 * * * *"}


def cron_fields(cron: str) -> list[str]:
    """The five fields of a cron expression (``@daily`` and friends expanded)."""
    fields = _ALIASES.get(cron.strip(), cron).split()
    if len(fields) != 5:
        raise ValueError(f"Celery beat needs a five-field cron expression, got {cron!r}")
    return fields


@dataclass(frozen=True)
class ZoneNow:
    """The current time in one zone: a crontab's ``nowfun`` that beat can pickle (its
    persistent schedule is a shelve file)."""

    zone: str

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(ZoneInfo(self.zone))


def _crontab(job: Job) -> crontab:
    minute, hour, day_of_month, month_of_year, day_of_week = cron_fields(job.cron)
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                   month_of_year=month_of_year, day_of_week=day_of_week,
                   nowfun=ZoneNow(job.timezone))


def beat_schedule(config: Config) -> dict[str, dict[str, Any]]:
    """A Celery beat schedule with one entry per ``[schedule]`` job (task ``crmsync.job``)."""
    return {f"crmsync:{name}": {"task": "crmsync.job", "schedule": _crontab(job),
                                "args": (name,), "options": {"queue": CELERY.get(config).queue}}
            for name, job in SCHEDULE.get(config).items()}


def create_app(config: Config | None = None, registry: Registry | None = None) -> Celery:
    """The Celery app for ``config`` (default: loaded from ``$CRMSYNC_CONFIG``); tasks run
    with this config and registry in this process and the worker processes it forks."""
    registry = registry or Registry()
    config = config or load_config(os.environ.get(CONFIG_ENV), registry=registry)
    set_context(WorkerContext(config, registry))
    settings = CELERY.get(config)
    app = Celery("crmsync", broker=settings.broker_url, backend=settings.backend(),
                 set_as_current=True)
    app.conf.update(
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        result_extended=True,
        timezone="UTC",
        beat_schedule=beat_schedule(config),
        worker_hijack_root_logger=False,
    )
    from crmsync.orchestration.distributed import tasks  # noqa: F401  (registers the tasks on the app)

    return app


def start_worker(config: Config, registry: Registry, *, concurrency: int = 1,
                 beat: bool = False, queues: Sequence[str] = (), loglevel: str = "INFO",
                 hostname: str | None = None) -> None:
    """Run a Celery worker in this process until it is stopped (``crmsync worker``)."""
    if config.path is not None:
        os.environ[CONFIG_ENV] = str(config.path)  # for processes that start afresh
    app = create_app(config, registry)
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
            f"--queues={','.join(queues) or CELERY.get(config).queue}", "--pool=prefork"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    if beat:
        argv.append("--beat")
    app.worker_main(argv)
