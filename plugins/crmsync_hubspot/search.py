"""Incremental reads through the CRM search API, past its 10,000-result cap.

HubSpot's search API pages with ``after``, which is an *offset*; any
request whose offset plus limit passes 10,000 fails with HTTP 400, and only one sort is
honoured. Offsets are also unsafe while records change: a record modified during the sync
moves to the end of the order and every later record shifts down one place, so offset paging
silently skips one. This module therefore never sends ``after``. Every page is a fresh query
*anchored* on the last fully stored position:

* the **cursor** is ``{"ts": T, "id": I}``: every record whose modification timestamp (epoch
  ms) is below ``T`` is stored, and so are those at exactly ``T`` with ``hs_object_id <= I``;
  ``"id": None`` means all of ``T``'s records are stored.
* a **forward** step asks for ``ts > T`` sorted by ``ts`` ascending. When the answer says more
  follows (``paging.next``), its last timestamp may continue on the next page, so the records
  at that timestamp are held back and the cursor moves to the one before it (they come again,
  first, in the next query).
* when such a page holds a single timestamp (more ties than a page), a **tie** step asks for
  ``ts == T and hs_object_id > I`` sorted by ``hs_object_id``, re-anchoring on the last id
  until the group is exhausted: correct with any number of records (> 10,000 too) on one
  timestamp.

A record modified during the sync moves forward and is found again by a later query; at most
the held-back records of a page are read twice.

Only the answer's ``paging.next`` says whether more follows (:mod:`crmsync_hubspot.paging`),
never the page's length: HubSpot may answer fewer records than ``limit`` on a page that is not
the last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from crmsync import parse_datetime
from crmsync_hubspot.paging import next_after

__all__ = ["SearchCursor", "anchored_search", "grouped", "epoch_ms", "SEARCH_LIMIT"]

#: The search API's largest page.
SEARCH_LIMIT = 200


def epoch_ms(value: str) -> int:
    """Epoch milliseconds of a HubSpot ISO-8601 timestamp (``2024-08-10T23:13:12.293Z``) or
    of an epoch-ms string (what some properties and filters use)."""
    if value.isdigit():
        return int(value)
    return int(parse_datetime(value).timestamp() * 1000)


@dataclass(frozen=True)
class SearchCursor:
    """The anchored position: records up to ``(ts, id)`` are stored; ``id=None``: all of ``ts``."""

    ts: int | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form persisted in ``sync_state``."""
        return {"ts": self.ts, "id": self.id}

    @classmethod
    def from_json(cls, value: Any) -> SearchCursor:
        """Read a persisted cursor (``None`` → read everything)."""
        if not value:
            return cls()
        return cls(ts=value.get("ts"), id=value.get("id"))

    def minus(self, lookback_ms: int) -> SearchCursor:
        """The cursor moved back by a lookback window (for search-index lag)."""
        if self.ts is None or lookback_ms <= 0:
            return self
        return SearchCursor(ts=self.ts - lookback_ms, id=None)


def _filter(prop: str, op: str, value: int | str) -> dict[str, str]:
    return {"propertyName": prop, "operator": op, "value": str(value)}


def anchored_search(run: Callable[[dict[str, Any]], Mapping[str, Any]], *,
                    ts_property: str, properties: Sequence[str], start: SearchCursor,
                    limit: int = SEARCH_LIMIT
                    ) -> Iterator[tuple[list[dict[str, Any]], SearchCursor]]:
    """Yield ``(records, cursor)`` pages of every record changed after ``start``.

    :param run: performs one search request (the JSON body) and returns the answer
        (``results`` and, when more follows, ``paging.next``).
    :param ts_property: ``hs_lastmodifieddate`` (``lastmodifieddate`` for contacts).
    :param properties: the properties to return (``ts_property`` and ``hs_object_id`` are
        added).
    :return: pages; each cursor covers its page and everything before it. A page may be
        empty (a tie group exhausted); the last page's cursor is the final position.
    """
    search = _Search(run, ts_property, properties, limit)
    cursor = start
    tie = cursor.ts is not None and cursor.id is not None
    while True:
        if tie:
            page, cursor, tie = search.tie_group(cursor)
            yield page, cursor
            continue
        step = search.after(cursor)
        cursor = step.cursor
        if step.page is None:  # more ties than a page: walk them by id
            tie = True
            continue
        yield step.page, cursor
        if step.final:
            return


