"""A first load into an SQLite file runs under a rollback journal when nothing else has the
file open, and in WAL otherwise (crmsync.store.journal); either way the rows are those of a
plain load and the file ends in WAL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import table_rows
from crmsync import Batch, Connector, Setting
from crmsync.store import Store, journal
from crmsync.store.journal import appending, file_key
from crmsync.sync import SyncEngine
from test_bulk_load import activity, missing

ROLLBACK, WAL = 1, 2


def header_mode(db: Path) -> int:
    """The file's format version (byte 18 of its header): 1 rollback journal, 2 WAL. Read
    from the bytes, so looking takes no lock and changes nothing."""
    with open(db, "rb") as f:
        f.seek(18)
        return f.read(1)[0]


class Watched(Connector):
    """Serves ``pages`` of activities and calls ``before(n)`` before page ``n``."""

    NAME = "watched"
    ENTITIES = ("activities",)
    SETTINGS: ClassVar[Mapping[str, Setting]] = {}

    def __init__(self, pages: list[list[dict[str, Any]]],
                 before: Callable[[int], None]) -> None:
        super().__init__("crm", {})
        self.pages, self.before = pages, before

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        for n, page in enumerate(self.pages[cursor or 0:], start=cursor or 0):
            self.before(n)
            yield Batch(records=page, cursor=n + 1)


PAGES = [[activity(i) for i in range(p * 40, p * 40 + 40)] for p in range(4)]


def load(db: Path, before: Callable[[int], None]) -> Store:
    store = Store(f"sqlite:///{db}")
    [result] = SyncEngine(store, Watched(PAGES, before)).run()
    assert result.status == "success" and result.rows_upserted == 160
    return store


def plain_rows(tmp_path: Path) -> list[tuple]:
    """The rows of the same pages loaded into a table that is not empty (WAL throughout)."""
    store = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    SyncEngine(store, Watched([[activity(999)]], lambda n: None)).run()
    from crmsync.core.schema import activities

    with store.engine.begin() as conn:
        conn.execute(activities.delete().where(activities.c.remote_id == activity(999)
                                               ["remote_id"]))
    [result] = SyncEngine(store, Watched(PAGES, lambda n: None)).run(full=True)
    assert result.status == "success"
    rows = table_rows(store, "activities")
    store.dispose()
    return rows


def ends_in_wal(store: Store, db: Path) -> None:
    assert header_mode(db) == WAL
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert missing(store) == []
    assert not appending(file_key(str(db)))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A migrated store file whose tables are empty, closed."""
    path = tmp_path / "store.db"
    Store(f"sqlite:///{path}").dispose()
    return path


def modes_of_load(db: Path, before: Callable[[int], None] = lambda n: None) -> list[int]:
    """The file's journal mode as the load reads each page (after ``before(n)``); the load
    must end in WAL with the rows of a plain load."""
    modes: list[int] = []

    def watch(n: int) -> None:
        before(n)
        modes.append(header_mode(db))

    store = load(db, watch)
    ends_in_wal(store, db)
    assert table_rows(store, "activities") == plain_rows(db.parent)
    store.dispose()
    return modes


def test_a_first_load_with_the_file_to_itself_runs_under_a_rollback_journal(db):
    # switched as the first page was written
    assert modes_of_load(db) == [WAL] + [ROLLBACK] * 3


def test_another_connection_holding_the_file_open_keeps_the_load_in_wal(db):
    reader = sqlite3.connect(db)  # a dashboard, say, with the store open
    reader.execute("SELECT count(*) FROM activities").fetchone()
    seen: list[int] = []
    modes = modes_of_load(db, lambda n: seen.append(
        reader.execute("SELECT count(*) FROM activities").fetchone()[0]))
    assert modes == [WAL] * 4
    assert seen == [0, 40, 80, 120]  # the reader saw every batch as it committed
    reader.close()


def test_another_process_opening_the_store_mid_load_sets_wal_and_the_load_goes_on(db):
    def before(n: int) -> None:
        if n == 2:  # what a store connection of another process does as it opens
            other = sqlite3.connect(db, timeout=30)
            assert other.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
            assert other.execute("SELECT count(*) FROM activities").fetchone()[0] == 80
            other.close()

    assert modes_of_load(db, before) == [WAL, ROLLBACK, WAL, WAL]


def test_this_process_opening_the_store_mid_load_leaves_the_journal_alone(db):
    counts: list[int] = []

    def before(n: int) -> None:
        if n == 2:  # status or a metric read in the same process, on its own engine
            other = Store(f"sqlite:///{db}", read_only=True)
            with other.engine.connect() as conn:
                counts.append(conn.exec_driver_sql("SELECT count(*) FROM activities").scalar())
            other.dispose()

    assert modes_of_load(db, before) == [WAL] + [ROLLBACK] * 3
    assert counts == [80]


def test_a_first_load_with_nothing_to_write_leaves_the_journal_alone(db, monkeypatch):
    switches: list[str] = []
    real = journal._switch

    def switch(engine: Any, mode: str, **kw: Any) -> str:
        switches.append(mode)
        return real(engine, mode, **kw)

    monkeypatch.setattr(journal, "_switch", switch)
    store = Store(f"sqlite:///{db}")
    [result] = SyncEngine(store, Watched([[], []], lambda n: None)).run()
    assert result.status == "success" and result.rows_upserted == 0
    assert switches == []  # an empty table that stays empty: no switch, no WAL checkpoint
    SyncEngine(store, Watched(PAGES, lambda n: None)).run()
    assert switches == ["delete", "wal"]
    store.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_store_in_memory_is_left_as_it_is(url):
    store = Store(url)
    [result] = SyncEngine(store, Watched(PAGES, lambda n: None)).run()
    assert result.status == "success" and result.rows_upserted == 160
    store.dispose()
