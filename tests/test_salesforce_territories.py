"""Salesforce Enterprise Territory Management (crmsync_salesforce.territories) against the fake
org with ``Dataset(territories=True)``: each account's territory in the active model (manual
before rule, then the latest, then by name), accounts read again when their assignments or
territory change, the API calls, and an org without territories skipped with a note."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.plugin.connector import Batch
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.territories import pick
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset, make_id

DATASET = dict(opportunities=60, activities=5, contacts=5, leads=5, territories=True)
ACTIVE = ("West", "East", "EMEA", "APAC")  # territories 0-3 of the active model


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET)) as fake:
        yield fake


def connector_on(fake: FakeSalesforceOrg, **settings: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake.instance_url, "session_id": fake.session_id,
         "ca_bundle": fake.ca_bundle, **settings}))


def territories(batches: list[Batch]) -> dict[str, str | None]:
    return {r["remote_id"]: r.get("territory") for b in batches for r in b.records}


def expected(a: int) -> str | None:
    """The fake's assignments: rule → a % 4 unless a % 5 == 4; manual → (a + 1) % 4 when
    a % 6 == 0; the planning model's territory does not count."""
    if a % 6 == 0:
        return ACTIVE[(a + 1) % 4]
    return None if a % 5 == 4 else ACTIVE[a % 4]


def test_several_territories_manual_first_then_latest_then_name() -> None:
    rule = ("Territory2AssignmentRule", "2026-01-02T00:00:00.000+0000", "West")
    manual = ("Territory2Manual", "2026-01-01T00:00:00.000+0000", "East")
    later = ("Territory2AssignmentRule", "2026-02-01T00:00:00.000+0000", "APAC")
    tie = ("Territory2AssignmentRule", "2026-02-01T00:00:00.000+0000", "EMEA")

    assert pick([rule, manual]) == "East"
    assert pick([rule, later]) == "APAC"
    assert pick([later, tie]) == "APAC"


def test_each_account_gets_its_territory_in_the_active_model(org: FakeSalesforceOrg) -> None:
    got = territories(list(connector_on(org).read("accounts", None)))

    assert len(got) == 12
    assert got == {make_id("001", a): expected(a) for a in range(12)}


