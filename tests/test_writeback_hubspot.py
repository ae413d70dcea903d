"""Write-back end to end against the fake HubSpot portal (tests/fakes/hubspot_portal.py): the
real HubSpot connector syncs deals into a store, the deal-age KPI is computed, and write-back
plans and applies it through batch update (100 a call) — property creation, no-op re-applies,
policies, partial failures, a missing scope and archived deals."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from crmsync import WritebackError, api
from crmsync.core.config import Config, ConnectionConfig
from crmsync.metrics import engine as metric_engine
from crmsync.plugin.registry import Registry
from crmsync.writeback.mapping import parse_writeback
from fakes.hubspot_portal import FakeHubSpotPortal

AS_OF = dt.datetime(2027, 1, 1)  # after every deal, also those created by a test
METRIC = "opportunity_age_days"
FIELD = "crmsync_opportunity_age_days"
AGE = {"metric": METRIC, "connection": "hub", "object": "opportunity"}
WRITE = "/batch/update"


class HubSpotWriteback:
    """A store synced from the fake portal, and the calls to plan, apply and inspect."""

    def __init__(self, fake: FakeHubSpotPortal, store, registry: Registry) -> None:
        self.fake, self.portal, self.store, self.registry = fake, fake.portal, store, registry

    def config(self, *mappings: dict) -> Config:
        config = Config(store_url=self.store.url, connections={"hub": ConnectionConfig(
            name="hub", type="hubspot", raw={
                "type": "hubspot", "base_url": self.fake.base_url,
                "access_token": "${WB_TEST_HS_TOKEN}", "rate_limit": 100_000,
                "search_rate_limit": 10_000})})
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
        result = metric_engine.compute(self.store, [self.registry.metric(metric)],
                                       self.config().metrics, period="all", connection="hub",
                                       as_of=as_of)
        return {v.subject_id: v.value for v in result.values}

    def plan(self, *mappings: dict):
        return api.writeback_plan(self.config(*mappings), self.registry, store=self.store)

    def apply(self, *mappings: dict):
        self.fake.reset_calls()
        return api.writeback_apply(self.config(*mappings), self.registry, store=self.store,
                                   sleep=lambda s: None)

    def writes(self) -> list:
        """Batch updates and property creations since the last apply started."""
        return [c for c in self.fake.calls
                if c.method == "POST" and (c.route.endswith(WRITE)
                                           or c.route.startswith("/crm/v3/properties"))]

    def updates(self) -> list:
        return [c for c in self.fake.calls if c.route.endswith(WRITE)]

    def open_deals(self) -> list[str]:
        with self.store.engine.connect() as conn:
            return list(conn.exec_driver_sql(
                "SELECT remote_id FROM opportunities WHERE status = 'open' ORDER BY remote_id"
            ).scalars())

    def value(self, deal: str, field: str = FIELD):
        return self.portal.record("deals", deal).get(field)


@pytest.fixture
def hs(fake_hubspot, sqlite_store, monkeypatch) -> HubSpotWriteback:
    monkeypatch.setenv("WB_TEST_HS_TOKEN", fake_hubspot.access_token)
    return HubSpotWriteback(fake_hubspot, sqlite_store, Registry())


@pytest.fixture
def ages(hs) -> dict[str, float | None]:
    return hs.sync_and_compute()


def number(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)


def test_first_apply_creates_the_property_and_writes_every_deal(hs, ages):
    report = hs.apply(dict(AGE, create_field=True))

    written = {d: number(hs.value(d)) for d in ages}
    assert written == {d: math.floor(v) if v is not None else None for d, v in ages.items()}
    assert (report.status, report.details[0]["created"]) == ("success", True)


def test_second_apply_makes_no_write_calls(hs, ages):
    hs.apply(dict(AGE, create_field=True))

    report = hs.apply(AGE)
    assert (hs.writes(), report.details[0]["sent"]) == ([], 0)


def test_batch_updates_carry_up_to_100_records_a_call(hs, ages):
    report = hs.apply(dict(AGE, create_field=True))

    assert len(hs.updates()) == math.ceil(report.details[0]["sent"] / 100)


def test_one_new_value_sends_one_record(hs, ages):
    hs.apply(dict(AGE, create_field=True))
    model = hs.portal.record("deals", hs.open_deals()[0])
    deal = hs.portal.create("deals", {k: model[k] for k in ("dealname", "pipeline", "dealstage",
                                                             "amount")})
    hs.sync_and_compute()

    report = hs.apply(AGE)
    assert (report.details[0]["sent"], len(hs.updates())) == (1, 1)
    assert hs.value(deal) is not None


def test_if_empty_never_overwrites_a_value_a_person_entered(hs, ages):
    mapping = dict(AGE, field="deal_age", owned=False, overwrite="if_empty")
    hs.apply(dict(mapping, create_field=True))
    person, other = hs.open_deals()[:2]
    hs.portal.update("deals", person, {"deal_age": "999"})
    later = hs.sync_and_compute(as_of=AS_OF + dt.timedelta(days=10))  # every open deal ages

    report = hs.apply(mapping)
    assert (hs.value(person, "deal_age"), number(hs.value(other, "deal_age"))) == (
        "999", math.floor(later[other]))
    assert report.details[0]["skipped"] == {"policy": 1}


def test_nulls_skip_never_clears_a_property(hs):
    values = hs.sync_and_compute("opportunity_days_since_last_activity")
    mapping = {"metric": "opportunity_days_since_last_activity", "connection": "hub",
               "object": "opportunity", "create_field": True}
    hs.apply(mapping)
    empty = next(d for d, v in values.items() if v is None)
    field = "crmsync_opportunity_days_since_last_activity"
    hs.portal.update("deals", empty, {field: "5"})

    report = hs.apply(mapping)
    assert hs.value(empty, field) == "5"
    assert report.details[0]["skipped"]["null"] == sum(v is None for v in values.values())


def test_a_rejected_deal_is_recorded_and_the_rest_of_its_batch_written(hs, ages):
    deal = next(d for d, v in ages.items() if v is not None)
    hs.portal.reject_writes("deals", deal)

    first = hs.apply(dict(AGE, create_field=True))
    assert (first.details[0]["parked"], first.details[0]["errors"]) == (
        1, {"VALIDATION_ERROR": 1})
    assert all(number(hs.value(d)) == math.floor(v) for d, v in ages.items()
               if v is not None and d != deal)


def test_a_rejected_value_is_not_sent_again_until_it_changes(hs, ages):
    deal = hs.open_deals()[0]
    hs.portal.reject_writes("deals", deal)
    hs.apply(dict(AGE, create_field=True))
    hs.portal.write_rejections.clear()

    again = hs.apply(AGE)
    assert (hs.updates(), again.details[0]["skipped"]) == ([], {"parked": 1})
    hs.compute(as_of=AS_OF + dt.timedelta(days=2))  # a new value for every open deal
    hs.apply(AGE)
    assert number(hs.value(deal)) is not None


def test_a_missing_scope_on_property_creation_writes_nothing(hs, ages):
    hs.portal.scopes.discard("crm.schemas.deals.write")

    with pytest.raises(WritebackError, match=r"cannot create the field.*MISSING_SCOPES"):
        hs.apply(dict(AGE, create_field=True))
    assert hs.updates() == []


def test_a_deal_archived_in_hubspot_is_skipped_and_reported(hs, ages):
    hs.apply(dict(AGE, create_field=True))
    deal = hs.open_deals()[0]
    hs.portal.archive("deals", deal)  # the store does not know yet
    hs.compute(as_of=AS_OF + dt.timedelta(days=3))  # a new value for every open deal

    report = hs.apply(AGE)
    assert (report.details[0]["missing"], report.status) == (1, "success")
    assert hs.plan(AGE).mappings[0].skipped == {"missing": 1}


def test_a_batch_answered_503_is_sent_again_and_nothing_is_lost(hs, ages):
    hs.fake.fail_next(503, pattern="/batch/update")

    report = hs.apply(dict(AGE, create_field=True))
    sent = sum(v is not None for v in ages.values())
    assert (report.status, report.details[0]["sent"]) == ("success", sent)
    assert len(hs.updates()) == math.ceil(sent / 100) + 1
