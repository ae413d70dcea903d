"""``crmsync scheduler``: a long-running process that runs the ``[schedule]`` jobs when due.

* A job runs in its own thread, so a long sync never delays another job; a job still running
  is never started again (and its ``job:NAME`` run lock keeps a second scheduler, even on
  another machine, from starting it too).
* A job's start time is recorded in the store when it completes, so after downtime a missed
  job runs once (:mod:`crmsync.orchestration.jobs`), and a job cut short runs again and resumes from
  the saved cursors.
* SIGTERM/SIGINT: each sync in flight stops after its current batch commits, the jobs finish
  and the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from crmsync.core.config import Config
from crmsync.core.errors import CrmsyncError
from crmsync.core.reports import LOCKED, STOPPED_QUOTA, RunReport, job_scope
from crmsync.orchestration import runs, snapshots, writeback
from crmsync.orchestration.coaching import coach
from crmsync.orchestration.jobs import SCHEDULE, Job, is_due, last_runs, next_due, record_run
from crmsync.orchestration.reading import StoredResults
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.locks import RunLocked, job_lock_name, run_lock

__all__ = ["Scheduler", "ShutdownRequested", "run_job"]

log = logging.getLogger(__name__)


class ShutdownRequested(KeyboardInterrupt):
    """Raised after a committed batch once the scheduler is asked to stop: the sync engine
    records the entity as ``interrupted`` with everything committed kept."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _worst(*statuses: str) -> str:
    """The status that matters most: failed, then locked, then a quota stop, then success."""
    for status in statuses:
        if status not in ("success", LOCKED, STOPPED_QUOTA):
            return status
    for status in (LOCKED, STOPPED_QUOTA):
        if status in statuses:
            return status
    return "success"


def run_job(config: Config, registry: Registry, job: Job, *, store: Store | None = None,
            progress: Callable[[str, str, int], None] | None = None) -> str:
    """Run one job's task now; returns its status (``success``, ``failed``, ``locked``,
    ``stopped: api quota``).

    Each run of the task reports to ``crmsync_after_run`` as usual, tagged with the job's
    name (``report.job``); then the job as a whole does, as a report of kind ``job`` whose
    details are those reports (a notifier's digest mode sends one message per job:
    docs/trends.md, "Notifications")."""
    status, error = "failed", None
    with job_scope(job.name) as scope:
        try:
            status = _run_task(config, registry, job, store=store, progress=progress)
        except Exception as exc:
            error = str(exc)
            raise
        except BaseException:
            status = "interrupted"
            raise
        finally:
            report = RunReport(kind="job", status=status, job=job.name, error=error,
                               started_at=scope.reports[0].started_at if scope.reports
                               else _utcnow(),
                               details=[r.as_dict() for r in scope.reports])
            report.ended_at = _utcnow()
            report.error = report.error or next((r.error for r in scope.reports if r.error),
                                                None)
            registry.after_run(report, config, StoredResults(config, registry))
    return status


def _run_task(config: Config, registry: Registry, job: Job, *, store: Store | None,
              progress: Callable[[str, str, int], None] | None) -> str:
    """The job's task (:func:`run_job`)."""
    if job.task == "run":
        result = writeback.run(config, registry, store=store, sync_progress=progress)
        return _worst(result.sync.status,
                      result.writeback.status if result.writeback is not None else "success")
    if job.task == "sync":
        return runs.sync(config, registry, job.connections, entities=job.entities,
                        progress=progress, store=store).status
    if job.task == "coach":
        coach(config, registry, period=job.period, store=store, notify=True)
        return "success"
    if job.task == "snapshot":
        snapshots.record_snapshots(config, registry, metrics=job.metrics, period=job.period,
                                   store=store)
        return "success"
    if job.task == "compute":
        runs.compute_metrics(config, registry, job.metrics, period=job.period, store=store,
                            keep_values=False)
        return "success"
    return writeback.apply(config, registry, connections=list(job.connections),
                               store=store).status


