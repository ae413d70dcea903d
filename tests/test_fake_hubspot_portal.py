"""The fake HubSpot portal speaks HubSpot's API: checked with hubspot-api-client and requests."""

from __future__ import annotations

import hubspot
import pytest
import requests
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.objects import ApiException

from fakes.hs_data import TIED_TS, Dataset
from fakes.hubspot_portal import FakeHubSpotPortal


class Api:
    """requests against one fake portal, authenticated."""

    def __init__(self, fake: FakeHubSpotPortal, token: str | None = None) -> None:
        self.fake = fake
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or fake.access_token}"

    def get(self, path: str, **params: object) -> requests.Response:
        return self.session.get(self.fake.base_url + path, params=params, timeout=30)

    def post(self, path: str, body: object, **kw: object) -> requests.Response:
        return self.session.post(self.fake.base_url + path, json=body, timeout=30, **kw)


@pytest.fixture
def api(fake_hubspot: FakeHubSpotPortal) -> Api:
    return Api(fake_hubspot)


def sdk(fake: FakeHubSpotPortal) -> hubspot.Client:
    return hubspot.Client.create(access_token=fake.access_token, host=fake.base_url)


def search_body(prop: str = "hs_lastmodifieddate", after: int = 0, limit: int = 100,
                filters: list | None = None, sort: str | None = None) -> dict:
    return {"filterGroups": [{"filters": filters if filters is not None else
                              [{"propertyName": prop, "operator": "GTE", "value": "0"}]}],
            "sorts": [{"propertyName": sort or prop, "direction": "ASCENDING"}],
            "limit": limit, "after": str(after), "properties": ["dealname", "dealstage"]}


# -- objects: list ------------------------------------------------------------------------------

def test_list_pages_through_every_deal_once_and_the_last_page_has_no_paging(api):
    ids, after, pages = [], None, 0
    while True:
        body = api.get("/crm/v3/objects/deals", limit=50,
                       **({"after": after} if after else {})).json()
        ids += [r["id"] for r in body["results"]]
        pages += 1
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert sorted(ids) == sorted(api.fake.portal.ids("deals")) and len(set(ids)) == 120
    assert pages == 3


def test_every_property_value_is_a_string_or_null(api):
    names = [p["name"] for p in api.get("/crm/v3/properties/deals").json()["results"]]
    body = api.post("/crm/v3/objects/deals/batch/read",
                    {"inputs": [{"id": i} for i in api.fake.portal.ids("deals")[:100]],
                     "properties": names}).json()
    values = [v for r in body["results"] for v in r["properties"].values()]
    assert values and all(v is None or isinstance(v, str) for v in values)
    assert any(v is None for v in values)


def test_inline_associations_repeat_a_primary_company_labelled_and_unlabelled(api):
    body = api.get("/crm/v3/objects/deals", limit=20, associations="companies").json()
    entries = next(r["associations"]["companies"]["results"] for r in body["results"]
                   if "associations" in r)
    assert [e["type"] for e in entries] == ["deal_to_company", "deal_to_company_unlabeled"]
    assert entries[0]["id"] == entries[1]["id"]


def test_list_through_hubspot_api_client_deserialises_pages(fake_hubspot):
    page = sdk(fake_hubspot).crm.deals.basic_api.get_page(limit=5, properties=["amount"])
    assert len(page.results) == 5 and page.paging.next.after
    assert all(isinstance(r.properties["hs_object_id"], str) for r in page.results)


# -- search --------------------------------------------------------------------------------------

def test_search_past_ten_thousand_results_is_http_400_validation_error(api):
    res = api.post("/crm/v3/objects/deals/search", search_body(after=9_901, limit=100))
    assert res.status_code == 400
    assert res.json()["category"] == "VALIDATION_ERROR" and res.json()["status"] == "error"


