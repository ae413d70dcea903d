"""Write-back end to end against the fake Salesforce org (tests/fakes/salesforce_org.py): the
real Salesforce connector syncs deals into a store, the deal-age KPI is computed, and write-back
plans and applies it through sObject Collections — field creation, no-op re-applies, policies,
partial failures, a permission error and deleted deals."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from crmsync import WritebackError, api
from crmsync.core.config import Config, ConnectionConfig
from crmsync.metrics import engine as metric_engine
from crmsync.plugin.registry import Registry
from crmsync.writeback.mapping import parse_writeback
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import fmt_datetime

AS_OF = dt.datetime(2026, 11, 1)
METRIC = "opportunity_age_days"
FIELD = "Crmsync_Opportunity_Age_Days__c"
AGE = {"metric": METRIC, "connection": "sf", "object": "opportunity"}


class SalesforceWriteback:
    """A store synced from the fake org, and the calls to plan, apply and inspect."""

    def __init__(self, org: FakeSalesforceOrg, store, registry: Registry) -> None:
        self.fake, self.org, self.store, self.registry = org, org.org, store, registry

    def config(self, *mappings: dict) -> Config:
        config = Config(store_url=self.store.url, connections={"sf": ConnectionConfig(
            name="sf", type="salesforce", raw={
                "type": "salesforce", "instance_url": self.fake.instance_url,
                "session_id": "${WB_TEST_SF_SESSION}", "ca_bundle": self.fake.ca_bundle})})
        config.sections["writeback"] = parse_writeback(list(mappings), file=None,
                                           connections=config.connections)
        return config

    def sync_and_compute(self, metric: str = METRIC, as_of: dt.datetime = AS_OF
                         ) -> dict[str, float | None]:
        report = api.sync(self.config(), self.registry, entities=["opportunities"],
                          store=self.store)
        assert report.ok, report.error
        return self.compute(metric, as_of)

    def compute(self, metric: str = METRIC, as_of: dt.datetime = AS_OF
                ) -> dict[str, float | None]:
        config = self.config()
        result = metric_engine.compute(self.store, [self.registry.metric(metric)],
                                       config.metrics, period="all", connection="sf",
                                       as_of=as_of)
        return {v.subject_id: v.value for v in result.values}

    def plan(self, *mappings: dict):
        return api.writeback_plan(self.config(*mappings), self.registry, store=self.store)

    def apply(self, *mappings: dict):
        self.fake.reset_calls()
        return api.writeback_apply(self.config(*mappings), self.registry, store=self.store,
                                   sleep=lambda s: None)

    def writes(self) -> list[tuple[str, str]]:
        """The write calls the org received since the last apply started (a composite of
        GET subrequests — the describes — reads)."""
        return [(c[0], c[1]) for c in self.fake.calls if c[0] in ("PATCH", "POST", "PUT")
                and not c[1].endswith("/composite")]

    def open_deals(self) -> list[str]:
        with self.store.engine.connect() as conn:
            return list(conn.exec_driver_sql(
                "SELECT remote_id FROM opportunities WHERE status = 'open' ORDER BY remote_id"
            ).scalars())

    def value(self, deal: str, field: str = FIELD):
        return (self.org.get("Opportunity", deal) or {}).get(field)


@pytest.fixture
def sf(fake_sf_org, sqlite_store, monkeypatch) -> SalesforceWriteback:
    monkeypatch.setenv("WB_TEST_SF_SESSION", fake_sf_org.session_id)
    return SalesforceWriteback(fake_sf_org, sqlite_store, Registry())


@pytest.fixture
def ages(sf) -> dict[str, float | None]:
    return sf.sync_and_compute()


def test_first_apply_creates_the_field_and_writes_every_deal(sf, ages):
    report = sf.apply(dict(AGE, create_field=True))

    written = {d: sf.value(d) for d in ages}
    assert written == {d: math.floor(v) if v is not None else None for d, v in ages.items()}
    assert (report.status, report.details[0]["created"]) == ("success", True)


def test_second_apply_makes_no_write_calls(sf, ages):
    sf.apply(dict(AGE, create_field=True))

    report = sf.apply(AGE)
    assert (sf.writes(), report.details[0]["sent"]) == ([], 0)
    assert report.details[0]["unchanged"] == sum(v is not None for v in ages.values())


def test_collections_carry_up_to_200_records_a_call(sf, ages):
    report = sf.apply(dict(AGE, create_field=True))

    patches = [c for c in sf.writes() if c[0] == "PATCH"]
    assert len(patches) == math.ceil(report.details[0]["sent"] / 200)


def test_one_changed_value_sends_one_record(sf, ages):
    sf.apply(dict(AGE, create_field=True))
    deal = next(d for d in sf.open_deals() if ages[d] is not None and ages[d] < 300)
    sf.org.update("Opportunity", deal, CreatedDate=fmt_datetime(
        dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()))
    sf.sync_and_compute()

    report = sf.apply(AGE)
    assert (report.details[0]["sent"], len(sf.writes())) == (1, 1)
    assert sf.value(deal) > 300


def test_if_empty_never_overwrites_a_value_a_person_entered(sf, ages):
    mapping = dict(AGE, field="Age_Days__c", owned=False, overwrite="if_empty")
    sf.apply(dict(mapping, create_field=True))
    person, other = sf.open_deals()[:2]
    sf.org.update("Opportunity", person, Age_Days__c=999)
    later = sf.sync_and_compute(as_of=AS_OF + dt.timedelta(days=10))  # every open deal ages

    report = sf.apply(mapping)
    assert (sf.value(person, "Age_Days__c"), sf.value(other, "Age_Days__c")) == (
        999, math.floor(later[other]))
    assert report.details[0]["skipped"] == {"policy": 1}


def test_nulls_skip_never_clears_a_field(sf):
    values = sf.sync_and_compute("opportunity_days_since_last_activity")
    mapping = {"metric": "opportunity_days_since_last_activity", "connection": "sf",
               "object": "opportunity", "create_field": True}
    sf.apply(mapping)
    empty = next(d for d, v in values.items() if v is None)
    field = "Crmsync_Opportunity_Days_Since_Last_Acti__c"
    sf.org.update("Opportunity", empty, **{field: 5})

    report = sf.apply(mapping)
    assert sf.value(empty, field) == 5
    assert report.details[0]["skipped"]["null"] == sum(v is None for v in values.values())


def test_after_a_partial_failure_only_the_failed_record_is_retried(sf, ages):
    deal = next(d for d, v in ages.items() if v is not None)
    sf.org.record_faults.add(deal, "UNABLE_TO_LOCK_ROW", times=3)  # the connector tries 3×
    first = sf.apply(dict(AGE, create_field=True))
    assert (first.details[0]["failed"], first.details[0]["errors"]) == (
        1, {"UNABLE_TO_LOCK_ROW": 1})

    second = sf.apply(AGE)
    assert (second.details[0]["sent"], len(sf.writes())) == (1, 1)
    assert sf.value(deal) == math.floor(ages[deal])


def test_a_permission_error_on_field_creation_writes_nothing(sf, ages):
    sf.org.metadata_access = False

    with pytest.raises(WritebackError, match=r"cannot create the field.*INSUFFICIENT_ACCESS"):
        sf.apply(dict(AGE, create_field=True))
    assert [c for c in sf.writes() if c[0] == "PATCH"] == []


def test_a_deal_deleted_in_salesforce_is_skipped_and_reported(sf, ages):
    sf.apply(dict(AGE, create_field=True))
    deal = sf.open_deals()[0]
    sf.org.delete("Opportunity", deal, hard=True)  # the store does not know yet
    sf.compute(as_of=AS_OF + dt.timedelta(days=3))  # a new value for every open deal

    report = sf.apply(AGE)
    assert (report.details[0]["missing"], report.status) == (1, "success")
    assert sf.plan(AGE).mappings[0].skipped == {"missing": 1}


def test_a_deal_deleted_and_synced_is_skipped_as_deleted(sf, ages):
    deal = next(d for d, v in ages.items() if v is not None)
    sf.org.delete("Opportunity", deal)  # to the recycle bin: the next sync marks it deleted
    config = sf.config()
    assert api.sync(config, sf.registry, entities=["opportunities"], store=sf.store).ok

    [m] = sf.plan(dict(AGE, create_field=True)).mappings
    assert m.skipped == {"deleted": 1}


def test_a_per_rep_win_rate_goes_to_the_reps_user_records(sf):
    report = api.sync(sf.config(), sf.registry, entities=["users", "opportunities"],
                      store=sf.store)
    assert report.ok, report.error
    values = metric_engine.compute(sf.store, [sf.registry.metric("win_rate")],
                                   sf.config().metrics, period="all", dimensions=("owner",),
                                   connection="sf", as_of=AS_OF).values
    rates = {v.dimension_value: v.value for v in values if v.value is not None}

    sf.apply({"metric": "win_rate", "connection": "sf", "object": "user",
              "create_field": True})
    assert rates and {u: sf.org.get("User", u)["Crmsync_Win_Rate__c"] for u in rates} == {
        u: round(r * 100, 2) for u, r in rates.items()}
