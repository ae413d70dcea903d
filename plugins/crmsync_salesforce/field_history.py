"""History rows → ``opportunity_field_history`` changes, and which fields this org tracks.

Two objects record changes of an opportunity's fields:

* **OpportunityFieldHistory**, one row per change of a field with field history tracking on
  (Setup → Opportunity → Set History Tracking): ``Field``, ``OldValue``, ``NewValue``,
  ``CreatedDate``, ``CreatedById``. A lookup is tracked under its relationship name (``Owner``)
  and written twice per change, DataType ``EntityId`` with the Ids and ``Text`` with the
  names: the Id row is the change, the name row is skipped. Which fields the org tracks is the
  ``Field`` picklist of the object's describe (:func:`tracked_columns`).
* **OpportunityHistory**, always there: a snapshot (``StageName``, ``Amount``, ``CloseDate``,
  ``Probability``, ``ForecastCategory``) whenever one of them changes. A change is a column
  that differs from the opportunity's previous snapshot; its ``remote_id`` is
  ``<row Id>:<column>`` (a snapshot row can change several columns at once).

**Precedence.** Salesforce writes both in the same transaction, with the same ``CreatedDate``.
A change field history has is taken from field history (its ``remote_id`` is the row's Id);
a snapshot difference at the same instant for the same column is that change again and is
dropped. A snapshot difference where field history has none (tracking off for the field, or
the row older than field history's 18–24 months) is kept, so both sources fill each other in
and no change is stored twice.

Values are text in the schema's encoding (docs/schema.md): numbers as decimals
(``12500.0``), ``Probability`` as 0–1, dates ``YYYY-MM-DD``, stages as the stage's
``remote_id`` in the opportunity's pipeline, forecast categories as codes
(:func:`forecast_code`), empty as ``None``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from crmsync import Deletion
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.mapping import Unmappable, forecast_code, related, to_datetime
from crmsync_salesforce.pipelines import Pipelines

__all__ = ["FIELD_HISTORY_COLUMNS", "SNAPSHOT_COLUMNS", "OBJECT_KEY", "forecast_code",
           "tracked_columns", "snapshot_columns", "FieldChanges", "deletions"]

#: Set on every history row read: the object it came from.
OBJECT_KEY = "_object"
HISTORY = "OpportunityHistory"
FIELD_HISTORY = "OpportunityFieldHistory"

#: OpportunityFieldHistory ``Field`` → the opportunities column it changes.
FIELD_HISTORY_COLUMNS: Mapping[str, str] = {
    "StageName": "stage_id", "Amount": "amount", "CloseDate": "expected_close_date",
    "Owner": "owner_id", "OwnerId": "owner_id", "Probability": "probability",
    "ForecastCategoryName": "forecast_category", "CurrencyIsoCode": "currency",
}
#: OpportunityHistory snapshot field → the opportunities column. Salesforce writes a snapshot
#: whenever one of these changes (object reference: "a new record whenever … the value of any
#: of the above fields" changes), so every change of them is in OpportunityHistory.
SNAPSHOT_COLUMNS: Mapping[str, str] = {
    "StageName": "stage_id", "Amount": "amount", "CloseDate": "expected_close_date",
    "Probability": "probability", "ForecastCategory": "forecast_category",
}

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def tracked_columns(describe: ObjectDescription | None) -> dict[str, str]:
    """``Field`` value → column, for the history fields this org tracks: the ``Field``
    picklist of OpportunityFieldHistory's describe lists the tracked fields."""
    if describe is None or not describe.has("Field"):
        return {}
    values = {str(v.get("value")) for v in describe.fields["Field"].get("picklistValues") or ()
              if v.get("active", True)}
    return {f: c for f, c in FIELD_HISTORY_COLUMNS.items() if f in values}


def snapshot_columns(describe: ObjectDescription | None) -> dict[str, str]:
    """Snapshot field → column, for the fields OpportunityHistory has and the user can read."""
    if describe is None:
        return {}
    return {f: c for f, c in SNAPSHOT_COLUMNS.items() if describe.has(f)}


def _number(value: Any, field: str, scale: float = 1.0) -> str | None:
    if value in (None, ""):
        return None
    try:
        return repr(round(float(value) / scale, 12))
    except (TypeError, ValueError):
        raise Unmappable(field, f"{field} is not a number: {value!r}") from None


