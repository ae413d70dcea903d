"""The deal pages of one ``opportunities`` read, kept on disk for the tables derived from deals.

``opportunity_stage_history`` and ``opportunity_contacts`` are read from the same deals as
``opportunities``; the engine reads each table separately, so each would search the deals
again (five calls per 1,000 deals each). While ``opportunities`` is read, the connector writes
every page's deals (id, stage dates) and deal→contact associations to this spool, a temporary
file (memory stays flat), with each page's search cursor. A later read of a derived table whose
cursor equals the spool's starting cursor replays the pages, cursors included, instead of
searching: it covers exactly the same deals. Any other cursor (the tables drifted apart, or the
``opportunities`` read did not finish) searches as usual.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["PageSpool", "DealSpool", "position_key"]


def position_key(cursor: Any) -> tuple[Any, Any]:
    """The search position of a cursor (``archived_at`` and other keys ignored)."""
    cursor = cursor or {}
    return cursor.get("ts"), cursor.get("id")


class PageSpool:
    """Pages of one read kept in a temporary file (one JSON line per page), to be replayed by
    a later read of the same sync that starts from the same cursor.

    :param start: the cursor the read started from.
    """

    def __init__(self, start: Any) -> None:
        self.start = position_key(start)
        self.complete = False
        # closed by close(), not here: the spool outlives this call
        self._file: IO[str] | None = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8")

    def _append(self, page: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(page, default=str) + "\n")

    def finish(self) -> None:
        """The read got to its last page: the spool may now be replayed."""
        self.complete = True

    def covers(self, cursor: Any) -> bool:
        """True when replaying serves a read from ``cursor`` exactly."""
        return self.complete and self._file is not None and position_key(cursor) == self.start

    def _replay(self) -> Iterator[dict[str, Any]]:
        """The pages from the start."""
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.seek(0, 2)

    def close(self) -> None:
        """Delete the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


class DealSpool(PageSpool):
    """Pages of ``(deals, contact records, cursor)`` from one ``opportunities`` read."""

    def add(self, deals: list[dict[str, Any]], contacts: list[dict[str, Any]],
            cursor: Any) -> None:
        """Append one page."""
        self._append({"deals": deals, "contacts": contacts, "cursor": cursor})

    def pages(self) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], Any]]:
        """Replay the pages from the start."""
        for page in self._replay():
            yield page["deals"], page["contacts"], page["cursor"]
