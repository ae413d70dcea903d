"""Salesforce Product2 and OpportunityLineItem (crmsync_salesforce.line_items) against the fake
org with ``Dataset(products=N)``: mapping, incremental reads, deletes, revenue-schedule
defaults, ``field_map`` frequencies, and an org without Products skipped with a note."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.plugin.connector import Batch
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.line_items import SCHEDULE_KEY, frequency_of, line_item, product
from crmsync_salesforce.mapping import MappingContext
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset

DATASET = dict(opportunities=30, activities=5, contacts=5, leads=5, products=6)


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
    return list(connector_on(fake, **settings).read(entity, cursor))


def records(batches: list[Batch]) -> dict[str, dict[str, Any]]:
    return {r["remote_id"]: r for b in batches for r in b.records}


def test_discount_percentage_becomes_an_amount_and_total_price_the_amount() -> None:
    got = line_item({"Id": "00k1", "OpportunityId": "006A", "Product2Id": "01tA",
                     "Quantity": 4.0, "UnitPrice": 250.0, "Discount": 10.0,
                     "TotalPrice": 900.0, "ServiceDate": "2026-03-01",
                     "CurrencyIsoCode": "EUR"}, MappingContext(multi_currency=True))

    assert {k: got[k] for k in ("opportunity_id", "product_id", "discount", "amount",
                                "currency", "billing_start_date")} == {
        "opportunity_id": "006A", "product_id": "01tA", "discount": 100.0, "amount": 900.0,
        "currency": "EUR", "billing_start_date": "2026-03-01"}


@pytest.mark.parametrize(("schedule", "expected"), [
    (("Repeat", "Monthly", 12), ("monthly", 12)), (("Repeat", "Yearly", 3), ("annually", 36)),
    (("Repeat", "Quarterly", 4), ("quarterly", 12)), (("Divide", "Monthly", 12), (None, None)),
    (("Repeat", "Daily", 30), (None, None))])
def test_a_repeating_revenue_schedule_is_the_products_billing(schedule, expected) -> None:
    kind, period, count = schedule
    got = product({"Id": "01t1", "Family": "Analytics", "CanUseRevenueSchedule": True,
                   "RevenueScheduleType": kind, "RevenueInstallmentPeriod": period,
                   "NumberOfRevenueInstallments": count}, MappingContext())

    assert (got["billing_frequency"], got["term_months"]) == expected
    assert got["family"] == "Analytics"


@pytest.mark.parametrize(("label", "value"), [("Monthly", "monthly"), ("Annual", "annually"),
                                              ("Semiannual", "per_six_months"),
                                              ("One-Time", "one_time"), ("", None)])
def test_billing_labels_are_normalised(label: str, value: str | None) -> None:
    assert frequency_of(label) == value


def test_a_full_read_yields_every_product_and_line_item(org: FakeSalesforceOrg) -> None:
    products = records(read(org, "products"))
    lines = records(read(org, "opportunity_line_items"))

    assert len(products) == 6
    assert {p["family"] for p in products.values()} == {"Analytics", "Platform", "Services"}
    assert len(lines) == 60
    assert all(line["product_id"] in products for line in lines.values())
    assert all(line["opportunity_id"].startswith("006") for line in lines.values())


def test_an_incremental_read_returns_changed_and_deleted_line_items(
        org: FakeSalesforceOrg) -> None:
    batches = read(org, "opportunity_line_items")
    cursor = batches[-1].cursor
    ids = sorted(records(batches))
    org.org.update("OpportunityLineItem", ids[0], Quantity=99.0)
    org.org.delete("OpportunityLineItem", ids[1])

    again = read(org, "opportunity_line_items", cursor)

    changed = records(again)
    assert changed[ids[0]]["quantity"] == 99.0
    deleted = {d.remote_id for b in again for d in b.deleted} | {
        r["remote_id"] for r in changed.values() if r.get("is_deleted")}
    assert ids[1] in deleted
    assert len(changed) < 10


def test_field_map_sets_a_lines_frequency_and_term_normalised() -> None:
    ctx = MappingContext(field_map={"SBQQ__BillingFrequency__c": "billing_frequency",
                                    "SBQQ__SubscriptionTerm__c": "term_months"})

    got = line_item({"Id": "00k1", "OpportunityId": "006A", "TotalPrice": 1200.0,
                     "SBQQ__BillingFrequency__c": "Annual", "SBQQ__SubscriptionTerm__c": 24},
                    ctx)

    assert (got["billing_frequency"], got["term_months"]) == ("annually", 24)


def test_a_revenue_schedule_gives_frequency_term_start_and_amount_per_period() -> None:
    monthly = [(f"2026-{m:02d}-15", 100.0) for m in range(1, 13)]
    got = line_item({"Id": "00k1", "OpportunityId": "006A", "TotalPrice": 1200.0,
                     "ServiceDate": "2026-01-01", SCHEDULE_KEY: monthly}, MappingContext())

    assert (got["billing_frequency"], got["term_months"], got["billing_start_date"],
            got["amount"]) == ("monthly", 12, "2026-01-15", 100.0)


def test_yearly_installments_are_annual_billing() -> None:
    got = line_item({"Id": "00k1", "OpportunityId": "006A", "TotalPrice": 3000.0,
                     SCHEDULE_KEY: [("2026-01-01", 1000.0), ("2027-01-01", 1000.0),
                                    ("2028-01-01", 1000.0)]}, MappingContext())

    assert (got["billing_frequency"], got["term_months"], got["amount"]) == \
        ("annually", 36, 1000.0)


def test_scheduled_lines_read_their_installments_150_lines_a_query(
        org: FakeSalesforceOrg) -> None:
    connector = connector_on(org)
    lines = records(list(connector.read("opportunity_line_items", None)))

    by_product = {}
    for line in lines.values():
        by_product.setdefault(line["name"], set()).add(
            (line.get("billing_frequency"), line.get("term_months")))
    assert by_product["Analytics Pro"] == {("monthly", 12)}          # Repeat, 12 × Monthly
    assert by_product["Analytics Enterprise"] == {("annually", 36)}  # Repeat, 3 × Yearly
    assert by_product["Onboarding"] == {(None, None)}                # no schedule
    scheduled = sum(1 for line in lines.values() if line.get("billing_frequency"))
    asked = [r.query.get("q", "") for r in org.requests
             if "FROM OpportunityLineItemSchedule" in r.query.get("q", "")]
    assert len(asked) == -(-scheduled // 150)


def test_an_org_without_products_is_skipped_with_one_note(caplog) -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "products": 0})) as fake, \
            caplog.at_level(logging.INFO):
        batches = read(fake, "products") + read(fake, "opportunity_line_items")

    assert not any(b.records for b in batches)
    notes = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert any("Product2" in n for n in notes) and any("OpportunityLineItem" in n for n in notes)
