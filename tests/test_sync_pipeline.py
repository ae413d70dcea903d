"""Batches written behind the reads (crmsync.sync.pipeline): on PostgreSQL a batch commits
in a background thread while the next one is read and validated; the guarantees hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from crmsync import Batch, Connector, ConnectorError, Setting
from crmsync.core.schema import SYNCED_TABLES, sync_state
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.sync.pipeline import WriteBehind

ACTIVITIES = SYNCED_TABLES["activities"]


def stored(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ACTIVITIES)).scalar_one()


class Pages(Connector):
    """Serves pages of 10 activities; notes how many rows were stored as it yields each page,
    and fails after ``fail_after`` pages when set."""

    NAME = "pages"
    ENTITIES = ("activities",)
    SETTINGS: ClassVar[Mapping[str, Setting]] = {}

    def __init__(self, store: Store, pages: int, fail_after: int | None = None) -> None:
        super().__init__("pages", {})
        self.store, self.pages, self.fail_after = store, pages, fail_after
        self.stored_when_yielding: list[int] = []
        self.threads: set[str] = set()

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        for n in range(cursor or 0, self.pages):
            if self.fail_after is not None and n == self.fail_after:
                raise ConnectorError("the CRM went away", connection=self.name, entity=entity)
            self.stored_when_yielding.append(stored(self.store))
            self.threads.add(threading.current_thread().name)
            yield Batch(records=[{"remote_id": f"A{n}-{i}", "type": "call",
                                  "occurred_at": "2026-01-05T10:00:00Z"} for i in range(10)],
                        cursor=n + 1)


def cursor_of(store: Store) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sync_state.c.cursor)).scalar_one_or_none()


@pytest.mark.postgresql
def test_the_reader_runs_at_most_one_batch_ahead_of_the_commits(pg_url: str) -> None:
    store = Store(pg_url)
    connector = Pages(store, 6)
    seen: list[tuple[str, int]] = []
    engine = SyncEngine(store, connector,
                        progress=lambda c, e, rows: seen.append(
                            (threading.current_thread().name, rows)))
    [result] = engine.run()
    assert result.status == "success" and stored(store) == 60
    # batch n is read once batch n-2 has committed (n-1 may be in flight): never further
    assert all(rows >= 10 * (n - 1) for n, rows in enumerate(connector.stored_when_yielding))
    assert [rows for _, rows in seen] == [10, 20, 30, 40, 50, 60]
    assert all(name.startswith("crmsync-write") for name, _ in seen)  # commits behind
    assert connector.threads == {threading.current_thread().name}  # reads on the caller's
    store.dispose()


@pytest.mark.postgresql
def test_a_connector_failing_mid_read_keeps_every_batch_read_before(pg_url: str) -> None:
    store = Store(pg_url)
    [result] = SyncEngine(store, Pages(store, 6, fail_after=4)).run()
    assert result.status == "failed" and "the CRM went away" in (result.error or "")
    assert stored(store) == 40  # the batch in flight committed before the error went on
    assert cursor_of(store) == 4
    assert result.rows_upserted == 40 and result.batches == 4
    store.dispose()


def test_writes_run_in_order_and_a_failed_write_stops_the_next() -> None:
    done: list[int] = []

    def write(n: int) -> None:
        if n == 2:
            raise RuntimeError("refused")
        done.append(n)

    with pytest.raises(RuntimeError, match="refused"), WriteBehind(threaded=True) as writes:
        for n in range(5):
            writes.submit(lambda n=n: write(n))
    assert done == [0, 1]  # 3 and 4 never ran: the failure of 2 surfaced at the next submit


def test_the_block_error_goes_on_after_the_write_in_flight_ends() -> None:
    started, finish = threading.Event(), threading.Event()
    done: list[str] = []

    def slow() -> None:
        started.set()
        finish.wait(5)
        done.append("committed")

    with pytest.raises(KeyError), WriteBehind(threaded=True) as writes:
        writes.submit(slow)
        started.wait(5)
        finish.set()
        raise KeyError("the reader failed")
    assert done == ["committed"]


def test_inline_writes_run_at_once() -> None:
    done: list[int] = []
    with WriteBehind(threaded=False) as writes:
        writes.submit(lambda: done.append(1))
        assert done == [1]
