"""OpportunityFieldHistory (``017``) of the fake Salesforce org, behind
``Dataset(field_history=True)`` (off: the object does not exist, as where it is hidden).

Fields as Salesforce's: Id, IsDeleted, OpportunityId, CreatedById, CreatedDate, Field,
DataType, OldValue, NewValue (``anyType``: strings for text, Ids and dates, numbers for
currency) — and no SystemModstamp or LastModifiedDate, so the table's index and cursor order is
``(CreatedDate, Id)``. Each opportunity has a ``created`` row when it was created, a
``StageName`` row (old stage → new stage) at exactly each of its OpportunityHistory rows'
CreatedDate where the stage changed, and a fifth of them one or two owner changes, each written
as Salesforce writes it: two rows, DataType ``EntityId`` with the users' Ids and ``Text`` with
their names. With ``Dataset(field_changes=True)`` the opportunities' resizes (``Amount``,
DataType ``Currency``), close-date moves (``CloseDate``, ``Date``), probability changes
(``Probability``, ``Percent``) and forecast-category changes (``ForecastCategoryName``,
``DynamicEnum``) are rows too, at their OpportunityHistory rows' times. Only the fields in
``Dataset.tracked_fields`` (the ``Field`` picklist: what Salesforce's describe lists as
tracked) get rows.

:func:`save_with_history` changes an opportunity the way a save in Salesforce does: the record,
an OpportunityHistory snapshot when a snapshot field changed, and a field-history row per
tracked field.

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

__all__ = ["FieldHistoryObjects", "TRACKED_FIELDS", "DATA_TYPES", "save_with_history"]

#: Field's picklist: what Salesforce writes for a tracked Opportunity field.
TRACKED_FIELDS = ("StageName", "Amount", "CloseDate", "Owner", "Probability",
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
    step_values: Any

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
        if self.ds.field_changes:
            rows += self._value_rows(j, times, stages, by)
        for when, old, new in self._owner_changes(j, h, times):
            old_name = self.user_name(parse_id(old)[1])  # type: ignore[index]
            new_name = self.user_name(parse_id(new)[1])  # type: ignore[index]
            rows += [(when, "Owner", "EntityId", old, new, self.admin),
                     (when, "Owner", "Text", old_name, new_name, self.admin)]
        rows.sort(key=lambda r: r[0])  # stable: created first, each pair together
        return [r for r in rows if r[1] == "created" or r[1] in self.ds.tracked_fields]

    def _value_rows(self, j: int, times: list[int], stages: list[int], by: str) -> list[Row]:
        """Amount, CloseDate, Probability and ForecastCategoryName changes of opportunity
        ``j`` (``field_changes``)."""
        steps = self.step_values(j)
        rows: list[Row] = []
        for k in range(1, len(steps)):
            (amount, close, fc), (was_amount, was_close, was_fc) = steps[k], steps[k - 1]
            prob, was_prob = float(STAGES[stages[k]][1]), float(STAGES[stages[k - 1]][1])
            for fld, kind, old, new in (("Amount", "Currency", was_amount, amount),
                                        ("CloseDate", "Date", was_close, close),
                                        ("Probability", "Percent", was_prob, prob),
                                        ("ForecastCategoryName", "DynamicEnum", was_fc, fc)):
                if old != new:
                    rows.append((times[k], fld, kind, old, new, by))
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
                  F("Field", "picklist", picklist=("created", *self.ds.tracked_fields),
                    updateable=False),
                  F("DataType", "picklist", picklist=DATA_TYPES, updateable=False),
                  F("OldValue", "anyType", updateable=False),
                  F("NewValue", "anyType", updateable=False)]
        return ObjectSpec("OpportunityFieldHistory", "017", "Opportunity Field History",
                          "Opportunity Field History", fields, starts[-1], make,
                          lambda i: locate(i)[1][0], {"OpportunityId": children})


#: OpportunityHistory's snapshot fields (a change of one of them writes a snapshot row).
_SNAPSHOT = ("StageName", "Amount", "CloseDate", "Probability", "ForecastCategoryName")
_KINDS = {"Amount": "Currency", "CloseDate": "Date", "Probability": "Percent",
          "OwnerId": "EntityId", "CurrencyIsoCode": "DynamicEnum"}


def save_with_history(org: Any, opportunity_id: str, *, at: int, by: str,
                      **changes: Any) -> dict[str, list[str]]:
    """Change an opportunity as a save in Salesforce does; the Ids of the history rows written
    (``{"OpportunityHistory": [...], "OpportunityFieldHistory": [...]}``).

    :param org: the fake's :class:`~fakes.sf_org.Org`.
    :param changes: Opportunity fields and their new values (``None`` clears).
    """
    old = org.get("Opportunity", opportunity_id)
    org.update("Opportunity", opportunity_id, stamp=at, **changes)
    new = org.get("Opportunity", opportunity_id)
    out: dict[str, list[str]] = {"OpportunityHistory": [], "OpportunityFieldHistory": []}
    changed = [f for f in changes if old.get(f) != new.get(f)]
    if any(f in _SNAPSHOT for f in changed):
        api = {"Best Case": "BestCase", "Commit": "Forecast"}
        fc = new.get("ForecastCategoryName")
        snap = {"OpportunityId": opportunity_id, "StageName": new["StageName"],
                "Amount": new.get("Amount"), "CloseDate": new.get("CloseDate"),
                "Probability": new.get("Probability"),
                "ForecastCategory": api.get(fc, fc) if fc else None, "CreatedById": by,
                "PrevAmount": old.get("Amount"), "PrevCloseDate": old.get("CloseDate")}
        if "CurrencyIsoCode" in new:
            snap["CurrencyIsoCode"] = new["CurrencyIsoCode"]
        out["OpportunityHistory"].append(
            org.insert("OpportunityHistory", stamp=at, CreatedDate=fmt_datetime(at), **snap))
    table = org.tables.get("OpportunityFieldHistory")
    tracked = table.field("Field").picklist if table is not None else ()
    for f in changed:
        name = "Owner" if f == "OwnerId" else f
        if name not in tracked:
            continue
        rows = [(_KINDS.get(f, "Text"), old.get(f), new.get(f))]
        if f == "OwnerId":  # a lookup: the Ids, then the names
            rows.append(("Text", org.get("User", old[f])["Name"] if old.get(f) else None,
                         org.get("User", new[f])["Name"] if new.get(f) else None))
        for kind, was, now in rows:
            out["OpportunityFieldHistory"].append(org.insert(
                "OpportunityFieldHistory", stamp=at, OpportunityId=opportunity_id,
                CreatedById=by, CreatedDate=fmt_datetime(at), Field=name, DataType=kind,
                OldValue=was, NewValue=now))
    return out
