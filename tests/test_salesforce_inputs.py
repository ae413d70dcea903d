"""Salesforce ForecastingQuota → quotas and Campaign → spend (crmsync_salesforce.inputs)
against the fake org with ``Dataset(forecast_quarters=N, campaigns=N)``: mapping, one forecast
type, incremental reads, deletes, the primary campaign on deals, and an org without the
feature (or a user without the permission) skipped with a note."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import table_rows
from crmsync import SYNCED_TABLES
from crmsync.core.errors import ConnectorError
from crmsync.plugin.connector import Batch
from crmsync.sync.validate import validator_for
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.inputs import InputContext, NotAnInput, campaign, forecasting_quota
from crmsync_salesforce.mapping import MappingContext, Unmappable
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset

DATASET = dict(opportunities=30, activities=5, contacts=5, leads=5, forecast_quarters=3,
               campaigns=10)


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET)) as fake:
        yield fake


def connector_on(fake: FakeSalesforceOrg, **settings: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake.instance_url, "session_id": fake.session_id,
         "ca_bundle": fake.ca_bundle, **settings}))


def read(fake: FakeSalesforceOrg, entity: str, cursor: Any = None, **settings: Any
         ) -> list[Batch]:
    connector = connector_on(fake, **settings)
    try:
        return list(connector.read(entity, cursor))
    finally:
        connector.close()


def records(batches: list[Batch]) -> dict[str, dict[str, Any]]:
    return {r["remote_id"]: r for b in batches for r in b.records}


def deleted(batches: list[Batch]) -> set[str]:
    return {d.remote_id for b in batches for d in b.deleted}


QUOTA = {"Id": "0J9A", "QuotaOwnerId": "005A", "StartDate": "2026-01-01", "IsAmount": True,
         "IsQuantity": False, "QuotaAmount": 120000.0, "QuotaQuantity": None,
         "CurrencyIsoCode": "EUR",
         "Period": {"attributes": {"type": "Period"}, "EndDate": "2026-03-31"},
         "ForecastingType": {"attributes": {"type": "ForecastingType"},
                             "DeveloperName": "OpportunityRevenue"},
         "QuotaOwner": {"attributes": {"type": "User"},
                        "UserRole": {"attributes": {"type": "UserRole"}, "Name": "EMEA"}}}


def test_a_revenue_quota_is_its_amount_over_its_forecast_period() -> None:
    got = forecasting_quota(QUOTA, InputContext(multi_currency=True))

    assert {k: got[k] for k in ("owner_id", "team", "period_start", "period_end", "amount",
                                "currency")} == {
        "owner_id": "005A", "team": "EMEA", "period_start": "2026-01-01",
        "period_end": "2026-03-31", "amount": 120000.0, "currency": "EUR"}


def test_a_quantity_quota_is_its_quantity_without_a_currency() -> None:
    raw = {**QUOTA, "IsAmount": False, "IsQuantity": True, "QuotaAmount": None,
           "QuotaQuantity": 40.0}

    got = forecasting_quota(raw, InputContext(multi_currency=True,
                                              forecast_type="OpportunityRevenue"))

    assert (got["amount"], got["currency"], got["custom"]) == \
        (40.0, None, {"quota_unit": "quantity"})


def test_a_quota_of_another_forecast_type_is_not_an_input() -> None:
    with pytest.raises(NotAnInput):
        forecasting_quota(QUOTA, InputContext(forecast_type="OpportunitySplitRevenue"))


def test_a_quota_without_a_period_is_rejected_naming_period_id() -> None:
    with pytest.raises(Unmappable) as err:
        forecasting_quota({**QUOTA, "PeriodId": None, "Period": None}, InputContext())

    assert err.value.field == "Period"


CAMPAIGN = {"Id": "701A", "Name": "Spring webinar", "Type": "Webinar", "Status": "Completed",
            "StartDate": "2026-03-01", "EndDate": "2026-03-31", "ActualCost": 4200.0,
            "BudgetedCost": 5000.0, "CurrencyIsoCode": "GBP", "Segment__c": "SMB"}


def test_a_campaigns_actual_cost_is_marketing_spend_of_its_type() -> None:
    ctx = MappingContext(multi_currency=True, field_map={"Segment__c": "segment"})

    got = campaign(CAMPAIGN, ctx)

    assert {k: got[k] for k in ("category", "channel", "segment", "period_start",
                                "period_end", "amount", "currency")} == {
        "category": "marketing", "channel": "Webinar", "segment": "SMB",
        "period_start": "2026-03-01", "period_end": "2026-03-31", "amount": 4200.0,
        "currency": "GBP"}
    assert got["custom"]["BudgetedCost"] == 5000.0


def test_a_campaign_without_actual_cost_is_not_spend() -> None:
    with pytest.raises(NotAnInput):
        campaign({**CAMPAIGN, "ActualCost": None}, MappingContext())


def test_a_costed_campaign_without_an_end_date_is_rejected_naming_it() -> None:
    with pytest.raises(Unmappable) as err:
        campaign({**CAMPAIGN, "EndDate": None}, MappingContext())

    assert err.value.field == "EndDate"


def test_a_full_read_yields_the_revenue_quotas_of_every_rep_and_quarter(
        org: FakeSalesforceOrg) -> None:
    batches = read(org, "quotas")
    quotas = records(batches)
    validator = validator_for("quotas")

    assert len(quotas) == 5 * 3  # five sales users × three quarters, one forecast type
    assert all(not validator.validate(q)[1] for q in quotas.values())
    assert {q["period_end"][5:] for q in quotas.values()} <= {"03-31", "06-30", "09-30",
                                                              "12-31"}
    assert all(q["team"] for q in quotas.values())
    assert not any(b.rejects for b in batches)


def test_the_forecast_type_setting_picks_the_quantity_quotas(org: FakeSalesforceOrg) -> None:
    quotas = records(read(org, "quotas", forecast_type="OpportunityLineItemQuantity"))

    assert len(quotas) == 15
    assert all(q["custom"] == {"quota_unit": "quantity"} and q["currency"] is None
               for q in quotas.values())


def test_a_deleted_quota_is_reported_by_get_deleted(org: FakeSalesforceOrg) -> None:
    batches = read(org, "quotas")
    gone = sorted(records(batches))[0]
    org.org.delete("ForecastingQuota", gone, hard=True)  # no recycle bin for quotas
    changed = sorted(records(batches))[1]
    org.org.update("ForecastingQuota", changed, QuotaAmount=1.0)

    again = read(org, "quotas", batches[-1].cursor)

    assert records(again)[changed]["amount"] == 1.0
    assert gone in deleted(again)
    assert len(records(again)) < 5


def test_a_full_read_yields_costed_campaigns_and_drops_uncosted_ones(
        org: FakeSalesforceOrg) -> None:
    batches = read(org, "spend", field_map={"Campaign.Segment__c": "spend.segment"})
    spend = records(batches)

    assert len(spend) == 8  # every fifth campaign has no ActualCost
    assert {"7018d0000000004AAA", "7018d0000000009AAA"} <= deleted(batches)
    assert all(s["segment"] in ("SMB", "Mid-Market", "Enterprise") for s in spend.values())
    assert all(not validator_for("spend").validate(s)[1] for s in spend.values())


def test_a_campaign_whose_cost_is_cleared_or_deleted_leaves_spend(
        org: FakeSalesforceOrg) -> None:
    batches = read(org, "spend")
    first, second = sorted(records(batches))[:2]
    org.org.update("Campaign", first, ActualCost=None)
    org.org.delete("Campaign", second)  # to the recycle bin: queryAll sees it

    again = read(org, "spend", batches[-1].cursor)

    assert {first, second} <= deleted(again)
    assert not records(again).keys() & {first, second}


def test_deals_carry_their_primary_campaign(org: FakeSalesforceOrg) -> None:
    deals = records(read(org, "opportunities"))

    with_campaign = [d for d in deals.values() if d["campaign_id"]]
    assert with_campaign and len(with_campaign) < len(deals)
    assert all(d["campaign_id"].startswith("701") for d in with_campaign)


def test_an_org_without_forecasts_or_campaigns_is_skipped_with_one_note(caplog) -> None:
    dataset = Dataset(**{**DATASET, "forecast_quarters": 0, "campaigns": 0})
    with FakeSalesforceOrg.start(dataset=dataset) as fake, caplog.at_level(logging.INFO):
        batches = read(fake, "quotas") + read(fake, "spend")
        deals = records(read(fake, "opportunities"))

    assert not any(b.records or b.rejects for b in batches)
    notes = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert any("ForecastingQuota" in n for n in notes) and any("Campaign" in n for n in notes)
    assert all(d["campaign_id"] is None for d in deals.values())


def test_a_user_without_forecast_access_is_skipped_with_one_note(
        org: FakeSalesforceOrg, caplog) -> None:
    org.org.faults.add(lambda r: "FROM ForecastingQuota" in r.query.get("q", ""),
                       error="INSUFFICIENT_ACCESS", times=None)

    with caplog.at_level(logging.INFO):
        batches = read(org, "quotas")

    assert not any(b.records for b in batches)
    notes = [r.getMessage() for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(notes) == 1
    assert "ForecastingQuota" in notes[0] and "INSUFFICIENT_ACCESS" in notes[0]


def test_another_query_error_is_still_an_error(org: FakeSalesforceOrg) -> None:
    org.org.faults.add(lambda r: "FROM Campaign" in r.query.get("q", ""),
                       error="MALFORMED_QUERY", times=None)

    with pytest.raises(ConnectorError, match="MALFORMED_QUERY"):
        read(org, "spend")


def test_a_synced_org_gives_cac_by_campaign_type(org: FakeSalesforceOrg, sqlite_store) -> None:
    from crmsync.core.config import MetricsConfig
    from crmsync.metrics import compute
    from crmsync.sync import SyncEngine
    from crmsync_kpis.customers import Cac

    connector = connector_on(org)
    results = SyncEngine(sqlite_store, connector).run(
        ["accounts", "leads", "opportunities", "spend", "quotas", "currency_rates"])
    connector.close()
    assert all(r.status == "success" and not r.rejects for r in results), results

    got = compute(sqlite_store, [Cac()], MetricsConfig(), period="all",
                  dimensions=("channel",)).values
    channels = {v.dimension_value: v for v in got}
    # each customer's first won deal, and the campaign type of its costed primary campaign
    spend = dict(table_rows(sqlite_store, "spend", "remote_id", "channel"))
    o = SYNCED_TABLES["opportunities"]
    with sqlite_store.engine.connect() as conn:
        wins = conn.execute(sa.select(o.c.account_id, o.c.campaign_id)
                            .where(o.c.status == "won", o.c.closed_at.is_not(None),
                                   o.c.account_id.is_not(None))
                            .order_by(o.c.closed_at, o.c.remote_id)).all()
    first: dict[str, str | None] = {}
    for account, campaign_id in wins:
        first.setdefault(account, campaign_id)
    via_campaign = [spend[k] for k in first.values() if k in spend]
    assert via_campaign  # the dataset has customers won through a costed campaign
    for channel in set(via_campaign):
        assert channels[channel].denominator >= via_campaign.count(channel)
        assert channels[channel].value == pytest.approx(
            channels[channel].numerator / channels[channel].denominator)
    # lead sources without spend: no value, never 0
    assert all(v.value is None for k, v in channels.items() if k not in spend.values())


def test_campaigns_link_to_their_record_page_and_quotas_to_none() -> None:
    connector = SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": "https://acme.my.salesforce.com", "session_id": "00D!x"}))

    assert connector.record_url("spend", "701A") == \
        "https://acme.my.salesforce.com/lightning/r/Campaign/701A/view"
    assert connector.record_url("quotas", "0J9A") is None
