"""``[schedule]``: named jobs with a cron expression, and when each is due.

A job runs ``sync`` (some or all connections and entities), ``compute`` (metrics),
``writeback``, ``run`` (the three in order) or ``coach`` (coaching findings and their
digest, docs/coaching.md). Due times come from :mod:`croniter` in the
job's time zone. The time a job last started is kept in the store (``sync_state`` rows with
connection :data:`STATE_CONNECTION`, entity = the job name), so a scheduler restarted after
downtime runs a missed job once, not once per missed tick.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from croniter import croniter

from crmsync.core.config import Section, SectionContext
from crmsync.core.errors import ConfigError
from crmsync.core.periods import is_period
from crmsync.core.schema import sync_state
from crmsync.store import Store
from crmsync.store.upsert import upsert_statement

__all__ = ["SCHEDULE", "Job", "TASKS", "STATE_CONNECTION", "parse_schedule", "next_run", "next_due",
           "is_due", "last_runs", "record_run", "covers"]

#: What a job can run.
TASKS = ("sync", "compute", "writeback", "run", "coach", "snapshot")
#: ``sync_state.connection`` of the scheduler's rows: ``#`` is never in a connection name.
STATE_CONNECTION = "#schedule"
_KEYS = ("cron", "task", "connections", "entities", "metrics", "period", "timezone")


@dataclass(frozen=True)
class Job:
    """One ``[schedule.NAME]`` table."""

    name: str
    cron: str
    task: str = "run"
    connections: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    period: str | None = None
    timezone: str = "UTC"

    @property
    def syncs(self) -> bool:
        """True when the job syncs."""
        return self.task in ("sync", "run")

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"name": self.name, "cron": self.cron, "task": self.task,
                "connections": list(self.connections), "entities": list(self.entities),
                "metrics": list(self.metrics), "period": self.period,
                "timezone": self.timezone}


def _strings(value: Any, *, file: str | None, section: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"expected a list of names, got {value!r}", file=file,
                          section=section, key=key)
    return tuple(value)


def _check_header(name: str, table: Any, file: str | None, section: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ConfigError("job names use letters, digits, '_' and '-' (at most 64)",
                          file=file, section=section)
    if not isinstance(table, dict):
        raise ConfigError("expected a table such as [schedule.nightly] with cron = "
                          "\"0 2 * * *\"", file=file, section=section)
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(_KEYS)})", file=file,
                              section=section, key=key)


def _check_values(table: Mapping[str, Any], file: str | None, section: str) -> None:
    """cron, task, timezone and period, each valid on its own."""
    cron = table.get("cron")
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise ConfigError(f"expected a cron expression such as \"0 2 * * *\", got {cron!r}",
                          file=file, section=section, key="cron")
    task = table.get("task", "run")
    if task not in TASKS:
        raise ConfigError(f"expected one of {', '.join(TASKS)}, got {task!r}", file=file,
                          section=section, key="task")
    zone = table.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(f"unknown time zone {zone!r}", file=file, section=section,
                          key="timezone") from None
    period = table.get("period")
    if period is not None and (not isinstance(period, str) or not is_period(period)):
        raise ConfigError(f"expected a period such as month or last_30d, got {period!r}",
                          file=file, section=section, key="period")


#: (task, keys it does not take, why): the options each kind of job refuses.
_REFUSED: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("run", ("connections", "entities", "metrics", "period"),
     "a run job syncs, computes and writes back everything, as `crmsync run` does; for a "
     "subset use jobs with task = \"sync\", \"compute\" or \"writeback\""),
    ("compute", ("connections", "entities"),
     "a compute job reads the whole store; connections and entities are for sync and "
     "writeback jobs"),
    ("sync", ("metrics", "period"), "metrics and period are for compute jobs, not sync jobs"),
    ("writeback", ("metrics", "period"),
     "metrics and period are for compute jobs, not writeback jobs"),
    ("writeback", ("entities",), "entities are for sync jobs; a writeback job takes connections"),
    ("coach", ("connections", "entities", "metrics"),
     "a coach job evaluates the coaching rules over the stored per-rep values and sends the "
     "digest (docs/coaching.md); it takes only a period"),
    ("snapshot", ("connections", "entities"),
     "a snapshot job records the headline KPIs as they stand (docs/as-of.md); it takes "
     "metrics and a period"),
)


def _check_combination(task: str, table: Mapping[str, Any], file: str | None,
                       section: str) -> None:
    for refusing, keys, why in _REFUSED:
        present = [k for k in keys if k in table]
        if task == refusing and present:
            raise ConfigError(why, file=file, section=section, key=present[0])


def parse_schedule(raw: Mapping[str, Any], file: str | None) -> dict[str, Job]:
    """The jobs of a ``[schedule]`` table; errors name the file, section and key."""
    jobs: dict[str, Job] = {}
    for name, table in raw.items():
        section = f"schedule.{name}"
        _check_header(name, table, file, section)
        _check_values(table, file, section)
        task = table.get("task", "run")
        lists = {key: _strings(table[key], file=file, section=section, key=key)
                 for key in ("connections", "entities", "metrics") if key in table}
        _check_combination(task, table, file, section)
        jobs[name] = Job(name=name, cron=table["cron"], task=task, period=table.get("period"),
                         timezone=table.get("timezone", "UTC"), **lists)
    return jobs


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def next_run(job: Job, after: dt.datetime) -> dt.datetime:
    """The job's first tick strictly after ``after`` (aware UTC)."""
    local = _aware(after).astimezone(ZoneInfo(job.timezone))
    tick: dt.datetime = croniter(job.cron, local).get_next(dt.datetime)
    return tick.astimezone(dt.timezone.utc)


