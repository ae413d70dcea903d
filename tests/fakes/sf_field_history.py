"""OpportunityFieldHistory (``017``) of the fake Salesforce org, behind
``Dataset(field_history=True)`` (off: the object does not exist, as where it is hidden).

Fields as Salesforce's: Id, IsDeleted, OpportunityId, CreatedById, CreatedDate, Field,
DataType, OldValue, NewValue (``anyType``: strings for text, Ids and dates, numbers for
currency) — and no SystemModstamp or LastModifiedDate, so the table's index and cursor order is
``(CreatedDate, Id)``. Each opportunity has a ``created`` row when it was created, a
``StageName`` row (old stage → new stage) at exactly each of its OpportunityHistory rows'
CreatedDate where the stage changed, and a fifth of them one or two owner changes, each written
as Salesforce writes it: two rows, DataType ``EntityId`` with the users' Ids and ``Text`` with
their names.

Rows are a pure function of (opportunity, position); only the first row number of each
opportunity is kept (one int per opportunity), so row ``i`` is found by bisection.
"""

from __future__ import annotations

import bisect
import functools
from array import array
from typing import Any

from .sf_data_sales import STAGES
from .sf_ids import fmt_datetime, parse_id
from .sf_schema import F, ObjectSpec

__all__ = ["FieldHistoryObjects", "TRACKED_FIELDS", "DATA_TYPES"]

#: Field's picklist: what Salesforce writes for a tracked Opportunity field.
TRACKED_FIELDS = ("created", "StageName", "Amount", "CloseDate", "Owner", "Probability",
                  "ForecastCategoryName", "NextStep", "Name", "Type")
DATA_TYPES = ("Text", "Currency", "EntityId", "Date", "DateOnly", "Percent", "Number",
              "Boolean", "DynamicEnum")
#: (epoch, Field, DataType, OldValue, NewValue, CreatedById) of one row.
Row = tuple[int, str, str, Any, Any, str]


class FieldHistoryObjects:
    """The OpportunityFieldHistory spec (a mixin of the dataset builder; expects ``ds``, ``h``,
    ``n_users``, ``admin``, ``opp_plan``, ``rnd``, ``ref``, ``owner`` and ``user_name``)."""

    ds: Any
    h: int
    n_users: int
    admin: str
    opp_plan: Any
    rnd: Any
    ref: Any
    owner: Any
    user_name: Any

    def _owner_changes(self, j: int, h: int, times: list[int]) -> list[tuple[int, str, str]]:
        """(when, old owner, new owner) of opportunity ``j``'s owner changes, the last one to
        its current owner."""
        x = self.rnd(10, j)
        n = (x % 5 == 0) + (x % 25 == 0)
        if not n:
            return []
        span = self.n_users - 2
        d1 = 1 + (x >> 40) % span
        d2 = d1 % span + 1
        base = h >> 54
        chain = [*[self.owner(base + d1), self.owner(base + d2)][2 - n:], self.owner(base)]
        first, last = times[0], max(times[-1], times[0] + 2)
        t1 = first + 1 + (x >> 8) % (last - first - 1)
        whens = [t1, t1 + 1 + (x >> 24) % max(1, last - t1)][:n]
        return [(t, chain[k], chain[k + 1]) for k, t in enumerate(whens)]

    def _history_rows(self, j: int) -> list[Row]:
        h, times, stages, _ = self.opp_plan(j)
        rows: list[Row] = [(times[0], "created", "Text", None, None, self.admin)]
        by = self.owner(h >> 54)  # as OpportunityHistory.CreatedById
        for k in range(1, len(stages)):
            if stages[k] != stages[k - 1]:
                rows.append((times[k], "StageName", "Text", STAGES[stages[k - 1]][0],
                             STAGES[stages[k]][0], by))
        for when, old, new in self._owner_changes(j, h, times):
            old_name = self.user_name(parse_id(old)[1])  # type: ignore[index]
            new_name = self.user_name(parse_id(new)[1])  # type: ignore[index]
            rows += [(when, "Owner", "EntityId", old, new, self.admin),
                     (when, "Owner", "Text", old_name, new_name, self.admin)]
        rows.sort(key=lambda r: r[0])  # stable: created first, each pair together
        return rows

    def field_history(self) -> ObjectSpec:
        rows_of = functools.lru_cache(maxsize=8192)(self._history_rows)
        n = self.ds.opportunities
        starts = array("I", [0])
        for j in range(n):
            starts.append(starts[-1] + len(rows_of(j)))

        def locate(i: int) -> tuple[int, Row]:
            j = bisect.bisect_right(starts, i) - 1
            return j, rows_of(j)[i - starts[j]]

        def make(i: int) -> dict[str, Any]:
            j, (when, fld, kind, old, new, by) = locate(i)
            return {"Id": self.ref("OpportunityFieldHistory", i), "IsDeleted": False,
                    "OpportunityId": self.ref("Opportunity", j), "CreatedById": by,
                    "CreatedDate": fmt_datetime(when), "Field": fld, "DataType": kind,
                    "OldValue": old, "NewValue": new}

        def children(opp_id: str) -> list[int]:
            parsed = parse_id(opp_id)
            if not parsed or parsed[0] != "006" or parsed[1] >= n:
                return []
            return list(range(starts[parsed[1]], starts[parsed[1] + 1]))
        fields = [F("Id", "id"), F("IsDeleted", "boolean"),
                  F("OpportunityId", "reference", reference_to=("Opportunity",),
                    updateable=False),
                  F("CreatedById", "reference", reference_to=("User",)),
                  F("CreatedDate", "datetime"),
                  F("Field", "picklist", picklist=TRACKED_FIELDS, updateable=False),
                  F("DataType", "picklist", picklist=DATA_TYPES, updateable=False),
                  F("OldValue", "anyType", updateable=False),
                  F("NewValue", "anyType", updateable=False)]
        return ObjectSpec("OpportunityFieldHistory", "017", "Opportunity Field History",
                          "Opportunity Field History", fields, starts[-1], make,
                          lambda i: locate(i)[1][0], {"OpportunityId": children})
