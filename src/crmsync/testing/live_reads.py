"""Contract tests on incremental reads while the world changes (docs/testing-plugins.md,
"Reads")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from crmsync.plugin.connector import Connector
from crmsync.testing.live_base import LiveContractBase
from crmsync.testing.live_support import ReadResult, mismatches, normalised
from crmsync.testing.world import World

__all__ = ["ReadContract"]


def _assert_read_with(entity: str, latest: Mapping[str, Mapping[str, Any]],
                      expected: Mapping[str, Mapping[str, Any]], what: str) -> None:
    """Every record of ``expected`` is in ``latest`` with the expected values."""
    lost = [rid for rid in expected if rid not in latest]
    assert not lost, f"{entity}: {what}: records never read: {lost}"
    wrong = {rid: mismatches(entity, latest[rid], values) for rid, values in expected.items()}
    wrong = {rid: problems for rid, problems in wrong.items() if problems}
    assert not wrong, f"{entity}: {what}: records read with stale values: {wrong}"


def _call_log(world: World) -> list[Any] | None:
    """The world's log of API calls, one entry per request, where it keeps one."""
    log = getattr(world, "calls", None)
    return log if isinstance(log, list) else None


def world_now(world: World) -> Any:
    """The world's clock, where it shows it (``world.now``, a value or a method)."""
    now = getattr(world, "now", None)
    return now() if callable(now) else now