class _Step(NamedTuple):
    """The outcome of one timestamp-sorted request: the page to yield (``None``: walk a tie
    group by id from ``cursor`` first), the cursor after it, and whether it was the last."""

    page: list[dict[str, Any]] | None
    cursor: SearchCursor
    final: bool = False


class _Search:
    """The requests of :func:`anchored_search`."""

    def __init__(self, run: Callable[[dict[str, Any]], Mapping[str, Any]], ts_property: str,
                 properties: Sequence[str], limit: int) -> None:
        self.run, self.ts_property, self.limit = run, ts_property, limit
        self.props = list(dict.fromkeys([*properties, ts_property, "hs_object_id"]))

    def tie_group(self, cursor: SearchCursor
                  ) -> tuple[list[dict[str, Any]], SearchCursor, bool]:
        """The next page of the records sharing ``cursor.ts``, by id: the page, the cursor
        after it, and whether the group goes on."""
        assert cursor.ts is not None
        filters = [_filter(self.ts_property, "EQ", cursor.ts),
                   _filter("hs_object_id", "GT", cursor.id or 0)]
        answer = self.run({"filterGroups": [{"filters": filters}],
                           "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                           "properties": self.props, "limit": self.limit})
        page = list(answer.get("results") or ())
        if next_after(answer) is None or not page:  # the tie group is exhausted
            return page, SearchCursor(cursor.ts, None), False
        return page, SearchCursor(cursor.ts, int(page[-1]["id"])), True

    def after(self, cursor: SearchCursor) -> _Step:
        """The next page of records changed after ``cursor.ts``, by timestamp, without its
        last timestamp's records (unless it is the final page: they may go on)."""
        ts_property = self.ts_property
        filters = [] if cursor.ts is None else [_filter(ts_property, "GT", cursor.ts)]
        answer = self.run({"filterGroups": [{"filters": filters}] if filters else [],
                           "sorts": [{"propertyName": ts_property, "direction": "ASCENDING"}],
                           "properties": self.props, "limit": self.limit})
        page = list(answer.get("results") or ())
        if not page:
            return _Step([], cursor, final=True)
        stamps = [_stamp(r, ts_property) for r in page]
        last = max(stamps)
        if next_after(answer) is None:  # the final page: every timestamp in it is complete
            return _Step(page, SearchCursor(last, None), final=True)
        if all(s == last for s in stamps):
            return _Step(None, SearchCursor(last, 0))
        keep = [r for r, s in zip(page, stamps, strict=False) if s < last]
        return _Step(keep, SearchCursor(max(s for s in stamps if s < last), None))


def _stamp(record: dict[str, Any], ts_property: str) -> int:
    value = (record.get("properties") or {}).get(ts_property) or record.get("updatedAt")
    if not value:
        raise ValueError(f"record {record.get('id')} has no {ts_property}")
    return epoch_ms(str(value))


def grouped(pages: Iterator[tuple[list[dict[str, Any]], SearchCursor]], size: int
            ) -> Iterator[tuple[list[dict[str, Any]], SearchCursor]]:
    """Search pages joined into batches of about ``size`` records (the last page's cursor
    covers them all), so that one v4 association call serves five search pages."""
    group: list[dict[str, Any]] = []
    position: SearchCursor | None = None
    for page, position in pages:
        group.extend(page)
        if len(group) + SEARCH_LIMIT > size:  # another page would need a second v4 call
            yield group, position
            group = []
            position = None
    if position is not None:
        yield group, position