def test_search_sorts_by_modification_time_and_pages_by_offset(api):
    first = api.post("/crm/v3/objects/deals/search", search_body(limit=100)).json()
    second = api.post("/crm/v3/objects/deals/search", search_body(after=100, limit=100)).json()
    assert first["total"] == 120 and first["paging"]["next"]["after"] == "100"
    assert "paging" not in second
    stamps = [r["properties"]["hs_lastmodifieddate"] for r in first["results"] + second["results"]]
    assert stamps == sorted(stamps) and len(stamps) == 120


def test_search_on_one_timestamp_pages_by_object_id_past_the_cap(fake_hubspot_factory):
    fake = fake_hubspot_factory(Dataset(deals=10_300, contacts=10, companies=5, engagements=0,
                                        tied=10_250))
    api, seen, last = Api(fake), [], 0
    while True:
        body = search_body(filters=[
            {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(TIED_TS)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}],
            sort="hs_object_id", limit=200)
        page = api.post("/crm/v3/objects/deals/search", body).json()["results"]
        if not page:
            break
        seen += [int(r["id"]) for r in page]
        last = seen[-1]
    assert len(seen) == 10_250 and seen == sorted(set(seen))


def test_search_without_index_filters_evaluates_other_properties(api):
    body = search_body(filters=[{"propertyName": "dealstage", "operator": "EQ",
                                 "value": "closedwon"}])
    res = api.post("/crm/v3/objects/deals/search", body).json()
    assert res["total"] > 0 and \
        {r["properties"]["dealstage"] for r in res["results"]} == {"closedwon"}


def test_search_sorted_descending_returns_the_newest_first(api):
    body = search_body(limit=5)
    body["sorts"] = [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]
    page = api.post("/crm/v3/objects/deals/search", body).json()["results"]
    stamps = [r["properties"]["hs_lastmodifieddate"] for r in page]
    newest = max(api.fake.portal.record("deals", i)["hs_lastmodifieddate"]
                 for i in api.fake.portal.ids("deals"))
    assert stamps == sorted(stamps, reverse=True) and stamps[0] == newest


def test_search_in_filter_matches_any_listed_value(api):
    body = search_body(filters=[{"propertyName": "deal_currency_code", "operator": "IN",
                                 "values": ["EUR", "GBP"]}], limit=200)
    body["properties"] = ["deal_currency_code"]
    res = api.post("/crm/v3/objects/deals/search", body).json()
    assert {r["properties"]["deal_currency_code"] for r in res["results"]} == {"EUR", "GBP"}


def test_a_modified_record_moves_to_the_end_of_the_search_order(api):
    portal = api.fake.portal
    victim = portal.ids("deals")[0]
    portal.update("deals", victim, {"dealname": "Renamed"})
    res = api.post("/crm/v3/objects/deals/search", search_body(limit=200)).json()
    assert res["results"][-1]["id"] == victim
    assert res["results"][-1]["properties"]["dealname"] == "Renamed"


def test_contacts_are_searched_on_lastmodifieddate(api):
    res = api.post("/crm/v3/objects/contacts/search", search_body("lastmodifieddate", limit=10))
    assert res.status_code == 200 and res.json()["total"] == 200
    assert "lastmodifieddate" in res.json()["results"][0]["properties"]


# -- archived and merged records -----------------------------------------------------------------

def test_an_archived_record_leaves_lists_and_search_for_the_archived_list(api):
    portal = api.fake.portal
    victim = portal.ids("deals")[3]
    portal.archive("deals", victim)
    live = api.get("/crm/v3/objects/deals", limit=100).json()["results"]
    archived = api.get("/crm/v3/objects/deals", archived="true").json()["results"]
    searched = api.post("/crm/v3/objects/deals/search", search_body(limit=200)).json()
    assert victim not in {r["id"] for r in live} | {r["id"] for r in searched["results"]}
    assert [(r["id"], r["archived"]) for r in archived] == [(victim, True)]
    assert archived[0]["archivedAt"]


def test_archived_flag_is_read_case_insensitively_as_the_sdk_sends_true(api):
    victim = api.fake.portal.ids("deals")[4]
    api.fake.portal.archive("deals", victim)
    archived = api.get("/crm/v3/objects/deals", archived="True").json()["results"]
    assert [r["id"] for r in archived] == [victim]


