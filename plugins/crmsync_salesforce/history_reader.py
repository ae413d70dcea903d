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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Deletion, Reject
from crmsync_salesforce import mapping, soql
from crmsync_salesforce.describe import ObjectDescription
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

__all__ = ["HistoryReader", "HistorySource", "merge_by_opportunity", "OBJECTS"]

HISTORY = "OpportunityHistory"
FIELD_HISTORY = "OpportunityFieldHistory"
#: The objects read, in this order (the first one present keeps a full read's progress).
OBJECTS = (HISTORY, FIELD_HISTORY)
_ORDER = ("OpportunityId", "CreatedDate", "Id")
_FIELD_HISTORY_FIELDS = ("OpportunityId", "Field", "NewValue", "CreatedById")
_STAGE_CHANGES = "Field = 'StageName'"
_ROW_ERRORS = (KeyError, ValueError, TypeError, AssertionError)

Pages = Iterable[tuple[list[dict[str, Any]], str]]


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

    def shaped(self, pages: Pages) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """``pages`` with every row shaped (see :meth:`shape`)."""
        for rows, source in pages:
            yield [self.shape(r) for r in rows], source

    def shape(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row as an OpportunityHistory-shaped stage change."""
        if self.name != FIELD_HISTORY:
            return row
        return {"Id": row["Id"], "OpportunityId": row.get("OpportunityId"),
                "StageName": row.get("NewValue"), "Amount": None,
                "CreatedById": row.get("CreatedById"), "CreatedDate": row.get("CreatedDate"),
                "SystemModstamp": row.get("CreatedDate"), "IsDeleted": row.get("IsDeleted"),
                "Opportunity": row.get("Opportunity"), FROM_FIELD_HISTORY: True}


def merge_by_opportunity(streams: Sequence[Pages]) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """Merge pages of rows, each stream ordered by ``OpportunityId``, into chunks holding only
    opportunities no stream can add rows to any more (every stream has read past them or
    ended). Only the stream furthest behind is read next, so what is held stays about a page
    per stream."""
    iters = [iter(s) for s in streams]
    buffers: list[list[dict[str, Any]]] = [[] for _ in iters]
    last: list[str | None] = [None] * len(iters)
    live = [True] * len(iters)
    source = ""
    while any(live):
        k = _furthest_behind(live, last)
        page = next(iters[k], None)
        if page is None:
            live[k] = False
        else:
            rows, source = page
            if rows:
                buffers[k].extend(rows)
                last[k] = str(rows[-1]["OpportunityId"])
        if any(live[i] and last[i] is None for i in range(len(iters))):
            continue  # a stream that has not answered yet may hold any opportunity
        ahead = [v for v, on in zip(last, live, strict=True) if on and v is not None]
        done = _settled(buffers, min(ahead) if ahead else None)
        if done:
            done.sort(key=lambda r: str(r["OpportunityId"]))  # stable: each stream's order
            yield done, source


def _furthest_behind(live: list[bool], last: list[str | None]) -> int:
    """The live stream with the least last ``OpportunityId`` (one that has read none first)."""
    return min((i for i in range(len(live)) if live[i]),
               key=lambda i: (last[i] is not None, last[i] or ""))


def _settled(buffers: list[list[dict[str, Any]]], limit: str | None) -> list[dict[str, Any]]:
    """Take from each buffer the rows of opportunities before ``limit`` (all when ``None``)."""
    done: list[dict[str, Any]] = []
    for i, buffer in enumerate(buffers):
        cut = len(buffer) if limit is None else next(
            (n for n, r in enumerate(buffer) if str(r["OpportunityId"]) >= limit),
            len(buffer))
        done.extend(buffer[:cut])
        buffers[i] = buffer[cut:]
    return done


def _deletion(row: Mapping[str, Any]) -> Deletion:
    stamp = row.get("SystemModstamp")
    return Deletion(remote_id=str(row["Id"]),
                    deleted_at=soql.parse_datetime(str(stamp)) if stamp else None)


class HistoryReader:
    """Reads the ``opportunity_stage_history`` entity.

    :param client: returns the logged-in client.
    :param describe: an object's describe (``None`` when absent or unreadable).
    :param record_count: an object's record count, if known (sizes full reads).
    :param reader: makes an :class:`ObjectReader` with the connection's settings.
    :param pipelines: the run's pipelines (stage ids by record type).
    :param clock: now, UTC.
    """

    def __init__(self, *, client: Callable[[], SalesforceClient],
                 describe: Callable[[str], ObjectDescription | None],
                 record_count: Callable[[str], int | None], reader: Callable[[], ObjectReader],
                 pipelines: Callable[[], Pipelines], clock: Callable[[], dt.datetime]) -> None:
        self._client = client
        self._describe = describe
        self._record_count = record_count
        self._reader = reader
        self._pipelines = pipelines
        self._clock = clock

    def sources(self) -> list[HistorySource]:
        """The history objects this org has and the user can read."""
        opportunity = self._describe("Opportunity")
        by_record_type = ["Opportunity.RecordTypeId"] if opportunity is not None and \
            opportunity.has("RecordTypeId") else []
        out = []
        for obj in OBJECTS:
            d = self._describe(obj)
            if d is None:
                continue
            system = [f for f in mapping.SYSTEM_FIELDS if d.has(f)]
            if obj == FIELD_HISTORY:
                if not d.has("Field"):
                    continue
                out.append(HistorySource(d, d.select_list(
                    system + list(_FIELD_HISTORY_FIELDS) + by_record_type), _STAGE_CHANGES))
            else:
                out.append(HistorySource(d, d.select_list(
                    system + list(mapping.STANDARD_FIELDS[obj]) + by_record_type)))
        return out

    def read(self, cursor: Mapping[str, Any] | None) -> Iterator[Batch]:
        """The entity's batches from ``cursor`` (``None``: a full read)."""
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
        return closed_at_from_history(rows, closed_stages)

    # -- full -----------------------------------------------------------------------------

    def _full(self, sources: list[HistorySource], state: dict[str, Any]) -> Iterator[Batch]:
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
            streams.append(src.shaped(pages))
        tracker = StageTracker(self._pipelines())
        for rows, source in merge_by_opportunity(streams):
            batch = self._derive(tracker, rows, source)
            for opp in {str(r["OpportunityId"]) for r in rows}:
                tracker.forget(opp)  # complete: its entries are final
            after = str(rows[-1]["OpportunityId"])
            state[key] = {"started": started, "after_opportunity": after}
            batch.cursor = dict(state)
            yield batch
        for src in sources:
            state[src.name] = {"ts": started, "id": "", "deleted_since": started}
        yield Batch(cursor=dict(state))

    # -- incremental ----------------------------------------------------------------------

    def _incremental(self, sources: list[HistorySource], state: dict[str, Any]
                     ) -> Iterator[Batch]:
        reader = self._reader()
        tracker = StageTracker(self._pipelines())
        for src in sources:
            for page in reader.pages(src.describe, src.fields, state.get(src.name),
                                     condition=src.condition):
                state[src.name] = page.cursor
                rows = [src.shape(r) for r in page.rows]
                unknown = sorted({str(r["OpportunityId"]) for r in rows
                                  if not r.get("IsDeleted") and r.get("OpportunityId") and
                                  not tracker.knows(str(r["OpportunityId"]))})
                batch = self._derive(tracker, self._history_of(sources, unknown) + rows,
                                     page.source)
                batch.deleted = list(page.deleted) + list(batch.deleted)
                batch.cursor = dict(state)
                yield batch

    def _history_of(self, sources: Sequence[HistorySource], opportunity_ids: Sequence[str]
                    ) -> list[dict[str, Any]]:
        """Every live history row of these opportunities, from every source."""
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
                    out.extend(src.shape(r) for r in rows)
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
    obj = FIELD_HISTORY if row.get(FROM_FIELD_HISTORY) else HISTORY
    payload = {k: v for k, v in row.items() if k != FROM_FIELD_HISTORY}
    return Reject(f"{obj}: {exc}", remote_id=row.get("Id"), field=getattr(exc, "field", None)
                  or None, source=source, payload=payload)