def test_a_changed_assignment_reads_its_account_again(org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    table = org.org.tables["ObjectTerritory2Association"]
    rows = [table.record(ref) for _, ref in table.scan(None, None)]
    moved = next(r for r in rows if r["ObjectId"] == make_id("001", 1))
    org.org.update("ObjectTerritory2Association", moved["Id"],
                   Territory2Id=make_id("0MI", 2), AssociationCause="Territory2Manual")
    dropped = next(r for r in rows if r["ObjectId"] == make_id("001", 2))
    org.org.delete("ObjectTerritory2Association", dropped["Id"])

    again = list(connector_on(org).read("accounts", first[-1].cursor))

    got = territories(again)
    assert got[make_id("001", 1)] == "EMEA"
    assert got[make_id("001", 2)] is None
    last = first[-1].cursor["Account"]["id"]  # read again by the lookback
    assert set(got) <= {make_id("001", 1), make_id("001", 2), last}
    assert again[-1].cursor["ObjectTerritory2Association"]["model"] == make_id("0MA", 0)


def test_a_renamed_territory_reads_its_accounts_again(org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    org.org.update("Territory2", make_id("0MI", 3), Name="Asia Pacific")

    got = territories(list(connector_on(org).read("accounts", first[-1].cursor)))

    apac = {make_id("001", a) for a in range(12) if expected(a) == "APAC"}
    assert apac and {a for a, t in got.items() if t == "Asia Pacific"} == apac


def test_a_territory_edited_but_not_renamed_reads_no_account_again(
        org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    org.org.update("Territory2", make_id("0MI", 3))  # a new SystemModstamp, the same name
    last = first[-1].cursor["Account"]["id"]  # read again by the lookback

    got = territories(list(connector_on(org).read("accounts", first[-1].cursor)))

    assert set(got) <= {last}
    assert first[-1].cursor["ObjectTerritory2Association"]["names"][make_id("0MI", 3)] == "APAC"


def test_a_cursor_without_names_reads_an_edited_territorys_accounts_again(
        org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    org.org.update("Territory2", make_id("0MI", 3))
    cursor = first[-1].cursor
    old = {**cursor, "ObjectTerritory2Association": {
        k: v for k, v in cursor["ObjectTerritory2Association"].items() if k != "names"}}

    got = territories(list(connector_on(org).read("accounts", old)))

    apac = {make_id("001", a) for a in range(12) if expected(a) == "APAC"}
    assert apac and apac <= set(got)


def test_another_active_model_reads_every_account_again(org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    org.org.update("Territory2Model", make_id("0MA", 0), State="Archived")
    org.org.update("Territory2Model", make_id("0MA", 1), State="Active")

    got = territories(list(connector_on(org).read("accounts", first[-1].cursor)))

    assert got == {make_id("001", a): "Draft West" if a % 3 == 0 else None for a in range(12)}


def test_accounts_read_before_territories_existed_are_all_read_again(
        org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    before = {k: v for k, v in first[-1].cursor.items() if k != "ObjectTerritory2Association"}

    again = list(connector_on(org).read("accounts", before))

    assert territories(again) == {make_id("001", a): expected(a) for a in range(12)}
    assert "ObjectTerritory2Association" in again[-1].cursor


def test_territories_cost_three_queries_a_run(org: FakeSalesforceOrg) -> None:
    connector = connector_on(org)
    list(connector.read("accounts", None))

    asked = [r.query.get("q", "") for r in org.requests if r.query.get("q")]
    assert sum(1 for q in asked if "Territory2" in q) == 3  # model, territories, assignments


def test_many_assignments_go_on_through_a_bulk_job_after_the_first_page(
        org: FakeSalesforceOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    org.org.page_cap = 5  # REST pages of five rows
    monkeypatch.setattr("crmsync_salesforce.territories.LOOKUP_MAX", 3)  # read them all

    got = territories(list(connector_on(org, bulk_threshold=3).read("accounts", None)))

    assert got == {make_id("001", a): expected(a) for a in range(12)}
    first = [r for r in org.requests if "FROM ObjectTerritory2Association" in
             r.query.get("q", "")]
    jobs = [json.loads(r.body)["query"] for r in org.requests
            if r.method == "POST" and r.path.endswith("/jobs/query")]
    assert len(first) == 1 and [q for q in jobs if "ObjectTerritory2Association" in q] == [
        "SELECT Id, ObjectId, Territory2Id, AssociationCause, SystemModstamp, IsDeleted FROM "
        f"ObjectTerritory2Association WHERE (SobjectType = 'Account') AND Id > "
        f"'{org_fifth_association(org)}' ORDER BY Id"]


def org_fifth_association(fake: FakeSalesforceOrg) -> str:
    """The Id the first REST page of five account associations ends with."""
    table = fake.org.tables["ObjectTerritory2Association"]
    rows = [table.record(ref) for _, ref in table.scan(None, None)]
    return sorted(str(r["Id"]) for r in rows)[4]


def assignment_queries(fake: FakeSalesforceOrg) -> list[str]:
    return [r.query["q"] for r in fake.requests
            if "FROM ObjectTerritory2Association" in r.query.get("q", "")]


def test_an_incremental_read_looks_up_its_own_accounts_assignments_only(
        org: FakeSalesforceOrg) -> None:
    first = list(connector_on(org).read("accounts", None))
    for a in (4, 6):
        org.org.update("Account", make_id("001", a))
    org.reset_calls()

    got = territories(list(connector_on(org).read("accounts", first[-1].cursor)))

    assert {make_id("001", 4), make_id("001", 6)} <= set(got)
    everyone = {make_id("001", a): expected(a) for a in range(12)}
    assert got == {a: everyone[a] for a in got}
    asked = assignment_queries(org)
    assert asked and all("ObjectId IN" in q or "SystemModstamp >=" in q for q in asked)


def test_a_page_of_many_accounts_reads_every_assignment_once(
        org: FakeSalesforceOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.territories.LOOKUP_MAX", 5)

    got = territories(list(connector_on(org).read("accounts", None)))

    assert got == {make_id("001", a): expected(a) for a in range(12)}
    assert [q for q in assignment_queries(org)] == [
        "SELECT Id, ObjectId, Territory2Id, AssociationCause, SystemModstamp, IsDeleted FROM "
        "ObjectTerritory2Association WHERE SobjectType = 'Account' ORDER BY Id"]


def test_many_accounts_to_read_again_read_every_assignment_once(
        org: FakeSalesforceOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    first = list(connector_on(org).read("accounts", None))
    table = org.org.tables["ObjectTerritory2Association"]
    rows = [table.record(ref) for _, ref in table.scan(None, None)]
    for a in (1, 3):
        moved = next(r for r in rows if r["ObjectId"] == make_id("001", a))
        org.org.update("ObjectTerritory2Association", moved["Id"],
                       Territory2Id=make_id("0MI", 2), AssociationCause="Territory2Manual")
    monkeypatch.setattr("crmsync_salesforce.territories.LOOKUP_MAX", 1)
    org.reset_calls()

    got = territories(list(connector_on(org).read("accounts", first[-1].cursor)))

    assert got[make_id("001", 1)] == got[make_id("001", 3)] == "EMEA"
    whole = [q for q in assignment_queries(org) if q.endswith("'Account' ORDER BY Id")]
    assert len(whole) == 1


def test_an_org_without_territories_is_skipped_with_one_note(caplog) -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "territories": False})) as \
            fake, caplog.at_level(logging.INFO):
        batches = list(connector_on(fake).read("accounts", None))
        asked = [r.query.get("q", "") for r in fake.requests if r.query.get("q")]

    assert set(territories(batches).values()) == {None}
    assert not any("Territory2" in q for q in asked)
    notes = [r.getMessage() for r in caplog.records if "territor" in r.getMessage()]
    assert notes == ["sf: this org has no Enterprise Territory Management; skipping "
                     "territories"]


def test_a_field_map_territory_wins(org: FakeSalesforceOrg) -> None:
    got = list(connector_on(org, field_map={"Account.Industry": "accounts.territory"})
               .read("accounts", None))

    assert {r["territory"] for b in got for r in b.records} <= {
        "Technology", "Manufacturing", "Finance", "Healthcare", "Retail", "Education"}
