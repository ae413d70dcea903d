"""The write path's fast paths store what the plain ones store (SQLite and PostgreSQL):
secondary indexes built after a first load and back after a killed one, COPY upserts."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from conftest import table_rows
from crmsync import Batch, Connector, Setting
from crmsync.core.schema import SYNCED_TABLES
from crmsync.store import Store, upsert_rows
from crmsync.store import upsert as upsert_module
from crmsync.store.bulk import PAGE_CACHE_KIB, SORT_CACHE_KIB, first_load, missing_indexes
from crmsync.sync import SyncEngine

T0 = dt.datetime(2026, 1, 1, 9, 0)
ACTIVITIES = SYNCED_TABLES["activities"]


def activity(i: int, **extra: Any) -> dict[str, Any]:
    return {"remote_id": f"T{i:05d}", "type": "call", "occurred_at": T0 + dt.timedelta(hours=i),
            "owner_id": f"U{i % 7}", "contact_id": f"C{(i * 7919) % 101}",
            "duration_seconds": i % 600, "is_automated": i % 2 == 0,
            "custom": {"n": i, "tag": f"t{i % 3}"}, **extra}


class Pages(Connector):
    """Serves ``pages`` of activities; records what it saw after each committed batch."""

    NAME = "pages"
    ENTITIES = ("activities",)
    SETTINGS: ClassVar[Mapping[str, Setting]] = {}

    def __init__(self, name: str, pages: list[list[dict[str, Any]]]) -> None:
        super().__init__(name, {})
        self.pages = pages

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        start = cursor or 0
        for n, page in enumerate(self.pages[start:], start=start):
            yield Batch(records=page, cursor=n + 1)


def missing(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [str(i.name) for i in missing_indexes(conn, ACTIVITIES)]


def test_a_first_load_runs_without_secondary_indexes_and_ends_with_all_of_them(store):
    pages = [[activity(i) for i in range(p * 50, p * 50 + 50)] for p in range(3)]
    during: list[list[str]] = []
    engine = SyncEngine(store, Pages("crm", pages),
                        progress=lambda *_: during.append(missing(store)))
    [result] = engine.run()
    assert result.status == "success" and result.rows_upserted == 150
    assert all(len(m) == len(ACTIVITIES.indexes) for m in during), during
    assert missing(store) == []


def test_a_load_that_writes_nothing_changes_no_index(store):
    ddl: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cur, sql, *_: ddl.append(sql.strip().split(" ON ")[0])
                    if sql.lstrip().upper().startswith(("DROP INDEX", "CREATE INDEX")) else None)
    [result] = SyncEngine(store, Pages("crm", [[], []])).run()
    assert result.status == "success" and ddl == []
    [result] = SyncEngine(store, Pages("crm", [[activity(1)]])).run(full=True)
    assert result.rows_upserted == 1
    drops = [d for d in ddl if d.upper().startswith("DROP")]
    assert len(drops) == len(ACTIVITIES.indexes) == len(ddl) - len(drops)
    assert missing(store) == []


def test_a_load_into_a_table_with_rows_keeps_its_indexes(store):
    SyncEngine(store, Pages("crm", [[activity(1)]])).run()
    during: list[list[str]] = []
    SyncEngine(store, Pages("other", [[activity(i) for i in range(10)]]),
               progress=lambda *_: during.append(missing(store))).run()
    assert during == [[]]


def test_indexes_a_killed_first_load_left_out_come_back_with_the_next_sync(store):
    # a first load "killed" mid-way: its context never exits, some rows are committed
    killed = first_load(store.engine, ACTIVITIES)
    load = killed.__enter__()
    assert load.empty
    assert missing(store) == []  # nothing is dropped before the first write
    load.start()
    with store.engine.begin() as conn:
        upsert_rows(conn, ACTIVITIES, [{**activity(1), "connection": "crm",
                                        "synced_at": T0, "is_deleted": False}])
    assert len(missing(store)) == len(ACTIVITIES.indexes)

    [result] = SyncEngine(store, Pages("crm", [[activity(i) for i in range(20)]])).run()
    assert result.status == "success"
    assert missing(store) == []
    assert len(table_rows(store, "activities", "remote_id")) == 20


def test_the_same_records_give_the_same_rows_into_an_empty_table_or_not(tmp_path):
    records = [activity(i) for i in range(120)]
    fast, plain = (Store(f"sqlite:///{tmp_path / name}.db") for name in ("fast", "plain"))
    SyncEngine(plain, Pages("seed", [[activity(999)]])).run()  # not empty: indexes kept
    for store in (fast, plain):
        SyncEngine(store, Pages("crm", [records[:60], records[60:]])).run()
    assert [r for r in table_rows(plain, "activities") if r[0] == "crm"] == \
        table_rows(fast, "activities")
    fast.dispose()
    plain.dispose()


def test_sqlite_sorts_the_index_builds_in_a_smaller_cache_then_gives_the_cache_back(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sorted'}.db")
    sql: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cur, statement, *_: sql.append(statement.strip()))
    [result] = SyncEngine(store, Pages("crm", [[activity(i) for i in range(50)]])).run()
    assert result.status == "success" and missing(store) == []
    builds = [i for i, s in enumerate(sql) if s.upper().startswith("CREATE INDEX")]
    assert len(builds) == len(ACTIVITIES.indexes)
    assert sql[builds[0] - 1] == f"PRAGMA cache_size=-{SORT_CACHE_KIB}"
    assert sql[builds[-1] + 1] == f"PRAGMA cache_size=-{PAGE_CACHE_KIB}"
    with store.engine.connect() as conn:  # every pooled connection has its page cache back
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -PAGE_CACHE_KIB
    store.dispose()


@pytest.mark.postgresql
def test_copy_upserts_store_what_executemany_stores(pg_url, monkeypatch):
    store = Store(pg_url)
    n = upsert_module.COPY_THRESHOLD + 50
    first = [activity(i, subject=f"s{i}", is_deleted=False) for i in range(n)]
    # a key sent twice in one batch: the last one wins, as with executemany
    first.append(activity(3, subject="again", is_deleted=False))
    second = [activity(i, subject=f"edited {i}", is_deleted=False)
              for i in range(0, 2 * n, 2)]

    def load(connection: str) -> None:
        for rows in (first, second):
            with store.engine.begin() as conn:
                upsert_rows(conn, ACTIVITIES, [{**r, "connection": connection, "synced_at": T0}
                                                for r in rows])

    load("copy")
    monkeypatch.setattr(upsert_module, "COPY_THRESHOLD", 10 ** 9)
    load("executemany")
    rows = table_rows(store, "activities")
    by_connection = {c: [r[1:] for r in rows if r[0] == c] for c in ("copy", "executemany")}
    assert by_connection["copy"] == by_connection["executemany"]
    assert len(by_connection["copy"]) == len({r["remote_id"] for r in first + second})
    with store.engine.connect() as conn:
        subject = conn.execute(sa.select(ACTIVITIES.c.subject).where(
            ACTIVITIES.c.connection == "copy", ACTIVITIES.c.remote_id == "T00003")).scalar()
    assert subject == "again"
    store.dispose()


@pytest.mark.postgresql
def test_appended_copies_store_what_the_merge_stores(pg_url):
    """``append``: a batch expected new goes straight into the table; a key stored already
    (a record sent again in a later page) rolls it back to the merge, with the same rows."""
    store = Store(pg_url)
    n = upsert_module.COPY_THRESHOLD + 20
    first = [activity(i, subject=f"s{i}", is_deleted=False) for i in range(n)]
    first.append(activity(3, subject="again", is_deleted=False))  # twice in one batch
    second = [activity(i, subject=f"edited {i}", is_deleted=False) for i in range(n, 2 * n)]
    third = [activity(i, subject=f"third {i}", is_deleted=False) for i in range(0, 3 * n, 3)]

    def load(connection: str, append: bool) -> list[bool]:
        merged = []
        for batch in (first, second, third):
            with store.engine.begin() as conn:
                upsert_rows(conn, ACTIVITIES, [{**r, "connection": connection,
                                                "synced_at": T0} for r in batch],
                            append=append)
                # the merge's staging table exists in a session once a merge ran in it
                merged.append(conn.exec_driver_sql(
                    "SELECT to_regclass('pg_temp.crmsync_stage_activities_' || %(n)s)",
                    {"n": str(len(ACTIVITIES.columns) - 1)}).scalar() is not None)
            store.dispose()  # a new session for the next batch
        return merged

    assert load("appended", True) == [False, False, True]  # the third sends stored keys
    assert load("merged", False) == [True, True, True]
    rows = table_rows(store, "activities")
    by_connection = {c: [r[1:] for r in rows if r[0] == c] for c in ("appended", "merged")}
    assert by_connection["appended"] == by_connection["merged"]
    assert len(by_connection["appended"]) == 2 * n + len(range(2 * n, 3 * n, 3))
    store.dispose()


def test_syncs_of_different_connections_into_one_empty_table_at_once_all_succeed(pg_url):
    """Celery workers sync different connections into one shared table: their first loads
    drop and create the same indexes at once, which PostgreSQL's catalog refuses unless the
    index changes wait for each other."""
    import threading

    store = Store(pg_url)
    pages = [[activity(i) for i in range(p * 40, p * 40 + 40)] for p in range(3)]
    results: dict[str, Any] = {}
    start = threading.Barrier(6)

    def sync(name: str) -> None:
        start.wait()
        try:
            [results[name]] = SyncEngine(store, Pages(name, pages)).run()
        except Exception as exc:  # the assertion below names it
            results[name] = exc

    threads = [threading.Thread(target=sync, args=(f"crm{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    try:
        assert {n: getattr(r, "status", r) for n, r in results.items()} == {
            f"crm{n}": "success" for n in range(6)}
        assert missing(store) == []
    finally:
        store.dispose()


@pytest.mark.postgresql
@pytest.mark.parametrize("name", ["activities", "opportunities", "accounts", "quotas", "spend",
                                  "opportunity_line_items", "feedback", "web_traffic"])
def test_binary_copy_of_validated_rows_stores_what_text_copy_stores(pg_url, name):
    """The engine's rows (the validator's, every value of its column's one Python type)
    go through COPY in binary; the stored rows are those of a text COPY, value for value."""
    from crmsync.sync.validate import RecordValidator
    from test_validate_batch import records

    table = SYNCED_TABLES[name]
    validator = RecordValidator(table, "postgresql")
    assert upsert_module._binary_types(table, tuple(validator.columns)) is not None
    made = []
    for connection in ("binary", "text"):
        template = validator.template(connection=connection, synced_at=T0)
        batch = records(table, random.Random(name), 8000)
        rows = {row[validator.remote_id_index]: row
                for row, _ in validator.validate_many(batch, template) if row is not None}
        made.append(len(rows))
        store = Store(pg_url)
        with store.engine.begin() as conn:
            upsert_module.upsert_prepared(conn, table, validator.columns, list(rows.values()),
                                          typed=connection == "binary")
    assert made[0] >= upsert_module.COPY_THRESHOLD
    stored = table_rows(store, name)
    by_connection = {c: [r[1:] for r in stored if r[0] == c] for c in ("binary", "text")}
    assert by_connection["binary"] == by_connection["text"]
    assert len(by_connection["binary"]) == made[0]
    store.dispose()