class Scheduler:
    """Runs ``jobs`` (default: the config's ``[schedule]``) when due.

    :param clock: the current time (aware UTC); tests pass a fake.
    :param poll: the longest sleep between two checks, in seconds.
    :param execute: runs one job and returns its status (default :func:`run_job`).
    """

    def __init__(self, config: Config, registry: Registry, *, store: Store,
                 jobs: dict[str, Job] | None = None,
                 clock: Callable[[], dt.datetime] = _utcnow, poll: float = 30.0,
                 execute: Callable[[Job], str] | None = None) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.jobs = jobs if jobs is not None else SCHEDULE.get(config)
        self.clock = clock
        self.poll = poll
        self.execute = execute or self._execute
        self.started = clock()
        self.stopping = threading.Event()
        self.running: dict[str, threading.Thread] = {}
        #: When each job last started in this process (run, skipped as locked or cut short):
        #: such a job waits for its next tick instead of being retried at once.
        self.attempted: dict[str, dt.datetime] = {}

    # -- one pass ---------------------------------------------------------------------------

    def _last_runs(self) -> dict[str, dt.datetime]:
        last = last_runs(self.store)
        for name, when in self.attempted.items():
            if name not in last or last[name] < when:
                last[name] = when
        return last

    def due(self, now: dt.datetime) -> list[Job]:
        """Jobs due at ``now`` and not running."""
        last = self._last_runs()
        return [job for name, job in self.jobs.items()
                if name not in self.running and is_due(job, last.get(name), self.started, now)]

    def tick(self) -> list[str]:
        """Start every due job in its own thread; returns their names."""
        self.running = {n: t for n, t in self.running.items() if t.is_alive()}
        if self.stopping.is_set():
            return []
        started = []
        for job in self.due(self.clock()):
            thread = threading.Thread(target=self._run, args=(job,), name=f"job {job.name}")
            self.running[job.name] = thread
            thread.start()
            started.append(job.name)
        return started

    def seconds_to_next(self) -> float:
        """Seconds until the next job is due (at most ``poll``)."""
        now = self.clock()
        last = self._last_runs()
        waits = [(next_due(job, last.get(name) or self.started, now) - now).total_seconds()
                 for name, job in self.jobs.items() if name not in self.running]
        return max(0.05, min([self.poll, *waits]))

    def join(self) -> None:
        """Wait for the jobs in flight."""
        for thread in list(self.running.values()):
            thread.join()

    # -- the loop ---------------------------------------------------------------------------

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit status (0)."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("scheduler started: %d jobs (%s)", len(self.jobs), ", ".join(self.jobs))
        try:
            while not self.stopping.is_set():
                self.tick()
                self.stopping.wait(self.seconds_to_next())
            log.info("scheduler stopping: waiting for %d running jobs",
                     sum(t.is_alive() for t in self.running.values()))
            self.join()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("scheduler stopped")
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the batches in flight", signal.Signals(signum).name)
        self.stopping.set()

    # -- running a job ------------------------------------------------------------------------

    def _progress(self, connection: str, entity: str, rows: int) -> None:
        if self.stopping.is_set():
            raise ShutdownRequested(f"{connection}/{entity}: stopped after a committed batch")

    def _execute(self, job: Job) -> str:
        return run_job(self.config, self.registry, job, store=self.store,
                       progress=self._progress)

    def _run(self, job: Job) -> None:
        started = self.clock()
        self.attempted[job.name] = started
        begun = time.monotonic()
        fields = {"job": job.name, "task": job.task}
        log.info("job %s started (task %s)", job.name, job.task, extra=fields)
        status = "failed"
        try:
            with run_lock(self.store, job_lock_name(job.name)):
                try:
                    status = self.execute(job)
                except CrmsyncError as exc:
                    log.error("job %s failed: %s", job.name, exc, extra=fields)
                except ShutdownRequested:
                    log.info("job %s interrupted by shutdown after %.1fs; it runs again at the "
                             "next start and resumes from the saved cursors", job.name,
                             time.monotonic() - begun)
                    return
                except Exception:
                    log.exception("job %s failed with a bug", job.name)
                record_run(self.store, job.name, started, status)
        except RunLocked as exc:
            log.warning("job %s skipped: %s", job.name, exc)
            return
        took = time.monotonic() - begun
        log.info("job %s finished: %s in %.1fs", job.name, status, took,
                 extra={**fields, "status": status, "duration_s": round(took, 3)})

    def __repr__(self) -> str:
        return f"Scheduler(jobs={list(self.jobs)!r})"
