"""``opportunity_field_history`` from HubSpot deal property history
(crmsync_hubspot.field_history): mapping per property and edge, the economy of the deal spool,
incremental reads without duplicates, and the sync engine on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_config, table_rows
from crmsync import api
from crmsync.sync.validate import validator_for
from crmsync_hubspot import HubSpotConnector
from crmsync_hubspot.field_history import deal_changes, forecast_code, user_of
from crmsync_hubspot.mapping import StageIndex
from crmsync_hubspot.throttle import Throttle
from crmsync_hubspot.values import Unmappable
from fakes.hs_data import Dataset, iso, parse_ms
from fakes.hubspot_portal import FakeHubSpotPortal

CREATED = "2026-01-05T09:00:00.000Z"
STAGES = StageIndex(stages={
    "qualifiedtobuy": {"remote_id": "qualifiedtobuy", "probability": 0.4},
    "contractsent": {"remote_id": "contractsent", "probability": 0.9}})
USERS = {"9000001": "100001"}


def entry(value: Any, at: str, user: int | None = 9000001, **extra: Any) -> dict[str, Any]:
    out = {"value": value, "timestamp": at, "sourceType": "CRM_UI", **extra}
    if user is not None:
        out["updatedByUserId"] = user
    return out


def changes(history: dict[str, list[dict[str, Any]]], created: str = CREATED
            ) -> list[dict[str, Any]]:
    # HubSpot lists each property's entries newest first
    newest_first = {p: sorted(e, key=lambda x: x["timestamp"], reverse=True)
                    for p, e in history.items()}
    return deal_changes("901", parse_dt(created), newest_first, STAGES, USERS)


def parse_dt(text: str) -> Any:
    from crmsync_hubspot.values import when
    return when({"t": text}, "t")


def _of(found: list[dict[str, Any]], field: str) -> list[tuple[Any, Any]]:
    return [(c["old_value"], c["new_value"]) for c in found if c["field"] == field]


# -- mapping ---------------------------------------------------------------------------------

def test_a_resize_is_one_change_from_the_previous_value() -> None:
    found = changes({"amount": [entry("1000", CREATED), entry("1500.50",
                                                             "2026-02-01T10:00:00.000Z")]})

    (change,) = found
    assert (change["field"], change["old_value"], change["new_value"]) == \
        ("amount", "1000.0", "1500.5")
    assert change["remote_id"] == f"901:amount:{parse_ms('2026-02-01T10:00:00.000Z')}"
    assert change["changed_at"] == parse_dt("2026-02-01T10:00:00.000Z")
    assert change["source"] == "crm"


def test_the_value_a_deal_was_created_with_is_no_change() -> None:
    assert changes({"amount": [entry("1000", "2026-01-05T09:00:00.400Z")]}) == []


def test_a_value_set_after_creation_is_a_change_from_empty() -> None:
    found = changes({"hs_manual_forecast_category": [entry("BEST_CASE",
                                                           "2026-01-20T09:00:00.000Z")]})

    assert _of(found, "forecast_category") == [(None, "best_case")]


def test_a_cleared_value_is_a_change_to_null() -> None:
    found = changes({"closedate": [entry("2026-03-31T00:00:00Z", CREATED),
                                   entry("", "2026-02-01T10:00:00.000Z")]})

    assert _of(found, "expected_close_date") == [("2026-03-31", None)]


def test_a_resave_of_the_same_value_is_no_change() -> None:
    found = changes({"dealstage": [entry("qualifiedtobuy", CREATED),
                                   entry("qualifiedtobuy", "2026-01-09T09:00:00.000Z"),
                                   entry("contractsent", "2026-01-19T09:00:00.000Z")]})

    assert _of(found, "stage_id") == [("qualifiedtobuy", "contractsent")]


def test_a_pushed_close_date_is_a_date_in_either_format() -> None:
    later = str(parse_ms("2026-04-30T00:00:00.000Z"))  # epoch milliseconds
    found = changes({"closedate": [entry("2026-03-31T00:00:00Z", CREATED),
                                   entry(later, "2026-02-01T10:00:00.000Z")]})

    assert _of(found, "expected_close_date") == [("2026-03-31", "2026-04-30")]


def test_an_owner_change_names_the_owner_of_the_user_who_made_it() -> None:
    found = changes({"hubspot_owner_id": [
        entry("100003", CREATED), entry("100001", "2026-02-01T10:00:00.000Z"),
        entry("100002", "2026-02-02T10:00:00.000Z", user=None, sourceId="userId:9000009"),
        entry("100003", "2026-02-03T10:00:00.000Z", user=None, sourceId="workflow-7")]})

    assert _of(found, "owner_id") == [("100003", "100001"), ("100001", "100002"),
                                      ("100002", "100003")]
    assert [c["changed_by"] for c in found] == ["100001", None, None]


def test_a_currency_change_is_the_iso_code() -> None:
    found = changes({"deal_currency_code": [entry("USD", CREATED),
                                            entry("eur", "2026-02-01T10:00:00.000Z")]})

    assert _of(found, "currency") == [("USD", "EUR")]


def test_without_probability_history_the_stages_give_it() -> None:
    found = changes({"dealstage": [entry("qualifiedtobuy", CREATED),
                                   entry("contractsent", "2026-02-01T10:00:00.000Z")]})

    assert _of(found, "probability") == [("0.4", "0.9")]


def test_a_reopened_deal_changes_back() -> None:
    found = changes({"hs_deal_stage_probability": [
        entry("0.9", CREATED), entry("1.0", "2026-02-01T10:00:00.000Z"),
        entry("0.9", "2026-02-05T10:00:00.000Z")]})

    assert _of(found, "probability") == [("0.9", "1.0"), ("1.0", "0.9")]


@pytest.mark.parametrize(("value", "code"), [
    ("OMIT", "omitted"), ("PIPELINE", "pipeline"), ("BEST_CASE", "best_case"),
    ("COMMIT", "commit"), ("CLOSED", "closed"), ("", None), (None, None)])
def test_forecast_categories_are_normalised(value: Any, code: Any) -> None:
    assert forecast_code(value) == code


def test_a_malformed_amount_names_the_property() -> None:
    with pytest.raises(Unmappable) as err:
        changes({"amount": [entry("1000", CREATED), entry("lots", "2026-02-01T10:00:00Z")]})
    assert err.value.field == "amount"


def test_the_user_comes_from_updated_by_or_the_source_id() -> None:
    assert user_of({"updatedByUserId": 5}) == "5"
    assert user_of({"sourceId": "userId:7"}) == "7"
    assert user_of({"sourceId": "sample-contact"}) is None


# -- against the fake portal -------------------------------------------------------------------

DATASET = Dataset(deals=160, contacts=20, companies=10, engagements=20, owners=6,
                  field_changes=True)


def connector_on(fake: FakeHubSpotPortal, **settings: Any) -> HubSpotConnector:
    return HubSpotConnector("hs", HubSpotConnector.validate_settings(
        {"base_url": fake.base_url, "access_token": fake.access_token, "lookback_seconds": 0,
         **settings}), throttle=Throttle(100_000, 10_000, sleep=lambda s: None))


def read(conn: HubSpotConnector, entity: str, cursor: Any = None) -> tuple[list[Any], int]:
    before = conn.api_calls.total
    batches = list(conn.read(entity, cursor))
    return batches, conn.api_calls.total - before


def records(batches: list[Any]) -> dict[str, dict[str, Any]]:
    return {r["remote_id"]: r for b in batches for r in b.records}


@pytest.fixture
def portal(fake_hubspot_factory: Callable[..., FakeHubSpotPortal]) -> FakeHubSpotPortal:
    return fake_hubspot_factory(DATASET)


def test_field_history_costs_one_batch_read_per_50_changed_deals(portal) -> None:
    conn = connector_on(portal)
    read(conn, "users")
    read(conn, "opportunities")

    fields, field_calls = read(conn, "opportunity_field_history")
    _, stage_calls = read(conn, "opportunity_stage_history")

    assert field_calls == math.ceil(DATASET.deals / 50)
    assert stage_calls == 0  # dealstage histories came with the field history's reads
    found = records(fields).values()
    validator = validator_for("opportunity_field_history")
    assert all(not validator.validate(c)[1] for c in found)
    assert {c["field"] for c in found} == {"stage_id", "amount", "currency", "owner_id",
                                            "expected_close_date", "probability",
                                            "forecast_category"}
    assert any(c["changed_by"] for c in found)


def test_the_last_change_of_a_property_is_the_deals_current_value(portal) -> None:
    conn = connector_on(portal)
    deals = records(read(conn, "opportunities")[0])
    found = records(read(conn, "opportunity_field_history")[0])

    last: dict[tuple[str, str], Any] = {}
    for c in sorted(found.values(), key=lambda c: c["changed_at"]):
        last[(c["opportunity_id"], c["field"])] = c["new_value"]
    for (deal, field), value in last.items():
        now = deals[deal][field]
        expected = None if now is None else str(now) if field not in ("amount",
                                                                      "probability") \
            else repr(float(now))
        assert value == expected, (deal, field)


def test_an_incremental_read_adds_the_change_and_repeats_none(portal) -> None:
    conn = connector_on(portal)
    first, _ = read(conn, "opportunity_field_history")
    deal = next(iter(records(first).values()))["opportunity_id"]
    portal.portal.update("deals", deal, {"amount": "123456", "hubspot_owner_id": "100002"})

    again, _ = read(connector_on(portal), "opportunity_field_history", first[-1].cursor)

    new = {k: v for k, v in records(again).items() if k not in records(first)}
    assert sorted(c["field"] for c in new.values()) == ["amount", "owner_id"]
    assert records(again).keys() - new.keys() <= records(first).keys()


def test_a_deal_whose_history_does_not_parse_is_rejected_alone(portal) -> None:
    conn = connector_on(portal)
    first, _ = read(conn, "opportunity_field_history")
    deal, other = sorted({c["opportunity_id"] for c in records(first).values()})[:2]
    portal.portal.update("deals", deal, {"amount": "lots"})
    portal.portal.update("deals", other, {"amount": "777"})

    again, _ = read(connector_on(portal), "opportunity_field_history", first[-1].cursor)

    rejects = [r for b in again for r in b.rejects]
    assert [(r.remote_id, r.field) for r in rejects] == [(deal, "amount")]
    assert {c["opportunity_id"] for c in records(again).values()} == {other}


def test_history_fields_are_all_of_them_when_the_table_is_read(portal) -> None:
    assert connector_on(portal).history_fields() == {
        "stage_id", "amount", "currency", "expected_close_date", "owner_id", "probability",
        "forecast_category"}
    assert connector_on(portal, objects=["opportunities"]).history_fields() == frozenset()


def test_a_sync_stores_the_changes_once_and_the_forecast_categories(
        portal, store, registry, monkeypatch) -> None:
    monkeypatch.setenv("HS_TOKEN", portal.access_token)
    config = make_config(store.url, hub={
        "type": "hubspot", "base_url": portal.base_url, "access_token": "${HS_TOKEN}",
        "rate_limit": 100_000, "search_rate_limit": 10_000, "lookback_seconds": 0})
    report = api.sync(config, registry, store=store)
    deal = table_rows(store, "opportunities", "remote_id")[3][0]
    portal.portal.update("deals", deal, {"closedate": iso(parse_ms("2027-01-31"))})

    again = api.sync(config, registry, store=store)

    assert report.status == again.status == "success"
    rows = table_rows(store, "opportunity_field_history", "remote_id", "opportunity_id",
                      "field", "new_value")
    assert len({r[0] for r in rows}) == len(rows)
    assert (deal, "expected_close_date", "2027-01-31") in {r[1:] for r in rows}
    with store.engine.connect() as conn:
        categories = set(conn.execute(sa.text(
            "select distinct forecast_category from opportunities")).scalars())
    assert {"best_case", "commit", None} <= categories
