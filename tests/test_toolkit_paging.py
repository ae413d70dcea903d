"""The connector toolkit's pagers: no record lost or read twice when records change during
the read or in the saved cursor's second, and every cursor JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from crmsync import Page, changed_since, cursor_key, offset_pages, token_pages

T0 = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.timezone.utc)


class Api:
    """An in-memory API sorted by (updated, id) with an inclusive updated-since filter and a
    one-second clock that moves only when told; ``before_call`` runs before each answer."""

    def __init__(self, limit: int = 2) -> None:
        self.now = T0
        self.rows: dict[int, dt.datetime] = {}
        self.limit = limit
        self.calls = 0
        self.before_call: dict[int, Callable[[], None]] = {}

    def put(self, rid: int) -> None:
        self.rows[rid] = self.now

    def fetch(self, since: dt.datetime | None, start: int) -> Page[dict[str, Any]]:
        self.calls += 1
        if self.calls in self.before_call:
            self.before_call[self.calls]()
        rows = sorted(((t, i) for i, t in self.rows.items() if since is None or t >= since))
        page = rows[start:start + self.limit]
        return Page([{"id": i, "updated": t} for t, i in page],
                    more=start + self.limit < len(rows), now=self.now)

    def tokens(self, since: dt.datetime | None, token: str | None) -> Page[dict[str, Any]]:
        start = int(token or 0)
        page = self.fetch(since, start)
        return Page(page.records, next_token=str(start + self.limit) if page.more else None,
                    now=page.now)


def key(record: dict[str, Any]) -> tuple[dt.datetime, Any]:
    return record["updated"], record["id"]


def read(api: Api, cursor: Any) -> tuple[list[int], Any]:
    """Every id read from ``cursor`` and the last cursor a batch carried."""
    ids: list[int] = []
    for records, at in changed_since(api.fetch, cursor, key=key):
        ids += [r["id"] for r in records]
        json.dumps(at)
        cursor = at if at is not None else cursor
    return ids, cursor


def test_a_full_read_returns_every_record_once_in_order() -> None:
    api = Api()
    for rid in range(1, 8):
        api.put(rid)
        api.now += dt.timedelta(seconds=1)

    ids, cursor = read(api, None)

    assert ids == list(range(1, 8))
    assert cursor == ["2026-01-05T09:00:06Z", 7]


def test_the_cursor_never_passes_the_settle_horizon() -> None:
    api = Api()
    api.put(1)
    api.now += dt.timedelta(seconds=1)
    api.put(2)  # stamped in the second the CRM is still in

    _, cursor = read(api, None)

    assert cursor == ["2026-01-05T09:00:00Z", 1]


def test_a_change_in_the_cursors_second_on_a_lower_id_is_read_next_time() -> None:
    api = Api()
    api.put(5)
    api.put(9)
    _, cursor = read(api, None)
    api.put(3)  # same second as the records read, lower id than the last one
    api.now += dt.timedelta(seconds=1)

    ids, _ = read(api, cursor)

    assert 3 in ids


def test_a_record_changed_again_in_the_same_second_is_read_again() -> None:
    api = Api()
    api.put(5)
    _, cursor = read(api, None)
    api.put(5)  # a second change, still stamped in the same second

    ids, _ = read(api, cursor)

    assert ids == [5]


def test_a_record_moving_while_the_read_is_between_pages_is_neither_skipped_nor_doubled(
        ) -> None:
    api = Api(limit=2)
    for rid in range(1, 7):
        api.put(rid)
        api.now += dt.timedelta(seconds=1)
    api.before_call[2] = lambda: api.put(1)  # record 1 moves to the end mid-read

    ids, _ = read(api, None)

    assert sorted(set(ids)) == list(range(1, 7))
    assert ids.count(1) == 2 and len(ids) == 7  # read before and after its change


def test_more_records_than_a_page_in_one_second_are_each_read_once() -> None:
    api = Api(limit=2)
    for rid in range(1, 8):
        api.put(rid)
    api.now += dt.timedelta(seconds=1)

    ids, cursor = read(api, None)

    assert ids == list(range(1, 8)) and cursor == ["2026-01-05T09:00:00Z", 7]


def test_resuming_from_any_batchs_cursor_loses_nothing() -> None:
    api = Api(limit=2)
    for rid in range(1, 8):
        api.put(rid)
        api.now += dt.timedelta(seconds=1)
    cursors = [at for _, at in changed_since(api.fetch, None, key=key)]

    for cursor in cursors:
        done = cursor_key(cursor)
        assert done is not None
        ids, _ = read(api, cursor)
        assert ids == [i for i in range(1, 8) if i > done[1]]


def test_token_pages_carry_a_cursor_only_on_the_last_page_capped_at_the_first_answer(
        ) -> None:
    api = Api(limit=2)
    for rid in range(1, 6):
        api.put(rid)
        api.now += dt.timedelta(seconds=1)
    api.before_call[2] = lambda: setattr(api, "now", api.now + dt.timedelta(seconds=30))

    pages = list(token_pages(api.tokens, None, key=key))

    assert [at for _, at in pages] == [None, None, ["2026-01-05T09:00:04Z", 5]]
    assert [r["id"] for records, _ in pages for r in records] == [1, 2, 3, 4, 5]


def test_token_pages_do_not_cover_changes_newer_than_the_first_answer() -> None:
    api = Api(limit=2)
    api.put(1)
    api.now += dt.timedelta(seconds=5)
    api.put(2)

    pages = list(token_pages(api.tokens, None, key=key))

    assert pages[-1][1] == ["2026-01-05T09:00:00Z", 1]


@pytest.mark.parametrize(("overlap", "skipped"), [(1, False), (0, True)])
def test_offset_pages_overlap_so_a_removal_does_not_skip_a_record(overlap, skipped) -> None:
    rows = [{"id": i} for i in range(1, 7)]
    calls = []

    def fetch(start: int) -> Page[dict[str, Any]]:
        calls.append(start)
        if len(calls) == 2:
            del rows[0]  # removed after the first page was read
        return Page(rows[start:start + 2], more=start + 2 < len(rows))

    ids = [r["id"] for page in offset_pages(fetch, id_of=lambda r: r["id"], overlap=overlap)
           for r in page]

    assert (3 not in ids) is skipped
    assert len(ids) == len(set(ids))


def test_cursor_key_reads_a_saved_cursor_back() -> None:
    assert cursor_key(None) is None
    assert cursor_key(["2026-01-05T09:00:00Z", 7]) == (T0, 7)
