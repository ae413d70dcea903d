"""Incremental reads of one object: windows, REST vs Bulk, getDeleted.

The per-object cursor is ``{"ts": SystemModstamp, "id": Id}`` of the last row read (history
objects without SystemModstamp go by ``CreatedDate``), plus ``"deleted_since"`` (getDeleted's
``latestDateCovered``). A read

1. starts ``lookback_seconds`` before ``ts`` (inclusive), because rows committed late in
   Salesforce can carry a SystemModstamp older than rows already read; re-read rows are
   upserted again, harmlessly;
2. reads with REST ``queryAll`` pages (``Sforce-Query-Options: batchSize``,
   ``nextRecordsUrl``), ordered by ``SystemModstamp, Id`` so the cursor after every page is
   safe to commit, or with a Bulk API 2.0 ``queryAll`` job in the same order when the read
   is large. A full read knows its size beforehand (``expected``: the org's record count,
   see :mod:`crmsync_salesforce.connector`) and goes straight to Bulk above
   ``bulk_threshold``. Otherwise the first REST page's ``totalSize`` is the count probe
   (Salesforce counts the whole query with it, so no separate ``SELECT COUNT()`` request is
   spent): when more than ``bulk_threshold`` rows remain, the rest — the rows after the first
   page's last one — is read by a Bulk job;
3. on ``QUERY_TIMEOUT`` continues from the last row read in time windows, halving the window
   after every timeout (down to one minute, then the error is raised);
4. on an incremental read, asks getDeleted for records hard-deleted (purged from the recycle bin
   or never seen with ``IsDeleted = true``) since ``deleted_since``, within the 30 days
   Salesforce keeps them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmsync import Deletion
from crmsync_salesforce import bulk, soql
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.errors import QueryTimeout

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["ObjectReader", "Page", "utcnow", "REST_BATCH_SIZE", "GET_DELETED_DAYS", "MIN_WINDOW"]

log = logging.getLogger(__name__)

#: Rows a REST query page asks for (Salesforce's maximum; it may send fewer).
REST_BATCH_SIZE = 2000
#: Rows a Bulk API result page asks for (``maxRecords``); None leaves the size to Salesforce,
#: which makes pages as large as it can (the fewest calls). A page streams into a temporary
#: file and is parsed and committed REST_BATCH_SIZE rows at a time, so memory does not grow
#: with it (crmsync_salesforce.bulk).
BULK_PAGE_SIZE: int | None = None
#: getDeleted only reaches this many days back.
GET_DELETED_DAYS = 29
#: getDeleted refuses windows shorter than this.
GET_DELETED_MIN_WINDOW = dt.timedelta(minutes=1)
#: The smallest time window tried after QUERY_TIMEOUT.
MIN_WINDOW = dt.timedelta(minutes=1)
#: Objects without ``IsDeleted`` (no recycle bin) whose deletions getDeleted still reports.
DELETED_WITHOUT_FLAG = frozenset({"ForecastingQuota"})


def utcnow() -> dt.datetime:
    """Now, UTC, to the second (SOQL literals carry seconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@dataclass
class Page:
    """Rows of one object plus the object's cursor once they are stored."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)
    deleted: list[Deletion] = field(default_factory=list)
    source: str = ""


def _position(row: Mapping[str, Any], stamp: str) -> tuple[dt.datetime, str]:
    return soql.parse_datetime(str(row[stamp])), str(row["Id"])


@dataclass
class _Position:
    """Where a read is: the last row's ``(time, id)``, the greatest position stored in the
    cursor, and the time window after a ``QUERY_TIMEOUT`` (``None``: no window)."""

    time: dt.datetime | None = None
    id: str | None = None
    best: tuple[dt.datetime, str] | None = None
    window: dt.timedelta | None = None


def _tracks_deletions(describe: ObjectDescription) -> bool:
    """Whether getDeleted reports the object's hard deletes."""
    return describe.replicateable and (describe.has("IsDeleted")
                                       or describe.name in DELETED_WITHOUT_FLAG)


def _both(where: str, condition: str) -> str:
    """Two SOQL conditions, either of which may be empty, joined by ``AND``."""
    return f"({where}) AND ({condition})" if where and condition else where or condition


class ObjectReader:
    """Reads one object incrementally through a :class:`SalesforceClient`.

    :param bulk_threshold: a window with more rows than this is read through Bulk API 2.0.
    :param lookback_seconds: how far before the cursor each incremental read starts.
    :param now: the clock (tests pass a fixed one).
    """

    def __init__(self, client: SalesforceClient, *, bulk_threshold: int, lookback_seconds: int,
                 now: Callable[[], dt.datetime] = utcnow) -> None:
        self.client = client
        self.bulk_threshold = bulk_threshold
        self.lookback = dt.timedelta(seconds=lookback_seconds)
        self.now = now

    def pages(self, describe: ObjectDescription, fields: list[str],
              cursor: Mapping[str, Any] | None, *, expected: int | None = None,
              condition: str = "") -> Iterator[Page]:
        """Pages of rows changed since ``cursor`` (everything when ``None``), then deletions.

        :param expected: about how many rows a full read (no cursor) will return, if known.
        :param condition: SOQL every row must also meet (``Field = 'StageName'``).
        """
        obj = describe.name
        stamp = describe.stamp_field
        state = dict(cursor or {})
        started = self.now()
        if not cursor and _tracks_deletions(describe):
            # every page's cursor holds it, so a full read resumed after a failure asks
            # getDeleted from when the read began, not from the rows it stored
            state["deleted_since"] = soql.datetime_literal(started)
        pos = self._start(state)
        while True:
            until = None if pos.window is None or pos.time is None else pos.time + pos.window
            window_where = soql.incremental_where(since=pos.time, after_id=pos.id,
                                                  until=until, field=stamp)
            try:
                yield from self._window(describe, fields, _both(window_where, condition), pos,
                                        state, expected=None if window_where else expected)
            except QueryTimeout:
                if not self._narrow(pos, obj, stamp, started):
                    raise
                continue
            if until is None or until >= started:
                break
            pos.time, pos.id = until, None  # the next window; rows at `until` are re-read
        yield from self._deletions(describe, cursor, state, started)

    def _start(self, state: Mapping[str, Any]) -> _Position:
        """Where a read from cursor ``state`` starts: ``lookback`` before its time."""
        pos = _Position()
        if state.get("ts"):
            pos.time = soql.parse_datetime(state["ts"]).replace(microsecond=0) - self.lookback
            pos.best = (soql.parse_datetime(state["ts"]), state.get("id") or "")
        return pos

    def _window(self, describe: ObjectDescription, fields: list[str], where: str,
                pos: _Position, state: dict[str, Any], *, expected: int | None
                ) -> Iterator[Page]:
        """The pages of one query, moving ``pos`` and the cursor ``state`` along."""
        stamp = describe.stamp_field
        for rows, source in self._query(describe, fields, where, (stamp, "Id"),
                                        expected=expected):
            if rows:
                last = _position(rows[-1], stamp)
                pos.time, pos.id = last
                if pos.best is None or last > pos.best:
                    pos.best = last
                    state["ts"] = str(rows[-1][stamp])
                    state["id"] = last[1]
            yield Page(rows=rows, cursor=dict(state), source=source)

    def _narrow(self, pos: _Position, obj: str, stamp: str, started: dt.datetime) -> bool:
        """After ``QUERY_TIMEOUT``: halve the time window from ``pos`` on; ``False`` when
        it cannot get smaller (or the object has no rows to start from)."""
        if pos.time is None:
            pos.time = self._earliest(obj, stamp)
            if pos.time is None:
                return False
        span = (pos.window or (started - pos.time)) / 2
        if span < MIN_WINDOW:
            return False
        log.warning("%s: QUERY_TIMEOUT; reading %s in windows of %s", self.client
                    .connection, obj, span)
        pos.window = span
        return True

    def _deletions(self, describe: ObjectDescription, cursor: Mapping[str, Any] | None,
                   state: dict[str, Any], started: dt.datetime) -> Iterator[Page]:
        """After the rows: the deletions since the cursor, or (after a full read) the start
        of the next read's deletions."""
        if not _tracks_deletions(describe):
            return
        if cursor:
            yield self._deleted(describe, state, started)
        else:  # a full queryAll saw every soft delete: getDeleted starts at its start next time
            yield Page(cursor=dict(state), source=f"queryAll {describe.name}")

    # -- one window -------------------------------------------------------------------------

    def rows(self, describe: ObjectDescription, fields: list[str], where: str,
             order_by: tuple[str, ...], *, expected: int | None = None
             ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """``(rows, source)`` pages of one query in another order (REST or Bulk by count;
        ``expected``: the row count of a query without ``where``, if known)."""
        return self._query(describe, fields, where, order_by,
                           expected=None if where else expected)

    def _query(self, describe: ObjectDescription, fields: list[str], where: str,
               order_by: tuple[str, ...] = ("SystemModstamp", "Id"), *,
               expected: int | None = None) -> Iterator[tuple[list[dict[str, Any]], str]]:
        obj = describe.name
        text = soql.select(obj, fields, where=where, order_by=order_by)
        if expected is not None and expected > self.bulk_threshold:
            log.info("%s: about %d %s rows to read: Bulk API 2.0", self.client.connection,
                     expected, obj)
            yield from self._bulk(describe, text)
            return
        pages = self.client.query_pages_with_total(text, what=f"query {obj}",
                                                   batch_size=REST_BATCH_SIZE)
        for n, (rows, total) in enumerate(pages):
            for row in rows:
                row.pop("attributes", None)
            yield rows, f"queryAll {obj}"
            if n == 0 and rows and total - len(rows) > self.bulk_threshold:
                pages.close()  # the rest is large: a Bulk API job from the first page's end
                break
        else:
            return
        last = rows[-1]
        rest = soql.after(order_by, [str(last[f]) for f in order_by],
                          [describe.type_of(f) for f in order_by])
        text = soql.select(obj, fields, where=f"({where}) AND {rest}" if where else rest,
                           order_by=order_by)
        log.info("%s: %d %s rows to read: Bulk API 2.0", self.client.connection, total, obj)
        yield from self._bulk(describe, text)

    def _bulk(self, describe: ObjectDescription, text: str
              ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        for rows in bulk.query_pages(self.client, describe.name, text, describe,
                                     page_size=BULK_PAGE_SIZE, chunk=REST_BATCH_SIZE):
            yield rows, f"Bulk API query {describe.name}"

    def _earliest(self, obj: str, stamp: str) -> dt.datetime | None:
        text = soql.select(obj, [stamp], order_by=(stamp,)) + " LIMIT 1"
        for rows in self.client.query_pages(text, what=f"query {obj}"):
            if rows:
                return soql.parse_datetime(str(rows[0][stamp])).replace(microsecond=0)
        return None

    def _deleted(self, describe: ObjectDescription, state: dict[str, Any],
                 started: dt.datetime) -> Page:
        """getDeleted since ``deleted_since``. Salesforce refuses a window shorter than one
        minute (INVALID_REPLICATION_DATE), so a shorter one starts a minute back instead:
        deletions reported twice are harmless."""
        obj = describe.name
        floor = started - dt.timedelta(days=GET_DELETED_DAYS)
        since = soql.parse_datetime(state["deleted_since"]) if state.get("deleted_since") else \
            soql.parse_datetime(state["ts"]) - self.lookback if state.get("ts") else floor
        if since < floor:
            log.warning("%s: %s hard deletes before %s cannot be read (getDeleted keeps %d "
                        "days); run a full sync to catch them", self.client.connection, obj,
                        since, GET_DELETED_DAYS)
            since = floor
        since = min(since, started - GET_DELETED_MIN_WINDOW)
        result = self.client.call(f"getDeleted {obj}",
                                  lambda sf: getattr(sf, obj).deleted(since, started))
        deletions = [Deletion(remote_id=d["id"],
                              deleted_at=soql.parse_datetime(d["deletedDate"])
                              if d.get("deletedDate") else None)
                     for d in result.get("deletedRecords") or []]
        state["deleted_since"] = result.get("latestDateCovered") or soql.datetime_literal(started)
        return Page(cursor=dict(state), deleted=deletions, source=f"getDeleted {obj}")
