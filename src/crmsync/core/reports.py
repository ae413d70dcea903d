"""Reports returned by :mod:`crmsync.api` and passed to ``crmsync_after_run``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunReport", "EntityResult", "STOPPED_QUOTA", "LOCKED", "PARTIAL", "WHOLE_CONNECTION"]

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
        }
