"""Tests of the example connector: the contract suite plus its own behaviour."""

from __future__ import annotations

import pytest

from crmsync.testing import ConnectorContract
from crmsync_example_connector import FAKE_API, ExampleCrmConnector


def make(**settings: object) -> ExampleCrmConnector:
    """A connector built the way the host builds it: validated settings, defaults filled in."""
    return ExampleCrmConnector("test", ExampleCrmConnector.validate_settings(settings))


class CleanExample(ExampleCrmConnector):
    """The example connector pointed at data without the deliberately broken deal."""

    API = {endpoint: [r for r in records if r["id"] != "d5"]
           for endpoint, records in FAKE_API.items()}


class TestContract(ConnectorContract):
    """Everything every connector must do, from crmsync.testing (on data that syncs cleanly)."""

    @pytest.fixture
    def connector(self) -> ExampleCrmConnector:
        return CleanExample("test", CleanExample.validate_settings({"page_size": 2}))


def test_pages_carry_the_last_records_compound_cursor() -> None:
    batches = list(make(page_size=2).read("users", None))

    assert [b.cursor for b in batches] == [["2024-01-02T09:00:00Z", "u2"]]


def test_reading_from_a_cursor_returns_only_later_records() -> None:
    batches = list(make().read("accounts", ["2024-01-03T10:00:00Z", "c1"]))

    assert [r["remote_id"] for b in batches for r in b.records] == ["c2"]


def test_unknown_stage_is_rejected_with_its_field() -> None:
    rejects = [r for b in make().read("opportunities", None) for r in b.rejects]

    assert [(r.remote_id, r.field) for r in rejects] == [("d5", "stage")]


def test_sync_stores_records_marks_archived_deals_deleted_and_records_rejects(
        crmsync_sync, crmsync_store) -> None:
    results = crmsync_sync(make())

    assert {r.entity: (r.rows_upserted, r.rejects) for r in results} == {
        "users": (2, 0), "accounts": (2, 0), "opportunities": (4, 1)}
    with crmsync_store.engine.connect() as conn:
        deleted = conn.exec_driver_sql(
            "SELECT remote_id FROM opportunities WHERE is_deleted").scalars().all()
    assert deleted == ["d4"]


def test_a_second_sync_reads_nothing_new(crmsync_sync) -> None:
    connector = make()
    crmsync_sync(connector)

    assert sum(r.rows_read for r in crmsync_sync(connector)) == 0
