"""The HubSpot connector through hubspot-api-client, replaying vcrpy cassettes.

Cassettes live in ``cassettes/hubspot/test_hubspot_connector/<test>.yaml`` and replay with
``record_mode="none"`` (no network). Requests match on method, path, query and JSON body
(search and batch calls are POSTs to one URL that differ only by body), never on host or port.

Re-recording (``pytest tests/test_hubspot_connector.py --record-cassettes``) runs the tests
against ``$HUBSPOT_BASE_URL`` (default https://api.hubapi.com) with ``$HUBSPOT_ACCESS_TOKEN``:
a developer test portal holding deals in at least one pipeline, companies, contacts and
engagements. The cassettes in the repository were recorded against the local fake portal
(tests/fakes/hubspot_portal.py). Tests named ``test_scripted_*`` replay hand-written cassettes
of answers a real portal cannot be asked for (429s, 5xx, expired tokens); they are never
re-recorded. Authorization headers are filtered and OAuth tokens scrubbed before writing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import vcr

from crmsync import (
    AuthError,
    ConnectorError,
    FieldSpec,
    QuotaExhausted,
    RateLimited,
    TransientError,
    WriteUpdate,
)
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.testing import ConnectorContract
from crmsync_hubspot import HubSpotConnector
from crmsync_hubspot.throttle import Throttle
from fakes.hs_web import LAST_DAY as WEB_LAST_DAY

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "hubspot" / Path(__file__).stem
REPLAY_URL = "https://api.hubapi.com"
SECRET_KEYS = ("access_token", "refresh_token", "client_secret")


def _json_body(request: Any) -> Any:
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def json_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: equal JSON bodies (key order and whitespace ignored)."""
    assert _json_body(r1) == _json_body(r2)


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Remove OAuth tokens from recorded response bodies."""
    text = response["body"]["string"]
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    try:
        data = json.loads(raw)
    except ValueError:
        return response
    if isinstance(data, dict) and any(k in data for k in SECRET_KEYS):
        for key in SECRET_KEYS:
            if key in data:
                data[key] = "REDACTED"
        response["body"]["string"] = json.dumps(data).encode()
    return response


def make_vcr(record: bool, *, repeats_once: bool = True) -> vcr.VCR:
    """The cassette configuration shared by every test here.

    :param repeats_once: when recording, a request repeated within one cassette is recorded
        once and replayed (``new_episodes``); else every request is recorded (``all``), for
        scenarios where one request gets different answers (a 401, then a 200).
    """
    mode = ("new_episodes" if repeats_once else "all") if record else "none"
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=mode,
        match_on=("method", "path", "query", "json_body"),
        filter_headers=["authorization", "cookie", "set-cookie"],
        filter_post_data_parameters=[(k, "REDACTED") for k in SECRET_KEYS],
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_body", json_body)
    return recorder


def use_cassette(name: str, record: bool, *, repeats_once: bool = True) -> Any:
    """Replay ``name``; when recording, record it afresh."""
    if record:
        (CASSETTES / name).unlink(missing_ok=True)
    # vcrpy replays the first match again when repeats are allowed: scripted sequences
    # (a 401, then a 200 for the same request) must play each answer once, in order.
    return make_vcr(record, repeats_once=repeats_once).use_cassette(
        name, allow_playback_repeats=repeats_once)


@pytest.fixture
def cassette(request: pytest.FixtureRequest, record_cassettes: bool) -> Iterator[Any]:
    """Replay (or, with --record-cassettes, record) ``<test name>.yaml``."""
    name = request.node.name.replace("[", "-").replace("]", "")
    scripted = request.node.name.startswith("test_scripted_")
    with use_cassette(f"{name}.yaml", record_cassettes and not scripted,
                      repeats_once=not scripted) as cas:
        yield cas


def settings(**extra: Any) -> dict[str, Any]:
    """Connector settings: the real portal when recording, placeholders when replaying."""
    base = {"access_token": os.environ.get("HUBSPOT_ACCESS_TOKEN", "test-token"),
            "base_url": os.environ.get("HUBSPOT_BASE_URL", REPLAY_URL),
            "lookback_seconds": 0}
    return HubSpotConnector.validate_settings({**base, **extra})


class NoWait(Throttle):
    """Replays need no pacing."""

    def __init__(self) -> None:
        super().__init__(10_000, 10_000, sleep=lambda s: None)


@pytest.fixture
def connector(cassette: Any) -> Iterator[HubSpotConnector]:
    conn = HubSpotConnector("hs", settings(), throttle=NoWait())
    yield conn
    conn.close()


class FullSync:
    """One recorded full sync of every entity, then an incremental sync of the deals."""

    def __init__(self, store: Store, connector: HubSpotConnector) -> None:
        self.store = store
        self.connector = connector
        self.results = SyncEngine(store, connector, sleep=lambda s: None).run()
        self.calls = connector.api_calls.snapshot()
        self.second = SyncEngine(store, connector, sleep=lambda s: None).run(["opportunities"])

    def rows(self, sql: str) -> list[Any]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))


@pytest.fixture(scope="module")
def synced(record_cassettes: bool, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[FullSync]:
    """The full sync shared by the read tests (one cassette: ``full_sync.yaml``)."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('hs') / 'hs.db'}")
    conn = HubSpotConnector("hs", settings(), throttle=NoWait())
    conn.web_traffic.today = lambda: WEB_LAST_DAY  # the recorded portal's last day of traffic
    with use_cassette("full_sync.yaml", record_cassettes):
        run = FullSync(store, conn)
    yield run
    conn.close()
    store.dispose()