def test_batch_read_of_a_merged_id_returns_the_survivor(api):
    portal = api.fake.portal
    survivor, merged = portal.ids("contacts")[:2]
    portal.merge("contacts", survivor, merged)
    res = api.post("/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": merged}]})
    record = res.json()["results"][0]
    assert res.status_code == 200 and record["id"] == survivor
    assert merged in portal.record("contacts", survivor)["hs_merged_object_ids"].split(";")
    assert merged not in api.fake.portal.ids("contacts")


def test_batch_read_of_unknown_ids_is_207_with_object_not_found(api):
    known = api.fake.portal.ids("companies")[0]
    res = api.post("/crm/v3/objects/companies/batch/read",
                   {"inputs": [{"id": known}, {"id": "123"}], "properties": ["name"]})
    assert res.status_code == 207
    assert res.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert res.json()["errors"][0]["context"]["ids"] == ["123"]


def test_batch_read_with_history_takes_at_most_fifty_inputs(api):
    ids = api.fake.portal.ids("deals")[:51]
    res = api.post("/crm/v3/objects/deals/batch/read",
                   {"inputs": [{"id": i} for i in ids], "propertiesWithHistory": ["dealstage"]})
    assert res.status_code == 400


def test_stage_history_is_newest_first_and_ends_in_the_current_stage(api):
    deal = api.fake.portal.ids("deals")[0]
    api.fake.portal.update("deals", deal, {"dealstage": "closedlost"})
    record = api.post("/crm/v3/objects/deals/batch/read",
                      {"inputs": [{"id": deal}], "properties": ["dealstage"],
                       "propertiesWithHistory": ["dealstage"]}).json()["results"][0]
    history = record["propertiesWithHistory"]["dealstage"]
    assert history[0]["value"] == "closedlost" == record["properties"]["dealstage"]
    assert [h["timestamp"] for h in history] == sorted((h["timestamp"] for h in history),
                                                       reverse=True)


# -- write path ---------------------------------------------------------------------------------

def test_batch_update_reports_rejected_and_unknown_records_as_207_errors(api):
    portal = api.fake.portal
    ok, locked = portal.ids("deals")[:2]
    portal.reject_writes("deals", locked)
    res = api.post("/crm/v3/objects/deals/batch/update", {"inputs": [
        {"id": ok, "properties": {"deal_region": "APAC"}},
        {"id": locked, "properties": {"deal_region": "APAC"}},
        {"id": "999", "properties": {"deal_region": "APAC"}}]})
    body = res.json()
    assert res.status_code == 207 and body["numErrors"] == 2
    assert sorted(i for e in body["errors"] for i in e["context"]["ids"]) == sorted([locked, "999"])
    assert [r["id"] for r in body["results"]] == [ok]
    assert portal.record("deals", ok)["deal_region"] == "APAC"


def test_batch_update_with_a_date_not_at_midnight_fails_the_whole_batch(api):
    portal = api.fake.portal
    a, b = portal.ids("deals")[:2]
    before = portal.record("deals", a)["closedate"]
    res = api.post("/crm/v3/objects/deals/batch/update", {"inputs": [
        {"id": a, "properties": {"closedate": "2026-01-01T00:00:00Z"}},
        {"id": b, "properties": {"amount": "not a number"}}]})
    assert res.status_code == 400 and "INVALID_FLOAT" in res.json()["message"]
    assert portal.record("deals", a)["closedate"] == before


def test_creating_a_property_twice_is_a_409_conflict(api):
    api.post("/crm/v3/properties/deals/groups", {"name": "crmsync", "label": "crmsync"})
    definition = {"name": "crmsync_win_rate", "label": "Win rate", "type": "number",
                  "fieldType": "number", "groupName": "crmsync"}
    first = api.post("/crm/v3/properties/deals", definition)
    again = api.post("/crm/v3/properties/deals", definition)
    assert first.status_code == 201 and "hubspotDefined" not in first.json()
    assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"


