"""The fake Salesforce org answers like Salesforce (shapes from reference/salesforce/).

Driven with plain ``requests`` and with simple-salesforce, the library the connector uses.
"""

from __future__ import annotations

import csv
import io
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.login import soap_login, token_login

from fakes.pytest_fixtures import register_jwt_app
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import PREFIXES, Dataset, make_id, parse_id

V = "61.0"


def _trusted(monkeypatch: pytest.MonkeyPatch, dataset: Dataset) -> Iterator[FakeSalesforceOrg]:
    """A running org of ``dataset`` whose CA clients trust through the env var."""
    with FakeSalesforceOrg.start(dataset=dataset) as org:
        # simple-salesforce and zeep send no per-request ``verify``; requests uses the env var
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle or "")
        yield org


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    """An org big enough to page (600 history rows) and trusting clients via the env var."""
    yield from _trusted(monkeypatch, Dataset(opportunities=150, activities=60))


@pytest.fixture
def jwt_key(fake: FakeSalesforceOrg, tmp_path: Path) -> Path:
    """A private key the org trusts as connected app ``fake-consumer-key``."""
    return register_jwt_app(fake.org, tmp_path)


@pytest.fixture
def http(fake: FakeSalesforceOrg) -> requests.Session:
    """A plain requests session carrying the org's session id."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {fake.session_id}"
    return s


@pytest.fixture
def sf(fake: FakeSalesforceOrg, http: requests.Session) -> Salesforce:
    """simple-salesforce against the fake (session-id auth, as the connector's tests use)."""
    return Salesforce(instance_url=fake.instance_url, session_id=fake.session_id, version=V)


def get(fake: FakeSalesforceOrg, http: requests.Session, path: str, **kw: Any
        ) -> requests.Response:
    return http.get(f"{fake.instance_url}/services/data/v{V}{path}", **kw)


def soql_pages(fake: FakeSalesforceOrg, http: requests.Session, soql: str, *,
               endpoint: str = "query", batch: int = 2000) -> list[dict[str, Any]]:
    headers = {"Sforce-Query-Options": f"batchSize={batch}"}
    page = get(fake, http, f"/{endpoint}", params={"q": soql}, headers=headers).json()
    pages = [page]
    while not page["done"]:
        page = http.get(fake.instance_url + page["nextRecordsUrl"], headers=headers).json()
        pages.append(page)
    return pages


ALL_HISTORY = "SELECT Id, SystemModstamp FROM OpportunityHistory ORDER BY SystemModstamp, Id"


# -- the daily API allowance -----------------------------------------------------------------

def test_every_rest_response_carries_the_api_usage_it_counts(fake, http):
    first = get(fake, http, "/limits")
    second = get(fake, http, "/sobjects/")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/15000"


def test_limits_report_the_remaining_daily_requests(fake, http):
    fake.org.api_used = 100
    limits = get(fake, http, "/limits").json()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 101}