# -- recorded: reading ------------------------------------------------------------------------

def test_check_describes_the_portal(connector: HubSpotConnector) -> None:
    assert "deal pipelines" in connector.check()


def test_full_sync_succeeds_for_every_entity_without_rejects(synced: FullSync) -> None:
    assert {r.entity: (r.status, r.rejects) for r in synced.results} == {
        e: ("success", 0) for e in HubSpotConnector.ENTITIES}
    assert all(r.rows_upserted > 0 for r in synced.results)


def test_every_deal_stage_is_a_synced_stage(synced: FullSync) -> None:
    assert synced.rows("select count(*) from opportunities where stage_id not in "
                       "(select remote_id from stages)") == [(0,)]


def test_deal_status_agrees_with_its_stage(synced: FullSync) -> None:
    mismatched = synced.rows("""
        select o.remote_id from opportunities o join stages s on s.remote_id = o.stage_id
        where (o.status = 'won') != s.is_won or (o.status = 'open') = s.is_closed""")
    assert mismatched == []


def test_web_traffic_is_stored_per_day_and_channel_from_the_sources_report(
        synced: FullSync) -> None:
    assert synced.calls.get("GET /analytics/v2/reports/sources/daily") == 2  # two 366-day asks
    rows = synced.rows("select remote_id, date, channel, sessions, page_views, new_contacts "
                       "from web_traffic order by remote_id")
    assert len(rows) > 100
    assert all(r[0] == f"{r[1]}:{r[2]}" and r[3] >= 0 and r[4] >= 0 for r in rows)
    assert {r[2] for r in rows} >= {"organic_search", "direct", "paid_search", "email"}


def test_deal_contacts_are_stored_once_per_pair(synced: FullSync) -> None:
    assert synced.rows("select count(*) from opportunity_contacts") == \
        synced.rows("select count(distinct opportunity_id || ':' || contact_id) "
                    "from opportunity_contacts")


def test_stage_history_is_ordered_and_belongs_to_synced_deals(synced: FullSync) -> None:
    assert synced.rows("select count(*) from opportunity_stage_history where opportunity_id "
                       "not in (select remote_id from opportunities)") == [(0,)]
    assert synced.rows("select count(*) from opportunity_stage_history "
                       "where exited_at < entered_at") == [(0,)]


def test_custom_properties_land_in_custom(synced: FullSync) -> None:
    customs = [json.loads(c) if isinstance(c, str) else c
               for (c,) in synced.rows("select custom from opportunities")]
    assert all(c and "deal_region" in c for c in customs)
    assert not any(k.startswith("hs_") for c in customs for k in c)


