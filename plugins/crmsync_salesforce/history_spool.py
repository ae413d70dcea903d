"""The history pages of one ``opportunity_stage_history`` read, kept for
``opportunity_field_history``.

Both tables come from the same rows of OpportunityHistory and OpportunityFieldHistory; the
engine reads each table separately, so each would query both objects again. While the stage
history is read, every page the reader makes (its rows, the history rows it deleted and its
cursor) is written to this spool, a temporary file (memory stays flat). A field-history read
of the same run whose cursor equals the cursor the stage-history read started from replays the
pages, cursors included, and makes no call: it covers exactly the same rows. So does a
field-history cursor that is *ahead* of that start on every object (rows and deletions read
further): replaying re-derives some changes already stored, which the engine upserts
unchanged, and leaves the field-history cursor equal to the stage history's, so two tables that
drifted apart (one failed, or was switched on later) fall back into step. Any other cursor (a
field-history cursor behind, a full read in progress, or a stage-history read that did not
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
from crmsync_salesforce.soql import parse_datetime

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


def _not_after(start: Any, cursor: Any) -> bool:
    """Whether an incremental object cursor ``start`` is at or before ``cursor`` (rows by
    ``(ts, id)``, deletions by ``deleted_since``)."""
    if not (isinstance(start, dict) and isinstance(cursor, dict) and start.get("ts") and
            cursor.get("ts")):
        return False
    try:
        begin, end = parse_datetime(str(start["ts"])), parse_datetime(str(cursor["ts"]))
        if (begin, str(start.get("id") or "")) > (end, str(cursor.get("id") or "")):
            return False
        if start.get("deleted_since"):
            return bool(cursor.get("deleted_since")) and parse_datetime(
                str(start["deleted_since"])) <= parse_datetime(str(cursor["deleted_since"]))
    except ValueError:
        return False
    return True


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
        """True when replaying serves a read from ``cursor``: the same cursor, or one
        ahead of the start on every object."""
        if not self.complete or self._file is None:
            return False
        if json.dumps(cursor or {}, sort_keys=True, default=str) == self.start:
            return True
        start = json.loads(self.start)
        return bool(start) and isinstance(cursor, dict) and all(
            _not_after(state, cursor.get(obj)) for obj, state in start.items())

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
