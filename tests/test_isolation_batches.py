"""Bad values from a connector never give an engine traceback (docs/plugins.md, "Blast
radius"): a bad record or deletion is a reject naming it and its field, the good records of the
batch are stored; a page that cannot be stored fails its entity with one error naming the
connector and entity (``crmsync.sync.checks``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import table_rows
from crmsync import Batch, Connector, Deletion, Reject, RowRecords
from crmsync.core.reports import EntityResult
from crmsync.core.schema import sync_rejects, sync_state
from crmsync.store import Store
from crmsync.sync import SyncEngine

GOOD = {"remote_id": "A1", "name": "Acme"}


class Pages(Connector):
    """Yields the pages it is given for ``accounts``."""

    NAME = "pages"
    ENTITIES = ("accounts",)
    pages: Sequence[Any] = ()

    def read(self, entity: str, cursor: Any) -> Iterator[Any]:
        yield from self.pages


def sync(store: Store, *pages: Any) -> EntityResult:
    connector = Pages("crm", {})
    connector.pages = pages
    [result] = SyncEngine(store, connector).run()
    return result


def rejects(store: Store) -> list[tuple[Any, ...]]:
    return table_rows(store, "sync_rejects", "remote_id", "field", "reason")


def accounts(store: Store) -> list[tuple[Any, ...]]:
    return table_rows(store, "accounts", "remote_id", "is_deleted", "deleted_at")


def test_a_deletion_time_given_as_iso_text_is_parsed(store: Store) -> None:
    sync(store, Batch(records=[GOOD, {"remote_id": "A2", "name": "Beta"}]))
    result = sync(store, Batch(deleted=[Deletion("A2", "2026-03-01T10:00:00+02:00")]))
    assert result.status == "success" and result.rows_deleted == 1
    assert accounts(store) == [("A1", False, None), ("A2", True, dt.datetime(2026, 3, 1, 8))]


def test_a_deletion_time_that_is_not_a_time_is_a_reject_naming_record_and_field(
        store: Store) -> None:
    result = sync(store, Batch(records=[GOOD],
                               deleted=[Deletion("A7", "last tuesday")]))
    assert result.status == "success" and result.rows_upserted == 1
    [(rid, field, reason)] = rejects(store)
    assert (rid, field) == ("A7", "deleted_at")
    assert "not an ISO 8601 timestamp: 'last tuesday'" in reason


@pytest.mark.parametrize("remote_id", [None, 4.5, {"id": 1}, ""])
def test_a_deletion_whose_remote_id_is_not_text_is_a_reject(store: Store, remote_id: Any
                                                            ) -> None:
    result = sync(store, Batch(records=[GOOD], deleted=[Deletion(remote_id)]))
    assert result.status == "success" and result.rows_upserted == 1
    [(rid, field, reason)] = rejects(store)
    assert (rid, field) == (None, "remote_id")
    assert "Deletion.remote_id must be text" in reason


def test_a_deletion_with_an_integer_remote_id_deletes_as_its_digits(store: Store) -> None:
    sync(store, Batch(records=[{"remote_id": "42", "name": "Acme"}]))
    result = sync(store, Batch(deleted=[Deletion(42)]))
    assert result.rows_deleted == 1 and not rejects(store)


def test_a_merge_into_something_that_is_not_an_id_is_a_reject(store: Store) -> None:
    result = sync(store, Batch(records=[GOOD],
                               deleted=[Deletion("A9", merged_into=["A1"])]))
    assert result.status == "success"
    assert [(r, f) for r, f, _ in rejects(store)] == [("A9", "merged_into")]


def test_a_deleted_record_that_is_not_a_deletion_is_a_reject(store: Store) -> None:
    result = sync(store, Batch(records=[GOOD], deleted=["A5"]))
    assert result.status == "success"
    [(rid, _, reason)] = rejects(store)
    assert rid == "A5" and "given as a str, not a crmsync.Deletion" in reason


def test_records_that_are_not_mappings_are_rejects_and_the_others_are_stored(
        store: Store) -> None:
    result = sync(store, Batch(records=[GOOD, ["A2", "Beta"], None],
                               sources=["l1", "l2", "l3"]))
    assert result.status == "success" and result.rows_upserted == 1
    with store.engine.connect() as c:
        stored = c.execute(sa.select(sync_rejects.c.source, sync_rejects.c.reason)
                           .order_by(sync_rejects.c.source)).all()
    assert [s for s, _ in stored] == ["l2", "l3"]
    assert "record #2 of its page is a list, not a mapping" in stored[0][1]


def test_records_given_as_an_iterator_are_stored(store: Store) -> None:
    result = sync(store, Batch(records=iter([GOOD])))
    assert result.status == "success" and result.rows_upserted == 1


def test_a_reject_that_is_not_a_reject_is_stored_as_one(store: Store) -> None:
    odd = [Reject("bad row", remote_id=7), "oops"]
    result = sync(store, Batch(records=[GOOD], rejects=odd))
    assert result.status == "success" and result.rows_upserted == 1
    with store.engine.connect() as c:
        stored = dict(c.execute(sa.select(sync_rejects.c.reason, sync_rejects.c.remote_id)).all())
    assert stored == {"bad row": "7", "the connector reported a reject that is a str, not a "
                                      "crmsync.Reject": None}


@pytest.mark.parametrize(("page", "says"), [
    ({"records": [GOOD]}, "yielded a dict from read(), not a crmsync.Batch"),
    (Batch(records={"remote_id": "A1"}), "whose records are a dict, not a list"),
    (Batch(records=[GOOD], sources=["a", "b"]), "2 sources for 1 records"),
    (Batch(records=RowRecords(["remote_id", "name"], [["A1", "Acme"], ["A2"]])),
     "RowRecords whose row #2 has 1 cells for 2 names"),
    (Batch(records=RowRecords(["remote_id", "remote_id"], [["A1", "A1"]])),
     "RowRecords whose names ['remote_id', 'remote_id'] are not distinct"),
    (Batch(records=[GOOD], cursor={"since": dt.datetime(2026, 1, 1)}),
     "a cursor crmsync cannot save: TypeError: Object of type datetime is not JSON"),
    (Batch(records=[GOOD], cursor={"offset": float("nan")}), "a cursor crmsync cannot save"),
])
def test_a_page_that_cannot_be_stored_fails_its_entity_naming_connector_and_entity(
        store: Store, page: Any, says: str) -> None:
    result = sync(store, page)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("crm/accounts: connector 'pages' (")
    assert says in result.error
    assert table_rows(store, "accounts") == []  # nothing of the page is committed
    with store.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(sync_state)).scalar() == 0


def test_a_page_before_a_bad_one_is_kept(store: Store) -> None:
    result = sync(store, Batch(records=[GOOD], cursor={"page": 1}), "not a page")
    assert result.status == "failed" and result.rows_upserted == 1
    with store.engine.connect() as c:
        assert c.execute(sa.select(sync_state.c.cursor)).scalar_one() == {"page": 1}


def test_row_records_are_stored_and_their_bad_records_rejected(store: Store) -> None:
    rows = RowRecords(["remote_id", "name", "employee_count"],
                      [["A1", "Acme", "12"], ["A2", "", "lots"], ["A3", "Beta", ""]])
    result = sync(store, Batch(records=rows, sources=["r1", "r2", "r3"]))
    assert result.status == "success" and result.rows_upserted == 2 and result.rejects == 1
    assert table_rows(store, "accounts", "remote_id", "name", "employee_count") == [
        ("A1", "Acme", 12), ("A3", "Beta", None)]
    with store.engine.connect() as c:
        reject = c.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.source,
                                     sync_rejects.c.payload)).one()
    assert reject.remote_id == "A2" and reject.source == "r2"
    assert reject.payload == {"remote_id": "A2", "name": None, "employee_count": "lots"}
