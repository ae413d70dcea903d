"""Anchored search (crmsync_hubspot.search): past the 10k cap, ties, changes during a read."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync_hubspot.search import SearchCursor, anchored_search, epoch_ms

TS = "hs_lastmodifieddate"


class FakeSearch:
    """The search API's filter/sort semantics over in-memory records, with the 10k cap.

    Only one sort is honoured, as on HubSpot; ties on the sorted property come back in an
    arbitrary (here: reversed id) order, so tests catch code relying on a second sort key.
    ``page_cap`` answers at most that many records a page, whatever the ``limit`` asked
    (``paging.next`` still says more follows), as an endpoint with a smaller cap does.
    """

    def __init__(self, records: dict[int, int], page_cap: int | None = None) -> None:
        self.records = dict(records)  # id -> ts (epoch ms)
        self.page_cap = page_cap
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        assert int(body.get("after", 0)) + body["limit"] <= 10_000, "10k cap"
        rows = [(rid, ts) for rid, ts in self.records.items()
                if all(self._match(rid, ts, f) for g in body["filterGroups"]
                       for f in g["filters"])]
        key = body["sorts"][0]["propertyName"]
        rows.sort(key=lambda r: -r[0])  # arbitrary tie order
        rows.sort(key=lambda r: r[1] if key == TS else r[0])
        size = min(body["limit"], self.page_cap or body["limit"])
        answer: dict[str, Any] = {"total": len(rows), "results": [
            {"id": str(rid), "properties": {TS: str(ts), "hs_object_id": str(rid)}}
            for rid, ts in rows[:size]]}
        if len(rows) > size:
            answer["paging"] = {"next": {"after": str(size)}}
        return answer

    @staticmethod
    def _match(rid: int, ts: int, f: dict[str, str]) -> bool:
        value = ts if f["propertyName"] == TS else rid
        target = int(f["value"])
        return {"EQ": value == target, "GT": value > target, "GTE": value >= target}[
            f["operator"]]


FROM_THE_START = SearchCursor()


def read_all(search: FakeSearch, start: SearchCursor = FROM_THE_START, limit: int = 200
             ) -> tuple[list[str], SearchCursor]:
    seen: list[str] = []
    cursor = start
    for page, page_cursor in anchored_search(search, ts_property=TS, properties=["dealname"],
                                             start=start, limit=limit):
        seen.extend(r["id"] for r in page)
        cursor = page_cursor
    return seen, cursor


def test_reads_every_record_once_with_distinct_timestamps() -> None:
    search = FakeSearch({i: 1000 + i for i in range(1, 1001)})
    seen, _ = read_all(search)
    assert sorted(map(int, seen)) == list(range(1, 1001))


def test_never_sends_an_offset() -> None:
    search = FakeSearch({i: 1000 + i for i in range(1, 501)})
    read_all(search)
    assert all("after" not in body for body in search.bodies)


def test_reads_more_than_10000_records_on_one_timestamp() -> None:
    search = FakeSearch({i: 5000 for i in range(1, 10_451)} | {20_000: 4000, 20_001: 6000})
    seen, cursor = read_all(search)
    assert sorted(map(int, seen)) == sorted(search.records)
    assert len(seen) == len(set(seen))
    assert cursor == SearchCursor(6000, None)


def test_ties_straddling_a_page_boundary_are_not_lost() -> None:
    # 150 records at t=1..150, then 100 sharing t=200: the first page of 200 ends mid-tie
    search = FakeSearch({i: i for i in range(1, 151)} | {1000 + i: 200 for i in range(100)})
    seen, _ = read_all(search)
    assert sorted(map(int, seen)) == sorted(search.records)


def test_a_short_page_that_is_not_the_last_does_not_end_the_read() -> None:
    # the endpoint answers 37 records where 200 were asked, with paging.next: more follows
    search = FakeSearch({i: 1000 + i for i in range(1, 301)}, page_cap=37)
    seen, cursor = read_all(search)
    assert sorted(map(int, seen)) == list(range(1, 301))
    assert cursor == SearchCursor(1300, None)


def test_short_pages_of_one_timestamp_walk_the_whole_tie_group() -> None:
    search = FakeSearch({i: 5000 for i in range(1, 121)} | {500: 6000}, page_cap=25)
    seen, _ = read_all(search)
    assert sorted(map(int, seen)) == [*range(1, 121), 500]


def test_a_full_page_without_paging_next_is_the_last() -> None:
    search = FakeSearch({i: 1000 + i for i in range(1, 201)})
    read_all(search)
    assert len(search.bodies) == 1


def test_page_cursor_covers_only_complete_timestamps() -> None:
    search = FakeSearch({i: i for i in range(1, 151)} | {1000 + i: 200 for i in range(100)})
    first_page, cursor = next(anchored_search(search, ts_property=TS, properties=[],
                                              start=SearchCursor()))
    assert cursor == SearchCursor(150, None)
    assert {int(r["id"]) for r in first_page} == set(range(1, 151))


def test_resuming_mid_tie_continues_after_the_last_id() -> None:
    search = FakeSearch({i: 5000 for i in range(1, 501)})
    seen, _ = read_all(search, start=SearchCursor(5000, 300))
    assert sorted(map(int, seen)) == list(range(301, 501))


def test_record_modified_during_the_read_is_found_again() -> None:
    search = FakeSearch({i: i for i in range(1, 601)})
    seen: list[str] = []
    for n, (page, _) in enumerate(anchored_search(search, ts_property=TS, properties=[],
                                                  start=SearchCursor())):
        seen.extend(r["id"] for r in page)
        if n == 0:
            search.records[5] = 10_000  # modified after it was read: moves to the end
            search.records[400] = 10_001  # not read yet: moves to the end
    assert set(map(int, seen)) == set(range(1, 601))
    assert seen.count("5") == 2


def test_starting_from_a_cursor_skips_what_it_covers() -> None:
    search = FakeSearch({i: i for i in range(1, 11)})
    seen, _ = read_all(search, start=SearchCursor(7, None))
    assert sorted(map(int, seen)) == [8, 9, 10]


def test_contacts_sort_and_filter_on_their_own_timestamp_property() -> None:
    bodies: list[dict[str, Any]] = []
    list(anchored_search(lambda b: bodies.append(b) or {}, ts_property="lastmodifieddate",
                         properties=[], start=SearchCursor(5, None)))
    assert bodies[0]["sorts"][0]["propertyName"] == "lastmodifieddate"
    assert bodies[0]["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"


def test_lookback_moves_a_finished_cursor_back() -> None:
    assert SearchCursor(10_000, None).minus(3000) == SearchCursor(7000, None)


@pytest.mark.parametrize("value,expected", [("2024-08-10T23:13:12.293Z", 1723331592293),
                                            ("1723331592293", 1723331592293)])
def test_epoch_ms_reads_iso_and_epoch_values(value: str, expected: int) -> None:
    assert epoch_ms(value) == expected


def test_a_deal_spool_serves_only_the_cursor_it_started_from() -> None:
    from crmsync_hubspot.deal_spool import DealSpool

    spool = DealSpool({"ts": 5, "id": None, "archived_at": 9})
    spool.add([{"id": "1"}], [], {"ts": 7, "id": None})
    assert not spool.covers({"ts": 5, "id": None})  # the read has not finished
    spool.finish()
    assert spool.covers({"ts": 5, "id": None}) and not spool.covers({"ts": 4, "id": None})
    assert list(spool.pages()) == [([{"id": "1"}], [], {"ts": 7, "id": None})]
    spool.close()