def test_exhausted_allowance_is_a_403_request_limit_exceeded_without_retry_after(fake, http):
    fake.org.api_used = fake.org.api_max
    resp = get(fake, http, "/limits")
    assert resp.status_code == 403
    assert resp.json() == [{"message": "TotalRequests Limit exceeded.",
                            "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert "Retry-After" not in resp.headers


# -- authentication --------------------------------------------------------------------------

def test_an_unknown_session_is_a_401_invalid_session_id(fake):
    resp = requests.get(f"{fake.instance_url}/services/data/v{V}/limits",
                        headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    assert resp.json() == [{"message": "Session expired or invalid",
                            "errorCode": "INVALID_SESSION_ID"}]


def test_expired_sessions_are_refused(fake, http):
    fake.org.expire_sessions()
    assert get(fake, http, "/limits").status_code == 401


def test_soap_login_returns_a_session_the_rest_api_accepts(fake):
    body = ('<?xml version="1.0" encoding="utf-8" ?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:login>'
            '<urn:username>integration@example.com</urn:username>'
            '<urn:password>s3cretTOKEN123</urn:password></urn:login></soapenv:Body>'
            '</soapenv:Envelope>')
    session_id, instance = soap_login(f"{fake.instance_url}/services/Soap/u/{V}", body,
                                      {"content-type": "text/xml", "SOAPAction": "login"}, None)
    sf = Salesforce(instance=instance, session_id=session_id, version=V)
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000


def test_soap_login_with_a_wrong_password_is_invalid_login(fake):
    from simple_salesforce.exceptions import SalesforceAuthenticationFailed

    body = ('<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/'
            'envelope/"><e:Body><login><username>integration@example.com</username>'
            '<password>wrong</password></login></e:Body></e:Envelope>')
    with pytest.raises(SalesforceAuthenticationFailed, match="INVALID_LOGIN"):
        soap_login(f"{fake.instance_url}/services/Soap/u/{V}", body, {}, None)


def test_jwt_bearer_flow_issues_a_token_for_a_registered_app(fake, jwt_key):
    assertion = jwt.encode({"iss": "fake-consumer-key", "sub": "integration@example.com",
                            "aud": "https://login.salesforce.com",
                            "exp": int(time.time()) + 180}, jwt_key.read_bytes(),
                           algorithm="RS256")
    session_id, instance = token_login(
        f"{fake.instance_url}/services/oauth2/token",
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        "login", "fake-consumer-key", None, None)
    assert session_id in fake.org.sessions
    assert fake.instance_url.endswith(instance)


def test_jwt_signed_by_another_key_is_invalid_grant(fake, jwt_key, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    assertion = jwt.encode({"iss": "fake-consumer-key", "sub": "integration@example.com",
                            "aud": "https://login.salesforce.com",
                            "exp": int(time.time()) + 180}, other, algorithm="RS256")
    resp = requests.post(f"{fake.instance_url}/services/oauth2/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


# -- query, paging, COUNT() ------------------------------------------------------------------

def test_pages_honour_batch_size_and_chain_through_next_records_url(fake, http):
    pages = soql_pages(fake, http, ALL_HISTORY, batch=200)
    assert [len(p["records"]) for p in pages] == [200, 200, 200]
    assert pages[0]["nextRecordsUrl"].startswith(f"/services/data/v{V}/query/0r8")
    assert pages[0]["nextRecordsUrl"].endswith("-200")
    assert "nextRecordsUrl" not in pages[-1]
    assert all(p["totalSize"] == 600 for p in pages)


def test_batch_size_is_clamped_to_salesforces_minimum(fake, http):
    pages = soql_pages(fake, http, ALL_HISTORY, batch=50)
    assert len(pages[0]["records"]) == 200


def test_pages_return_every_row_once_in_cursor_order(fake, http):
    rows = [r for p in soql_pages(fake, http, ALL_HISTORY, batch=200) for r in p["records"]]
    keys = [(r["SystemModstamp"], r["Id"]) for r in rows]
    assert keys == sorted(set(keys))
    assert len(keys) == 600


def test_records_carry_attributes_like_salesforce(fake, http):
    rec = soql_pages(fake, http, "SELECT Id FROM Opportunity LIMIT 1")[0]["records"][0]
    assert rec["attributes"] == {
        "type": "Opportunity", "url": f"/services/data/v{V}/sobjects/Opportunity/{rec['Id']}"}


def test_relationship_fields_come_back_nested(fake, http):
    rec = soql_pages(fake, http, "SELECT Id, UserRole.Name FROM User LIMIT 1")[0]["records"][0]
    assert rec["UserRole"]["attributes"]["type"] == "UserRole"
    assert rec["UserRole"]["Name"] == "CEO"


def test_field_names_are_case_insensitive_and_answered_canonically(fake, http):
    rec = soql_pages(fake, http, "select id, stagename from opportunity limit 1")[0]["records"][0]
    assert set(rec) == {"attributes", "Id", "StageName"}


def test_compound_cursor_resumes_inside_a_run_of_equal_timestamps(fake, http):
    ids = [make_id("006", i) for i in range(10)]
    stamp = fake.org.now() - 100  # after every generated record
    for rid in ids:
        fake.org.update("Opportunity", rid, stamp=stamp, Name="tie")
    ordered = sorted(ids)
    lit = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    soql = (f"SELECT Id FROM Opportunity WHERE SystemModstamp > {lit} OR "
            f"(SystemModstamp = {lit} AND Id > '{ordered[3]}') ORDER BY SystemModstamp, Id")
    rows = [r["Id"] for p in soql_pages(fake, http, soql) for r in p["records"]]
    assert rows == ordered[4:]


def test_count_answers_total_size_without_records(fake, http):
    page = get(fake, http, "/query", params={
        "q": "SELECT COUNT() FROM OpportunityHistory WHERE SystemModstamp > "
             "2000-01-01T00:00:00Z"}).json()
    assert page == {"totalSize": 600, "done": True, "records": []}


def test_in_list_reads_the_children_of_given_parents(fake, http):
    parents = [make_id("006", 3), make_id("006", 7)]
    soql = ("SELECT Id, OpportunityId FROM OpportunityHistory WHERE OpportunityId IN ('"
            + "','".join(parents) + "')")
    rows = soql_pages(fake, http, soql)[0]["records"]
    assert sorted({r["OpportunityId"] for r in rows}) == parents
    assert len(rows) == 8


def test_soft_deleted_rows_come_back_only_through_query_all(fake, http):
    rid = make_id("006", 5)
    fake.org.delete("Opportunity", rid)
    soql = f"SELECT Id, IsDeleted FROM Opportunity WHERE Id = '{rid}'"
    assert soql_pages(fake, http, soql)[0]["records"] == []
    rows = soql_pages(fake, http, soql, endpoint="queryAll")[0]["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(rid, True)]


def test_hard_deleted_rows_are_gone_from_query_all_but_listed_by_get_deleted(fake, http):
    rid = make_id("003", 2)
    fake.org.delete("Contact", rid, hard=True)
    rows = soql_pages(fake, http, "SELECT Id FROM Contact", endpoint="queryAll")
    assert rid not in {r["Id"] for p in rows for r in p["records"]}
    now = time.time()
    deleted = get(fake, http, "/sobjects/Contact/deleted/", params={
        "start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 3600)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 60))}).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [rid]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}


def test_get_deleted_refuses_a_start_older_than_30_days(fake, http):
    resp = get(fake, http, "/sobjects/Contact/deleted/", params={
        "start": "2020-01-01T00:00:00+00:00", "end": "2020-01-02T00:00:00+00:00"})
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_get_deleted_refuses_a_window_under_a_minute(fake, http):
    now = time.time()
    resp = get(fake, http, "/sobjects/Contact/deleted/", params={
        "start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 30)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))})
    assert resp.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_get_updated_lists_records_changed_in_the_window(sf, fake):
    import datetime as dt

    rid = make_id("001", 1)
    fake.org.update("Account", rid, Name="Renamed")
    now = dt.datetime.now(dt.timezone.utc)
    result = sf.Account.updated(now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=1))
    assert result["ids"] == [rid]


# -- errors ----------------------------------------------------------------------------------

def test_a_quoted_datetime_is_invalid_field_with_a_caret_message(fake, http):
    resp = get(fake, http, "/query", params={
        "q": "SELECT Id FROM Opportunity WHERE CreatedDate >= '2017-01-01'"})
    assert resp.status_code == 400
    [error] = resp.json()
    assert set(error) == {"message", "errorCode"}
    assert error["errorCode"] == "INVALID_FIELD"
    assert "ERROR at Row:1:Column:49" in error["message"]
    assert error["message"].endswith("value of filter criterion for field 'CreatedDate' must "
                                     "be of type dateTime and should not be enclosed in quotes")


def test_a_syntax_error_is_malformed_query(fake, http):
    resp = get(fake, http, "/query", params={"q": "SELECT Id FROM"})
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_an_unknown_object_is_invalid_type(fake, http):
    resp = get(fake, http, "/query", params={"q": "SELECT Id FROM Widget__c"})
    assert resp.json()[0]["errorCode"] == "INVALID_TYPE"


def test_a_field_hidden_by_field_level_security_is_gone_from_describe_and_soql(fake, http):
    fake.org.hide_field("Opportunity", "Amount")
    names = {f["name"] for f in get(fake, http, "/sobjects/Opportunity/describe/").json()[
        "fields"]}
    resp = get(fake, http, "/query", params={"q": "SELECT Id, Amount FROM Opportunity"})
    assert "Amount" not in names
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Amount' on entity 'Opportunity'" in resp.json()[0]["message"]


def test_user_has_no_is_deleted_field_as_in_a_real_org(fake, http):
    resp = get(fake, http, "/query", params={"q": "SELECT Id, IsDeleted FROM User"})
    assert resp.json()[0]["errorCode"] == "INVALID_FIELD"


@pytest.mark.parametrize(("error", "status"), [
    ("SERVER_UNAVAILABLE", 503), ("UNKNOWN_EXCEPTION", 500), ("QUERY_TIMEOUT", 400),
    ("INVALID_SESSION_ID", 401), ("REQUEST_LIMIT_EXCEEDED", 403)])
def test_scripted_errors_use_salesforces_status_and_shape(fake, http, error, status):
    fake.org.faults.add("/query", error=error)
    resp = get(fake, http, "/query", params={"q": "SELECT Id FROM Account"})
    assert resp.status_code == status
    assert [set(e) for e in resp.json()] == [{"message", "errorCode"}]
    assert resp.json()[0]["errorCode"] == error


def test_a_scripted_fault_fires_once_then_the_call_succeeds(fake, http):
    fake.org.faults.add("/limits", status=503)
    assert get(fake, http, "/limits").status_code == 503
    assert get(fake, http, "/limits").status_code == 200


def test_a_fault_can_let_the_first_calls_through(fake, http):
    fake.org.faults.add("/limits", status=500, after=2)
    codes = [get(fake, http, "/limits").status_code for _ in range(4)]
    assert codes == [200, 200, 500, 200]


def test_a_429_carries_retry_after(fake, http):
    fake.org.faults.add("/limits", status=429, retry_after=7)
    resp = get(fake, http, "/limits")
    assert (resp.status_code, resp.headers["Retry-After"]) == (429, "7")


def test_a_delayed_answer_times_the_client_out(fake, http):
    fake.org.faults.add("/limits", delay=2.0)
    with pytest.raises(requests.Timeout):
        get(fake, http, "/limits", timeout=0.3)


def test_a_dropped_connection_is_a_connection_error(fake, http):
    fake.org.faults.add("/limits", drop=True)
    with pytest.raises(requests.ConnectionError):
        get(fake, http, "/limits")


# -- describe --------------------------------------------------------------------------------

def test_describe_lists_fields_with_the_attributes_the_connector_reads(sf):
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    amount = fields["Amount"]
    assert (amount["type"], amount["updateable"], amount["calculated"], amount["custom"],
            amount["precision"], amount["scale"]) == ("currency", True, False, False, 18, 2)
    assert fields["Product_Line__c"]["custom"] is True
    assert fields["SystemModstamp"]["updateable"] is False


def test_global_describe_lists_objects_with_key_prefixes(sf):
    prefixes = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    assert prefixes["Opportunity"] == "006"
    assert prefixes["OpportunityHistory"] == "008"


def test_a_multi_currency_org_has_currency_iso_code_and_currency_type(sf):
    names = {f["name"] for f in sf.Opportunity.describe()["fields"]}
    objects = {o["name"] for o in sf.describe()["sobjects"]}
    assert "CurrencyIsoCode" in names
    assert {"CurrencyType", "DatedConversionRate"} <= objects


def test_a_single_currency_org_has_neither(monkeypatch):
    with FakeSalesforceOrg.start(dataset=Dataset(multi_currency=False)) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_bundle or "")
        sf = Salesforce(instance_url=fake.instance_url, session_id=fake.session_id, version=V)
        names = {f["name"] for f in sf.Opportunity.describe()["fields"]}
        objects = {o["name"] for o in sf.describe()["sobjects"]}
    assert "CurrencyIsoCode" not in names
    assert "CurrencyType" not in objects


# -- writes ----------------------------------------------------------------------------------

def test_collections_update_answers_save_results_in_input_order(sf, fake):
    good, locked = make_id("006", 1), make_id("006", 2)
    fake.org.record_faults.add(locked, "UNABLE_TO_LOCK_ROW")
    results = sf.restful("composite/sobjects", method="PATCH", json={
        "allOrNone": False, "records": [
            {"attributes": {"type": "Opportunity"}, "Id": good, "Name": "Won it"},
            {"attributes": {"type": "Opportunity"}, "Id": locked, "Name": "Locked"},
            {"attributes": {"type": "Opportunity"}, "Id": make_id("006", 3), "IsWon": True},
            {"attributes": {"type": "Opportunity"}, "Name": "no id"}]})
    assert results[0] == {"id": good, "success": True, "errors": []}
    assert [r["success"] for r in results] == [True, False, False, False]
    assert [r["errors"][0]["statusCode"] for r in results[1:]] == [
        "UNABLE_TO_LOCK_ROW", "INVALID_FIELD_FOR_INSERT_UPDATE", "MISSING_ARGUMENT"]
    assert fake.org.get("Opportunity", good)["Name"] == "Won it"
    assert fake.org.get("Opportunity", locked)["Name"] != "Locked"


def test_a_write_moves_the_record_forward_in_the_cursor(sf, fake):
    rid = make_id("006", 1)
    before = fake.org.get("Opportunity", rid)["SystemModstamp"]
    sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Opportunity"}, "Id": rid, "Name": "x"}]})
    assert fake.org.get("Opportunity", rid)["SystemModstamp"] > before


def test_collections_refuse_more_than_200_records(fake, http):
    records = [{"attributes": {"type": "Opportunity"}, "Id": make_id("006", 0)}] * 201
    resp = http.patch(f"{fake.instance_url}/services/data/v{V}/composite/sobjects",
                      json={"allOrNone": False, "records": records})
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_bulk_ingest_reports_failed_records_one_by_one(sf, fake):
    locked = make_id("006", 4)
    fake.org.record_faults.add(locked, "UNABLE_TO_LOCK_ROW")
    [job] = sf.bulk2.Opportunity.update(records=[
        {"Id": make_id("006", 3), "Probability": "42"}, {"Id": locked, "Probability": "43"}],
        wait=0)
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Opportunity.get_failed_records(
        job["job_id"]))))
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Opportunity.get_successful_records(
        job["job_id"]))))
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (2, 1)
    assert [(r["sf__Id"], r["sf__Error"].split(":")[0]) for r in failed] == [
        (locked, "UNABLE_TO_LOCK_ROW")]
    assert [r["sf__Id"] for r in ok] == [make_id("006", 3)]
    assert fake.org.get("Opportunity", make_id("006", 3))["Probability"] == 42.0


def test_metadata_create_adds_a_custom_field_to_describe(sf):
    md = sf.mdapi
    md.CustomField.create([md.CustomField(fullName="Opportunity.Crm_Win_Rate__c",
                                          label="Win rate", type=md.FieldType("Percent"),
                                          precision=5, scale=2)])
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["Crm_Win_Rate__c"]["type"] == "percent"
    assert fields["Crm_Win_Rate__c"]["custom"] is True


def test_metadata_create_without_permission_is_insufficient_access(sf, fake):
    fake.org.metadata_access = False
    md = sf.mdapi
    with pytest.raises(Exception, match="INSUFFICIENT_ACCESS"):
        md.CustomField.create([md.CustomField(fullName="Opportunity.X__c", label="X",
                                              type=md.FieldType("Number"), precision=10,
                                              scale=0)])


# -- Bulk API 2.0 query ----------------------------------------------------------------------

def test_bulk_query_pages_csv_through_sforce_locator(sf, fake):
    pages = list(sf.bulk2.OpportunityHistory.query_all(ALL_HISTORY, max_records=250, wait=0))
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert [len(list(csv.DictReader(io.StringIO(p)))) for p in pages] == [250, 250, 100]
    assert len({r["Id"] for r in rows}) == 600


def test_bulk_query_rows_equal_rest_rows(sf, fake, http):
    soql = ("SELECT Id, Name, Amount, IsWon, CloseDate, SystemModstamp, Owner.Name "
            "FROM Opportunity ORDER BY SystemModstamp, Id")
    rest = [r for p in soql_pages(fake, http, soql) for r in p["records"]]
    bulk = [r for page in sf.bulk2.Opportunity.query(soql, max_records=100, wait=0)
            for r in csv.DictReader(io.StringIO(page))]
    assert [r["Id"] for r in bulk] == [r["Id"] for r in rest]
    assert bulk[0]["Owner.Name"] == rest[0]["Owner"]["Name"]
    assert bulk[0]["IsWon"] == str(rest[0]["IsWon"]).lower()
    assert bulk[0]["SystemModstamp"] == rest[0]["SystemModstamp"]


def test_bulk_results_headers_chain_pages_and_count_records(fake, http):
    base = f"{fake.instance_url}/services/data/v{V}/jobs/query"
    job = http.post(base, json={"operation": "queryAll", "query": ALL_HISTORY}).json()
    while http.get(f"{base}/{job['id']}").json()["state"] != "JobComplete":
        pass
    first = http.get(f"{base}/{job['id']}/results", params={"maxRecords": 500})
    last = http.get(f"{base}/{job['id']}/results", params={
        "maxRecords": 500, "locator": first.headers["Sforce-Locator"]})
    assert first.headers["Sforce-NumberOfRecords"] == "500"
    assert (last.headers["Sforce-Locator"], last.headers["Sforce-NumberOfRecords"]) == (
        "null", "100")
    assert first.text.splitlines()[0] == '"Id","SystemModstamp"'


def test_bulk_query_refuses_count(fake, http):
    resp = http.post(f"{fake.instance_url}/services/data/v{V}/jobs/query", json={
        "operation": "query", "query": "SELECT COUNT() FROM Account"})
    assert resp.status_code == 400


# -- the dataset -----------------------------------------------------------------------------

def test_ids_are_18_characters_with_salesforces_key_prefixes():
    rid = make_id(PREFIXES["Opportunity"], 12345)
    assert len(rid) == 18 and rid.startswith("006")
    assert parse_id(rid) == ("006", 12345)


def test_the_dataset_is_deterministic():
    a = Dataset(opportunities=20).build()
    b = Dataset(opportunities=20).build()
    assert [s.make(s.count - 1) for s in a] == [s.make(s.count - 1) for s in b]


def test_bench_dataset_has_the_issue_sizes():
    specs = {s.name: s.count for s in Dataset.bench().build()}
    assert specs["Opportunity"] == 100_000
    assert specs["OpportunityHistory"] == 400_000
    assert specs["Task"] + specs["Event"] == 300_000
    assert (specs["Contact"], specs["Lead"]) == (50_000, 50_000)


# -- composite -------------------------------------------------------------------------------

def composite(fake: FakeSalesforceOrg, http: requests.Session, subrequests: list[dict[str, Any]],
              all_or_none: bool = False) -> requests.Response:
    return http.post(f"{fake.instance_url}/services/data/v{V}/composite",
                     json={"allOrNone": all_or_none, "compositeRequest": subrequests})


def sub(url: str, ref: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"method": method, "url": f"/services/data/v{V}{url}", "referenceId": ref, **extra}


HISTORY_Q = "/query?q=" + requests.utils.quote(ALL_HISTORY)


def test_composite_answers_each_subrequest_as_the_same_request_alone(fake, http):
    rid = make_id("006", 3)
    urls = ["/sobjects/Account/describe", HISTORY_Q, f"/sobjects/Opportunity/{rid}",
            "/queryAll?q=" + requests.utils.quote("SELECT Id FROM Lead LIMIT 3")]
    resp = composite(fake, http, [sub(u, f"r{k}") for k, u in enumerate(urls)])
    alone = [http.get(f"{fake.instance_url}/services/data/v{V}{u}").json() for u in urls]
    answers = resp.json()["compositeResponse"]
    assert resp.status_code == 200
    assert [a["referenceId"] for a in answers] == ["r0", "r1", "r2", "r3"]
    assert [(a["httpStatusCode"], a["httpHeaders"]) for a in answers] == [(200, {})] * 4
    assert answers[0]["body"] == alone[0]
    assert answers[1]["body"]["records"] == alone[1]["records"]
    assert answers[1]["body"]["totalSize"] == 600
    assert answers[2]["body"] == alone[2]
    assert answers[3]["body"]["records"] == alone[3]["records"]


def test_a_composite_is_one_api_call_and_records_each_subrequest(fake, http):
    fake.reset_calls()
    before = fake.org.api_used
    resp = composite(fake, http, [sub("/sobjects/Account/describe", "a"),
                                  sub("/query?q=SELECT+Id+FROM+Account", "q")])
    assert fake.org.api_used == before + 1
    assert resp.headers["Sforce-Limit-Info"] == f"api-usage={before + 1}/15000"
    assert fake.calls == [("POST", f"/services/data/v{V}/composite")]
    assert [(s.method, s.path, dict(s.query)) for s in fake.subrequests] == [
        ("GET", f"/services/data/v{V}/sobjects/Account/describe", {}),
        ("GET", f"/services/data/v{V}/query", {"q": "SELECT Id FROM Account"})]
    fake.reset_calls()
    assert fake.subrequests == []


def test_a_failing_subrequest_leaves_the_others_alone_without_all_or_none(fake, http):
    answers = composite(fake, http, [
        sub("/sobjects/Widget__c/describe", "bad"), sub("/sobjects/Contact/describe", "ok"),
        sub("/query?q=SELECT+Nope+FROM+Account", "soql")]).json()["compositeResponse"]
    assert answers[0]["httpStatusCode"] == 404
    assert answers[0]["body"][0]["errorCode"] == "NOT_FOUND"
    assert (answers[1]["httpStatusCode"], answers[1]["body"]["name"]) == (200, "Contact")
    assert answers[2]["httpStatusCode"] == 400
    assert answers[2]["body"][0]["errorCode"] == "INVALID_FIELD"


def test_all_or_none_halts_the_composite_after_a_failure(fake, http):
    rid = make_id("006", 1)
    answers = composite(fake, http, [
        sub("/sobjects/Account/describe", "first"), sub("/sobjects/Widget__c/describe", "bad"),
        sub(f"/sobjects/Opportunity/{rid}", "later", method="PATCH", body={"Name": "x"})],
        all_or_none=True).json()["compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [400, 404, 400]
    assert [answers[0]["body"][0]["errorCode"], answers[2]["body"][0]["errorCode"]] == [
        "PROCESSING_HALTED"] * 2
    assert len(fake.subrequests) == 2  # the later one never ran
    assert fake.org.get("Opportunity", rid)["Name"] != "x"


def test_composite_writes_and_pages_like_the_rest_api(fake, http):
    rid = make_id("006", 2)
    answers = composite(fake, http, [
        sub(f"/sobjects/Opportunity/{rid}", "patch", method="PATCH", body={"Name": "Won"}),
        sub("/composite/sobjects", "coll", method="PATCH", body={"allOrNone": False, "records": [
            {"attributes": {"type": "Opportunity"}, "Id": rid, "Amount": 5.0}]}),
        sub(HISTORY_Q, "page1", httpHeaders={"Sforce-Query-Options": "batchSize=200"})]).json()[
        "compositeResponse"]
    assert (answers[0]["httpStatusCode"], answers[0]["body"]) == (204, None)
    assert answers[1]["body"] == [{"id": rid, "success": True, "errors": []}]
    assert fake.org.get("Opportunity", rid)["Name"] == "Won"
    first = answers[2]["body"]
    assert len(first["records"]) == 200
    nxt = composite(fake, http, [{"method": "GET", "url": first["nextRecordsUrl"],
                                  "referenceId": "page2"}]).json()["compositeResponse"][0]
    assert nxt["httpStatusCode"] == 200
    assert len(nxt["body"]["records"]) == 600 - 200  # default batch: the rest


def test_composite_refuses_more_than_25_subrequests_or_5_queries(fake, http):
    before = fake.org.api_used
    many = composite(fake, http, [sub("/limits", f"l{k}") for k in range(26)])
    queries = composite(fake, http, [sub("/query?q=SELECT+Id+FROM+Account", f"q{k}")
                                     for k in range(6)])
    assert many.status_code == 400
    assert many.json() == {"compositeResponse": [{
        "body": [{"errorCode": "LIMIT_EXCEEDED",
                  "message": "The request can’t contain more than 25 operations."}],
        "httpHeaders": {}, "httpStatusCode": 400, "referenceId": None}]}
    assert queries.status_code == 400
    assert queries.json()["compositeResponse"][0]["body"][0]["errorCode"] == "LIMIT_EXCEEDED"
    assert fake.subrequests == []
    assert fake.org.api_used == before + 2
    assert composite(fake, http, [sub("/limits", f"l{k}") for k in range(25)]).status_code == 200


def test_a_subrequest_url_outside_the_data_api_is_not_found(fake, http):
    answers = composite(fake, http, [{"method": "GET", "url": "/services/oauth2/token",
                                      "referenceId": "x"}, sub("/limits", "ok")]).json()[
        "compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [404, 200]
    assert answers[0]["body"][0]["errorCode"] == "NOT_FOUND"


def test_a_scripted_error_fault_answers_the_subrequest_it_matches(fake, http):
    fake.org.faults.add("/query", status=503)
    delay = fake.org.faults.add("/sobjects/", delay=5.0)
    answers = composite(fake, http, [sub("/sobjects/Account/describe", "d"),
                                     sub("/query?q=SELECT+Id+FROM+Account", "q"),
                                     sub("/query?q=SELECT+Id+FROM+Account", "q2")]).json()[
        "compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [200, 503, 200]
    assert answers[1]["body"][0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert delay.fired == 0  # delays and drops act on real HTTP requests only


# -- record counts ---------------------------------------------------------------------------

def test_record_count_lists_the_named_objects_in_the_orgs_order(fake, http):
    before = fake.org.api_used
    body = get(fake, http, "/limits/recordCount",
               params={"sObjects": "Contact,Account,Widget__c"}).json()
    assert body == {"sObjects": [{"count": 30, "name": "Account"},
                                 {"count": 30, "name": "Contact"}]}
    assert fake.org.api_used == before + 1


def test_record_count_without_a_list_counts_every_object(fake, http):
    body = get(fake, http, "/limits/recordCount").json()
    assert [o["name"] for o in body["sObjects"]] == list(fake.org.tables)
    counts = {o["name"]: o["count"] for o in body["sObjects"]}
    assert counts["OpportunityHistory"] == 600


def test_record_count_leaves_out_deleted_records_and_counts_inserts(fake, http):
    fake.org.delete("Contact", make_id("003", 1))
    fake.org.delete("Contact", make_id("003", 2), hard=True)
    fake.org.update("Contact", make_id("003", 3), Title="moved")
    fake.org.insert("Contact", LastName="New")
    body = get(fake, http, "/limits/recordCount", params={"sObjects": "Contact"}).json()
    assert body == {"sObjects": [{"count": 30 - 2 + 1, "name": "Contact"}]}


def test_record_count_needs_view_setup(fake, http):
    fake.org.record_count_access = False
    resp = get(fake, http, "/limits/recordCount", params={"sObjects": "Account"})
    assert resp.status_code == 403
    assert resp.json() == [{"message": "insufficient access rights on object id",
                            "errorCode": "INSUFFICIENT_ACCESS"}]


# -- merges ----------------------------------------------------------------------------------

def test_accounts_contacts_and_leads_describe_master_record_id(sf):
    for describe in (sf.Account.describe(), sf.Contact.describe(), sf.Lead.describe()):
        field = {f["name"]: f for f in describe["fields"]}["MasterRecordId"]
        assert (field["type"], field["referenceTo"], field["relationshipName"],
                field["updateable"]) == ("reference", [describe["name"]], "MasterRecord", False)
    children = sf.Account.describe()["childRelationships"]
    assert {"childSObject": "Account", "field": "MasterRecordId", "relationshipName": None} \
        .items() <= next(c for c in children if c["field"] == "MasterRecordId").items()


def test_a_merge_sends_the_losers_to_the_recycle_bin_pointing_at_the_survivor(fake, http):
    survivor, losers = make_id("001", 1), [make_id("001", 2), make_id("001", 3)]
    before = fake.org.get("Account", survivor)["SystemModstamp"]
    fake.org.merge("Account", survivor, losers)
    ids = "','".join([survivor, *losers])
    soql = f"SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE Id IN ('{ids}') ORDER BY Id"
    alive = soql_pages(fake, http, soql)[0]["records"]
    every = soql_pages(fake, http, soql, endpoint="queryAll")[0]["records"]
    assert [(r["Id"], r["MasterRecordId"]) for r in alive] == [(survivor, None)]
    assert [(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in every] == [
        (survivor, False, None), (losers[0], True, survivor), (losers[1], True, survivor)]
    assert fake.org.get("Account", survivor)["SystemModstamp"] > before
    now = time.time()
    deleted = get(fake, http, "/sobjects/Account/deleted/", params={
        "start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 3600)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 60))}).json()
    assert sorted(d["id"] for d in deleted["deletedRecords"]) == losers


def test_a_merge_takes_at_most_three_records(fake):
    with pytest.raises(ValueError):
        fake.org.merge("Lead", make_id("00Q", 0), [make_id("00Q", k) for k in (1, 2, 3)])
    with pytest.raises(ValueError):
        fake.org.merge("Opportunity", make_id("006", 0), [make_id("006", 1)])
    fake.org.merge("Contact", make_id("003", 0), [make_id("003", 1)])
    with pytest.raises(KeyError):  # already merged away
        fake.org.merge("Contact", make_id("003", 0), [make_id("003", 1)])
    assert fake.org.get("Lead", make_id("00Q", 1))["IsDeleted"] is False


# -- record types and business processes -----------------------------------------------------

@pytest.fixture
def rich(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    """An org with record types, sales processes and OpportunityFieldHistory."""
    yield from _trusted(monkeypatch, Dataset(opportunities=100, activities=30,
                                             record_types=True, field_history=True))


@pytest.fixture
def rich_http(rich: FakeSalesforceOrg) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {rich.session_id}"
    return s


RT_SOQL = ("SELECT Id, Name, DeveloperName, BusinessProcessId, IsActive, SystemModstamp "
           "FROM RecordType WHERE SobjectType = 'Opportunity' ORDER BY Id")
BP_SOQL = ("SELECT Id, Name, IsActive, SystemModstamp FROM BusinessProcess "
           "WHERE TableEnumOrId = 'Opportunity' ORDER BY Id")
RENEWAL_STAGES = ["Qualification", "Proposal/Price Quote", "Negotiation/Review", "Closed Won",
                  "Closed Lost"]


def test_record_types_and_processes_answer_the_connectors_soql(rich, rich_http):
    types = soql_pages(rich, rich_http, RT_SOQL)[0]["records"]
    processes = soql_pages(rich, rich_http, BP_SOQL)[0]["records"]
    assert [p["Name"] for p in processes] == ["Enterprise Sales", "Renewals"]
    assert [p["Id"][:3] for p in processes] == ["019", "019"]
    assert [(t["Name"], t["DeveloperName"], t["BusinessProcessId"]) for t in types] == [
        ("New Business", "New_Business", processes[0]["Id"]),
        ("Upsell", "Upsell", processes[0]["Id"]), ("Renewal", "Renewal", processes[1]["Id"])]
    assert all(t["IsActive"] and t["Id"].startswith("012") for t in types)
    partner = soql_pages(rich, rich_http, "SELECT Name, BusinessProcessId FROM RecordType "
                                          "WHERE SobjectType = 'Account'")[0]["records"]
    assert [(p["Name"], p["BusinessProcessId"]) for p in partner] == [("Partner", None)]


def test_without_the_option_record_types_are_empty_and_opportunity_unchanged(fake, http, sf):
    assert soql_pages(fake, http, RT_SOQL)[0] == {"totalSize": 0, "done": True, "records": []}
    assert soql_pages(fake, http, BP_SOQL)[0]["totalSize"] == 0
    describe = sf.Opportunity.describe()
    assert "RecordTypeId" not in {f["name"] for f in describe["fields"]}
    assert describe["recordTypeInfos"] == [{
        "active": True, "available": True, "defaultRecordTypeMapping": True,
        "developerName": "Master", "master": True, "name": "Master",
        "recordTypeId": "012000000000000AAA", "urls": {
            "layout": f"/services/data/v{V}/sobjects/Opportunity/describe/layouts/"
                      "012000000000000AAA"}}]


def test_opportunities_keep_to_the_stages_of_their_record_types_process(rich, rich_http):
    types = {t["Id"]: t["Name"] for t in soql_pages(rich, rich_http, RT_SOQL)[0]["records"]}
    opps = soql_pages(rich, rich_http, "SELECT Id, RecordTypeId, StageName FROM Opportunity "
                                       "ORDER BY Id")[0]["records"]
    history = soql_pages(rich, rich_http, "SELECT OpportunityId, StageName FROM "
                                          "OpportunityHistory")[0]["records"]
    assert [o["RecordTypeId"] is None for o in opps] == [j % 10 == 0 for j in range(100)]
    assert {types[o["RecordTypeId"]] for o in opps if o["RecordTypeId"]} == {
        "New Business", "Upsell", "Renewal"}
    renewals = {o["Id"] for o in opps if types.get(o["RecordTypeId"]) == "Renewal"}
    stages = {o["StageName"] for o in opps if o["Id"] in renewals} | {
        h["StageName"] for h in history if h["OpportunityId"] in renewals}
    assert stages <= set(RENEWAL_STAGES) and "Negotiation/Review" in stages
    others = {h["StageName"] for h in history if h["OpportunityId"] not in renewals}
    assert "Prospecting" in others


def test_opportunity_describe_lists_its_record_types_and_master(rich):
    sf = Salesforce(instance_url=rich.instance_url, session_id=rich.session_id, version=V)
    describe = sf.Opportunity.describe()
    infos = describe["recordTypeInfos"]
    field = {f["name"]: f for f in describe["fields"]}["RecordTypeId"]
    assert (field["referenceTo"], field["relationshipName"]) == (["RecordType"], "RecordType")
    assert [i["name"] for i in infos] == ["New Business", "Renewal", "Upsell", "Master"]
    assert [i["defaultRecordTypeMapping"] for i in infos] == [True, False, False, False]
    assert [i["master"] for i in infos] == [False, False, False, True]
    assert infos[-1]["recordTypeId"] == "012000000000000AAA"
    assert all(set(i) == {"active", "available", "defaultRecordTypeMapping", "developerName",
                          "master", "name", "recordTypeId", "urls"} for i in infos)
    assert infos[1]["urls"]["layout"] == (f"/services/data/v{V}/sobjects/Opportunity/describe/"
                                          f"layouts/{infos[1]['recordTypeId']}")


def test_describe_layouts_map_each_record_type_to_its_picklist_values(rich, rich_http):
    body = get(rich, rich_http, "/sobjects/Opportunity/describe/layouts/").json()
    assert set(body) == {"layouts", "recordTypeMappings", "recordTypeSelectorRequired"}
    assert body["recordTypeSelectorRequired"] == [True]
    [layout] = body["layouts"]
    assert layout["id"].startswith("00h")
    assert {"detailLayoutSections", "editLayoutSections", "relatedLists", "buttonLayoutSection",
            "quickActionList", "saveOptions"} <= set(layout)
    mappings = {m["name"]: m for m in body["recordTypeMappings"]}
    assert list(mappings) == ["New Business", "Renewal", "Upsell", "Master"]
    assert set(mappings["Renewal"]) == {
        "active", "available", "defaultRecordTypeMapping", "developerName", "layoutId",
        "master", "name", "picklistsForRecordType", "recordTypeId", "urls"}
    assert all(m["layoutId"] == layout["id"] for m in mappings.values())

    def values(name: str, picklist: str) -> list[str]:
        lists = {p["picklistName"]: p["picklistValues"]
                 for p in mappings[name]["picklistsForRecordType"]}
        return [v["value"] for v in lists[picklist]]
    assert values("Renewal", "StageName") == RENEWAL_STAGES
    assert len(values("New Business", "StageName")) == len(values("Master", "StageName")) == 10
    assert values("Renewal", "LeadSource") == values("Master", "LeadSource") != []
    one = mappings["Renewal"]["picklistsForRecordType"][0]["picklistValues"][0]
    assert set(one) == {"active", "defaultValue", "label", "validFor", "value"}
    single = get(rich, rich_http, mappings["Renewal"]["urls"]["layout"][len(f"/services/data/"
                                                                             f"v{V}"):])
    assert single.json()["id"] == layout["id"]


def test_an_object_without_record_types_describes_master_layouts_also_in_composite(fake, http):
    alone = get(fake, http, "/sobjects/Contact/describe/layouts/").json()
    [mapping] = alone["recordTypeMappings"]
    assert (mapping["master"], mapping["recordTypeId"], mapping["name"]) == (
        True, "012000000000000AAA", "Master")
    assert alone["recordTypeSelectorRequired"] == [False]
    [answer] = composite(fake, http, [sub("/sobjects/Contact/describe/layouts", "l")]).json()[
        "compositeResponse"]
    assert (answer["httpStatusCode"], answer["body"]) == (200, alone)
    missing = get(fake, http, f"/sobjects/Contact/describe/layouts/{make_id('012', 0)}")
    assert missing.status_code == 404


def test_history_rows_select_their_opportunitys_record_type_in_rest_and_bulk(rich, rich_http):
    soql = ("SELECT Id, Opportunity.RecordTypeId FROM OpportunityHistory "
            "ORDER BY SystemModstamp, Id")
    rest = soql_pages(rich, rich_http, soql)[0]["records"]
    opp_types = {o["Id"]: o["RecordTypeId"] for o in soql_pages(
        rich, rich_http, "SELECT Id, RecordTypeId FROM Opportunity")[0]["records"]}
    sf = Salesforce(instance_url=rich.instance_url, session_id=rich.session_id, version=V)
    bulk = [r for page in sf.bulk2.OpportunityHistory.query(soql, wait=0)
            for r in csv.DictReader(io.StringIO(page))]
    assert rest[0]["Opportunity"]["attributes"]["type"] == "Opportunity"
    assert {r["Opportunity"]["RecordTypeId"] for r in rest} == set(opp_types.values())
    assert [r["Opportunity.RecordTypeId"] or None for r in bulk] == [
        r["Opportunity"]["RecordTypeId"] for r in rest]


# -- OpportunityFieldHistory -----------------------------------------------------------------

FH_FIELDS = "Id, OpportunityId, Field, DataType, OldValue, NewValue, CreatedById, CreatedDate"


def test_field_history_exists_only_with_its_option(fake, http, rich):
    sf = Salesforce(instance_url=rich.instance_url, session_id=rich.session_id, version=V)
    fields = {f["name"]: f for f in sf.OpportunityFieldHistory.describe()["fields"]}
    assert set(fields) == {"Id", "IsDeleted", "OpportunityId", "CreatedById", "CreatedDate",
                           "Field", "DataType", "OldValue", "NewValue"}
    assert (fields["NewValue"]["type"], fields["NewValue"]["filterable"]) == ("anyType", False)
    assert (fields["OpportunityId"]["relationshipName"], fields["Field"]["type"]) == (
        "Opportunity", "picklist")
    assert {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}[
        "OpportunityFieldHistory"] == "017"
    resp = get(fake, http, "/query", params={"q": "SELECT Id FROM OpportunityFieldHistory"})
    assert resp.json()[0]["errorCode"] == "INVALID_TYPE"


def test_stage_rows_sit_at_the_stage_history_where_the_stage_changed(rich, rich_http):
    opp = make_id("006", 7)
    rows = soql_pages(rich, rich_http, f"SELECT {FH_FIELDS} FROM OpportunityFieldHistory "
                                       f"WHERE OpportunityId = '{opp}' ORDER BY CreatedDate, Id"
                      )[0]["records"]
    history = soql_pages(rich, rich_http, "SELECT StageName, CreatedDate FROM OpportunityHistory"
                                          f" WHERE OpportunityId = '{opp}' ORDER BY "
                                          "CreatedDate")[0]["records"]
    created = rich.org.get("Opportunity", opp)["CreatedDate"]
    assert (rows[0]["Field"], rows[0]["CreatedDate"], rows[0]["OldValue"],
            rows[0]["NewValue"]) == ("created", created, None, None)
    changes = [(b["CreatedDate"], a["StageName"], b["StageName"])
               for a, b in itertools.pairwise(history) if a["StageName"] != b["StageName"]]
    assert [(r["CreatedDate"], r["OldValue"], r["NewValue"]) for r in rows
            if r["Field"] == "StageName"] == changes != []
    assert {r["DataType"] for r in rows if r["Field"] == "StageName"} == {"Text"}


def test_an_owner_change_is_two_rows_ids_then_names(rich, rich_http):
    rows = [r for p in soql_pages(rich, rich_http, f"SELECT {FH_FIELDS} FROM "
                                  "OpportunityFieldHistory WHERE Field = 'Owner' ORDER BY "
                                  "OpportunityId, CreatedDate, Id") for r in p["records"]]
    assert rows and len(rows) % 2 == 0
    for ids, names in zip(rows[::2], rows[1::2], strict=True):
        assert (ids["DataType"], names["DataType"]) == ("EntityId", "Text")
        assert ids["CreatedDate"] == names["CreatedDate"]
        assert ids["OldValue"].startswith("005") and ids["NewValue"] != ids["OldValue"]
        users = {u: rich.org.get("User", u)["Name"] for u in (ids["OldValue"], ids["NewValue"])}
        assert (names["OldValue"], names["NewValue"]) == (users[ids["OldValue"]],
                                                          users[ids["NewValue"]])
    last = {}
    for r in rows:
        if r["DataType"] == "EntityId":
            last[r["OpportunityId"]] = r["NewValue"]
    assert all(rich.org.get("Opportunity", o)["OwnerId"] == u for o, u in last.items())


def test_field_history_is_read_in_created_date_id_order_with_cursor_conditions(rich, rich_http):
    soql = f"SELECT {FH_FIELDS} FROM OpportunityFieldHistory ORDER BY CreatedDate, Id"
    rows = [r for p in soql_pages(rich, rich_http, soql, batch=200) for r in p["records"]]
    keys = [(r["CreatedDate"], r["Id"]) for r in rows]
    assert keys == sorted(keys) and len(rows) == rich.org.tables[
        "OpportunityFieldHistory"].spec.count > 400
    mid = rows[len(rows) // 2]
    lit = mid["CreatedDate"].replace(".000+0000", "Z")
    cursor = (f"SELECT Id FROM OpportunityFieldHistory WHERE CreatedDate > {lit} OR "
              f"(CreatedDate = {lit} AND Id > '{mid['Id']}') ORDER BY CreatedDate, Id")
    assert [r["Id"] for p in soql_pages(rich, rich_http, cursor) for r in p["records"]] == [
        r["Id"] for r in rows[len(rows) // 2 + 1:]]
    count = get(rich, rich_http, "/query", params={
        "q": "SELECT COUNT() FROM OpportunityFieldHistory WHERE CreatedDate > "
             "2026-01-01T00:00:00Z"}).json()["totalSize"]
    assert count == sum(1 for r in rows if r["CreatedDate"] > "2026-01-01T00:00:00")
    stage = [r["Id"] for r in rows if r["Field"] == "StageName"]
    for where in ("Field = 'StageName'", "Field IN ('StageName')"):
        got = soql_pages(rich, rich_http, f"SELECT Id FROM OpportunityFieldHistory WHERE {where}"
                                          " ORDER BY CreatedDate, Id")[0]["records"]
        assert [r["Id"] for r in got] == stage
    opps = [make_id("006", 3), make_id("006", 4)]
    by_opp = soql_pages(rich, rich_http, f"SELECT {FH_FIELDS} FROM OpportunityFieldHistory "
                                         f"WHERE OpportunityId IN ('{opps[0]}', '{opps[1]}') "
                                         "ORDER BY OpportunityId, CreatedDate, Id"
                        )[0]["records"]
    assert by_opp == sorted((r for r in rows if r["OpportunityId"] in opps),
                            key=lambda r: (r["OpportunityId"], r["CreatedDate"], r["Id"]))
    after = soql_pages(rich, rich_http, "SELECT Id, OpportunityId FROM OpportunityFieldHistory "
                                        f"WHERE OpportunityId > '{make_id('006', 97)}'"
                       )[0]["records"]
    assert {r["OpportunityId"] for r in after} == {make_id("006", 98), make_id("006", 99)}


def test_field_history_through_bulk_equals_rest(rich, rich_http):
    soql = (f"SELECT {FH_FIELDS}, Opportunity.RecordTypeId FROM OpportunityFieldHistory "
            "WHERE CreatedDate > 2025-06-01T00:00:00Z ORDER BY OpportunityId, CreatedDate, Id")
    rest = [r for p in soql_pages(rich, rich_http, soql) for r in p["records"]]
    sf = Salesforce(instance_url=rich.instance_url, session_id=rich.session_id, version=V)
    bulk = [r for page in sf.bulk2.OpportunityFieldHistory.query(soql, max_records=100, wait=0)
            for r in csv.DictReader(io.StringIO(page))]
    assert [r["Id"] for r in bulk] == [r["Id"] for r in rest] != []
    assert [(r["Field"], r["NewValue"], r["Opportunity.RecordTypeId"]) for r in bulk] == [
        (r["Field"], r["NewValue"] or "", r["Opportunity"]["RecordTypeId"] or "") for r in rest]
    assert "SystemModstamp" not in rest[0]


def test_field_history_rows_can_be_inserted_and_deleted(rich, rich_http):
    opp = make_id("006", 5)
    rid = rich.org.insert("OpportunityFieldHistory", OpportunityId=opp, Field="Amount",
                          DataType="Currency", OldValue=1000.0, NewValue=2500.0)
    soql = ("SELECT Id, Field, OldValue, NewValue, IsDeleted FROM OpportunityFieldHistory "
            f"WHERE OpportunityId = '{opp}' AND Field = 'Amount'")
    [row] = soql_pages(rich, rich_http, soql)[0]["records"]
    assert (row["Id"], row["OldValue"], row["NewValue"]) == (rid, 1000.0, 2500.0)
    lit = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    recent = soql_pages(rich, rich_http, "SELECT Id FROM OpportunityFieldHistory WHERE "
                                         f"CreatedDate > {lit}")[0]["records"]
    assert [r["Id"] for r in recent] == [rid]
    rich.org.delete("OpportunityFieldHistory", rid)
    assert soql_pages(rich, rich_http, soql)[0]["records"] == []
    [gone] = soql_pages(rich, rich_http, soql, endpoint="queryAll")[0]["records"]
    assert gone["IsDeleted"] is True
    now = time.time()
    deleted = get(rich, rich_http, "/sobjects/OpportunityFieldHistory/deleted/", params={
        "start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 3600)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 60))}).json()
    assert [d["id"] for d in deleted["deletedRecords"]] == [rid]


@pytest.fixture
def changing(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    """An org whose deals are resized, pushed and re-forecast (``field_changes``)."""
    yield from _trusted(monkeypatch, Dataset(opportunities=60, activities=10,
                                             field_history=True, field_changes=True))


def _history_of(org: FakeSalesforceOrg, obj: str, opp: str) -> list[dict[str, Any]]:
    table = org.org.tables[obj]
    rows = [table.record(ref) for _, ref in table.scan(None, None)]
    return sorted((r for r in rows if r["OpportunityId"] == opp),
                  key=lambda r: (r["CreatedDate"], r["Id"]))


def test_field_changes_end_at_each_deals_current_values(changing):
    pushed = resized = recast = 0
    for n in range(60):
        deal = changing.org.get("Opportunity", make_id("006", n))
        snaps = _history_of(changing, "OpportunityHistory", deal["Id"])
        last = snaps[-1]
        assert (last["Amount"], last["CloseDate"]) == (deal["Amount"], deal["CloseDate"])
        assert {"Best Case": "BestCase", "Commit": "Forecast"}.get(
            deal["ForecastCategoryName"], deal["ForecastCategoryName"]) == \
            last["ForecastCategory"] == deal["ForecastCategory"]
        resized += len({s["Amount"] for s in snaps}) > 1
        pushed += len({s["CloseDate"] for s in snaps}) > 2
        recast += any(s["ForecastCategory"] == "BestCase" for s in snaps)
    assert resized and pushed and recast


def test_field_history_rows_follow_the_snapshots_of_tracked_fields(changing):
    deal = make_id("006", 2)
    snaps = _history_of(changing, "OpportunityHistory", deal)
    rows = _history_of(changing, "OpportunityFieldHistory", deal)
    for field, kind, snap in (("Amount", "Currency", "Amount"), ("CloseDate", "Date",
                                                                  "CloseDate")):
        expected = [(b["CreatedDate"], a[snap], b[snap]) for a, b in itertools.pairwise(snaps)
                    if a[snap] != b[snap]]
        assert [(r["CreatedDate"], r["OldValue"], r["NewValue"]) for r in rows
                if r["Field"] == field] == expected
        assert {r["DataType"] for r in rows if r["Field"] == field} <= {kind}


def test_only_tracked_fields_are_in_the_picklist_and_the_rows(monkeypatch):
    dataset = Dataset(opportunities=20, activities=10, field_history=True, field_changes=True,
                      tracked_fields=("StageName", "Amount"))
    for org in _trusted(monkeypatch, dataset):
        sf = Salesforce(instance_url=org.instance_url, session_id=org.session_id, version=V)
        field = next(f for f in sf.OpportunityFieldHistory.describe()["fields"]
                     if f["name"] == "Field")
        table = org.org.tables["OpportunityFieldHistory"]
        kinds = {table.record(ref)["Field"] for _, ref in table.scan(None, None)}
    assert [v["value"] for v in field["picklistValues"]] == ["created", "StageName", "Amount"]
    assert kinds == {"created", "StageName", "Amount"}


def test_a_save_with_history_writes_the_snapshot_and_the_tracked_changes(changing):
    from fakes.sf_field_history import save_with_history

    deal = changing.org.get("Opportunity", make_id("006", 9))
    new_owner = make_id("005", 1) if deal["OwnerId"] != make_id("005", 1) else make_id("005", 2)
    rows = save_with_history(changing.org, deal["Id"], at=changing.org.now(),
                             by=make_id("005", 0), Amount=None, OwnerId=new_owner,
                             NextStep="call back")

    (snap,) = rows["OpportunityHistory"]
    assert changing.org.get("OpportunityHistory", snap)["Amount"] is None
    written = [changing.org.get("OpportunityFieldHistory", r)
               for r in rows["OpportunityFieldHistory"]]
    assert [(r["Field"], r["DataType"]) for r in written] == [
        ("Amount", "Currency"), ("Owner", "EntityId"), ("Owner", "Text"),
        ("NextStep", "Text")]
    assert (written[1]["OldValue"], written[1]["NewValue"]) == (deal["OwnerId"], new_owner)
    assert written[2]["NewValue"] == changing.org.get("User", new_owner)["Name"]
