"""Nothing lost under faults: syncs through a fault-injecting proxy end as a clean run does.

A loopback proxy (tests/fakes/fault_proxy.py) sits in front of the fake HubSpot portal and the
fake Salesforce org and follows a scripted schedule: 429 with ``Retry-After`` in seconds and as
an HTTP-date, bursts of 5xx, connection resets, answers slower than the read timeout, bodies cut
short (fewer bytes than their ``Content-Length``, or half a JSON document) and a 401 mid-sync.
Each test syncs the same data twice — once straight from the fake, once through the faults — into
two fresh stores of one dialect (SQLite and PostgreSQL) and asserts every synced table holds the
same rows (``id`` and ``synced_at`` aside). Waits go through the engine's ``sleep``, recorded
instead of slept.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from conftest import make_config, migrated_pg_schema, table_rows
from crmsync import AuthError, api
from crmsync.core.config import Config
from crmsync.core.reports import EntityResult
from crmsync.core.retry import RetryPolicy
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.sync import SyncEngine
from fakes.fault_proxy import Fault, FaultProxy
from fakes.hs_data import Dataset as HubSpotDataset
from fakes.hubspot_portal import FakeHubSpotPortal
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset as SalesforceDataset

#: The read timeout the connectors get here; a "slow" fault answers after SLOW seconds.
READ_TIMEOUT, SLOW = 2.0, 3.0
#: Retries never wait for real; enough attempts for a burst of three failures in a row.
POLICY = RetryPolicy(attempts=5, initial_wait=1.0, max_wait=4.0)


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Store, Store]]:
    """Two fresh stores of one dialect: the clean run's and the faulty run's."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            urls = [f"sqlite:///{tmp_path / name}.db" for name in ("clean", "faulty")]
        else:
            server, template = (request.getfixturevalue(f) for f in ("pg_server", "pg_template"))
            urls = [stack.enter_context(migrated_pg_schema(server, template))
                    for _ in range(2)]
        pair = (Store(urls[0]), Store(urls[1]))
        try:
            yield pair
        finally:
            for s in pair:
                s.dispose()


def run(config: Config, registry: Registry, store: Store, sleeps: list[float] | None = None
        ) -> list[EntityResult]:
    """One sync of connection ``crm`` through the engine, waits recorded in ``sleeps``."""
    connector, redactor = api.connect(config, "crm", registry)
    waits = sleeps if sleeps is not None else []
    try:
        return SyncEngine(store, connector, redactor=redactor, retry=POLICY,
                          sleep=waits.append).run()
    finally:
        connector.close()


def contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {table: table_rows(store, table) for table in SYNCED_TABLES}


def assert_same_store(faulty: Store, clean: Store) -> None:
    expected, got = contents(clean), contents(faulty)
    assert sum(map(len, expected.values())) > 100  # the dataset is not trivially empty
    for table in SYNCED_TABLES:
        assert got[table] == expected[table], table


def assert_success(results: list[EntityResult]) -> None:
    bad = [(r.entity, r.status, r.error) for r in results if r.status != "success" or r.rejects]
    assert not bad, bad


# -- HubSpot --------------------------------------------------------------------------------------

HS_DATA = HubSpotDataset(deals=300, contacts=120, companies=30, engagements=100, owners=8)


@pytest.fixture
def portal(fake_hubspot_factory: Callable[..., FakeHubSpotPortal],
           monkeypatch: pytest.MonkeyPatch) -> FakeHubSpotPortal:
    fake = fake_hubspot_factory(HS_DATA)
    # small pages: more requests for the schedule to hit, and paging under faults
    fake.portal.page_caps.update(search=40, owners=3, objects=5)
    # the portal's window as large as the connector's ``rate_limit``: its headers never say
    # "none left", so the connector never holds for real (the faults' waits are recorded)
    fake.portal.limits.max_per_interval = 100_000
    for deal in fake.portal.ids("deals")[:6]:
        fake.portal.archive("deals", deal)
    monkeypatch.setenv("HS_SECRET", fake.portal.client_secret)
    monkeypatch.setenv("HS_REFRESH", fake.portal.refresh_token)
    return fake


