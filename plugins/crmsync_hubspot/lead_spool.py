"""The contact pages of one ``contacts`` read, kept on disk for ``leads`` (``lead_definition =
"lifecycle"``, where a lead is a contact: docs/connectors/hubspot.md, "Leads").

The engine reads each table separately, so ``leads`` would search every contact again (one
call per 200 contacts, plus their associations): about a fifth of a full sync's calls. While
``contacts`` is read, the connector writes every search page (the raw contacts, associations
attached, with the properties both tables need) and its search cursor to this spool, a temporary
file (memory stays flat). A later ``leads`` read whose cursor is at the same search position as
the ``contacts`` read started from replays the pages, cursors included, through the lead
mapping: the same contacts, so the same leads and rejects. Any other cursor (the tables drifted
apart, or the ``contacts`` read did not finish) searches as usual. The archived pass is not
spooled: ``leads`` makes its own (a few calls).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from crmsync_hubspot.deal_spool import position_key

__all__ = ["LeadSpool"]


class LeadSpool:
    """Raw contact search pages and their cursors from one ``contacts`` read.

    :param start: the cursor the ``contacts`` read started from.
    """

    def __init__(self, start: Any) -> None:
        self.start = position_key(start)
        self.complete = False
        # closed by close(), not here: the spool outlives this call
        self._file: IO[str] | None = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8")

    def add(self, contacts: list[dict[str, Any]], cursor: Any) -> None:
        """Append one search page (JSON as HubSpot sent it, associations attached)."""
        assert self._file is not None
        self._file.write(json.dumps({"contacts": contacts, "cursor": cursor}) + "\n")

    def finish(self) -> None:
        """The read got to its last page: the spool may now be replayed."""
        self.complete = True

    def covers(self, cursor: Any) -> bool:
        """True when replaying serves a read from ``cursor`` exactly."""
        return self.complete and self._file is not None and position_key(cursor) == self.start

    def pages(self) -> Iterator[tuple[list[dict[str, Any]], Any]]:
        """Replay the pages from the start."""
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            page = json.loads(line)
            yield page["contacts"], page["cursor"]
        self._file.seek(0, 2)

    def close(self) -> None:
        """Delete the file."""
        if self._file is not None:
            self._file.close()
            self._file = None
