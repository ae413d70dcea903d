"""The Salesforce connector replaying recorded HTTP exchanges (vcrpy cassettes).

Cassettes live in ``cassettes/salesforce/test_salesforce_cassettes/<test>.yaml`` and replay with
``record_mode="none"``: no network. To re-record them against a sandbox org (or the fake org)::

    export SF_INSTANCE_URL=https://mycompany--dev.sandbox.my.salesforce.com
    export SF_SESSION_ID=...            # an access token of the integration user
    export SF_CA_BUNDLE=...             # optional: a CA bundle for the org's TLS
    pytest tests/test_salesforce_cassettes.py --record-cassettes

The org needs accounts, contacts, more than 200 leads and opportunities with stage history
and field changes, products, forecast quotas and campaigns (the fake org: ``Dataset(leads=250,
field_history=True, field_changes=True, products=6, forecast_quarters=2, campaigns=12)``,
``python tests/fakes/record_salesforce_cassettes.py``), and — for the
write-back test — the right to create a custom field on Opportunity. The assertions hold for
any such data. Before anything is written: the ``Authorization`` header is dropped, session ids
become ``00D000000000000!SESSION``, e-mail addresses ``someone@example.com`` and the org's host
``example.my.salesforce.com``. Requests match on method, path, query (getDeleted's clock-made
``start``/``end`` aside) and body.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pytest
import vcr
from vcr.request import Request as VcrRequest

from crmsync.plugin.connector import FieldSpec, WriteUpdate
from crmsync.sync.validate import validator_for
from crmsync_salesforce import SalesforceConnector

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "salesforce" / \
    "test_salesforce_cassettes"
HOST = "example.my.salesforce.com"
SESSION = "00D000000000000!SESSION"

_SESSION_ID = re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_CLOCK_PARAMS = {"start", "end"}
#: Credentials in login bodies: SOAP <username>/<password>, OAuth form fields and tokens.
_SOAP_SECRET = re.compile(r"<(?P<tag>(?:\w+:)?(?:username|password))>[^<]*</(?P=tag)>")
_FORM_SECRET = re.compile(r"\b(assertion|client_secret|password|refresh_token)=[^&]*")
_JSON_TOKEN = re.compile(r'"(access_token|refresh_token|id_token)"\s*:\s*"[^"]*"')


def _recording_host() -> str:
    return urlsplit(os.environ.get("SF_INSTANCE_URL", "")).netloc


def _scrub(text: str) -> str:
    text = _SOAP_SECRET.sub(lambda m: f"<{m['tag']}>SCRUBBED</{m['tag']}>", text)
    text = _FORM_SECRET.sub(lambda m: f"{m[1]}=SCRUBBED", text)
    text = _JSON_TOKEN.sub(lambda m: f'"{m[1]}": "SCRUBBED"', text)
    text = _SESSION_ID.sub(SESSION, text)
    text = _EMAIL.sub("someone@example.com", text)
    host = _recording_host()
    return text.replace(host, HOST) if host else text


def _scrub_request(request: VcrRequest) -> VcrRequest:
    parts = urlsplit(request.uri)
    request.uri = urlunsplit(parts._replace(netloc=HOST))
    if request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        request.body = _scrub(body).encode()
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response["body"]["string"]
    text = body.decode() if isinstance(body, bytes) else body
    response["body"]["string"] = _scrub(text).encode()
    for name in ("Set-Cookie", "set-cookie"):
        response["headers"].pop(name, None)
    return response


def _query_without_clock(r1: VcrRequest, r2: VcrRequest) -> None:
    """vcrpy matcher: the query strings agree, getDeleted's start/end aside."""
    def params(r: VcrRequest) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in parse_qsl(urlsplit(r.uri).query)
                      if k not in _CLOCK_PARAMS)
    assert params(r1) == params(r2)


@pytest.fixture
def cassette(request: pytest.FixtureRequest, record_cassettes: bool) -> Iterator[None]:
    """Replay (or, with ``--record-cassettes``, record) this test's cassette."""
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record_cassettes else "none",
        match_on=("method", "path", "query_without_clock", "body"),
        filter_headers=["authorization", "cookie"],
        decode_compressed_response=True,
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
    )
    recorder.register_matcher("query_without_clock", _query_without_clock)
    with recorder.use_cassette(f"{request.node.name}.yaml"):
        yield


