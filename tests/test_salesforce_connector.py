"""The Salesforce connector against the local fake org (tests/fakes/salesforce_org.py).

Each test runs the real connector — simple-salesforce, HTTPS with the fake's throwaway CA — and
checks one behaviour: paging, REST vs Bulk, faults, auth modes, deletes, the quota budget,
write-back. The fake answers like Salesforce's documented REST API.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import table_rows
from crmsync.core.errors import AuthError, ConnectorError, QuotaExhausted, TransientError
from crmsync.core.reports import STOPPED_QUOTA
from crmsync.plugin.connector import Batch, FieldSpec, WriteUpdate
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.sync.validate import validator_for
from crmsync.testing import ConnectorContract
from crmsync_salesforce import SalesforceConnector, soql
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset

Factory = Callable[..., SalesforceConnector]


@pytest.fixture
def make_connector(fake_sf_org: FakeSalesforceOrg) -> Iterator[Factory]:
    """``make_connector(**settings)``: a connector on the fake org (session auth by default)."""
    made: list[SalesforceConnector] = []

    def make(**settings: Any) -> SalesforceConnector:
        raw = {"instance_url": fake_sf_org.instance_url, "session_id": fake_sf_org.session_id,
               "ca_bundle": fake_sf_org.ca_bundle, **settings}
        c = SalesforceConnector("sf", SalesforceConnector.validate_settings(raw))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def _records(connector: SalesforceConnector, entity: str, cursor: Any = None
             ) -> list[dict[str, Any]]:
    return [r for b in connector.read(entity, cursor) for r in b.records]


def _last_cursor(batches: list[Batch]) -> Any:
    return next(b.cursor for b in reversed(batches) if b.cursor is not None)


class TestContract(ConnectorContract):
    """crmsync's connector contract suite, on the fake org."""

    @pytest.fixture
    def connector(self, make_connector: Factory) -> SalesforceConnector:
        return make_connector()


# -- reading -----------------------------------------------------------------------------------

def test_check_names_the_org_and_the_requests_left(make_connector: Factory) -> None:
    assert "daily API requests left" in make_connector().check()