class ReadContract(LiveContractBase):
    """Reads pick up every change exactly: updates, same-second changes, changes between
    pages; no page is fetched twice; timestamps are UTC."""

    def test_updates_are_read_incrementally(self, world: World, connector: Connector,
                                            entities: tuple[str, ...]) -> None:
        """An update after a full read is in the read from the saved cursor, with the values
        the world says it changed (catches a cursor that never sees updates)."""
        for entity in entities:
            rid = world.create(entity)
            self.settle(world)
            cursor = self.read(connector, entity).cursor()
            changed = world.update(entity, rid)
            self.settle(world)
            again = self.read(connector, entity, cursor)
            _assert_read_with(entity, again.latest, {rid: changed},
                              "an update after the saved cursor")

    def test_a_change_in_the_cursors_second_is_not_lost(
            self, world: World, connector: Connector, entities: tuple[str, ...]) -> None:
        """Records changed in the very second of the saved cursor, sorting before the
        cursor's record, are read by the next incremental read (catches an
        ``[updated_at, id]`` cursor compared with ``>``)."""
        for entity in entities:
            self.settle(world)
            cursor = self.read(connector, entity).cursor()
            self.settle(world)
            ids = self.create_many(world, entity, 3)  # one second, no advance
            first = self.read(connector, entity, cursor)
            read_order = [rid for rid in first.ids if rid in ids]
            # The cursor now sits on the last of them read; change the others in the same
            # second: they sort before the cursor's record.
            earlier = [rid for rid in ids if not read_order or rid != read_order[-1]]
            changed = {rid: world.update(entity, rid) for rid in earlier}
            self.settle(world)
            again = self.read(connector, entity, first.cursor(cursor))
            _assert_read_with(entity, again.latest, changed,
                              "changed in the second of the saved cursor")

    def test_records_changing_between_pages_are_not_lost(
            self, world: World, connector: Connector, entities: tuple[str, ...],
            page_size: int | None) -> None:
        """Records updated while a read is between pages (moving them in the CRM's order,
        on the API call after the one that brought the first page) are each read at least
        once with their final values, counting the next incremental read (catches offset
        paging over a changing list)."""
        size = self.require_pages(page_size)
        for entity in entities:
            self.settle(world)
            cursor = self.read(connector, entity).cursor()
            self.settle(world)
            ids = self.create_many(world, entity, 3 * size + 1, apart=1)
            self.settle(world)
            final: dict[str, Mapping[str, Any]] = {rid: {} for rid in ids}

            def move(entity: str = entity, ids: list[str] = ids,
                     final: dict[str, Mapping[str, Any]] = final) -> None:
                world.advance(1)
                # two records of the first page and one of the last move to the end
                for rid in (ids[0], ids[1], ids[-2]):
                    final[rid] = world.update(entity, rid)

            # the change lands on the call after the one that brought the first page
            world.on_next_call(move, skip=self._calls_to_first_batch(connector, entity, cursor))
            during = self.read(connector, entity, cursor)
            self.settle(world)
            after = self.read(connector, entity, during.cursor(cursor))
            _assert_read_with(entity, {**during.latest, **after.latest}, final,
                              "records updated between pages")

    def test_no_page_is_read_twice(self, world: World, connector: Connector,
                                   entities: tuple[str, ...], page_size: int | None) -> None:
        """A full read yields each record once; three more pages of records cost at least
        three more counted API calls (``connector.api_calls``) and no more than reading them
        with one record of overlap per page (a re-anchoring pager) allows; where the world
        keeps a call log (``world.calls``), no request is made twice in one read (catches
        re-reading pages, and API calls left uncounted)."""
        size = self.require_pages(page_size)
        for entity in entities:
            self.settle(world)
            _, calls = self._counted_read(connector, entity)
            self.create_many(world, entity, 3 * size)
            self.settle(world)
            logged = len(_call_log(world) or [])
            after, more_calls = self._counted_read(connector, entity)
            repeated = sorted({rid for rid in after.ids if after.ids.count(rid) > 1})
            assert not repeated, f"{entity}: one full read yielded records twice: {repeated}"
            log = _call_log(world)
            if log is not None:
                requests = [repr(c) for c in log[logged:]]
                again = sorted({r for r in requests if requests.count(r) > 1})
                assert not again, f"{entity}: one full read made these requests twice: {again}"
            extra, most = more_calls - calls, -(-3 * size // max(size - 1, 1)) + 1
            assert extra >= 3, (f"{entity}: 3 more pages cost {extra} counted API calls; count "
                                f"every call with self.api_calls.count(...)")
            assert extra <= most, (f"{entity}: 3 more pages of {size} records cost {extra} API "
                                   f"calls (at most {most} expected): pages are fetched more "
                                   f"than once")

    @staticmethod
    def _calls_to_first_batch(connector: Connector, entity: str, cursor: Any) -> int:
        """The API calls a read makes until it yields its first batch (at least one)."""
        before = connector.api_calls.total
        reading = connector.read(entity, cursor)
        try:
            next(reading, None)
        finally:
            close = getattr(reading, "close", None)
            if callable(close):
                close()
        return max(connector.api_calls.total - before, 1)

    def _counted_read(self, connector: Connector, entity: str) -> tuple[ReadResult, int]:
        """A full read and the API calls it counted."""
        before = connector.api_calls.total
        result = self.read(connector, entity)
        return result, connector.api_calls.total - before

    def test_timestamps_are_utc(self, world: World, connector: Connector,
                                entities: tuple[str, ...]) -> None:
        """A record's ``remote_updated_at`` is the world's clock at its change, in UTC
        (catches timestamps read in the wrong time zone)."""
        for entity in entities:
            rid = world.create(entity)
            self.settle(world)
            changed = world.update(entity, rid)
            at = changed.get("remote_updated_at") or world_now(world)
            if at is None:
                pytest.skip("the world tells neither its clock (world.now) nor "
                            "remote_updated_at in update()'s result")
            self.settle(world)
            record = self.read(connector, entity).latest.get(rid)
            assert record is not None, f"{entity}: record {rid!r} was not read"
            got = normalised(entity, record)["remote_updated_at"]
            want = normalised(entity, {**record, "remote_updated_at": at})["remote_updated_at"]
            assert got == want, (f"{entity} {rid}: remote_updated_at read as {got} UTC; the "
                                 f"CRM changed it at {want} UTC")
