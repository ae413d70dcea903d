"""History rows → opportunity_stage_history entries (entered/exited) and ``closed_at``.

Salesforce writes one OpportunityHistory row whenever the stage, amount, probability or close
date of an opportunity changes; each row is a snapshot (``StageName``, ``Amount``) taken at
``CreatedDate``. Stage changes from OpportunityFieldHistory arrive shaped the same way (see
:mod:`crmsync_salesforce.history_reader`). A *stage entry* is a row whose ``StageName``
differs from the previous row's of the same opportunity; it is exited at the ``CreatedDate`` of
the next entry. The entry's ``remote_id`` is the Id of the row that entered the stage, so
re-deriving it is idempotent, and its ``stage_id`` is the stage in the pipeline of the
opportunity's record type (``Opportunity.RecordTypeId`` selected with each row).

:class:`StageTracker` holds each opportunity's current entry while its rows arrive in order;
a new entry re-emits the previous one with ``exited_at`` set (the engine upserts it), and an
opportunity whose history is complete is forgotten, so memory stays flat however large the org.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync_salesforce.mapping import Unmappable, related, to_datetime
from crmsync_salesforce.pipelines import Pipelines

__all__ = ["StageTracker", "entries_from_history", "closed_at_from_history", "history_key",
           "FROM_FIELD_HISTORY"]

#: Set on a stage change read from OpportunityFieldHistory (shaped like an OpportunityHistory
#: row): at the same instant an OpportunityHistory row goes first and makes the entry.
FROM_FIELD_HISTORY = "_from_field_history"

HistoryKey = tuple[dt.datetime, int, str]


def history_key(row: Mapping[str, Any]) -> HistoryKey:
    """The chronological order of history rows: ``(CreatedDate, source, Id)``."""
    created = to_datetime(row.get("CreatedDate"))
    assert created is not None, "history rows always have CreatedDate"
    return created, 1 if row.get(FROM_FIELD_HISTORY) else 0, str(row["Id"])


@dataclass
class _Entry:
    remote_id: str
    opportunity_id: str
    stage: str
    entered_at: dt.datetime
    amount: float | None
    changed_by: str | None
    updated_at: dt.datetime | None
    last_key: HistoryKey
    record_type: str | None = None

    def record(self, pipelines: Pipelines, exited_at: dt.datetime | None) -> dict[str, Any]:
        return {
            "remote_id": self.remote_id, "remote_created_at": self.entered_at,
            "remote_updated_at": self.updated_at, "opportunity_id": self.opportunity_id,
            "stage_id": pipelines.stage_id(self.record_type, self.stage),
            "entered_at": self.entered_at,
            "exited_at": exited_at, "amount": self.amount, "changed_by": self.changed_by,
        }


def _amount(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unmappable("Amount", f"Amount is not a number: {value!r}") from None


def _entry(row: Mapping[str, Any], key: HistoryKey) -> _Entry:
    stamp = row.get("SystemModstamp")
    return _Entry(remote_id=str(row["Id"]), opportunity_id=str(row["OpportunityId"]),
                  stage=str(row.get("StageName")), entered_at=key[0],
                  amount=_amount(row.get("Amount")),
                  changed_by=row.get("CreatedById"),
                  updated_at=key[0] if stamp == row.get("CreatedDate") else to_datetime(stamp),
                  last_key=key,
                  record_type=related(row, "Opportunity.RecordTypeId"))


class StageTracker:
    """Turns history rows into stage entries, remembering each opportunity's current entry.

    :param stages: the org's pipelines (a row's stage id in its opportunity's pipeline), or
        for an org without record types just ``StageName`` → OpportunityStage Id.
    """

    def __init__(self, stages: Pipelines | Mapping[str, str]) -> None:
        self.pipelines = stages if isinstance(stages, Pipelines) else Pipelines(stage_ids=stages)
        self._current: dict[str, _Entry] = {}

    def forget(self, opportunity_id: str) -> None:
        """Drop an opportunity whose history is complete (keeps memory flat on full reads)."""
        self._current.pop(opportunity_id, None)

    def knows(self, opportunity_id: str) -> bool:
        """Whether this run has seen the opportunity's history (from its first row)."""
        return opportunity_id in self._current

    def start_from(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Derive every entry of one opportunity from its complete history; remember it."""
        ordered = sorted((r for r in rows if not r.get("IsDeleted")), key=history_key)
        out: list[dict[str, Any]] = []
        for row in ordered:
            out.extend(self.add(row))
        return out

    def add(self, row: Mapping[str, Any], key: HistoryKey | None = None
            ) -> list[dict[str, Any]]:
        """The entries one new row creates or closes (0, 1 or 2 records); ``key`` is the
        row's :func:`history_key`, when the caller has it already."""
        opp = str(row["OpportunityId"])
        key = key or history_key(row)
        current = self._current.get(opp)
        if current is not None and key <= current.last_key:
            return []  # already derived (a lookback re-read or the complete history fetch)
        if current is not None and str(row.get("StageName")) == current.stage:
            current.last_key = key
            return []
        new = _entry(row, key)
        if new.amount is None and current is not None:
            new.amount = current.amount  # a field-history change carries no amount snapshot
        self._current[opp] = new
        out = [new.record(self.pipelines, None)]
        if current is not None:
            out.insert(0, current.record(self.pipelines, new.entered_at))
        return out


def entries_from_history(rows: Sequence[Mapping[str, Any]],
                         stage_ids: Pipelines | Mapping[str, str]) -> list[dict[str, Any]]:
    """Every stage entry of the given history rows (any opportunities, any order).

    An entry re-emitted with its ``exited_at`` replaces the earlier emission, so the result
    has one record per entry.
    """
    tracker = StageTracker(stage_ids)
    by_opp: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_opp.setdefault(str(row["OpportunityId"]), []).append(row)
    final: dict[str, dict[str, Any]] = {}
    for opp_rows in by_opp.values():
        for record in tracker.start_from(opp_rows):
            final[record["remote_id"]] = record
    return list(final.values())


def closed_at_from_history(rows: Sequence[Mapping[str, Any]], closed_stages: Iterable[str]
                           ) -> dict[str, dt.datetime]:
    """Opportunity Id → when it entered the closed stage it is in (from its history rows).

    The close is the start of the last run of closed stages: a deal moved from "Closed Won" to
    "Closed Lost" keeps the first close; one reopened and closed again gets the second.
    """
    closed = set(closed_stages)
    by_opp: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if not row.get("IsDeleted"):
            by_opp.setdefault(str(row["OpportunityId"]), []).append(row)
    out: dict[str, dt.datetime] = {}
    for opp, opp_rows in by_opp.items():
        start: dt.datetime | None = None
        for row in sorted(opp_rows, key=history_key):
            if row.get("StageName") in closed:
                if start is None:
                    start = history_key(row)[0]
            else:
                start = None
        if start is not None:
            out[opp] = start
    return out