def _date(value: Any, field: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise Unmappable(field, f"{field} is not a date: {value!r}") from None


def encode(column: str, value: Any, pipelines: Pipelines, record_type: str | None
           ) -> str | None:
    """A Salesforce value of ``column`` in the schema's text encoding."""
    if value in (None, ""):
        return None
    if column == "amount":
        return _number(value, "Amount")
    if column == "probability":
        return _number(value, "Probability", 100.0)
    if column == "expected_close_date":
        return _date(value, "CloseDate")
    if column == "stage_id":
        return pipelines.stage_id(record_type, str(value))
    if column == "forecast_category":
        return forecast_code(value)
    if column == "currency":
        return str(value).strip().upper()
    return str(value)


def _is_name_row(row: Mapping[str, Any], column: str) -> bool:
    """The ``Text`` twin of a lookup change (names, not Ids)."""
    if column != "owner_id":
        return False
    kind = row.get("DataType")
    if kind:
        return bool(kind != "EntityId")
    values = [v for v in (row.get("OldValue"), row.get("NewValue")) if v not in (None, "")]
    return not all(_ID.fullmatch(str(v)) for v in values)


def _change(row: Mapping[str, Any], remote_id: str, column: str, old: str | None,
            new: str | None, at: dt.datetime) -> dict[str, Any]:
    return {"remote_id": remote_id, "opportunity_id": str(row["OpportunityId"]),
            "field": column, "changed_at": at, "old_value": old, "new_value": new,
            "changed_by": row.get("CreatedById"), "source": "crm",
            "remote_created_at": at, "remote_updated_at": at}


def _when(row: Mapping[str, Any]) -> dt.datetime:
    at = to_datetime(row.get("CreatedDate"))
    if at is None:
        raise Unmappable("CreatedDate", "history rows always have CreatedDate")
    return at


class FieldChanges:
    """Derives an opportunity's changes from all its history rows seen so far.

    Rows arrive in pages; an opportunity's changes are recomputed from every row of it this
    read has seen (its whole history: see :mod:`crmsync_salesforce.history_reader`), so a
    snapshot's difference always has its predecessor and re-emitting is idempotent.

    :param pipelines: the run's pipelines (stage ids by record type).
    :param tracked: ``Field`` → column of the fields read from field history.
    :param snapshot: snapshot field → column of the fields diffed in OpportunityHistory.
    """

    def __init__(self, pipelines: Pipelines, tracked: Mapping[str, str],
                 snapshot: Mapping[str, str]) -> None:
        self.pipelines = pipelines
        self.tracked = dict(tracked)
        self.snapshot = dict(snapshot)
        self._rows: dict[str, dict[str, Mapping[str, Any]]] = {}

    def forget(self, opportunity_id: str) -> None:
        """Drop an opportunity whose history is complete (keeps memory flat on full reads)."""
        self._rows.pop(opportunity_id, None)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Remember live rows; the opportunities they belong to."""
        touched: list[str] = []
        for row in rows:
            if row.get("IsDeleted") or not row.get("OpportunityId"):
                continue
            opp = str(row["OpportunityId"])
            self._rows.setdefault(opp, {})[str(row["Id"])] = row
            if opp not in touched:
                touched.append(opp)
        return touched

    def changes(self, opportunity_id: str) -> tuple[list[dict[str, Any]],
                                                   list[tuple[Mapping[str, Any], Exception]]]:
        """Every change of one opportunity, and the rows that could not be read."""
        rows = list(self._rows.get(opportunity_id, {}).values())
        bad: list[tuple[Mapping[str, Any], Exception]] = []
        out: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
        for row in rows:
            if row.get(OBJECT_KEY) == FIELD_HISTORY:
                try:
                    change = self._field_change(row)
                except (Unmappable, KeyError, ValueError, TypeError) as exc:
                    bad.append((row, exc))
                    continue
                if change is not None:
                    out[(change["field"], change["changed_at"])] = change
        snapshots = []
        for row in rows:
            if row.get(OBJECT_KEY) != FIELD_HISTORY:
                try:
                    snapshots.append((_when(row), str(row["Id"]), row))
                except Unmappable as exc:
                    bad.append((row, exc))
        snapshots.sort(key=lambda s: (s[0], s[1]))
        for (_, _, prev), (at, rid, row) in itertools.pairwise(snapshots):
            try:
                diffs = self._differences(prev, row)
            except Unmappable as exc:
                bad.append((row, exc))
                continue
            for column, old, new in diffs:
                out.setdefault((column, at), _change(row, f"{rid}:{column}", column, old, new,
                                                     at))
        return sorted(out.values(), key=lambda c: (c["changed_at"], c["remote_id"])), bad

    def _field_change(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        column = self.tracked.get(str(row.get("Field")))
        if column is None or _is_name_row(row, column):
            return None
        record_type = related(row, "Opportunity.RecordTypeId")
        old = encode(column, row.get("OldValue"), self.pipelines, record_type)
        new = encode(column, row.get("NewValue"), self.pipelines, record_type)
        return _change(row, str(row["Id"]), column, old, new, _when(row))

    def _differences(self, prev: Mapping[str, Any], row: Mapping[str, Any]
                     ) -> list[tuple[str, str | None, str | None]]:
        record_type = related(row, "Opportunity.RecordTypeId")
        out = []
        for name, column in self.snapshot.items():
            if name not in row or name not in prev:
                continue
            old = encode(column, prev.get(name), self.pipelines, record_type)
            new = encode(column, row.get(name), self.pipelines, record_type)
            if old != new:
                out.append((column, old, new))
        return out


def deletions(deleted: Iterable[Deletion], snapshot: Iterable[str]) -> list[Deletion]:
    """The changes gone with deleted history rows: a field-history row's change has its Id, a
    snapshot's changes ``<Id>:<column>`` (unknown ids are no-ops for the engine)."""
    columns = sorted(set(snapshot))
    out: list[Deletion] = []
    for d in deleted:
        out.append(d)
        out.extend(Deletion(remote_id=f"{d.remote_id}:{c}", deleted_at=d.deleted_at)
                   for c in columns)
    return out