def test_every_request_is_counted_per_endpoint(make_connector: Factory,
                                               fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector()
    fake_sf_org.reset_calls()
    _records(connector, "opportunities")

    assert connector.api_calls.total == len(fake_sf_org.calls)
    assert connector.api_calls.by_endpoint["POST /composite"] == 2  # describes, lookups
    assert "GET /limits" not in connector.api_calls.by_endpoint  # Sforce-Limit-Info suffices


def test_one_composite_call_describes_every_object_the_run_reads(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector(objects=["users", "opportunities", "activities"])
    fake_sf_org.reset_calls()
    _records(connector, "users")
    _records(connector, "activities")

    described = {r.path.split("/")[-2] for r in fake_sf_org.subrequests
                 if r.path.endswith("/describe")}
    assert described == {"User", "Opportunity", "Task", "Event", "OpportunityStage",
                         "CurrencyType", "DatedConversionRate"}
    assert not any(path.endswith("/describe") for _, path in fake_sf_org.calls)
    assert connector.api_calls.by_endpoint["POST /composite"] == 1


def test_a_run_of_every_entity_sends_its_describes_in_the_first_composite_call(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    # the second composite call is the lookups' queries (stages, rates, record types): they
    # select OpportunityStage's fields from its describe, and every describe plus the three
    # lookup queries would be more than the 25 subrequests one composite call carries
    connector = make_connector()
    fake_sf_org.reset_calls()
    for entity in connector.ENTITIES:
        _records(connector, entity)

    composites = [json.loads(r.body)["compositeRequest"] for r in fake_sf_org.requests
                  if r.path.endswith("/composite")]
    describes = [[s["url"].split("/")[-2] for s in c if s["url"].endswith("/describe")]
                 for c in composites]
    assert [len(d) for d in describes] == [len(connector._objects_to_read()), 0]
    assert set(describes[0]) == set(connector._objects_to_read())
    assert not any(path.endswith("/describe") for _, path in fake_sf_org.calls)


def test_rest_pages_follow_next_records_url() -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(opportunities=10, activities=4500)) as fake:
        settings = SalesforceConnector.validate_settings(
            {"instance_url": fake.instance_url, "session_id": fake.session_id,
             "ca_bundle": fake.ca_bundle})
        connector = SalesforceConnector("sf", settings)
        batches = list(connector.read("activities", None))

    assert connector.api_calls.by_endpoint["GET /query (next page)"] >= 1
    assert len({r["remote_id"] for b in batches for r in b.records}) == 4500


def test_rest_and_bulk_paths_yield_identical_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    dataset = Dataset(opportunities=100, activities=500, contacts=300, leads=300)
    with FakeSalesforceOrg.start(dataset=dataset) as fake:
        def make(**settings: Any) -> SalesforceConnector:
            return SalesforceConnector("sf", SalesforceConnector.validate_settings(
                {"instance_url": fake.instance_url, "session_id": fake.session_id,
                 "ca_bundle": fake.ca_bundle, **settings}))
        rest, bulk = make(), make(bulk_threshold=0)  # bulk: every object with records
        for entity in SalesforceConnector.ENTITIES:
            by_rest = sorted(_records(rest, entity), key=lambda r: r["remote_id"])
            by_bulk = sorted(_records(bulk, entity), key=lambda r: r["remote_id"])

            assert by_rest == by_bulk, entity
    # full reads sized by the record counts: a Bulk job for every object read, no REST page
    # (stages come with the run's lookups; this org has no field history, one rate object)
    read = ("User", "Account", "Contact", "Lead", "Opportunity", "OpportunityHistory",
            "OpportunityContactRole", "Task", "Event", "DatedConversionRate")
    assert bulk.api_calls.by_endpoint["POST /jobs/query"] == len(read)
    assert "GET /queryAll" not in bulk.api_calls.by_endpoint
    assert "POST /jobs/query" not in rest.api_calls.by_endpoint


def test_without_record_counts_the_first_page_sizes_a_full_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    dataset = Dataset(opportunities=100, activities=500, contacts=300, leads=300)
    with FakeSalesforceOrg.start(dataset=dataset) as fake:
        fake.org.record_count_access = False  # no "View Setup and Configuration"
        connector = SalesforceConnector("sf", SalesforceConnector.validate_settings(
            {"instance_url": fake.instance_url, "session_id": fake.session_id,
             "ca_bundle": fake.ca_bundle, "bulk_threshold": 0}))
        by_bulk = {e: _records(connector, e) for e in ("contacts", "leads", "users")}

    assert {e: len(r) for e, r in by_bulk.items()} == {"contacts": 300, "leads": 300,
                                                       "users": 6}
    # contacts and leads have more than one page of 200: the rest went through a Bulk job
    assert connector.api_calls.by_endpoint["POST /jobs/query"] == 2
    assert connector.api_calls.by_endpoint["GET /queryAll"] == 3


def test_the_first_pages_total_size_is_the_count_probe(make_connector: Factory) -> None:
    connector = make_connector()
    _records(connector, "leads")

    assert connector.api_calls.by_endpoint["GET /queryAll"] == 1  # no COUNT() request


def test_every_entity_yields_valid_records(make_connector: Factory) -> None:
    connector = make_connector()
    for entity in SalesforceConnector.ENTITIES:
        records = _records(connector, entity)
        validator = validator_for(entity)

        assert records, entity
        assert all(not validator.validate(r)[1] for r in records), entity


def test_closed_deals_have_closed_at_and_open_ones_do_not(make_connector: Factory) -> None:
    deals = _records(make_connector(), "opportunities")

    assert {d["status"] for d in deals} == {"open", "won", "lost"}
    assert all((d["closed_at"] is None) == (d["status"] == "open") for d in deals)


def test_multi_currency_deals_get_amount_base(make_connector: Factory) -> None:
    deals = [d for d in _records(make_connector(), "opportunities") if d["amount"]]

    assert all(d["currency"] and d["amount_base"] is not None for d in deals)


def test_stage_history_entries_point_at_stages(make_connector: Factory) -> None:
    connector = make_connector()
    stage_ids = {r["remote_id"] for r in _records(connector, "stages")}
    entries = _records(connector, "opportunity_stage_history")

    assert entries and all(e["stage_id"] in stage_ids for e in entries)


def test_a_new_stage_closes_the_previous_entry_on_the_next_run(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector()
    batches = list(connector.read("opportunity_stage_history", None))
    final = {r["remote_id"]: r for b in batches for r in b.records}  # the last emission wins
    open_entry = next(r for r in final.values() if r["exited_at"] is None)
    other = next(s["label"] for s in _records(connector, "stages")
                 if s["remote_id"] != open_entry["stage_id"])
    new_row = fake_sf_org.org.insert("OpportunityHistory",
                                     OpportunityId=open_entry["opportunity_id"],
                                     StageName=other, Amount=1.0)

    again = {r["remote_id"]: r for r in _records(make_connector(), "opportunity_stage_history",
                                                 _last_cursor(batches))}

    assert again[open_entry["remote_id"]]["exited_at"] is not None
    assert again[new_row]["exited_at"] is None


def test_who_and_what_ids_resolve_to_typed_references(make_connector: Factory) -> None:
    activities = _records(make_connector(), "activities")

    assert any(a["lead_id"] for a in activities) and any(a["contact_id"] for a in activities)
    assert all(a["lead_id"] is None or a["lead_id"].startswith("00Q") for a in activities)


def test_custom_fields_land_in_custom_and_field_map_fills_columns(make_connector: Factory
                                                                  ) -> None:
    connector = make_connector(field_map={"Account.Segment__c": "accounts.segment"})
    accounts = _records(connector, "accounts")

    assert all(a["segment"] == a["custom"]["Segment__c"] for a in accounts)


def test_field_map_into_a_renamed_custom_key(make_connector: Factory) -> None:
    connector = make_connector(
        field_map={"Opportunity.Product_Line__c": "opportunities.custom.product_line"})
    deals = _records(connector, "opportunities")

    assert all(d["custom"]["product_line"] == d["custom"]["Product_Line__c"] for d in deals)


def test_unreadable_fields_are_skipped_with_a_warning_naming_them(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg,
        caplog: pytest.LogCaptureFixture) -> None:
    fake_sf_org.org.hide_field("Account", "Industry")
    with caplog.at_level(logging.WARNING):
        accounts = _records(make_connector(), "accounts")

    assert accounts and all(a["industry"] is None for a in accounts)
    assert "Account.Industry" in caplog.text


def test_disabled_entities_are_not_read(make_connector: Factory) -> None:
    connector = make_connector(objects={"activities": False})

    assert list(connector.read("activities", None)) == []


# -- incremental reads and deletes ----------------------------------------------------------------

def test_an_incremental_read_sees_a_change(make_connector: Factory,
                                           fake_sf_org: FakeSalesforceOrg) -> None:
    batches = list(make_connector().read("accounts", None))
    account = batches[0].records[0]["remote_id"]
    fake_sf_org.org.update("Account", account, Name="Renamed Inc")

    again = _records(make_connector(), "accounts", _last_cursor(batches))

    assert {"remote_id": account, "name": "Renamed Inc"}.items() <= \
        next(r for r in again if r["remote_id"] == account).items()


def test_a_late_commit_inside_the_lookback_is_not_missed(make_connector: Factory,
                                                         fake_sf_org: FakeSalesforceOrg) -> None:
    batches = list(make_connector().read("accounts", None))
    cursor = _last_cursor(batches)
    account = batches[0].records[0]["remote_id"]
    late = fake_sf_org.org.now() - 300  # committed late: older than the rows already read
    fake_sf_org.org.update("Account", account, stamp=late, Name="Late Inc")

    again = _records(make_connector(lookback_seconds=600), "accounts", cursor)

    assert any(r["remote_id"] == account and r["name"] == "Late Inc" for r in again)


def test_soft_deleted_rows_are_read_as_deleted(make_connector: Factory,
                                               fake_sf_org: FakeSalesforceOrg) -> None:
    batches = list(make_connector().read("contacts", None))
    contact = batches[0].records[0]["remote_id"]
    fake_sf_org.org.delete("Contact", contact)

    again = _records(make_connector(), "contacts", _last_cursor(batches))

    assert any(r["remote_id"] == contact and r.get("is_deleted") for r in again)


def test_hard_deletes_come_from_get_deleted(make_connector: Factory,
                                            fake_sf_org: FakeSalesforceOrg) -> None:
    batches = list(make_connector().read("contacts", None))
    contact = batches[0].records[0]["remote_id"]
    fake_sf_org.org.delete("Contact", contact, hard=True)

    connector = make_connector()
    deleted = [d.remote_id for b in connector.read("contacts", _last_cursor(batches))
               for d in b.deleted]

    assert deleted == [contact]
    assert connector.api_calls.by_endpoint["GET /sobjects/Contact/deleted"] == 1


def test_get_deleted_windows_are_at_least_a_minute_long(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    cursor = _last_cursor(list(make_connector().read("contacts", None)))
    asked: list[Any] = []
    fake_sf_org.org.faults.add(lambda req: "/deleted" in req.path and asked.append(req.query))

    list(make_connector().read("contacts", cursor))  # seconds after the full read

    (query,) = asked
    assert soql.parse_datetime(query["end"]) - soql.parse_datetime(query["start"]) >= \
        dt.timedelta(minutes=1)


def test_activities_keep_one_cursor_per_object(make_connector: Factory) -> None:
    cursor = _last_cursor(list(make_connector().read("activities", None)))

    assert set(cursor) == {"Task", "Event"}


# -- faults ------------------------------------------------------------------------------------

def _is_query_of(obj: str) -> Callable[[Any], bool]:
    return lambda req: req.path.rstrip("/").endswith("/queryAll") and f"FROM {obj} " in \
        req.query.get("q", "") and "COUNT()" not in req.query.get("q", "")


def test_query_timeout_reads_on_in_halving_windows(make_connector: Factory,
                                                   fake_sf_org: FakeSalesforceOrg) -> None:
    expected = {r["remote_id"] for r in _records(make_connector(), "leads")}
    timeouts = fake_sf_org.org.faults.add(
        lambda req: _is_query_of("Lead")(req) and "ORDER BY SystemModstamp, Id" in req.query["q"],
        error="QUERY_TIMEOUT", times=2)

    leads = {r["remote_id"] for r in _records(make_connector(), "leads")}

    assert (leads, timeouts.fired) == (expected, 2)


def test_server_errors_are_transient(make_connector: Factory,
                                     fake_sf_org: FakeSalesforceOrg) -> None:
    fake_sf_org.org.faults.add(_is_query_of("Lead"), status=503)

    with pytest.raises(TransientError):
        _records(make_connector(), "leads")


def test_the_engine_retries_a_server_error_and_stores_everything(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg, sqlite_store: Store) -> None:
    expected = len(_records(make_connector(), "leads"))
    fake_sf_org.org.faults.add(_is_query_of("Lead"), status=500)

    (result,) = SyncEngine(sqlite_store, make_connector(), sleep=lambda s: None).run(["leads"])

    assert (result.status, result.rows_read) == ("success", expected)


def test_an_expired_session_id_is_an_auth_error_asking_for_a_fresh_one(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector()
    connector.check()
    fake_sf_org.org.expire_sessions()

    with pytest.raises(AuthError, match="fresh session_id"):
        _records(connector, "accounts")


def _password_settings(fake: FakeSalesforceOrg) -> dict[str, Any]:
    return {"instance_url": "", "session_id": "", "username": "integration@example.com",
            "password": "s3cret", "security_token": "TOKEN123", "login_url": fake.instance_url}


def test_password_auth_logs_in_again_once_when_the_session_expires(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector(**_password_settings(fake_sf_org))
    connector.check()
    fake_sf_org.org.expire_sessions()

    assert _records(connector, "accounts")
    assert connector.api_calls.by_endpoint["POST /Soap/u (login)"] == 2


def test_a_wrong_password_is_an_auth_error(make_connector: Factory,
                                           fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector(**{**_password_settings(fake_sf_org), "password": "wrong"})

    with pytest.raises(AuthError, match="login failed"):
        connector.check()


def test_jwt_bearer_auth(make_connector: Factory, fake_sf_org: FakeSalesforceOrg,
                         sf_jwt_key: Path) -> None:
    connector = make_connector(instance_url="", session_id="", username="integration@example.com",
                               consumer_key="fake-consumer-key",
                               private_key_file=str(sf_jwt_key), login_url=fake_sf_org.instance_url)

    assert _records(connector, "users")
    assert connector.api_calls.by_endpoint["POST /oauth2/token"] == 1


def test_the_run_budget_stops_before_the_org_refuses(make_connector: Factory,
                                                     fake_sf_org: FakeSalesforceOrg) -> None:
    fake_sf_org.org.api_max = 100
    fake_sf_org.org.api_used = 80  # 20 left: a 50 % run may send 10
    connector = make_connector()

    with pytest.raises(QuotaExhausted, match="quota_run_percent"):
        for entity in SalesforceConnector.ENTITIES:
            _records(connector, entity)
    assert connector.api_calls.total == 10


def test_request_limit_exceeded_stops_the_run_keeping_committed_pages(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg, sqlite_store: Store) -> None:
    connector = make_connector(quota_run_percent=100, quota_total_percent=100)
    connector.check()
    fake_sf_org.org.faults.add(_is_query_of("Contact"), error="REQUEST_LIMIT_EXCEEDED")

    results = SyncEngine(sqlite_store, connector).run(["accounts", "contacts", "leads"])

    assert [r.status for r in results] == ["success", STOPPED_QUOTA, STOPPED_QUOTA]
    assert results[0].rows_read > 0


def test_an_invalid_field_names_the_object_and_the_code(make_connector: Factory,
                                                        fake_sf_org: FakeSalesforceOrg) -> None:
    fake_sf_org.org.faults.add(_is_query_of("Lead"), error="INVALID_FIELD")

    with pytest.raises(ConnectorError, match="query Lead: INVALID_FIELD"):
        _records(make_connector(), "leads")


# -- write-back ----------------------------------------------------------------------------------

def _deal_ids(connector: SalesforceConnector, n: int) -> list[str]:
    return [d["remote_id"] for d in _records(connector, "opportunities")
            if not d.get("is_deleted")][:n]


@pytest.fixture
def days_field(make_connector: Factory) -> str:
    """A crmsync number field on Opportunity."""
    info = make_connector().ensure_field(
        "opportunities", FieldSpec(name="crmsync_days_in_stage__c", type="number",
                                   label="Days in stage", scale=0))
    return info.name


def test_ensure_field_creates_a_field_fields_then_lists(make_connector: Factory,
                                                        days_field: str) -> None:
    fields = {f.name: f for f in make_connector().fields("opportunities")}

    assert (fields[days_field].type, fields[days_field].writable, fields[days_field].custom) == \
        ("number", True, True)


def test_ensure_field_without_permission_names_the_status_code(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    fake_sf_org.org.metadata_access = False

    with pytest.raises(ConnectorError, match="INSUFFICIENT_ACCESS"):
        make_connector().ensure_field("opportunities", FieldSpec(
            name="crmsync_score__c", type="number", label="Score"))


def test_default_field_names_follow_salesforce_rules() -> None:
    assert SalesforceConnector.default_field_name("days_in_current_stage") == \
        "Crmsync_Days_In_Current_Stage__c"
    # at most 40 characters before __c, never ending in an underscore
    assert SalesforceConnector.default_field_name(
        "opportunity_days_since_last_activity") == "Crmsync_Opportunity_Days_Since_Last_Acti__c"


def test_write_maps_save_results_back_by_position(make_connector: Factory,
                                                  fake_sf_org: FakeSalesforceOrg,
                                                  days_field: str) -> None:
    connector = make_connector()
    ids = _deal_ids(connector, 3)
    fake_sf_org.org.record_faults.add(ids[1], "FIELD_CUSTOM_VALIDATION_EXCEPTION")

    results = {r.remote_id: r for r in connector.write(
        "opportunities", [WriteUpdate(i, {days_field: 5}) for i in ids])}

    assert [results[i].ok for i in ids] == [True, False, True]
    assert results[ids[1]].error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert fake_sf_org.org.get("Opportunity", ids[0])[days_field] == 5


def test_locked_rows_are_sent_again(make_connector: Factory, fake_sf_org: FakeSalesforceOrg,
                                    days_field: str) -> None:
    connector = make_connector()
    (deal,) = _deal_ids(connector, 1)
    fake_sf_org.org.record_faults.add(deal, "UNABLE_TO_LOCK_ROW", times=1)

    (result,) = connector.write("opportunities", [WriteUpdate(deal, {days_field: 7})])

    assert result.ok and connector.api_calls.by_endpoint["PATCH /composite/sobjects"] == 2


def test_a_deleted_record_is_reported_missing(make_connector: Factory,
                                              fake_sf_org: FakeSalesforceOrg,
                                              days_field: str) -> None:
    connector = make_connector()
    (deal,) = _deal_ids(connector, 1)
    fake_sf_org.org.delete("Opportunity", deal, hard=True)

    (result,) = connector.write("opportunities", [WriteUpdate(deal, {days_field: 1})])

    assert (result.ok, result.missing) == (False, True)


def test_collections_carry_200_records_a_call(make_connector: Factory,
                                              days_field: str) -> None:
    connector = make_connector()
    ids = _deal_ids(connector, 30)
    updates = [WriteUpdate(i, {days_field: n}) for n in range(8) for i in ids][:210]

    results = list(connector.write("opportunities", updates))

    assert len(results) == 210 and all(r.ok for r in results)
    assert connector.api_calls.by_endpoint["PATCH /composite/sobjects"] == 2


def test_large_writes_go_through_a_bulk_ingest_job(make_connector: Factory,
                                                   fake_sf_org: FakeSalesforceOrg,
                                                   days_field: str) -> None:
    connector = make_connector(bulk_threshold=2)
    ids = _deal_ids(connector, 3)
    fake_sf_org.org.record_faults.add(ids[2], "FIELD_CUSTOM_VALIDATION_EXCEPTION")

    results = {r.remote_id: r for r in connector.write(
        "opportunities", [WriteUpdate(i, {days_field: 3}) for i in ids])}

    assert [results[i].ok for i in ids] == [True, True, False]
    assert results[ids[2]].error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert connector.api_calls.by_endpoint["POST /jobs/ingest"] == 1


def test_read_values_returns_current_values(make_connector: Factory,
                                            fake_sf_org: FakeSalesforceOrg,
                                            days_field: str) -> None:
    connector = make_connector()
    ids = _deal_ids(connector, 2)
    list(connector.write("opportunities", [WriteUpdate(ids[0], {days_field: 9})]))

    values = connector.read_values("opportunities", [*ids, "006000000000000AAA"], [days_field])

    assert values == {ids[0]: {days_field: 9}, ids[1]: {days_field: None}}


def test_without_last_stage_change_date_closed_at_comes_from_opportunity_history(
        make_connector: Factory, fake_sf_org: FakeSalesforceOrg) -> None:
    expected = {d["remote_id"]: d["closed_at"] for d in _records(make_connector(),
                                                                 "opportunities")}
    fake_sf_org.org.hide_field("Opportunity", "LastStageChangeDate")
    connector = make_connector()

    deals = _records(connector, "opportunities")

    assert {d["remote_id"]: d["closed_at"] for d in deals} == expected
    assert any("FROM OpportunityHistory WHERE OpportunityId IN" in r.query.get("q", "")
               for r in fake_sf_org.requests)


def test_a_single_currency_org_has_no_currency_or_rates() -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(multi_currency=False)) as fake:
        settings = SalesforceConnector.validate_settings(
            {"instance_url": fake.instance_url, "session_id": fake.session_id,
             "ca_bundle": fake.ca_bundle})
        connector = SalesforceConnector("sf", settings)
        deals = _records(connector, "opportunities")
        rates = _records(connector, "currency_rates")

    assert deals and all(d["currency"] is None and d["amount_base"] is None for d in deals)
    assert rates == []


def test_a_session_expiring_during_a_bulk_job_resumes_from_the_last_page(
        sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    with FakeSalesforceOrg.start(dataset=Dataset(leads=300)) as fake:
        settings = SalesforceConnector.validate_settings(
            {**_password_settings(fake), "ca_bundle": fake.ca_bundle, "bulk_threshold": 0})
        connector = SalesforceConnector("sf", settings)
        fake.org.faults.add(lambda req: req.path.endswith("/results"),
                            error="INVALID_SESSION_ID")

        (result,) = SyncEngine(sqlite_store, connector, sleep=lambda s: None).run(["leads"])

    assert result.status == "success"
    assert len(table_rows(sqlite_store, "leads", "remote_id")) == 300
    assert connector.api_calls.by_endpoint["POST /Soap/u (login)"] == 2


def test_ensure_field_accepts_a_metric_unit_as_the_type(make_connector: Factory) -> None:
    info = make_connector().ensure_field("opportunities", FieldSpec(
        name="crmsync_touches__c", type="count", label="Touches"))

    assert (info.type, info.scale) == ("number", 0)


def _final_entries(batches: list[Batch]) -> dict[str, dict[str, Any]]:
    """Stage entries as the store ends up with them (a re-sent entry replaces the earlier)."""
    return {r["remote_id"]: r for b in batches for r in b.records}


def test_a_resumed_full_read_of_stage_history_derives_the_same_entries(
        make_connector: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 50)
    full = list(make_connector().read("opportunity_stage_history", None))
    first = full[0]

    resumed = [first, *make_connector().read("opportunity_stage_history", first.cursor)]

    assert first.cursor["OpportunityHistory"]["after_opportunity"]
    assert _final_entries(resumed) == _final_entries(full)


def test_a_full_read_of_stage_history_ends_with_an_incremental_cursor(
        make_connector: Factory) -> None:
    batches = list(make_connector().read("opportunity_stage_history", None))

    assert set(batches[-1].cursor["OpportunityHistory"]) == {"ts", "id", "deleted_since"}


def test_a_failed_login_never_shows_the_password_or_token(make_connector: Factory,
                                                          fake_sf_org: FakeSalesforceOrg) -> None:
    connector = make_connector(**{**_password_settings(fake_sf_org), "password": "wrongpass"})

    with pytest.raises(AuthError) as info:
        connector.check()

    assert "wrongpass" not in str(info.value) and "TOKEN123" not in str(info.value)


def test_a_field_map_source_the_user_cannot_read_is_named_in_the_warning(
        make_connector: Factory, caplog: pytest.LogCaptureFixture) -> None:
    connector = make_connector(field_map={"Account.Region__c": "accounts.region"})
    with caplog.at_level(logging.WARNING):
        accounts = _records(connector, "accounts")

    assert accounts and "Account.Region__c" in caplog.text
