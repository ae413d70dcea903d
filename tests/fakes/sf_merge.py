"""Merging records in the fake Salesforce org, as Salesforce merges Accounts, Contacts and Leads.

A merge keeps one record (the survivor, whose SystemModstamp becomes the merge's time) and
sends up to two others (Salesforce merges three records at most) to the recycle bin with
``IsDeleted = true`` and ``MasterRecordId`` = the survivor: queryAll and getDeleted see them.
Child records are not re-parented by the fake.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["Merges", "MAX_LOSERS"]

#: Records merged into the survivor at once (Salesforce merges up to three records).
MAX_LOSERS = 2


class Merges:
    """The merge operation of :class:`~fakes.sf_org.Org` (a mixin)."""

    lock: threading.RLock
    table: Any
    update: Any
    now: Any

    def merge(self, obj: str, survivor_id: str, loser_ids: Sequence[str], *,
              stamp: int | None = None) -> None:
        """Merge ``loser_ids`` (one or two) into ``survivor_id``: see the module doc. Raises
        ValueError for more than two losers, a loser that is the survivor or an object without
        ``MasterRecordId``, KeyError for a record that does not exist or is deleted."""
        losers = list(loser_ids)
        if not 1 <= len(losers) <= MAX_LOSERS:
            raise ValueError(f"a merge takes 1 to {MAX_LOSERS} records besides the survivor "
                             f"(Salesforce merges up to three), not {len(losers)}")
        if survivor_id in losers or len(set(losers)) != len(losers):
            raise ValueError("the survivor and the merged records must be distinct")
        with self.lock:
            table = self.table(obj)
            if not table.has("MasterRecordId"):
                raise ValueError(f"{table.spec.name} records cannot be merged")
            for rid in [survivor_id, *losers]:
                rec = table.get(rid)
                if rec is None or rec.get("IsDeleted"):
                    raise KeyError(f"{table.spec.name} {rid} does not exist")
            when = self.now() if stamp is None else stamp
            for rid in losers:
                self.update(table.spec.name, rid, stamp=when, IsDeleted=True,
                            MasterRecordId=survivor_id)
                table.deleted_log.append((rid, when))
            self.update(table.spec.name, survivor_id, stamp=when)