def test_creating_a_property_without_the_schema_scope_is_403_missing_scopes(api):
    api.fake.portal.scopes.discard("crm.schemas.deals.write")
    res = api.post("/crm/v3/properties/deals", {"name": "x", "label": "x", "type": "string",
                                                "fieldType": "text",
                                                "groupName": "dealinformation"})
    assert res.status_code == 403 and res.json()["category"] == "MISSING_SCOPES"


def test_properties_flag_calculated_read_only_and_unique_values(api):
    props = {p["name"]: p for p in api.get("/crm/v3/properties/deals").json()["results"]}
    assert props["hs_is_closed_won"]["calculated"] is True
    assert props["hs_is_closed_won"]["modificationMetadata"]["readOnlyValue"] is True
    assert props["crm_external_key"]["hasUniqueValue"] is True
    assert "hubspotDefined" not in props["deal_region"]


# -- metadata -------------------------------------------------------------------------------------

def test_pipeline_stage_metadata_are_strings(api):
    stages = [s for p in api.get("/crm/v3/pipelines/deals").json()["results"] for s in p["stages"]]
    assert {type(s["metadata"]["probability"]) for s in stages} == {str}
    assert {s["metadata"]["isClosed"] for s in stages} == {"true", "false"}


def test_owners_have_teams_and_archived_owners_are_listed_apart(fake_hubspot):
    owners = sdk(fake_hubspot).crm.owners.owners_api.get_page(limit=100)
    archived = Api(fake_hubspot).get("/crm/v3/owners/", archived="true").json()["results"]
    assert all(o.teams and o.teams[0].primary for o in owners.results)
    assert archived and all(a["archived"] for a in archived)
    assert not {o.id for o in owners.results} & {a["id"] for a in archived}


def test_v4_association_batch_read_through_hubspot_api_client(fake_hubspot):
    ids = fake_hubspot.portal.ids("deals")[:10]
    res = sdk(fake_hubspot).crm.associations.v4.batch_api.get_page(
        "deals", "contacts", BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[{"id": i} for i in ids]))
    assert {r._from.id for r in res.results} == set(ids)
    assert all(t.to_object_id for r in res.results for t in r.to)


# -- limits, faults, auth --------------------------------------------------------------------------

