"""Survey responses and territories through ``crmsync sync`` (the real connector, the engine
and the store, SQLite and PostgreSQL) against the fake org, down to NPS by territory; and an
org without either feature syncing cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import make_config, table_rows
from crmsync import api
from crmsync.core.config import Config
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset, make_id

SESSION_ENV = "SF_TEST_SESSION_ID"
ENTITIES = ["users", "accounts", "contacts", "feedback"]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    org = FakeSalesforceOrg.start(dataset=Dataset(
        opportunities=60, activities=5, contacts=40, leads=10, surveys=300, territories=True))
    monkeypatch.setenv(SESSION_ENV, org.session_id)
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    try:
        yield org
    finally:
        org.stop()


def sf_config(store_url: str, fake: FakeSalesforceOrg, **settings: Any) -> Config:
    return make_config(store_url, sf={
        "type": "salesforce", "instance_url": fake.instance_url,
        "session_id": f"${{{SESSION_ENV}}}", "ca_bundle": fake.ca_bundle,
        "objects": ENTITIES, **settings})


def test_survey_responses_and_territories_sync_and_feed_nps_by_territory(
        store, store_url, registry, fake):
    config = sf_config(store_url, fake, survey_types={"Effort_Check": "ces"})

    report = api.sync(config, registry, store=store)

    assert report.status == "success", [(d.entity, d.status, d.error) for d in report.details]
    rows = table_rows(store, "feedback", "remote_id", "type", "contact_id", "account_id")
    assert sorted({r[1] for r in rows}) == ["ces", "csat", "nps"]
    assert len(rows) == 300
    assert all(r[2] or r[3] for r in rows)  # a contact, else the survey subject's account
    territories = dict(table_rows(store, "accounts", "remote_id", "territory"))
    assert territories[make_id("001", 1)] == "East"
    assert territories[make_id("001", 4)] is None
    result = api.compute_metrics(config, registry, ["nps"], period="all",
                                 dimensions=["territory"], store=store)
    by_territory = {v.dimension_value for v in result.values if v.metric == "nps"}
    assert {"West", "East", "EMEA", "APAC"} <= by_territory


def test_a_moved_account_changes_territory_on_the_next_sync(store, store_url, registry, fake):
    config = sf_config(store_url, fake)
    api.sync(config, registry, store=store)
    table = fake.org.tables["ObjectTerritory2Association"]
    rows = [table.record(ref) for _, ref in table.scan(None, None)]
    moved = next(r for r in rows if r["ObjectId"] == make_id("001", 1))
    fake.org.update("ObjectTerritory2Association", moved["Id"],
                    Territory2Id=make_id("0MI", 3))

    report = api.sync(config, registry, store=store)

    assert report.status == "success"
    territories = dict(table_rows(store, "accounts", "remote_id", "territory"))
    assert territories[make_id("001", 1)] == "APAC"


def test_an_org_without_surveys_or_territories_syncs_cleanly(store, store_url, registry):
    with FakeSalesforceOrg.start(dataset=Dataset(opportunities=20, activities=5)) as org, \
            pytest.MonkeyPatch.context() as mp:
        mp.setenv(SESSION_ENV, org.session_id)
        report = api.sync(sf_config(store_url, org), registry, store=store)

    assert report.status == "success", [(d.entity, d.status, d.error) for d in report.details]
    assert table_rows(store, "feedback", "remote_id") == []
    assert {r[0] for r in table_rows(store, "accounts", "territory")} == {None}
