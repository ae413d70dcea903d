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

from collections.abc import Iterator
from typing import Any

from crmsync_hubspot.deal_spool import PageSpool

__all__ = ["LeadSpool"]


class LeadSpool(PageSpool):
    """Raw contact search pages and their cursors from one ``contacts`` read."""

    def add(self, contacts: list[dict[str, Any]], cursor: Any) -> None:
        """Append one search page (JSON as HubSpot sent it, associations attached)."""
        self._append({"contacts": contacts, "cursor": cursor})

    def pages(self) -> Iterator[tuple[list[dict[str, Any]], Any]]:
        """Replay the pages from the start."""
        for page in self._replay():
            yield page["contacts"], page["cursor"]
