"""Stage history from OpportunityHistory and OpportunityFieldHistory together
(crmsync_salesforce.history_reader), against fake orgs with ``Dataset(field_history=True)``:
each opportunity's StageName field-history rows sit at exactly its OpportunityHistory rows'
times, as Salesforce writes them in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.plugin.connector import Batch
from crmsync_salesforce import SalesforceConnector
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import PREFIXES, Dataset, make_id

DATASET = dict(opportunities=60, activities=10, contacts=10, leads=10)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 200 rows: both objects' full reads span several pages."""
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET, field_history=True)) as fake:
        yield fake


def connector_on(fake: FakeSalesforceOrg, **settings: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake.instance_url, "session_id": fake.session_id,
         "ca_bundle": fake.ca_bundle, **settings}))


def entries(batches: list[Batch]) -> dict[str, dict[str, Any]]:
    """Entries as the store ends up with them (a re-sent entry replaces the earlier one)."""
    return {r["remote_id"]: r for b in batches for r in b.records}


def read(fake: FakeSalesforceOrg, cursor: Any = None, **settings: Any) -> list[Batch]:
    return list(connector_on(fake, **settings).read("opportunity_stage_history", cursor))


def _deal(fake: FakeSalesforceOrg, n: int) -> dict[str, Any]:
    deal = fake.org.get("Opportunity", make_id(PREFIXES["Opportunity"], n))
    assert deal is not None
    return deal


def _stage_change(fake: FakeSalesforceOrg, deal: dict[str, Any], new: str, at: int) -> str:
    """A stage change only field history records (its OpportunityHistory row is missing)."""
    return fake.org.insert("OpportunityFieldHistory", stamp=at, OpportunityId=deal["Id"],
                           Field="StageName", DataType="Text", OldValue=deal["StageName"],
                           NewValue=new, CreatedById=deal["OwnerId"])


def _last_entry(found: dict[str, dict[str, Any]], deal_id: str) -> dict[str, Any]:
    return max((e for e in found.values() if e["opportunity_id"] == deal_id),
               key=lambda e: e["entered_at"])


def test_field_history_that_agrees_with_opportunity_history_adds_nothing(
        org: FakeSalesforceOrg, small_pages: None) -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET)) as without:
        expected = entries(read(without))

    found = entries(read(org))

    assert found == expected and len(found) > 200
    asked = [r.query.get("q", "") for r in org.requests]
    assert any("FROM OpportunityFieldHistory WHERE Field IN ('StageName', " in q for q in asked)


def test_a_stage_change_only_field_history_has_becomes_an_entry(org: FakeSalesforceOrg) -> None:
    deal = _deal(org, 3)
    before = _last_entry(entries(read(org)), deal["Id"])
    at = int(before["entered_at"].timestamp()) + 86400
    change = _stage_change(org, deal, "Closed Lost", at)

    found = entries(read(org))

    new = found[change]
    assert new["stage_id"] == _stage_id(org, "Closed Lost")
    assert int(new["entered_at"].timestamp()) == at and new["exited_at"] is None
    assert new["amount"] == before["amount"]  # field history has no amount: carried over
    assert int(found[before["remote_id"]]["exited_at"].timestamp()) == at


def test_an_incremental_read_takes_new_field_history_rows(org: FakeSalesforceOrg) -> None:
    full = read(org)
    deal = _deal(org, 5)
    before = _last_entry(entries(full), deal["Id"])
    change = _stage_change(org, deal, "Closed Lost", org.org.now())

    again = read(org, full[-1].cursor)

    found = entries(again)
    assert found[change]["stage_id"] == _stage_id(org, "Closed Lost")
    assert found[before["remote_id"]]["exited_at"] is not None  # closed by the new entry
    cursor = again[-1].cursor["OpportunityFieldHistory"]
    assert cursor["id"] == change  # the field-history cursor goes by CreatedDate, Id


def test_rest_and_bulk_merge_the_two_objects_into_the_same_entries(small_pages: None) -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "opportunities": 150},
                                                 field_history=True)) as org:
        _stage_change(org, _deal(org, 7), "Closed Won", org.org.now())
        by_rest = entries(read(org))
        bulk = connector_on(org, bulk_threshold=0)

        by_bulk = entries(list(bulk.read("opportunity_stage_history", None)))

    assert by_bulk == by_rest
    # one job per object: OpportunityHistory sized by its record count, the ~450 stage
    # changes in field history by their first REST page
    assert bulk.api_calls.by_endpoint["POST /jobs/query"] == 2


def test_a_resumed_full_read_of_both_objects_derives_the_same_entries(
        org: FakeSalesforceOrg, small_pages: None) -> None:
    _stage_change(org, _deal(org, 40), "Closed Won", org.org.now())
    full = read(org)
    first = full[0]

    resumed = [first, *read(org, first.cursor)]

    assert first.cursor["OpportunityHistory"]["after_opportunity"]
    assert entries(resumed) == entries(full)


def test_each_batch_of_a_full_read_holds_complete_opportunities(
        org: FakeSalesforceOrg, small_pages: None) -> None:
    batches = [b for b in read(org) if b.records]
    owners = [{r["opportunity_id"] for r in b.records} for b in batches]

    assert len(batches) > 2
    for i, deals in enumerate(owners):  # an opportunity's entries never span two batches
        assert not deals & set().union(*owners[:i], *owners[i + 1:])


def _stage_id(fake: FakeSalesforceOrg, name: str) -> str:
    table = fake.org.tables["OpportunityStage"]
    return next(make_id(PREFIXES["OpportunityStage"], i) for i in range(table.spec.count)
                if fake.org.get("OpportunityStage", make_id(PREFIXES["OpportunityStage"], i))
                ["ApiName"] == name)


def test_a_bad_history_row_is_rejected_by_name_and_the_rest_are_stored(
        org: FakeSalesforceOrg) -> None:
    deal = _deal(org, 9)
    bad = org.org.insert("OpportunityHistory", OpportunityId=deal["Id"], StageName="Closed Won",
                         Amount="lots", CreatedById=deal["OwnerId"])
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET, field_history=True)) as clean:
        expected = entries(read(clean))

    batches = read(org)

    (reject,) = [r for b in batches for r in b.rejects]
    assert (reject.remote_id, reject.field) == (bad, "Amount")
    assert "OpportunityHistory" in reject.reason and "lots" in reject.reason
    assert entries(batches) == expected  # every other entry stored, as without the bad row