def test_rate_limit_headers_count_every_call(api):
    first = api.get("/crm/v3/objects/companies", limit=1).headers
    second = api.get("/crm/v3/objects/companies", limit=1).headers
    assert int(second["X-HubSpot-RateLimit-Remaining"]) == \
        int(first["X-HubSpot-RateLimit-Remaining"]) - 1
    assert int(second["X-HubSpot-RateLimit-Daily-Remaining"]) == \
        int(first["X-HubSpot-RateLimit-Daily-Remaining"]) - 1
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_past_the_ten_second_limit_the_answer_is_429_ten_secondly_rolling(api):
    limits = api.fake.portal.limits
    limits.enforce_interval, limits.max_per_interval = True, 3
    answers = [api.get("/crm/v3/objects/companies", limit=1) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert answers[-1].json()["errorType"] == "RATE_LIMIT"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_a_spent_daily_allowance_answers_429_daily(api):
    api.fake.portal.limits.exhaust_daily()
    res = api.get("/crm/v3/objects/companies", limit=1)
    assert res.status_code == 429 and res.json()["policyName"] == "DAILY"
    assert res.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_search_has_its_own_per_second_limit(api):
    api.fake.portal.limits.enforce_search = True
    api.fake.portal.limits.search_per_second = 2
    codes = [api.post("/crm/v3/objects/deals/search", search_body(limit=1)).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
    assert api.get("/crm/v3/objects/deals", limit=1).status_code == 200


def test_scripted_5xx_answers_then_normal_service(api):
    api.fake.fail_next(502, times=2, pattern="objects/deals")
    codes = [api.get("/crm/v3/objects/deals", limit=1).status_code for _ in range(3)]
    assert codes == [502, 502, 200]


def test_a_slow_response_runs_into_the_client_timeout(api):
    api.fake.slow_next(2.0, pattern="objects/deals")
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.get(api.fake.base_url + "/crm/v3/objects/deals", timeout=0.3)


def test_an_expired_token_is_401_expired_authentication(fake_hubspot):
    fake_hubspot.portal.expire_tokens()
    with pytest.raises(ApiException) as err:
        sdk(fake_hubspot).crm.objects.basic_api.get_page("deals", limit=1)
    assert err.value.status == 401 and "EXPIRED_AUTHENTICATION" in err.value.body


def test_oauth_refresh_issues_a_token_the_portal_accepts(fake_hubspot):
    portal = fake_hubspot.portal
    token = sdk(fake_hubspot).oauth.tokens_api.create(
        grant_type="refresh_token", client_id=portal.client_id,
        client_secret=portal.client_secret, refresh_token=portal.refresh_token)
    assert token.expires_in == portal.token_lifetime
    assert Api(fake_hubspot, token.access_token).get("/crm/v3/objects/deals", limit=1).ok


def test_oauth_refresh_with_an_unknown_refresh_token_is_400(fake_hubspot):
    res = requests.post(fake_hubspot.base_url + "/oauth/v1/token", timeout=10, data={
        "grant_type": "refresh_token", "client_id": fake_hubspot.portal.client_id,
        "client_secret": fake_hubspot.portal.client_secret, "refresh_token": "stolen"})
    assert res.status_code == 400 and res.json()["status"] == "BAD_REFRESH_TOKEN"


def test_calls_are_logged_with_method_path_and_body(api):
    api.post("/crm/v3/objects/deals/search", search_body(limit=1))
    method, path, body = api.fake.calls[-1]
    assert (method, path, body["limit"]) == ("POST", "/crm/v3/objects/deals/search", 1)


def test_the_dataset_is_deterministic(fake_hubspot_factory):
    one, two = (Api(fake_hubspot_factory(Dataset(deals=30))) for _ in range(2))
    pages = [a.get("/crm/v3/objects/deals", limit=30, properties="amount,dealstage,closedate")
             .json()["results"] for a in (one, two)]
    assert pages[0] == pages[1]


def _histories(fake: FakeHubSpotPortal, props: list[str]) -> list[dict]:
    api = Api(fake)
    ids = [fake.portal.tables["deals"].id_of(i) for i in range(40)]
    body = {"inputs": [{"id": i} for i in ids], "properties": ["amount"],
            "propertiesWithHistory": props}
    resp = api.post("/crm/v3/objects/deals/batch/read", body)
    assert resp.status_code == 200
    return resp.json()["results"]


HISTORY_PROPS = ["amount", "closedate", "hubspot_owner_id", "hs_manual_forecast_category",
                 "deal_currency_code", "hs_deal_stage_probability"]


def test_field_changes_give_deal_histories_that_end_at_the_current_values(
        fake_hubspot_factory):
    fake = fake_hubspot_factory(Dataset(deals=40, field_changes=True))
    results = _histories(fake, HISTORY_PROPS)
    changed: set[str] = set()
    for deal in results:
        current = fake.portal.tables["deals"].properties(
            fake.portal.tables["deals"].index_of(deal["id"]))
        for prop, entries in deal["propertiesWithHistory"].items():
            stamps = [e["timestamp"] for e in entries]
            assert stamps == sorted(stamps, reverse=True)  # newest first
            if entries:
                assert (entries[0]["value"] or None) == current.get(prop), (deal["id"], prop)
            if len({e["value"] for e in entries}) > 1:
                changed.add(prop)
    assert changed == set(HISTORY_PROPS)


def test_without_field_changes_a_property_has_its_creation_value_only(fake_hubspot):
    results = _histories(fake_hubspot, ["amount", "closedate"])
    assert all(len(entries) <= 1 for deal in results
               for entries in deal["propertiesWithHistory"].values())