def hubspot_config(store: Store, base_url: str, fake: FakeHubSpotPortal) -> Config:
    """OAuth (so a 401 can be answered by refreshing the token once)."""
    return make_config(store.url, crm={
        "type": "hubspot", "base_url": base_url, "client_id": fake.portal.client_id,
        "client_secret": "${HS_SECRET}", "refresh_token": "${HS_REFRESH}",
        "rate_limit": 100_000, "search_rate_limit": 10_000, "read_timeout": READ_TIMEOUT})


TEN_SECONDLY = (b'{"status":"error","message":"You have reached your ten_secondly_rolling limit.",'
                b'"errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}')
EXPIRED = (b'{"status":"error","message":"The OAuth token used to make this call expired.",'
           b'"category":"EXPIRED_AUTHENTICATION"}')


def hubspot_faults() -> list[Fault]:
    return [
        Fault("status", r"GET /crm/v3/owners", after=1, status=429, body=TEN_SECONDLY,
              headers={"Retry-After": "7"}),
        Fault("status", r"POST /crm/v3/objects/companies/search", status=429, body=TEN_SECONDLY,
              headers={"Retry-After": http_date(30)}),
        Fault("status", r"POST /crm/v3/objects/deals/search", after=2, times=3, status=503,
              body=b"<html><body><h1>503 Service Unavailable</h1></body></html>",
              headers={"Content-Type": "text/html"}),
        Fault("reset", r"POST /crm/v3/objects/contacts/search", after=1),
        Fault("slow", r"POST /crm/v4/associations/deals/companies/batch/read", delay=SLOW),
        Fault("truncate", r"POST /crm/v3/objects/calls/search"),
        Fault("cut_json", r"GET /crm/v3/objects/deals\?.*archived=true", after=1),
        Fault("status", r"POST /crm/v3/objects/tasks/search", status=401, body=EXPIRED),
    ]


def test_hubspot_sync_through_faults_stores_what_a_clean_sync_stores(
        portal, stores, registry):
    clean, faulty = stores
    assert_success(run(hubspot_config(clean, portal.base_url, portal), registry, clean))
    sleeps: list[float] = []
    with FaultProxy.start(portal.base_url) as proxy:
        faults = [proxy.add(f) for f in hubspot_faults()]
        results = run(hubspot_config(faulty, proxy.url, portal), registry, faulty, sleeps)

    assert_success(results)
    assert [(f.kind, f.pattern, f.hits) for f in faults if not f.done] == []
    assert 7.0 in sleeps and any(10 < s <= 30 for s in sleeps)  # both Retry-After forms
    assert len(sleeps) >= 1 + 1 + 3 + 1 + 1 + 1 + 1  # each fault but the 401 costs a retry
    assert len(portal.calls_to("POST /oauth/v1/token")) == 2 + 1  # clean, faulty, refresh
    assert_same_store(faulty, clean)


# -- Salesforce ------------------------------------------------------------------------------------

SF_DATA = SalesforceDataset(opportunities=80, activities=200)
SF_USER, SF_PASSWORD = "integration@example.com", "s3cretTOKEN123"


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    fake = FakeSalesforceOrg.start(dataset=SF_DATA)
    fake.org.page_cap = 50  # REST queries take several pages
    try:
        yield fake
    finally:
        fake.stop()


def salesforce_config(store: Store, url: str, fake: FakeSalesforceOrg) -> Config:
    """Username/password auth (so an expired session is answered by logging in once more);
    ``bulk_threshold`` low enough that the larger objects go through Bulk API 2.0."""
    return make_config(store.url, crm={
        "type": "salesforce", "username": SF_USER, "password": "${SF_PASSWORD}",
        "login_url": url, "ca_bundle": fake.ca_bundle,
        "bulk_threshold": 150, "read_timeout": READ_TIMEOUT})


