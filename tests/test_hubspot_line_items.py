"""HubSpot products and line items through ``crmsync.api.sync`` against the fake portal:
mapping of the recurring billing properties, the deal association, incremental reads,
archived line items, and the missing ``e-commerce`` scope skipped cleanly."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest

from conftest import make_config, table_rows
from crmsync import api
from crmsync.store import Store
from crmsync_hubspot.line_items import line_item_to_line_item, product_to_product, term_months
from fakes.hs_data import Dataset
from fakes.hs_products import SCOPE
from fakes.hubspot_portal import FakeHubSpotPortal

ENTITIES = ("products", "opportunity_line_items")
DATA = Dataset(deals=40, contacts=10, companies=5, engagements=0, owners=3, products=6,
               line_items=90)


@pytest.fixture
def fake(fake_hubspot_factory: Callable[..., FakeHubSpotPortal]) -> FakeHubSpotPortal:
    return fake_hubspot_factory(DATA)


@pytest.fixture
def sync(fake: FakeHubSpotPortal, sqlite_store: Store, registry, monkeypatch
         ) -> Callable[..., Any]:
    monkeypatch.setenv("HS_TOKEN", fake.access_token)
    config = make_config(sqlite_store.url, hub={
        "type": "hubspot", "base_url": fake.base_url, "access_token": "${HS_TOKEN}",
        "rate_limit": 100_000, "search_rate_limit": 10_000,
        "field_map": {"products": {"product_line": "family"}}})

    def run(entities: tuple[str, ...] = ENTITIES, **kw: Any):
        return api.sync(config, registry, entities=entities, store=sqlite_store, **kw)

    return run


def rows(store: Store, table: str, *columns: str) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in table_rows(store, table, "remote_id", *columns)}


@pytest.mark.parametrize(("value", "months"), [("P12M", 12), ("P1Y", 12), ("P2Y6M", 30),
                                               ("p36m", 36), ("", None), ("monthly", None)])
def test_billing_period_durations_become_months(value: str, months: int | None) -> None:
    assert term_months({"hs_recurring_billing_period": value}) == months


def test_a_recurring_line_item_maps_frequency_term_start_and_its_deal() -> None:
    record = {"id": "77", "properties": {
        "name": "Analytics Pro", "hs_product_id": "15", "quantity": "3", "price": "120",
        "discount": "6", "amount": "342", "hs_line_item_currency_code": "EUR",
        "recurringbillingfrequency": "monthly", "hs_recurring_billing_period": "P12M",
        "hs_recurring_billing_start_date": "2026-02-01T00:00:00Z",
        "hs_lastmodifieddate": "2026-02-03T10:00:00.000Z"},
        "associations": {"deals": {"results": [{"id": "9001"}, {"id": "9001"}]}}}

    got = line_item_to_line_item(record)

    assert got is not None
    assert {k: got[k] for k in ("opportunity_id", "product_id", "quantity", "unit_price",
                                "discount", "amount", "currency", "billing_frequency",
                                "term_months", "billing_start_date")} == {
        "opportunity_id": "9001", "product_id": "15", "quantity": 3.0, "unit_price": 120.0,
        "discount": 18.0, "amount": 342.0, "currency": "EUR", "billing_frequency": "monthly",
        "term_months": 12, "billing_start_date": "2026-02-01"}


def test_a_line_item_without_frequency_is_one_time_without_term() -> None:
    got = line_item_to_line_item({"id": "1", "properties": {
        "amount": "5000", "hs_recurring_billing_period": "P12M"},
        "associations": {"deals": {"results": [{"id": "9"}]}}})

    assert got is not None
    assert (got["billing_frequency"], got["term_months"]) == ("one_time", None)


def test_a_line_item_on_no_deal_is_left_out() -> None:
    assert line_item_to_line_item({"id": "1", "properties": {"amount": "5"}}) is None


def test_a_product_maps_sku_price_and_default_billing() -> None:
    got = product_to_product({"id": "5", "properties": {
        "name": "Platform Core", "hs_sku": "SKU-2", "price": "1500",
        "recurringbillingfrequency": "quarterly", "hs_recurring_billing_period": "P1Y"}})

    assert (got["code"], got["unit_price"], got["billing_frequency"], got["term_months"]) == \
        ("SKU-2", 1500.0, "quarterly", 12)


def test_sync_reads_every_product_and_line_item_with_its_deal(sync, fake, sqlite_store
                                                              ) -> None:
    results = sync()

    assert results.ok, results
    products = rows(sqlite_store, "products", "family", "billing_frequency")
    assert set(products) == set(fake.portal.ids("products"))
    assert {f for f, _ in products.values()} == {"Analytics", "Platform", "Services"}
    lines = rows(sqlite_store, "opportunity_line_items", "opportunity_id", "product_id",
                 "billing_frequency")
    assert set(lines) == set(fake.portal.ids("line_items"))
    deals = set(fake.portal.ids("deals"))
    assert all(deal in deals and product in products for deal, product, _ in lines.values())
    assert {f for _, _, f in lines.values()} >= {"monthly", "annually", "one_time"}


def test_an_archived_line_item_is_deleted_on_the_next_sync(sync, fake, sqlite_store) -> None:
    sync()
    gone = fake.portal.ids("line_items")[3]
    fake.portal.archive("line_items", gone)

    sync()

    deleted = {r[0] for r in table_rows(sqlite_store, "opportunity_line_items", "remote_id",
                                        "is_deleted") if r[1]}
    assert deleted == {gone}


def test_a_second_sync_reads_only_changed_line_items(sync, fake, sqlite_store) -> None:
    sync()
    changed = fake.portal.ids("line_items")[5]
    fake.portal.update("line_items", changed, {"quantity": "99"})
    fake.calls.clear()

    sync(("opportunity_line_items",))

    searches = [c for c in fake.calls if c.path.endswith("/line_items/search")]
    assert searches and all(len(c.body.get("filterGroups") or []) for c in searches)
    assert rows(sqlite_store, "opportunity_line_items", "quantity")[changed] == (99.0,)


def test_without_the_ecommerce_scope_both_entities_are_skipped_with_a_note(
        sync, fake, sqlite_store, caplog) -> None:
    fake.portal.scopes.discard(SCOPE)

    with caplog.at_level(logging.WARNING):
        results = sync()

    assert results.ok, results
    assert rows(sqlite_store, "products") == {} == rows(sqlite_store, "opportunity_line_items")
    notes = [r.getMessage() for r in caplog.records if "e-commerce" in r.getMessage()]
    assert len(notes) == 2 and all("\n" not in n for n in notes)


def test_line_items_feed_mrr(sync, sqlite_store, registry) -> None:
    sync(("accounts", "pipelines", "stages", "opportunities", *ENTITIES))
    from crmsync.core.config import MetricsConfig
    from crmsync.metrics import compute
    from crmsync_kpis.subscriptions import Mrr

    values = compute(sqlite_store, [Mrr()], MetricsConfig(), period="month",
                     as_of=dt.datetime(2026, 6, 1)).values

    assert values and any(v.value and v.value > 0 for v in values)