@pytest.fixture
def make_connector(cassette: None, record_cassettes: bool) -> Iterator[Any]:
    """Connectors on the recorded org (or, when recording, the one in SF_INSTANCE_URL)."""
    if record_cassettes:
        base = {"instance_url": os.environ["SF_INSTANCE_URL"],
                "session_id": os.environ["SF_SESSION_ID"],
                "ca_bundle": os.environ.get("SF_CA_BUNDLE", "")}
    else:
        base = {"instance_url": f"https://{HOST}", "session_id": SESSION}
    made: list[SalesforceConnector] = []

    def make(**settings: Any) -> SalesforceConnector:
        c = SalesforceConnector("sf", SalesforceConnector.validate_settings({**base, **settings}))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def _records(connector: SalesforceConnector, entity: str, cursor: Any = None
             ) -> list[dict[str, Any]]:
    return [r for b in connector.read(entity, cursor) for r in b.records]


def test_accounts_are_read_with_one_describe_and_the_query_pages(make_connector: Any) -> None:
    connector = make_connector(objects=["accounts"])
    accounts = _records(connector, "accounts")
    validator = validator_for("accounts")

    assert accounts and all(not validator.validate(a)[1] for a in accounts)
    calls = connector.api_calls.by_endpoint
    # Account and the territory objects described in one composite call; the record counts
    # size the full read; one page of accounts (queryAll), then the active model, its
    # territories and the assignments of the page's accounts (a page of few accounts looks
    # them up by account, live ones only)
    assert (calls["POST /composite"], calls["GET /limits/recordCount"]) == (1, 1)
    assert "GET /sobjects/Account/describe" not in calls and "GET /limits" not in calls
    assert (calls["GET /queryAll"], calls["GET /query"]) == (1, 3)


def test_an_incremental_read_asks_get_deleted_for_hard_deletes(make_connector: Any) -> None:
    batches = list(make_connector(objects=["contacts"]).read("contacts", None))
    cursor = batches[-1].cursor

    connector = make_connector(objects=["contacts"])
    again = list(connector.read("contacts", cursor))

    assert connector.api_calls.by_endpoint["GET /sobjects/Contact/deleted"] == 1
    assert again[-1].cursor["Contact"]["deleted_since"]


def test_closed_deals_take_closed_at_from_the_stage_history(make_connector: Any) -> None:
    connector = make_connector(objects=["opportunities"])
    deals = _records(connector, "opportunities")

    assert any(d["status"] != "open" for d in deals)
    assert all((d["closed_at"] is None) == (d["status"] == "open") for d in deals)


