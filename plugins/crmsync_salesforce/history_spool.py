"""The history pages of one ``opportunity_stage_history`` read, kept for
``opportunity_field_history``.

Both tables come from the same rows of OpportunityHistory and OpportunityFieldHistory; the
engine reads each table separately, so each would query both objects again. While the stage
history is read, every page the reader makes (its rows, the history rows it deleted and its
cursor) is written to this spool, a temporary file (memory stays flat). A field-history read
of the same run whose cursor equals the cursor the stage-history read started from replays the
pages, cursors included, and makes no call: it covers exactly the same rows. Any other cursor
(the tables drifted apart, one was disabled for a while, or the stage-history read did not
finish) reads the objects itself.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from crmsync import Deletion
from crmsync_salesforce.mapping import to_datetime

__all__ = ["HistoryPage", "HistorySpool"]


@dataclass
class HistoryPage:
    """Rows of the history objects read together (each tagged with its object), the history
    rows deleted, where they came from and the cursor safe once they are stored.

    :param complete: a full read's page: it holds the whole history of its opportunities.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[Deletion] = field(default_factory=list)
    source: str = ""
    cursor: Any = None
    complete: bool = False

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps({"rows": self.rows, "source": self.source, "cursor": self.cursor,
                           "complete": self.complete,
                           "deleted": [[d.remote_id, d.deleted_at.isoformat()
                                        if d.deleted_at else None] for d in self.deleted]},
                          default=str)

    @classmethod
    def from_json(cls, line: str) -> HistoryPage:
        """The page :meth:`to_json` wrote."""
        data = json.loads(line)
        return cls(rows=data["rows"], source=data["source"], cursor=data["cursor"],
                   complete=data["complete"],
                   deleted=[Deletion(remote_id=rid, deleted_at=to_datetime(at))
                            for rid, at in data["deleted"]])


class HistorySpool:
    """Pages of one history read in a temporary file, replayed by a later read of the same
    run that starts from the same cursor.

    :param start: the cursor the read started from.
    """

    def __init__(self, start: Any) -> None:
        self.start = json.dumps(start or {}, sort_keys=True, default=str)
        self.complete = False
        # closed by close(), not here: the spool outlives this call
        self._file: IO[str] | None = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8")

    def add(self, page: HistoryPage) -> None:
        """Append one page."""
        assert self._file is not None
        self._file.write(page.to_json() + "\n")

    def finish(self) -> None:
        """The read got to its last page: the spool may now be replayed."""
        self.complete = True

    def covers(self, cursor: Any) -> bool:
        """True when replaying serves a read from ``cursor`` exactly."""
        return self.complete and self._file is not None and \
            json.dumps(cursor or {}, sort_keys=True, default=str) == self.start

    def pages(self) -> Iterator[HistoryPage]:
        """The pages from the start."""
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield HistoryPage.from_json(line)
        self._file.seek(0, 2)

    def close(self) -> None:
        """Delete the file."""
        if self._file is not None:
            self._file.close()
            self._file = None