INVALID_SESSION = b'[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]'
TOO_MANY = b'[{"message":"Too many requests.","errorCode":"TOO_MANY_REQUESTS"}]'
UNAVAILABLE = (b'[{"message":"Server temporarily unavailable.",'
               b'"errorCode":"SERVER_UNAVAILABLE"}]')


def salesforce_faults() -> list[Fault]:
    return [
        Fault("status", r"GET /services/data/v[\d.]+/queryAll/\?q=SELECT.*FROM\+User\b",
              status=429, body=TOO_MANY, headers={"Retry-After": "11"}),
        Fault("status", r"GET /services/data/v[\d.]+/queryAll/\?q=SELECT.*FROM\+Account\b",
              status=429, body=TOO_MANY, headers={"Retry-After": http_date(40)}),
        Fault("status", r"GET /services/data/v[\d.]+/queryAll/\?q=SELECT.*FROM\+Contact\b",
              times=3, status=503, body=UNAVAILABLE),
        Fault("reset", r"GET /services/data/v[\d.]+/queryAll/\?q=SELECT.*FROM\+Lead\b"),
        Fault("slow", r"POST /services/data/v[\d.]+/composite", delay=SLOW),
        Fault("truncate", r"GET /services/data/v[\d.]+/jobs/query/[^/]+/results"),
        Fault("cut_json", r"GET /services/data/v[\d.]+/query/"),
        Fault("status", r"GET /services/data/v[\d.]+/queryAll/\?q=SELECT.*FROM\+Event\b",
              status=401, body=INVALID_SESSION),
    ]


def test_salesforce_sync_through_faults_stores_what_a_clean_sync_stores(
        org, stores, registry, monkeypatch):
    clean, faulty = stores
    org.org.users[SF_USER] = SF_PASSWORD
    monkeypatch.setenv("SF_PASSWORD", SF_PASSWORD)
    assert_success(run(salesforce_config(clean, org.instance_url, org), registry, clean))
    sleeps: list[float] = []
    with FaultProxy.start(org.instance_url, tls=True) as proxy:
        org.instance_url = proxy.url  # what a login answers: the session's instance
        faults = [proxy.add(f) for f in salesforce_faults()]
        results = run(salesforce_config(faulty, proxy.url, org), registry, faulty, sleeps)

    assert_success(results)
    assert [(f.kind, f.pattern, f.hits) for f in faults if not f.done] == []
    assert 11.0 in sleeps and any(15 < s <= 40 for s in sleeps)  # both Retry-After forms
    assert len(sleeps) >= 1 + 1 + 3 + 1 + 1 + 1 + 1  # each fault but the 401 costs a retry
    assert sum("/Soap/u/" in r for r in proxy.requests) == 2  # login, then once more on 401
    assert_same_store(faulty, clean)


# -- a 401 that cannot be answered ----------------------------------------------------------------

def test_an_expired_private_app_token_fails_the_run_and_the_next_run_completes(
        portal, registry, monkeypatch, tmp_path):
    clean, faulty = (Store(f"sqlite:///{tmp_path / name}.db") for name in ("clean", "faulty"))
    monkeypatch.setenv("HS_TOKEN", portal.access_token)

    def token_config(store: Store, url: str) -> Config:
        return make_config(store.url, crm={"type": "hubspot", "base_url": url,
                                           "access_token": "${HS_TOKEN}", "rate_limit": 100_000,
                                           "search_rate_limit": 10_000})

    try:
        assert_success(run(token_config(clean, portal.base_url), registry, clean))
        with FaultProxy.start(portal.base_url) as proxy:
            proxy.add(Fault("status", r"POST /crm/v3/objects/deals/search", after=3, status=401,
                            body=EXPIRED))
            with pytest.raises(AuthError, match="EXPIRED_AUTHENTICATION"):
                run(token_config(faulty, proxy.url), registry, faulty)
            # the entities synced before it are kept
            assert table_rows(faulty, "accounts") == table_rows(clean, "accounts")
            assert_success(run(token_config(faulty, proxy.url), registry, faulty))
        assert_same_store(faulty, clean)
    finally:
        clean.dispose()
        faulty.dispose()
