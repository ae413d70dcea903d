"""Reports returned by :mod:`crmsync.api` and passed to ``crmsync_after_run``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunReport", "EntityResult", "STOPPED_QUOTA", "LOCKED", "PARTIAL", "WHOLE_CONNECTION",
           "JobScope", "job_scope"]

#: Status of a sync that the API quota budget stopped cleanly (state kept; the next run
#: resumes). Not a failure.
STOPPED_QUOTA = "stopped: api quota"
#: Status of an entity (and of a run) not synced because another process holds its run lock
#: (:mod:`crmsync.store.locks`). Not a failure; nothing was written.
LOCKED = "locked"
#: Status of a run over several connections where some failed and others synced: every
#: connection is in the report's details (docs/cli.md, exit code 5).
PARTIAL = "partial"
#: The ``entity`` of a detail about a connection as a whole: it could not be set up (a
#: configuration or authentication error) or another sync holds it (its connection lock).
WHOLE_CONNECTION = "*"


@dataclass
class EntityResult:
    """What one sync of one connection and entity did."""

    connection: str
    entity: str
    run_id: int | None = None
    status: str = "running"
    rows_read: int = 0
    rows_upserted: int = 0
    rows_deleted: int = 0
    rejects: int = 0
    batches: int = 0
    api_calls: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-able data."""
        return dict(self.__dict__)


@dataclass
class RunReport:
    """The outcome of a sync, metrics computation or write-back."""

    kind: str
    status: str = "running"
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    ended_at: dt.datetime | None = None
    details: list[Any] = field(default_factory=list)
    error: str | None = None
    #: Connection → the configuration or authentication error that stopped it (not in
    #: :meth:`as_dict`; the CLI derives its exit code from them).
    connection_errors: dict[str, Exception] = field(default_factory=dict)
    #: The ``[schedule]`` job this run is part of (:func:`job_scope`), else ``None``.
    job: str | None = None

    def __post_init__(self) -> None:
        scope = _JOB.get()
        if scope is not None and self.job is None:
            self.job = scope.name
            scope.reports.append(self)

    @property
    def ok(self) -> bool:
        """True when the run finished without errors."""
        return self.status == "success"

    @property
    def partial(self) -> bool:
        """True when some connections failed while others synced."""
        return self.status == PARTIAL

    @property
    def stopped_on_quota(self) -> bool:
        """True when the API quota budget stopped the run cleanly (nothing failed)."""
        return self.status == STOPPED_QUOTA

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return {
            "kind": self.kind,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "error": self.error,
            "details": [d.as_dict() if hasattr(d, "as_dict") else d for d in self.details],
            **({"job": self.job} if self.job is not None else {}),
        }


@dataclass
class JobScope:
    """The run reports made while one scheduled job ran (:func:`job_scope`)."""

    name: str
    reports: list[RunReport] = field(default_factory=list)


_JOB: ContextVar[JobScope | None] = ContextVar("crmsync_job", default=None)


@contextmanager
def job_scope(name: str) -> Iterator[JobScope]:
    """Every :class:`RunReport` made inside (in this thread or task) is tagged with the job
    ``name`` and collected, so the job can be reported as one (``kind`` ``job``: a
    notifier's digest mode sends one message per job)."""
    scope = JobScope(name)
    token = _JOB.set(scope)
    try:
        yield scope
    finally:
        _JOB.reset(token)
