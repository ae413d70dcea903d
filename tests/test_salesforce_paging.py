"""Salesforce paging is decided by ``done``/``nextRecordsUrl`` alone, never by a page's length.

The fake org's ``page_cap`` answers fewer rows than ``batchSize`` asked on every page (as
Salesforce may), still with ``done: false``: a sync must store exactly what it stores when the
pages are full.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_config, table_rows
from crmsync import ApiCallCounter, ConnectorError, api
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync_salesforce.client import SalesforceClient
from crmsync_salesforce.quota import QuotaBudget
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset

TABLES = ("users", "accounts", "contacts", "leads", "opportunities", "opportunity_stage_history",
          "opportunity_contacts", "activities")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    org = FakeSalesforceOrg.start(dataset=Dataset(opportunities=60, activities=150))
    monkeypatch.setenv("SF_TEST_SESSION_ID", org.session_id)
    try:
        yield org
    finally:
        org.stop()


def sync(fake: FakeSalesforceOrg, registry: Registry, path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    config = make_config(store.url, sf={"type": "salesforce", "instance_url": fake.instance_url,
                                        "session_id": "${SF_TEST_SESSION_ID}",
                                        "ca_bundle": fake.ca_bundle})
    report = api.sync(config, registry, store=store)
    assert report.status == "success", [(d.entity, d.error) for d in report.details]
    return store


def test_short_query_pages_store_what_full_pages_store(fake, registry, tmp_path):
    full = sync(fake, registry, tmp_path / "full.db")
    fake.org.page_cap = 23
    fake.reset_calls()
    short = sync(fake, registry, tmp_path / "short.db")
    try:
        assert sum(1 for _, path in fake.calls if "/query/" in path) > 10  # next pages
        for table in TABLES:
            assert table_rows(short, table) == table_rows(full, table), table
        assert table_rows(short, "activities")
    finally:
        full.dispose()
        short.dispose()


def test_done_false_without_a_next_page_is_an_error_not_the_end(fake):
    client = SalesforceClient({"instance_url": fake.instance_url, "session_id": "x",
                               "api_version": "61.0"}, connection="sf",
                              counter=ApiCallCounter(), budget=QuotaBudget())
    pages = client.follow({"done": False, "totalSize": 9, "records": [{"Id": "1"}]},
                          what="query Lead")
    assert next(pages)["records"] == [{"Id": "1"}]
    with pytest.raises(ConnectorError, match=r"query Lead: .*done=false without a nextRecordsUrl"):
        next(pages)
