"""Reading ``opportunity_stage_history``: OpportunityHistory, and OpportunityFieldHistory where
stage changes are tracked.

Two objects record stage changes:

* **OpportunityHistory**, always there: a snapshot row (stage, amount, close date…) whenever
  one of those fields changes, kept for the life of the opportunity.
* **OpportunityFieldHistory**, only with field history tracking on Opportunity's Stage: a row
  per change (``Field = 'StageName'``, ``OldValue`` → ``NewValue``), kept 18 months in the org
  and 24 through the API. When the object exists and the user can read it, its stage changes
  join OpportunityHistory's: they fill in changes OpportunityHistory lacks (rows gone, or no
  access to it). Salesforce writes both in the same transaction, with the same
  ``CreatedDate``, so where both have a change the OpportunityHistory row is the entry (it
  carries the amount) and the field-history row only confirms it
  (:data:`~crmsync_salesforce.stage_history.FROM_FIELD_HISTORY`).

A **full read** asks both for their rows ordered by ``OpportunityId, CreatedDate, Id`` and
merges the two streams by opportunity (:func:`merge_by_opportunity`): a batch holds the
opportunities whose history is complete in both, so memory stays flat however large the org,
and each entry is stored once with its ``exited_at``. Its cursor names the last opportunity
stored complete (a resume starts after it) and, once the read ends, becomes an ordinary
per-object cursor starting where the full read began.

An **incremental read** takes each object's new rows by its stamp (SystemModstamp;
CreatedDate on field history, which has none) and, for every opportunity among them, fetches
its whole history from both objects (``OpportunityId IN (…)``, 150 ids a query) and derives its
entries from scratch, so they never depend on what an earlier run remembered.

The same pages feed ``opportunity_field_history`` (:mod:`crmsync_salesforce.field_history`):
when that table is read too, field history is asked for every tracked field of
:data:`~crmsync_salesforce.field_history.FIELD_HISTORY_COLUMNS` (not only ``StageName``) and
OpportunityHistory for its whole snapshot, and the stage-history read spools its pages for the
field-history read of the same run (:mod:`crmsync_salesforce.history_spool`): the field changes
cost no query of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Deletion, Reject
from crmsync_salesforce import mapping, soql
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.field_history import (
    OBJECT_KEY,
    FieldChanges,
    deletions,
    snapshot_columns,
    tracked_columns,
)
from crmsync_salesforce.history_merge import Pages, merge_by_opportunity
from crmsync_salesforce.history_spool import HistoryPage, HistorySpool
from crmsync_salesforce.pipelines import Pipelines
from crmsync_salesforce.reader import ObjectReader
from crmsync_salesforce.stage_history import (
    FROM_FIELD_HISTORY,
    StageTracker,
    closed_at_from_history,
    history_key,
)

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["HistoryReader", "HistorySource", "merge_by_opportunity", "OBJECTS", "STAGES",
           "FIELDS"]

HISTORY = "OpportunityHistory"
FIELD_HISTORY = "OpportunityFieldHistory"
#: The objects read, in this order (the first one present keeps a full read's progress).
OBJECTS = (HISTORY, FIELD_HISTORY)
_ORDER = ("OpportunityId", "CreatedDate", "Id")
_FIELD_HISTORY_FIELDS = ("OpportunityId", "Field", "NewValue", "CreatedById")
_FIELD_CHANGE_FIELDS = ("OldValue", "DataType")
_STAGE_CHANGES = "Field = 'StageName'"
#: The two entities read from the history objects.
STAGES = "opportunity_stage_history"
FIELDS = "opportunity_field_history"
_ROW_ERRORS = (KeyError, ValueError, TypeError, AssertionError)


@dataclass(frozen=True)
class HistorySource:
    """One object stage changes are read from: its describe, SELECT list and filter."""

    describe: ObjectDescription
    fields: list[str]
    condition: str = ""

    @property
    def name(self) -> str:
        """The object's API name."""
        return self.describe.name

    def tagged(self, pages: Pages) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """``pages`` with every row tagged with this object (see :meth:`tag`)."""
        for rows, source in pages:
            yield [self.tag(r) for r in rows], source

    def tag(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row, tagged with the object it came from (``OBJECT_KEY``)."""
        return {**row, OBJECT_KEY: self.name}


def stage_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tagged rows as OpportunityHistory-shaped stage changes (field-history rows of other
    fields left out)."""
    out = []
    for row in rows:
        if row.get(OBJECT_KEY) != FIELD_HISTORY:
            out.append({k: v for k, v in row.items() if k != OBJECT_KEY})
        elif row.get("Field") == "StageName":
            out.append({"Id": row["Id"], "OpportunityId": row.get("OpportunityId"),
                "StageName": row.get("NewValue"), "Amount": None,
                "CreatedById": row.get("CreatedById"), "CreatedDate": row.get("CreatedDate"),
                "SystemModstamp": row.get("CreatedDate"), "IsDeleted": row.get("IsDeleted"),
                "Opportunity": row.get("Opportunity"), FROM_FIELD_HISTORY: True})
    return out


def _deletion(row: Mapping[str, Any]) -> Deletion:
    stamp = row.get("SystemModstamp")
    return Deletion(remote_id=str(row["Id"]),
                    deleted_at=soql.parse_datetime(str(stamp)) if stamp else None)


class HistoryReader:
    """Reads ``opportunity_stage_history`` and ``opportunity_field_history``.

    :param client: returns the logged-in client.
    :param describe: an object's describe (``None`` when absent or unreadable).
    :param record_count: an object's record count, if known (sizes full reads).
    :param reader: makes an :class:`ObjectReader` with the connection's settings.
    :param pipelines: the run's pipelines (stage ids by record type).
    :param clock: now, UTC.
    :param fields_read: whether this connection reads ``opportunity_field_history``.
    """

    def __init__(self, *, client: Callable[[], SalesforceClient],
                 describe: Callable[[str], ObjectDescription | None],
                 record_count: Callable[[str], int | None], reader: Callable[[], ObjectReader],
                 pipelines: Callable[[], Pipelines], clock: Callable[[], dt.datetime],
                 fields_read: Callable[[], bool] = lambda: False) -> None:
        self._client = client
        self._describe = describe
        self._record_count = record_count
        self._reader = reader
        self._pipelines = pipelines
        self._clock = clock
        self._fields_read = fields_read
        self.spool: HistorySpool | None = None

    def tracked(self) -> dict[str, str]:
        """``Field`` → column of the fields this org tracks in OpportunityFieldHistory."""
        return tracked_columns(self._describe(FIELD_HISTORY))

    def snapshot(self) -> dict[str, str]:
        """Snapshot field → column of the fields OpportunityHistory has for this user."""
        return snapshot_columns(self._describe(HISTORY))

    def history_fields(self) -> frozenset[str]:
        """The opportunity columns whose every change is read (see
        :mod:`crmsync_salesforce.field_history`)."""
        return frozenset(self.snapshot().values()) | frozenset(self.tracked().values())

    def sources(self) -> list[HistorySource]:
        """The history objects this org has and the user can read."""
        opportunity = self._describe("Opportunity")
        by_record_type = ["Opportunity.RecordTypeId"] if opportunity is not None and \
            opportunity.has("RecordTypeId") else []
        fields = self._fields_read()
        out = []
        for obj in OBJECTS:
            d = self._describe(obj)
            if d is None:
                continue
            system = [f for f in mapping.SYSTEM_FIELDS if d.has(f)]
            if obj == FIELD_HISTORY:
                if not d.has("Field"):
                    continue
                changes = [f for f in _FIELD_CHANGE_FIELDS if fields and d.has(f)]
                names = ["StageName", *(self.tracked() if fields else ())]
                condition = f"Field IN ({', '.join(soql.quote(n) for n in dict.fromkeys(names))})"
                out.append(HistorySource(d, d.select_list(
                    system + list(_FIELD_HISTORY_FIELDS) + changes + by_record_type),
                    condition if len(set(names)) > 1 else _STAGE_CHANGES))
            else:
                snapshot = [f for f in self.snapshot() if fields and
                            f not in mapping.STANDARD_FIELDS[obj]]
                out.append(HistorySource(d, d.select_list(
                    system + list(mapping.STANDARD_FIELDS[obj]) + snapshot + by_record_type)))
        return out

    def read(self, entity: str, cursor: Mapping[str, Any] | None) -> Iterator[Batch]:
        """The entity's batches from ``cursor`` (``None``: a full read)."""
        if entity == FIELDS:
            yield from self._read_fields(cursor)
            return
        pages = self.pages(cursor)
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        if self._fields_read():
            self.spool = HistorySpool(cursor)
        tracker = StageTracker(self._pipelines())
        for page in pages:
            if self.spool is not None:
                self.spool.add(page)
            batch = self._derive(tracker, stage_rows(page.rows), page.source)
            batch.deleted = [*page.deleted, *batch.deleted]
            batch.cursor = page.cursor
            if page.complete:
                for opp in {str(r["OpportunityId"]) for r in page.rows}:
                    tracker.forget(opp)  # complete: its entries are final
            yield batch
        if self.spool is not None:
            self.spool.finish()

    def close(self) -> None:
        """Delete the spool."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def pages(self, cursor: Mapping[str, Any] | None) -> Iterator[HistoryPage]:
        """The history pages from ``cursor``: a full read, or an incremental one."""
        sources = self.sources()
        if not sources:
            return
        state: dict[str, Any] = dict(cursor or {})
        if not (state.get(sources[0].name) or {}).get("ts"):
            yield from self._full(sources, state)
        else:
            yield from self._incremental(sources, state)

    def closed_at(self, opportunity_ids: Sequence[str], closed_stages: Iterable[str]
                  ) -> dict[str, dt.datetime]:
        """When each (closed) opportunity entered its closed stage, from its history."""
        rows = self._history_of(self.sources(), opportunity_ids)
        return closed_at_from_history(stage_rows(rows), closed_stages)

    # -- field changes --------------------------------------------------------------------

    def _read_fields(self, cursor: Mapping[str, Any] | None) -> Iterator[Batch]:
        spool = self.spool
        pages = spool.pages() if spool is not None and spool.covers(cursor) else \
            self.pages(cursor)
        snapshot = self.snapshot()
        changes = FieldChanges(self._pipelines(), self.tracked(), snapshot)
        for page in pages:
            records: list[dict[str, Any]] = []
            rejects: list[Reject] = []
            touched = changes.add(page.rows)
            for opp in touched:
                found, bad = changes.changes(opp)
                records.extend(found)
                rejects.extend(_reject(row, exc, page.source) for row, exc in bad)
                if page.complete:
                    changes.forget(opp)
            gone = [_deletion(r) for r in page.rows if r.get("IsDeleted")]
            yield Batch(records=records, rejects=rejects, cursor=page.cursor,
                        deleted=deletions([*page.deleted, *gone], snapshot.values()),
                        sources=[page.source] * len(records))

    # -- full -----------------------------------------------------------------------------

    def _full(self, sources: list[HistorySource], state: dict[str, Any]
              ) -> Iterator[HistoryPage]:
        key = sources[0].name
        progress = dict(state.get(key) or {})
        started = progress.get("started") or soql.datetime_literal(self._clock())
        after = progress.get("after_opportunity")
        reader = self._reader()
        streams = []
        for src in sources:
            where = " AND ".join(w for w in (
                f"OpportunityId > {soql.quote(after)}" if after else "", src.condition) if w)
            pages = reader.rows(src.describe, src.fields, where, _ORDER,
                                expected=None if where else self._record_count(src.name))
            streams.append(src.tagged(pages))
        for rows, source in merge_by_opportunity(streams):
            after = str(rows[-1]["OpportunityId"])
            state[key] = {"started": started, "after_opportunity": after}
            yield HistoryPage(rows=rows, source=source, cursor=dict(state), complete=True)
        for src in sources:
            state[src.name] = {"ts": started, "id": "", "deleted_since": started}
        yield HistoryPage(cursor=dict(state), complete=True)

    # -- incremental ----------------------------------------------------------------------

    def _incremental(self, sources: list[HistorySource], state: dict[str, Any]
                     ) -> Iterator[HistoryPage]:
        reader = self._reader()
        seen: set[str] = set()
        for src in sources:
            for page in reader.pages(src.describe, src.fields, state.get(src.name),
                                     condition=src.condition):
                state[src.name] = page.cursor
                rows = [src.tag(r) for r in page.rows]
                unknown = sorted({str(r["OpportunityId"]) for r in rows
                                  if not r.get("IsDeleted") and r.get("OpportunityId") and
                                  str(r["OpportunityId"]) not in seen})
                seen.update(unknown)
                yield HistoryPage(rows=self._history_of(sources, unknown) + rows,
                                  deleted=list(page.deleted), source=page.source,
                                  cursor=dict(state))

    def _history_of(self, sources: Sequence[HistorySource], opportunity_ids: Sequence[str]
                    ) -> list[dict[str, Any]]:
        """Every live history row of these opportunities, from every source (tagged)."""
        client = self._client()
        out: list[dict[str, Any]] = []
        for src in sources:
            for start in range(0, len(opportunity_ids), soql.IDS_PER_QUERY):
                where = soql.in_ids("OpportunityId",
                                    opportunity_ids[start:start + soql.IDS_PER_QUERY])
                text = soql.select(src.name, src.fields, order_by=_ORDER, where=f"{where} AND "
                                   f"{src.condition}" if src.condition else where)
                for rows in client.query_pages(text, what=f"query {src.name}",
                                               include_deleted=False):
                    out.extend(src.tag(r) for r in rows)
        return out

    # -- rows → entries -------------------------------------------------------------------

    @staticmethod
    def _derive(tracker: StageTracker, rows: list[dict[str, Any]], source: str) -> Batch:
        """The stage entries ``rows`` create or close; bad rows rejected one by one."""
        rejects: list[Reject] = []
        deleted: list[Deletion] = []
        keyed = []
        for row in rows:
            if row.get("IsDeleted"):
                deleted.append(_deletion(row))
                continue
            try:
                keyed.append((str(row["OpportunityId"]), history_key(row), row))
            except _ROW_ERRORS as exc:
                rejects.append(_reject(row, exc, source))
        out: dict[str, dict[str, Any]] = {}
        for _, key, row in sorted(keyed, key=lambda k: (k[0], k[1])):
            try:
                for record in tracker.add(row, key):
                    out[record["remote_id"]] = record
            except _ROW_ERRORS as exc:
                rejects.append(_reject(row, exc, source))
        records = list(out.values())
        return Batch(records=records, rejects=rejects, deleted=deleted,
                     sources=[source] * len(records))


def _reject(row: Mapping[str, Any], exc: Exception, source: str) -> Reject:
    obj = FIELD_HISTORY if row.get(FROM_FIELD_HISTORY) or \
        row.get(OBJECT_KEY) == FIELD_HISTORY else HISTORY
    payload = {k: v for k, v in row.items() if k not in (FROM_FIELD_HISTORY, OBJECT_KEY)}
    return Reject(f"{obj}: {exc}", remote_id=row.get("Id"), field=getattr(exc, "field", None)
                  or None, source=source, payload=payload)
