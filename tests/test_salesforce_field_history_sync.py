"""``opportunity_field_history`` through ``crmsync sync``: the real Salesforce connector, the
sync engine and the store (SQLite and PostgreSQL) against the fake org with field changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_config, table_rows
from crmsync import api
from crmsync.core.reports import RunReport
from crmsync.core.schema import metadata
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import PREFIXES, Dataset, make_id
from fakes.sf_field_history import save_with_history

SESSION_ENV = "SF_TEST_SESSION_ID"
HISTORY = ("opportunity_stage_history", "opportunity_field_history")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    """An org whose history objects take several 200-row pages."""
    org = FakeSalesforceOrg.start(dataset=Dataset(opportunities=120, activities=10,
                                                  field_history=True, field_changes=True))
    monkeypatch.setenv(SESSION_ENV, org.session_id)
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    try:
        yield org
    finally:
        org.stop()


@pytest.fixture
def run_sync(store: Store, store_url: str, fake: FakeSalesforceOrg, registry: Registry
             ) -> Callable[..., RunReport]:
    def run(**settings: Any) -> RunReport:
        config = make_config(store_url, sf={
            "type": "salesforce", "instance_url": fake.instance_url,
            "session_id": f"${{{SESSION_ENV}}}", "ca_bundle": fake.ca_bundle, **settings})
        report = api.sync(config, registry, store=store)
        assert report.status == "success", [(d.entity, d.error) for d in report.details]
        return report
    return run


def changes(store: Store) -> list[tuple[Any, ...]]:
    return table_rows(store, "opportunity_field_history", "remote_id", "opportunity_id",
                      "field", "old_value", "new_value", "is_deleted")


def _calls(report: RunReport, entity: str) -> int:
    return sum(d.api_calls for d in report.details if d.entity == entity)


def test_a_full_sync_stores_the_changes_without_calls_of_their_own(run_sync, store):
    report = run_sync()

    stored = changes(store)
    assert Counter(r[2] for r in stored).keys() >= {"stage_id", "amount", "owner_id",
                                                    "expected_close_date", "forecast_category"}
    assert _calls(report, "opportunity_field_history") == 0
    assert _calls(report, "opportunity_stage_history") > 0


def test_opportunities_carry_their_forecast_category(run_sync, store):
    run_sync()

    categories = {r[0] for r in table_rows(store, "opportunities", "forecast_category")}
    assert categories <= {"closed", "commit", "best_case", "pipeline", "omitted"}
    assert "best_case" in categories


def test_an_incremental_sync_adds_new_changes_and_duplicates_none(run_sync, store, fake):
    run_sync()
    before = changes(store)
    deal = fake.org.get("Opportunity", make_id(PREFIXES["Opportunity"], 9))
    assert deal is not None
    save_with_history(fake.org, deal["Id"], at=fake.org.now(), by=deal["OwnerId"],
                      Amount=None, ForecastCategoryName="Commit")

    report = run_sync()
    run_sync()

    after = changes(store)
    new = [r for r in after if r not in before]
    assert sorted((r[2], r[4]) for r in new) == [("amount", None), ("forecast_category",
                                                                     "commit")]
    assert len({r[0] for r in after}) == len(after) == len(before) + 2
    assert _calls(report, "opportunity_field_history") == 0


def test_a_hard_deleted_history_row_marks_its_change_deleted(run_sync, store, fake):
    run_sync()
    deal = fake.org.get("Opportunity", make_id(PREFIXES["Opportunity"], 11))
    assert deal is not None
    rows = save_with_history(fake.org, deal["Id"], at=fake.org.now(), by=deal["OwnerId"],
                             CloseDate="2027-03-31")
    run_sync()
    (row,) = rows["OpportunityFieldHistory"]
    fake.org.delete("OpportunityFieldHistory", row, hard=True)

    run_sync()

    tbl = metadata.tables["opportunity_field_history"]
    with store.engine.connect() as conn:
        flag = conn.execute(sa.select(tbl.c.is_deleted).where(tbl.c.remote_id == row)).scalar()
    assert flag is True


def test_with_stage_history_off_the_field_read_queries_for_itself(run_sync, store):
    report = run_sync(objects={"opportunity_stage_history": False})

    assert changes(store) and _calls(report, "opportunity_field_history") > 0