def test_rest_and_bulk_reads_yield_identical_leads(make_connector: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Needs more than 200 leads (REST reads them in pages of 200, the Bulk job at once)."""
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    by_rest = sorted(_records(make_connector(objects=["leads"]), "leads"),
                     key=lambda r: r["remote_id"])
    bulk = make_connector(objects=["leads"], bulk_threshold=0)
    by_bulk = sorted(_records(bulk, "leads"), key=lambda r: r["remote_id"])

    assert by_rest and by_rest == by_bulk
    assert bulk.api_calls.by_endpoint["POST /jobs/query"] == 1


def test_write_back_creates_a_field_writes_and_reads_it_back(make_connector: Any) -> None:
    connector = make_connector(objects=["opportunities"])
    info = connector.ensure_field("opportunities", FieldSpec(
        name="crmsync_cassette_score__c", type="number", label="Cassette score", scale=0))
    deal = next(d["remote_id"] for d in _records(connector, "opportunities")
                if not d.get("is_deleted"))

    (result,) = connector.write("opportunities", [WriteUpdate(deal, {info.name: 42})])

    assert result.ok
    assert connector.read_values("opportunities", [deal], [info.name]) == {deal: {info.name: 42}}


def test_field_history_replays_the_stage_history_pass(make_connector: Any) -> None:
    """Needs opportunities whose amount, close date or owner changed (field history tracking
    on for them, or OpportunityHistory snapshots that differ)."""
    connector = make_connector(objects=["opportunity_stage_history",
                                        "opportunity_field_history"])
    entries = _records(connector, "opportunity_stage_history")
    calls = dict(connector.api_calls.by_endpoint)
    changes = _records(connector, "opportunity_field_history")
    validator = validator_for("opportunity_field_history")

    assert entries and connector.api_calls.by_endpoint == calls  # no call of its own
    assert changes and all(not validator.validate(c)[1] for c in changes)
    assert {"stage_id", "amount", "expected_close_date"} <= {c["field"] for c in changes}
    assert len({c["remote_id"] for c in changes}) == len(changes)


def test_products_and_line_items_are_read_with_their_family_and_deal(make_connector: Any
                                                                      ) -> None:
    connector = make_connector(objects=["products", "opportunity_line_items"])
    products = {p["remote_id"]: p for p in _records(connector, "products")}
    lines = _records(connector, "opportunity_line_items")

    assert products and all(p["family"] for p in products.values())
    assert lines and all(line["opportunity_id"] and line["product_id"] in products
                         for line in lines)
    for entity, rows in (("products", list(products.values())),
                         ("opportunity_line_items", lines)):
        assert all(not validator_for(entity).validate(r)[1] for r in rows)
    # both objects described in one composite call; one query each
    assert connector.api_calls.by_endpoint["GET /queryAll"] == 2


def test_quotas_and_campaign_spend_are_read_with_their_periods(make_connector: Any) -> None:
    connector = make_connector(objects=["quotas", "spend"])
    quotas = _records(connector, "quotas")
    spend = _records(connector, "spend")

    assert quotas and all(q["owner_id"] and q["period_end"] > q["period_start"]
                          for q in quotas)
    assert spend and all(s["category"] == "marketing" and s["channel"] for s in spend)
    for entity, rows in (("quotas", quotas), ("spend", spend)):
        assert all(not validator_for(entity).validate(r)[1] for r in rows)
    # both objects described in one composite call; one query each (the period's end and the
    # owner's role come along as relationship fields)
    assert connector.api_calls.by_endpoint["GET /queryAll"] == 2
    assert connector.api_calls.by_endpoint["POST /composite"] == 1
def test_survey_responses_are_read_as_feedback_with_their_person(make_connector: Any) -> None:
    connector = make_connector(objects=["feedback"], survey_types={"Effort Check": "ces"})
    rows = _records(connector, "feedback")

    assert rows and all(not validator_for("feedback").validate(r)[1] for r in rows)
    assert {r["type"] for r in rows} == {"nps", "csat", "ces"}
    assert all(r["contact_id"] or r["account_id"] for r in rows)
    calls = connector.api_calls.by_endpoint
    # one page of answers (question, invitation, response and survey as relationship
    # fields), one SurveySubject query for the answers sent to leads
    assert (calls["GET /queryAll"], calls["GET /query"]) == (1, 1)


def test_accounts_get_their_territory_in_the_active_model(make_connector: Any) -> None:
    accounts = _records(make_connector(objects=["accounts"]), "accounts")

    names = {a["territory"] for a in accounts}
    assert {"East", "EMEA", "APAC"} <= names  # "Draft West" is a planning model's
    assert "Draft West" not in names and None in names


# -- what the scrubbers keep out of cassettes -----------------------------------------------------

def test_login_credentials_never_reach_a_cassette() -> None:
    body = ('<n1:login><n1:username>ann@acme.example</n1:username>'
            '<n1:password>hunter2TOKEN123</n1:password></n1:login>')
    request = _scrub_request(VcrRequest("POST", "https://login.salesforce.com/services/Soap/u/61.0",
                                        body.encode(), {}))

    assert b"hunter2" not in request.body and b"ann@acme" not in request.body


def test_jwt_assertions_and_access_tokens_never_reach_a_cassette() -> None:
    request = _scrub_request(VcrRequest(
        "POST", "https://login.salesforce.com/services/oauth2/token",
        b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJhbGc.x.y",
        {}))
    response = _scrub_response({"body": {"string": b'{"access_token": "00Dx!abc", "x": 1}'},
                                "headers": {}})

    assert b"eyJhbGc" not in request.body
    assert b"00Dx!abc" not in response["body"]["string"]


def test_session_ids_in_bodies_are_replaced() -> None:
    response = _scrub_response({"body": {"string": b"<sessionId>00D8d0000000001!AQ.abc-_x"
                                                   b"</sessionId>"}, "headers": {}})

    assert response["body"]["string"] == f"<sessionId>{SESSION}</sessionId>".encode()
