"""Paging helpers for REST connectors, safe against changes during the read
(docs/toolkit.md, "Paging").

* :func:`changed_since` — incremental reads of an API with an inclusive updated-since filter
  and a stable ``(updated time, id)`` order, whatever its paging (offsets or nothing): every
  page is a fresh query re-anchored on the last record read, so records that move while the
  read runs are neither skipped nor stored twice; the saved cursor ``[updated_at, id]``
  never passes the *settle horizon*, so a change stamped later in the cursor's own second
  (with a lower id) is still read next time.
* :func:`token_pages` — the same cursor for APIs that page with an opaque token.
* :func:`offset_pages` — full reads of small lists with ``start``/``limit`` and no filter,
  overlapping pages so a record removed during the read does not make the next page skip one.

Every helper yields ``(records, cursor)`` pairs: the raw records of one page and the JSON
cursor that is safe to persist once they are stored (``None``: keep the previous one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from crmsync.core.timeparse import parse_datetime

__all__ = ["Page", "Key", "changed_since", "token_pages", "offset_pages", "cursor_key",
           "SETTLE_SECONDS"]

R = TypeVar("R")
#: A record's position: its update time (aware) and its id.
Key = tuple[dt.datetime, Any]
#: The default settle horizon: the CRM stamps changes to the second, so a second is settled
#: once the CRM's clock has left it.
SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class Page(Generic[R]):
    """One answer of the API.

    :param records: the raw records, in the API's order.
    :param more: the API says there are more (offset APIs: ``more_items_in_collection``).
    :param next_token: the token of the next page (token APIs); ``None`` on the last page.
    :param now: the CRM's clock when it answered (:attr:`crmsync.ApiClient.server_time`);
        the local clock is used when it is ``None``.
    """

    records: Sequence[R]
    more: bool = False
    next_token: str | None = None
    now: dt.datetime | None = None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _id_order(value: Any) -> tuple[int, int, str]:
    """Ids compare as numbers when they are integers or digit strings, else as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, "")
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _order(key: Key) -> tuple[dt.datetime, tuple[int, int, str]]:
    return (key[0], _id_order(key[1]))


def cursor_key(cursor: Any) -> Key | None:
    """The ``(updated time, id)`` of a cursor these helpers saved (``[iso, id]``), or
    ``None`` for no cursor (a full read)."""
    if not cursor:
        return None
    when, remote_id = cursor
    return parse_datetime(when), remote_id


def _encode(key: Key | None) -> list[Any] | None:
    if key is None:
        return None
    when = key[0].astimezone(dt.timezone.utc).replace(tzinfo=None)
    return [when.isoformat() + "Z", key[1]]


class _Settled:
    """The last position read that the settle horizon lets a cursor cover."""

    def __init__(self, start: Key | None, settle: float, clock: Callable[[], dt.datetime]
                 ) -> None:
        self.key = start
        self.settle = dt.timedelta(seconds=settle)
        self.clock = clock

    def cover(self, keys: Sequence[Key], now: dt.datetime | None) -> list[Any] | None:
        """The cursor after a page whose records have ``keys``, or ``None`` when the page
        moved it nowhere (every record is too recent to be settled)."""
        horizon = (now or self.clock()) - self.settle
        settled = [k for k in keys if k[0] <= horizon]
        if not settled:
            return None
        self.key = max(settled, key=_order)
        return _encode(self.key)


def changed_since(fetch: Callable[[dt.datetime | None, int], Page[R]], cursor: Any, *,
                  key: Callable[[R], Key], settle: float = SETTLE_SECONDS,
                  overlap: int = 1, clock: Callable[[], dt.datetime] = _utcnow
                  ) -> Iterator[tuple[list[R], Any]]:
    """Pages of the records changed after ``cursor``, for APIs that filter on an update
    time (inclusive: ``updated >= since``) and sort by ``(update time, id)``.

    :param fetch: ``fetch(since, start)`` asks the API for records updated at or after
        ``since`` (``None``: all), sorted by update time then id, from offset ``start``.
    :param key: a raw record's ``(update time, id)``; the time aware or UTC.
    :param settle: seconds a change must be old before a saved cursor may pass it.
    :param overlap: records re-read at each offset step within one second's records (only
        when more records than a page share one update time).
    """
    after = cursor_key(cursor)
    settled = _Settled(after, settle, clock)
    anchor: dt.datetime | None = after[0] if after else None
    start = 0
    while True:
        page = fetch(anchor, start)
        keys = [key(r) for r in page.records]
        fresh = [(r, k) for r, k in zip(page.records, keys, strict=True)
                 if after is None or _order(k) > _order(after)]
        if fresh:
            yield [r for r, _ in fresh], settled.cover([k for _, k in fresh], page.now)
            after = max((k for _, k in fresh), key=_order)
        if not page.more or not page.records:
            return
        # re-anchor on the last record read: a fresh query, so records that moved while
        # the read ran are found where they are now; walk by offset only inside one second
        if keys[-1][0] == (anchor or keys[0][0]):  # the page is one second: step through it
            start += max(len(page.records) - overlap, 1)
        else:
            anchor, start = keys[-1][0], 0


def token_pages(fetch: Callable[[dt.datetime | None, str | None], Page[R]], cursor: Any, *,
                key: Callable[[R], Key], settle: float = SETTLE_SECONDS,
                clock: Callable[[], dt.datetime] = _utcnow
                ) -> Iterator[tuple[list[R], Any]]:
    """Pages of the records changed after ``cursor``, for APIs that page with a token.

    Nothing is assumed about the order the token walks in, so only the last page carries a
    cursor: the greatest ``(update time, id)`` read, capped at the settle horizon of the
    *first* answer, so a change made while the token was walked is read again next time.

    :param fetch: ``fetch(since, token)`` asks for records updated at or after ``since``;
        ``token`` is ``None`` for the first page.
    """
    after = cursor_key(cursor)
    settled = _Settled(after, settle, clock)
    first_now: dt.datetime | None = None
    token: str | None = None
    read: list[Key] = []
    while True:
        page = fetch(after[0] if after else None, token)
        first_now = first_now or page.now or clock()
        fresh = [r for r in page.records if after is None or _order(key(r)) > _order(after)]
        read.extend(key(r) for r in fresh)
        token = page.next_token
        if token is None:
            yield fresh, settled.cover(read, first_now)
            return
        yield fresh, None


def offset_pages(fetch: Callable[[int], Page[R]], *, id_of: Callable[[R], Any],
                 overlap: int = 1) -> Iterator[list[R]]:
    """Every record of a list paged with offsets and no filter (users, pipelines…), each
    once.

    Each page starts ``overlap`` records before the end of the previous one and records
    already read are dropped, so up to ``overlap`` records removed before the current
    offset between two requests do not make the next page skip a record.

    :param fetch: ``fetch(start)`` returns the page at offset ``start``.
    """
    seen: set[Any] = set()
    start = 0
    while True:
        page = fetch(start)
        fresh = [r for r in page.records if id_of(r) not in seen]
        seen.update(id_of(r) for r in fresh)
        if fresh:
            yield fresh
        if not page.more or not page.records:
            return
        start += max(len(page.records) - overlap, 1)