def next_due(job: Job, last_run: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When the job is next due: the first tick after its last run (in the past when a tick
    was missed), or, for a job that never ran, the first tick after ``now``."""
    return next_run(job, last_run if last_run is not None else now)


def is_due(job: Job, last_run: dt.datetime | None, since: dt.datetime,
           now: dt.datetime) -> bool:
    """True when a tick after the job's last run (or after ``since``, when the scheduler
    started, for a job that never ran) has come. Any number of missed ticks is one run."""
    return next_run(job, last_run if last_run is not None else since) <= _aware(now)


def covers(job: Job, connection: str, entity: str) -> bool:
    """True when the job syncs ``connection``'s ``entity``."""
    return (job.syncs and (not job.connections or connection in job.connections)
            and (not job.entities or entity in job.entities))


def last_runs(store: Store) -> dict[str, dt.datetime]:
    """The start time of each job's last completed run (aware UTC)."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(sync_state.c.entity, sync_state.c.cursor)
                            .where(sync_state.c.connection == STATE_CONNECTION)).all()
    out = {}
    for job, state in rows:
        if isinstance(state, dict) and state.get("last_run"):
            out[job] = _aware(dt.datetime.fromisoformat(state["last_run"]))
    return out


def record_run(store: Store, job: str, started: dt.datetime, status: str) -> None:
    """Remember that ``job`` ran (from ``started``, with ``status``)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.engine.begin() as conn:
        stmt = upsert_statement(conn.dialect.name, sync_state,
                                ("connection", "entity", "cursor", "updated_at"),
                                key=("connection", "entity"))
        conn.execute(stmt, [{"connection": STATE_CONNECTION, "entity": job, "updated_at": now,
                             "cursor": {"last_run": _aware(started).isoformat(),
                                        "status": status}}])


def _parse_section(raw: Any, ctx: SectionContext) -> dict[str, Job]:
    return parse_schedule(ctx.expect(raw, dict, "schedule", "schedule"), ctx.file)


#: ``[schedule]`` (docs/configuration.md#schedule): jobs by name, ``SCHEDULE.get(config)``.
SCHEDULE: Section[dict[str, Job]] = Section("schedule", _parse_section, default=dict)
