"""``GET /limits/recordCount`` of the fake Salesforce org.

``{"sObjects": [{"count": N, "name": "Account"}, …]}`` for the objects named in ``sObjects``
(comma-separated; unknown names left out; without it, every object), in the org's object
order. Counts leave out records in the recycle bin and hard-deleted ones and include inserts;
each is O(log n) (the tables know their sizes). The endpoint needs "View Setup and
Configuration": ``org.record_count_access = False`` answers 403 INSUFFICIENT_ACCESS.
"""

from __future__ import annotations

import threading
from typing import Any

from .sf_query import ApiError

__all__ = ["RecordCounts"]


class RecordCounts:
    """The record-count resource of :class:`~fakes.sf_org.Org` (a mixin)."""

    lock: threading.RLock
    tables: dict[str, Any]
    #: False: the integration user lacks "View Setup and Configuration" (403).
    record_count_access: bool = True

    def record_counts(self, names: str | None) -> dict[str, Any]:
        """The body of ``/limits/recordCount?sObjects=…`` (see module doc)."""
        if not self.record_count_access:
            raise ApiError(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id")
        wanted = None if names is None else {n.strip().lower() for n in names.split(",")
                                             if n.strip()}
        with self.lock:
            return {"sObjects": [{"count": t.live_count(), "name": name}
                                 for name, t in self.tables.items()
                                 if wanted is None or name.lower() in wanted]}