def test_every_activity_has_a_type_and_time(synced: FullSync) -> None:
    kinds = {k for (k,) in synced.rows("select distinct type from activities")}
    assert kinds <= {"call", "email", "meeting", "task", "note"} and len(kinds) == 5


def test_calls_are_counted_per_endpoint(synced: FullSync) -> None:
    counted = synced.calls
    assert counted["POST /crm/v3/objects/deals/search"] >= 1
    assert counted["GET /crm/v3/pipelines/deals"] >= 1


def test_deal_tables_replay_the_opportunities_read_without_a_call(synced: FullSync) -> None:
    # the recorded deals' stage dates tile their lives, so no history needs reading either
    calls = {r.entity: r.api_calls for r in synced.results}
    assert (calls["opportunity_contacts"], calls["opportunity_stage_history"]) == (0, 0)


def test_field_history_batch_reads_the_history_of_the_synced_deals(synced: FullSync) -> None:
    rows = synced.rows("select opportunity_id, field from opportunity_field_history")
    deals = {d for (d,) in synced.rows("select remote_id from opportunities")}
    calls = {r.entity: r.api_calls for r in synced.results}

    assert rows and {d for d, _ in rows} <= deals
    assert {"stage_id", "amount"} <= {f for _, f in rows}
    # one batch read per 50 deals; the owners (authors) came with the users read
    assert calls["opportunity_field_history"] == -(-len(deals) // 50)


def test_goals_campaigns_and_surveys_feed_quotas_spend_and_feedback(synced: FullSync) -> None:
    users = {u for (u,) in synced.rows("select remote_id from users")}
    contacts = {c for (c,) in synced.rows("select remote_id from contacts")}
    quotas = synced.rows("select owner_id, team, period_start <= period_end, currency "
                         "from quotas")
    calls = {r.entity: r.api_calls for r in synced.results}

    assert quotas and all((o in users) != (t is not None) for o, t, _, _ in quotas)
    assert {(ok, c) for _, _, ok, c in quotas} == {(1, "USD")}
    # search, properties, archived page, the portal's currency: the owners came with users
    assert calls["quotas"] == 4
    assert synced.rows("select distinct category from spend") == [("marketing",)]
    feedback = synced.rows("select type, contact_id from feedback")
    assert feedback and {t for t, _ in feedback} <= {"nps", "csat", "ces"}
    assert all(c in contacts for _, c in feedback)


def test_second_sync_reads_only_what_changed(synced: FullSync) -> None:
    assert synced.second[0].status == "success" and synced.second[0].rows_read <= 1


def test_quota_comes_from_rate_limit_headers(synced: FullSync) -> None:
    quota = synced.connector.quota()
    assert quota is not None and quota.limit > 0


def test_field_map_puts_a_property_into_a_schema_column(cassette: Any) -> None:
    conn = HubSpotConnector("hs", settings(objects=["opportunities"],
                                           field_map={"deals": {"deal_region": "lead_source"}}),
                            throttle=NoWait())
    records = [r for b in conn.read("opportunities", None) for r in b.records]
    assert records and all(r["lead_source"] == r["custom"]["deal_region"] for r in records)


# -- recorded: write-back ---------------------------------------------------------------------

def test_fields_flag_calculated_and_read_only_properties(connector: HubSpotConnector) -> None:
    fields = {f.name: f for f in connector.fields("opportunities")}
    assert fields["amount"].writable and fields["amount"].type in ("number", "currency")
    assert not fields["hs_object_id"].writable


def test_ensure_field_creates_a_number_property(connector: HubSpotConnector) -> None:
    info = connector.ensure_field("opportunities", FieldSpec(
        name="crmsync_days_open", type="number", label="Days open (crmsync)"))
    assert (info.name, info.type, info.writable) == ("crmsync_days_open", "number", True)


def test_write_reports_each_record(connector: HubSpotConnector) -> None:
    page = connector.client.call("GET /crm/v3/objects/deals", connector.client.objects.get_page,
                                 "deals", limit=1)
    deal = page.data["results"][0]["id"]
    results = list(connector.write("opportunities", [
        WriteUpdate(deal, {"dealname": "Renamed by crmsync"}),
        WriteUpdate("1", {"dealname": "No such deal"})]))
    assert [(r.remote_id, r.ok, r.missing) for r in results] == \
        [(deal, True, False), ("1", False, True)]


def test_a_batch_refused_as_a_whole_raises_for_write_back_to_split(
        connector: HubSpotConnector) -> None:
    page = connector.client.call("GET /crm/v3/objects/deals", connector.client.objects.get_page,
                                 "deals", limit=1)
    deal = page.data["results"][0]["id"]
    with pytest.raises(ConnectorError, match="HTTP 400 VALIDATION_ERROR"):
        list(connector.write("opportunities", [
            WriteUpdate(deal, {"crmsync_no_such_property": 1})]))


# -- the contract suite, recorded --------------------------------------------------------------

@pytest.fixture(scope="module")
def contract_cassette(record_cassettes: bool) -> Iterator[Any]:
    """One cassette for the whole contract suite: ``contract.yaml``."""
    with use_cassette("contract.yaml", record_cassettes) as cas:
        yield cas


class TestContract(ConnectorContract):
    """crmsync.testing's behaviour every connector must have, against recorded answers."""

    @pytest.fixture
    def connector(self, contract_cassette: Any) -> Iterator[HubSpotConnector]:
        conn = HubSpotConnector("hs", settings(objects=["users", "pipelines", "stages",
                                                        "accounts", "opportunities"]),
                                throttle=NoWait())
        yield conn
        conn.close()


# -- scripted (hand-written cassettes) ----------------------------------------------------------

@pytest.fixture
def oauth_connector(cassette: Any) -> Iterator[HubSpotConnector]:
    conn = HubSpotConnector("hs", HubSpotConnector.validate_settings({
        "client_id": "fake-client-id", "client_secret": "s3cret", "refresh_token": "refresh-me",
        "base_url": REPLAY_URL}), throttle=NoWait())
    yield conn
    conn.close()


def owners(conn: HubSpotConnector) -> Any:
    return conn.client.call("GET /crm/v3/owners", conn.client.owners.get_page, limit=1)


def test_scripted_ten_secondly_429_is_rate_limited_with_retry_after(
        connector: HubSpotConnector) -> None:
    with pytest.raises(RateLimited) as err:
        owners(connector)
    assert err.value.retry_after == 2.0


def test_scripted_daily_429_is_quota_exhausted(connector: HubSpotConnector) -> None:
    with pytest.raises(QuotaExhausted):
        owners(connector)


def test_scripted_503_is_transient(connector: HubSpotConnector) -> None:
    with pytest.raises(TransientError):
        owners(connector)


def test_scripted_oauth_token_is_refreshed_once_on_401(
        oauth_connector: HubSpotConnector, cassette: Any) -> None:
    assert owners(oauth_connector).status == 200
    assert [r.path for r in cassette.requests] == [
        "/oauth/v1/token", "/crm/v3/owners/", "/oauth/v1/token", "/crm/v3/owners/"]


def test_scripted_oauth_token_is_refreshed_before_it_expires(
        oauth_connector: HubSpotConnector, cassette: Any) -> None:
    now = [1_000_000.0]
    oauth_connector.client.clock = lambda: now[0]
    owners(oauth_connector)
    now[0] += 1800 - 30  # the token (expires_in 1800) is 30 s from expiry
    owners(oauth_connector)
    assert [r.path for r in cassette.requests] == [
        "/oauth/v1/token", "/crm/v3/owners/", "/oauth/v1/token", "/crm/v3/owners/"]


def test_scripted_second_401_is_an_auth_error(oauth_connector: HubSpotConnector) -> None:
    with pytest.raises(AuthError):
        owners(oauth_connector)


def test_scripted_daily_budget_percent_stops_before_the_portal_does(cassette: Any) -> None:
    conn = HubSpotConnector("hs", settings(daily_budget_percent=50.0), throttle=NoWait())
    with pytest.raises(QuotaExhausted, match="daily_budget_percent"):
        owners(conn)
