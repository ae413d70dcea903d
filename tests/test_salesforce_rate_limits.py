"""Salesforce's HTTP 429 is :class:`crmsync.RateLimited` with its ``Retry-After``; crmsync's
retry waits it out (the connector never sleeps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import make_config, table_rows
from crmsync import RateLimited, api
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.sync import SyncEngine
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    org = FakeSalesforceOrg.start(dataset=Dataset(opportunities=20, activities=30))
    monkeypatch.setenv("SF_TEST_SESSION_ID", org.session_id)
    try:
        yield org
    finally:
        org.stop()


def connector(fake: FakeSalesforceOrg, store: Store, registry: Registry):
    config = make_config(store.url, sf={"type": "salesforce", "instance_url": fake.instance_url,
                                        "session_id": "${SF_TEST_SESSION_ID}",
                                        "ca_bundle": fake.ca_bundle})
    return api.connect(config, "sf", registry)


def test_a_429_is_rate_limited_with_its_retry_after(fake, sqlite_store, registry):
    conn, _ = connector(fake, sqlite_store, registry)
    fake.org.faults.add("/queryAll", status=429, retry_after=17)
    try:
        with pytest.raises(RateLimited) as caught:
            list(conn.read("leads", None))
    finally:
        conn.close()
    assert caught.value.retry_after == 17.0
    assert caught.value.connection == "sf" and "429" in str(caught.value)


def test_the_sync_waits_the_retry_after_and_stores_every_lead(fake, sqlite_store, registry):
    conn, redactor = connector(fake, sqlite_store, registry)
    fault = fake.org.faults.add("/queryAll", status=429, retry_after=17, times=2)
    sleeps: list[float] = []
    try:
        [result] = SyncEngine(sqlite_store, conn, redactor=redactor,
                              sleep=sleeps.append).run(["leads"])
    finally:
        conn.close()
    assert fault.fired == 2 and sleeps == [17.0, 17.0]
    assert result.status == "success", result.error
    leads = {r["Id"] for _, ref in fake.org.tables["Lead"].scan(None, None)
             for r in [fake.org.tables["Lead"].record(ref)] if not r.get("IsDeleted")}
    assert {r[0] for r in table_rows(sqlite_store, "leads", "remote_id")} == leads
