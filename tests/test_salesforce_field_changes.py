"""``opportunity_field_history`` from Salesforce (crmsync_salesforce.field_history): field
history rows and OpportunityHistory snapshot differences, mapped to the schema's encoding, read
from the stage-history pass without calls of their own, incremental and delete-aware."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync import Deletion
from crmsync.plugin.connector import Batch
from crmsync.sync.validate import validator_for
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.field_history import FieldChanges, deletions, forecast_code
from crmsync_salesforce.pipelines import Pipelines
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import PREFIXES, Dataset, make_id
from fakes.sf_field_history import save_with_history

DATASET = dict(opportunities=60, activities=10, contacts=10, leads=10)
STAGES = Pipelines(stage_ids={"Prospecting": "01J0", "Closed Won": "01J8",
                              "Negotiation/Review": "01J7"})
TRACKED = {"StageName": "stage_id", "Amount": "amount", "Owner": "owner_id",
           "CurrencyIsoCode": "currency", "CloseDate": "expected_close_date"}
SNAPSHOT = {"StageName": "stage_id", "Amount": "amount", "CloseDate": "expected_close_date",
            "Probability": "probability", "ForecastCategory": "forecast_category"}
OPP = "0068d0000000001AAA"


def fh(rid: str, field: str, old: Any, new: Any, at: str = "2026-03-01T10:00:00.000+0000",
       kind: str | None = None, by: str = "0058d0000000001AAA") -> dict[str, Any]:
    """An OpportunityFieldHistory row as read (tagged with its object)."""
    row = {"Id": rid, "OpportunityId": OPP, "Field": field, "OldValue": old, "NewValue": new,
           "CreatedDate": at, "CreatedById": by, "IsDeleted": False,
           "_object": "OpportunityFieldHistory"}
    if kind:
        row["DataType"] = kind
    return row


def oh(rid: str, at: str, stage: str = "Prospecting", amount: Any = 1000.0,
       close: Any = "2026-06-30", prob: Any = 10.0, fc: Any = "Pipeline") -> dict[str, Any]:
    """An OpportunityHistory snapshot row as read."""
    return {"Id": rid, "OpportunityId": OPP, "StageName": stage, "Amount": amount,
            "CloseDate": close, "Probability": prob, "ForecastCategory": fc,
            "CreatedDate": at, "CreatedById": "0058d0000000002AAA", "IsDeleted": False,
            "SystemModstamp": at, "_object": "OpportunityHistory"}


def changes_of(*rows: dict[str, Any], tracked: dict[str, str] | None = None
               ) -> list[dict[str, Any]]:
    deriver = FieldChanges(STAGES, TRACKED if tracked is None else tracked, SNAPSHOT)
    deriver.add(rows)
    found, bad = deriver.changes(OPP)
    assert not bad
    return found


def _only(found: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(found) == 1, found
    return found[0]


# -- mapping, field by field ---------------------------------------------------------------

def test_an_amount_change_is_decimal_text_with_author_and_time() -> None:
    change = _only(changes_of(fh("017A", "Amount", 12500, 9000.5, kind="Currency")))

    assert (change["field"], change["old_value"], change["new_value"]) == \
        ("amount", "12500.0", "9000.5")
    assert change["remote_id"] == "017A" and change["source"] == "crm"
    assert change["changed_by"] == "0058d0000000001AAA"
    assert change["changed_at"].isoformat() == "2026-03-01T10:00:00+00:00"


def test_a_cleared_amount_has_no_new_value() -> None:
    change = _only(changes_of(fh("017A", "Amount", 12500, None, kind="Currency")))

    assert (change["old_value"], change["new_value"]) == ("12500.0", None)


def test_bulk_text_values_encode_like_rest_numbers() -> None:
    rest = _only(changes_of(fh("017A", "Amount", 12500.0, 13000.0)))
    bulk = _only(changes_of(fh("017A", "Amount", "12500", "13000.00")))

    assert (rest["old_value"], rest["new_value"]) == (bulk["old_value"], bulk["new_value"])


def test_a_stage_name_becomes_the_stage_id_in_the_deal_pipeline() -> None:
    change = _only(changes_of(fh("017A", "StageName", "Negotiation/Review", "Closed Won")))

    assert (change["field"], change["old_value"], change["new_value"]) == \
        ("stage_id", "01J7", "01J8")


def test_a_reopened_deal_is_a_change_back_to_an_open_stage() -> None:
    found = changes_of(
        fh("017A", "StageName", "Negotiation/Review", "Closed Won"),
        fh("017B", "StageName", "Closed Won", "Negotiation/Review",
           at="2026-03-05T10:00:00.000+0000"))

    assert [(c["old_value"], c["new_value"]) for c in found] == \
        [("01J7", "01J8"), ("01J8", "01J7")]


def test_an_owner_change_is_one_change_of_ids_not_names() -> None:
    found = changes_of(
        fh("017A", "Owner", "0058d0000000003AAA", "0058d0000000004AAA", kind="EntityId"),
        fh("017B", "Owner", "Ada Alvarez", "Ben Brown", kind="Text"))

    change = _only(found)
    assert (change["field"], change["remote_id"]) == ("owner_id", "017A")
    assert (change["old_value"], change["new_value"]) == \
        ("0058d0000000003AAA", "0058d0000000004AAA")


def test_without_data_type_the_owner_name_row_is_told_by_its_values() -> None:
    found = changes_of(fh("017A", "Owner", "005000000000001", "005000000000002"),
                       fh("017B", "Owner", "Ada Alvarez", "Ben Brown"))

    assert _only(found)["new_value"] == "005000000000002"


def test_a_currency_change_is_the_iso_code() -> None:
    change = _only(changes_of(fh("017A", "CurrencyIsoCode", "usd", "EUR")))

    assert (change["field"], change["old_value"], change["new_value"]) == \
        ("currency", "USD", "EUR")


def test_a_close_date_push_is_an_iso_date() -> None:
    change = _only(changes_of(fh("017A", "CloseDate", "2026-06-30", "2026-07-31T00:00:00",
                                 kind="Date")))

    assert (change["field"], change["old_value"], change["new_value"]) == \
        ("expected_close_date", "2026-06-30", "2026-07-31")


def test_probability_and_forecast_category_from_snapshots() -> None:
    found = changes_of(oh("008A", "2026-03-01T10:00:00.000+0000"),
                       oh("008B", "2026-03-02T10:00:00.000+0000", prob=60.0, fc="BestCase"))

    assert {(c["field"], c["old_value"], c["new_value"]) for c in found} == {
        ("probability", "0.1", "0.6"), ("forecast_category", "pipeline", "best_case")}
    assert {c["remote_id"] for c in found} == {"008B:probability", "008B:forecast_category"}


@pytest.mark.parametrize(("value", "code"), [
    ("Best Case", "best_case"), ("BestCase", "best_case"), ("Commit", "commit"),
    ("Forecast", "commit"), ("Closed", "closed"), ("Omitted", "omitted"),
    ("Pipeline", "pipeline"), (None, None), ("", None), ("Upside Plus", "upside_plus")])
def test_forecast_categories_are_normalised(value: Any, code: Any) -> None:
    assert forecast_code(value) == code


def test_a_malformed_value_is_a_reject_naming_the_field() -> None:
    deriver = FieldChanges(STAGES, TRACKED, SNAPSHOT)
    deriver.add([fh("017A", "Amount", "12500", "lots")])

    found, bad = deriver.changes(OPP)

    assert not found and bad and getattr(bad[0][1], "field", None) == "Amount"


# -- two sources, one change ---------------------------------------------------------------

def test_a_change_in_both_objects_is_stored_once_from_field_history() -> None:
    at = "2026-03-02T10:00:00.000+0000"
    found = changes_of(oh("008A", "2026-03-01T10:00:00.000+0000"),
                       oh("008B", at, amount=1500.0), fh("017A", "Amount", 1000, 1500, at=at))

    change = _only(found)
    assert (change["remote_id"], change["new_value"]) == ("017A", "1500.0")


def test_a_field_not_tracked_comes_from_the_snapshots() -> None:
    found = changes_of(oh("008A", "2026-03-01T10:00:00.000+0000"),
                       oh("008B", "2026-03-02T10:00:00.000+0000", amount=1500.0),
                       tracked={})

    change = _only(found)
    assert (change["remote_id"], change["old_value"], change["new_value"]) == \
        ("008B:amount", "1000.0", "1500.0")


def test_a_snapshot_change_older_than_field_history_fills_the_gap() -> None:
    found = changes_of(oh("008A", "2024-01-01T10:00:00.000+0000"),
                       oh("008B", "2024-02-01T10:00:00.000+0000", amount=1500.0),
                       fh("017A", "Amount", 1500, 2000, at="2026-03-02T10:00:00.000+0000"))

    assert [c["remote_id"] for c in found] == ["008B:amount", "017A"]


def test_a_deleted_snapshot_takes_its_changes_with_it() -> None:
    gone = deletions([Deletion("008B")], SNAPSHOT.values())

    assert {d.remote_id for d in gone} == {"008B", *(f"008B:{c}" for c in SNAPSHOT.values())}


# -- against the fake org ------------------------------------------------------------------

@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET, field_history=True,
                                                 field_changes=True)) as fake:
        yield fake


def connector_on(fake: FakeSalesforceOrg, **settings: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake.instance_url, "session_id": fake.session_id,
         "ca_bundle": fake.ca_bundle, **settings}))


def read_changes(fake: FakeSalesforceOrg, cursor: Any = None, **settings: Any) -> list[Batch]:
    return list(connector_on(fake, **settings).read("opportunity_field_history", cursor))


def by_id(batches: list[Batch]) -> dict[str, dict[str, Any]]:
    return {r["remote_id"]: r for b in batches for r in b.records}


def _deal(fake: FakeSalesforceOrg, n: int) -> dict[str, Any]:
    deal = fake.org.get("Opportunity", make_id(PREFIXES["Opportunity"], n))
    assert deal is not None
    return deal


def test_every_change_is_valid_and_each_field_is_represented(org: FakeSalesforceOrg) -> None:
    found = by_id(read_changes(org))
    validator = validator_for("opportunity_field_history")

    assert all(not validator.validate(c)[1] for c in found.values())
    assert {c["field"] for c in found.values()} == {
        "stage_id", "amount", "expected_close_date", "owner_id", "probability",
        "forecast_category"}


def test_the_last_change_of_each_field_is_the_deals_current_value(
        org: FakeSalesforceOrg) -> None:
    found = by_id(read_changes(org))
    deals = {r["remote_id"]: r for b in connector_on(org).read("opportunities", None)
             for r in b.records}

    last: dict[tuple[str, str], dict[str, Any]] = {}
    for c in sorted(found.values(), key=lambda c: c["changed_at"]):
        last[(c["opportunity_id"], c["field"])] = c
    for (deal, field), change in last.items():
        now = deals[deal][field]
        assert change["new_value"] == (now if field in ("stage_id", "owner_id",
                                                        "forecast_category")
                                       else str(now) if field == "expected_close_date"
                                       else repr(float(now))), (deal, field)


def test_the_field_read_replays_the_stage_history_pass_without_a_call(
        org: FakeSalesforceOrg) -> None:
    connector = connector_on(org)
    list(connector.read("opportunity_stage_history", None))
    calls = dict(connector.api_calls.by_endpoint)

    replayed = by_id(list(connector.read("opportunity_field_history", None)))

    assert connector.api_calls.by_endpoint == calls
    assert replayed == by_id(read_changes(org))  # a read of its own finds the same


def test_a_field_read_from_another_cursor_reads_the_objects_itself(
        org: FakeSalesforceOrg) -> None:
    first = read_changes(org)
    connector = connector_on(org)
    list(connector.read("opportunity_stage_history", None))
    calls = connector.api_calls.total

    list(connector.read("opportunity_field_history", first[-1].cursor))

    assert connector.api_calls.total > calls


def test_history_fields_follow_the_fields_the_org_tracks() -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET, field_history=True,
                                                 tracked_fields=("StageName",))) as fake:
        few = connector_on(fake).history_fields()
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET)) as fake:
        none = connector_on(fake).history_fields()
        off = connector_on(fake, objects={"opportunity_field_history": False}).history_fields()

    assert few == none == {"stage_id", "amount", "expected_close_date", "probability",
                           "forecast_category"}
    assert off == frozenset()


def test_owner_changes_need_owner_tracking(org: FakeSalesforceOrg) -> None:
    assert "owner_id" in connector_on(org).history_fields()
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET, field_history=True,
                                                 field_changes=True,
                                                 tracked_fields=("StageName",))) as fake:
        found = by_id(read_changes(fake))

    assert "owner_id" not in {c["field"] for c in found.values()}
    assert {"amount", "expected_close_date"} <= {c["field"] for c in found.values()}


def test_an_incremental_read_adds_the_new_changes_and_repeats_none(
        org: FakeSalesforceOrg) -> None:
    full = read_changes(org)
    before = by_id(full)
    deal = _deal(org, 4)
    at = org.org.now()
    rows = save_with_history(org.org, deal["Id"], at=at, by=deal["OwnerId"],
                             Amount=deal["Amount"] + 2500, CloseDate="2027-01-31",
                             OwnerId=make_id(PREFIXES["User"], 1))

    again = read_changes(org, full[-1].cursor)

    found = by_id(again)
    new = {k: v for k, v in found.items() if k not in before}
    assert {c["field"] for c in new.values()} == {"amount", "expected_close_date", "owner_id"}
    assert set(new) <= set(rows["OpportunityFieldHistory"])
    assert all(found[k] == before[k] for k in found if k in before)  # re-sent, unchanged
    assert by_id(read_changes(org, again[-1].cursor)).keys() <= found.keys()


def test_a_deleted_field_history_row_deletes_its_change(org: FakeSalesforceOrg) -> None:
    full = read_changes(org)
    deal = _deal(org, 6)
    rows = save_with_history(org.org, deal["Id"], at=org.org.now(), by=deal["OwnerId"],
                             Amount=deal["Amount"] + 100)
    middle = read_changes(org, full[-1].cursor)
    (row,) = rows["OpportunityFieldHistory"]
    org.org.delete("OpportunityFieldHistory", row, hard=True)

    after = read_changes(org, middle[-1].cursor)

    assert row in by_id(middle)
    assert row in {d.remote_id for b in after for d in b.deleted}


def test_rest_and_bulk_reads_derive_the_same_changes(org: FakeSalesforceOrg,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    by_rest = by_id(read_changes(org))
    bulk = connector_on(org, bulk_threshold=0)

    by_bulk = by_id(list(bulk.read("opportunity_field_history", None)))

    assert by_bulk == by_rest and len(by_rest) > 200
    assert bulk.api_calls.by_endpoint["POST /jobs/query"] == 2


def test_a_field_cursor_ahead_of_the_stage_cursor_replays_and_falls_back_into_step(
        org: FakeSalesforceOrg) -> None:
    first = connector_on(org)
    stage_cursor = [b.cursor for b in first.read("opportunity_stage_history", None)][-1]
    field_cursor = [b.cursor for b in first.read("opportunity_field_history", None)][-1]
    org.org.clock = lambda: time.time() + 180  # the next runs are minutes later
    deal = _deal(org, 8)
    save_with_history(org.org, deal["Id"], at=org.org.now(), by=deal["OwnerId"],
                      Amount=deal["Amount"] + 10)
    alone = later(connector_on(org))  # the field table alone, one run more
    ahead = list(alone.read("opportunity_field_history", field_cursor))[-1].cursor
    again = save_with_history(org.org, deal["Id"], at=org.org.now() + 1, by=deal["OwnerId"],
                              CloseDate="2027-02-28")
    connector = later(connector_on(org))
    stages = list(connector.read("opportunity_stage_history", stage_cursor))
    calls = connector.api_calls.total

    fields = list(connector.read("opportunity_field_history", ahead))

    assert connector.api_calls.total == calls  # replayed
    assert set(again["OpportunityFieldHistory"]) <= set(by_id(fields))
    assert fields[-1].cursor == stages[-1].cursor


def later(connector: SalesforceConnector) -> SalesforceConnector:
    """The connector with a clock three minutes ahead (the org's, after it was moved)."""
    connector.clock = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=3)
    return connector


def test_a_field_cursor_behind_the_stage_cursor_reads_for_itself(org: FakeSalesforceOrg
                                                                  ) -> None:
    first = connector_on(org)
    list(first.read("opportunity_stage_history", None))
    behind = [b.cursor for b in first.read("opportunity_field_history", None)][-1]
    deal = _deal(org, 8)
    save_with_history(org.org, deal["Id"], at=org.org.now(), by=deal["OwnerId"],
                      Amount=deal["Amount"] + 10)
    stage_cursor = [b.cursor for b in connector_on(org).read("opportunity_stage_history",
                                                             behind)][-1]
    connector = connector_on(org)
    list(connector.read("opportunity_stage_history", stage_cursor))
    calls = connector.api_calls.total

    fields = list(connector.read("opportunity_field_history", behind))

    assert connector.api_calls.total > calls
    assert any(c["opportunity_id"] == deal["Id"] and c["field"] == "amount"
               and c["new_value"] == repr(float(deal["Amount"] + 10))
               for c in by_id(fields).values())
