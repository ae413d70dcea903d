"""HubSpot goals, marketing campaigns and feedback submissions through ``crmsync.api.sync``
against the fake portal: quotas by owner or team, spend per campaign, survey responses with
their contact; incremental reads, deletions, and the missing scopes skipped cleanly."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import vcr

from conftest import make_config, table_rows
from crmsync import api
from crmsync.store import Store
from crmsync_hubspot import HubSpotConnector
from crmsync_hubspot.campaigns import campaign_to_spend
from crmsync_hubspot.inputs import Directory, goal_to_quota, period_end, submission_to_feedback
from crmsync_hubspot.throttle import Throttle
from crmsync_hubspot.values import Unmappable
from fakes.hs_data import Dataset
from fakes.hs_inputs import SCOPES
from fakes.hubspot_portal import FakeHubSpotPortal

ENTITIES = ("quotas", "spend", "feedback")
DATA = Dataset(deals=10, contacts=30, companies=5, engagements=0, owners=4, teams=2,
               products=0, line_items=0, goal_targets=72, feedback_submissions=40, campaigns=10)
DIRECTORY = Directory([{"id": "101", "userId": 9001, "teams": [{"id": "7", "name": "EMEA"}]}],
                      "EUR")


@pytest.fixture
def fake(fake_hubspot_factory: Callable[..., FakeHubSpotPortal]) -> FakeHubSpotPortal:
    return fake_hubspot_factory(DATA)


@pytest.fixture
def sync(fake: FakeHubSpotPortal, sqlite_store: Store, registry, monkeypatch
         ) -> Callable[..., Any]:
    monkeypatch.setenv("HS_TOKEN", fake.access_token)
    config = make_config(sqlite_store.url, hub={
        "type": "hubspot", "base_url": fake.base_url, "access_token": "${HS_TOKEN}",
        "rate_limit": 100_000, "search_rate_limit": 10_000, "lookback_seconds": 0,
        "field_map": {"campaigns": {"channel": "channel"}}})

    def run(entities: tuple[str, ...] = ENTITIES, **kw: Any):
        return api.sync(config, registry, entities=entities, store=sqlite_store, **kw)

    return run


def rows(store: Store, table: str, *columns: str) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in table_rows(store, table, "remote_id", *columns)}


def goal(**props: str) -> dict[str, Any]:
    return {"id": "44027423340", "properties": {
        "hs_goal_type": "sales_quota", "hs_target_amount": "2000.00",
        "hs_start_datetime": "2023-12-01T00:00:00Z", "hs_end_datetime": "2024-01-01T00:00:00Z",
        "hs_lastmodifieddate": "2023-12-11T19:21:32.851Z", **props}}


# -- mapping -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("end", "last_day"), [("2024-01-01T00:00:00Z", dt.date(2023, 12, 31)),
                                               ("2025-12-31T23:59:59.999Z", dt.date(2025, 12, 31)),
                                               ("", None)])
def test_a_period_ending_at_midnight_ends_the_day_before(end: str, last_day: dt.date | None
                                                         ) -> None:
    assert period_end({"hs_end_datetime": end}) == last_day


def test_an_owner_goal_is_a_quota_in_the_portal_currency() -> None:
    got = goal_to_quota(goal(hubspot_owner_id="101"), DIRECTORY)

    assert got is not None
    assert {k: got[k] for k in ("owner_id", "team", "period_start", "period_end", "amount",
                                "currency")} == {
        "owner_id": "101", "team": None, "period_start": dt.date(2023, 12, 1),
        "period_end": dt.date(2023, 12, 31), "amount": 2000.0, "currency": "EUR"}


def test_a_goal_naming_only_a_user_gets_that_users_owner() -> None:
    got = goal_to_quota(goal(hs_assignee_user_id="9001"), DIRECTORY)

    assert got is not None and got["owner_id"] == "101"


def test_a_team_goal_is_a_team_quota_named_like_users_team() -> None:
    got = goal_to_quota(goal(hs_assignee_team_id="7"), DIRECTORY)

    assert got is not None and (got["owner_id"], got["team"]) == (None, "EMEA")


def test_a_goal_that_is_not_revenue_is_no_quota() -> None:
    assert goal_to_quota(goal(hs_goal_type="calls_made", hubspot_owner_id="101"),
                         DIRECTORY) is None


def test_the_goal_types_setting_chooses_which_goals_are_quotas() -> None:
    got = goal_to_quota(goal(hs_goal_type="closed_revenue", hubspot_owner_id="101"),
                        DIRECTORY, ("sales_quota", "closed_revenue"))

    assert got is not None and got["amount"] == 2000.0


def test_a_goal_without_amount_is_refused_naming_the_property() -> None:
    with pytest.raises(Unmappable) as info:
        goal_to_quota(goal(hs_target_amount="", hubspot_owner_id="101"), DIRECTORY)

    assert info.value.field == "hs_target_amount"


def test_an_nps_submission_maps_score_time_comment_and_contact() -> None:
    got = submission_to_feedback({"id": "512", "properties": {
        "hs_survey_type": "NPS", "hs_value": "9", "hs_content": "What a great product!",
        "hs_submission_timestamp": "2019-10-30T03:30:17.883Z"},
        "associations": {"contacts": {"results": [{"id": "51"}]}}})

    assert got is not None
    assert (got["type"], got["score"], got["contact_id"], got["comment"],
            got["responded_at"]) == ("nps", 9.0, "51", "What a great product!",
                                     dt.datetime(2019, 10, 30, 3, 30, 17, 883000,
                                                 tzinfo=dt.timezone.utc))


def test_a_custom_survey_is_no_feedback() -> None:
    assert submission_to_feedback({"id": "1", "properties": {
        "hs_survey_type": "CUSTOM", "hs_value": "3"}}) is None


def test_a_campaign_without_spend_has_no_row_rather_than_zero() -> None:
    record = {"id": "c1", "properties": {"hs_start_date": "2025-03-01",
                                         "hs_end_date": "2025-03-31",
                                         "hs_spend_items_sum_amount": "0"}}

    assert campaign_to_spend(record) is None


def test_a_campaign_with_spend_but_no_dates_is_refused_naming_the_property() -> None:
    record = {"id": "c1", "properties": {"hs_spend_items_sum_amount": "1200",
                                         "hs_end_date": "2025-03-31"}}

    with pytest.raises(Unmappable) as info:
        campaign_to_spend(record)

    assert info.value.field == "hs_start_date"


# -- through the connector ---------------------------------------------------------------------

def test_sync_reads_revenue_goals_as_quotas_by_owner_or_team(sync, fake, sqlite_store) -> None:
    results = sync(("quotas",))

    assert results.ok, results
    quotas = rows(sqlite_store, "quotas", "owner_id", "team", "period_start", "currency")
    revenue = {rid for rid in fake.portal.ids("goal_targets")
               if fake.portal.record("goal_targets", rid)["hs_goal_type"] == "sales_quota"}
    assert set(quotas) == revenue
    owners = {o["id"] for o in fake.portal.owners}
    assert all(o in owners for o, _, _, _ in quotas.values() if o is not None)
    assert {t for _, t, _, _ in quotas.values()} >= {"Team 1", None}
    assert {c for *_, c in quotas.values()} == {"USD"}


def test_a_goal_with_a_bad_amount_is_rejected_and_the_others_stored(sync, fake, sqlite_store
                                                                    ) -> None:
    bad = next(rid for rid in fake.portal.ids("goal_targets")
               if fake.portal.record("goal_targets", rid)["hubspot_owner_id"])
    fake.portal.update("goal_targets", bad, {"hs_target_amount": "lots"})

    results = sync(("quotas",))

    assert [r.rejects for r in results.details] == [1]
    quotas = rows(sqlite_store, "quotas")
    assert bad not in quotas and len(quotas) > 1


def test_quotas_feed_quota_attainment(sync, sqlite_store, registry) -> None:
    sync(("users", "quotas"))
    from crmsync.core.config import MetricsConfig
    from crmsync.metrics import compute
    from crmsync_kpis.pipeline import QuotaAttainment

    values = compute(sqlite_store, [QuotaAttainment()], MetricsConfig(), period="month",
                     as_of=dt.datetime(2026, 1, 1)).values

    assert any(v.value is not None for v in values)


def test_sync_reads_campaign_spend_with_channel_and_period(sync, fake, sqlite_store) -> None:
    results = sync(("spend",))

    assert results.ok, results
    spend = rows(sqlite_store, "spend", "category", "channel", "period_start", "amount")
    with_spend = {g for g, r in fake.portal.campaigns.records.items()
                  if r["hs_spend_items_sum_amount"]}
    assert set(spend) == with_spend and with_spend
    first = next(iter(with_spend))
    record = fake.portal.campaigns.records[first]
    assert spend[first] == ("marketing", record["channel"],
                            dt.date.fromisoformat(record["hs_start_date"]),
                            float(record["hs_spend_items_sum_amount"]))


def test_without_the_spend_property_the_campaign_budget_is_read(sync, fake, sqlite_store
                                                                ) -> None:
    fake.portal.campaigns.omit_spend = True

    sync(("spend",))

    budgets = fake.calls_to(r"/budget/totals")
    assert len(budgets) == len(fake.portal.campaigns.records)
    assert len(rows(sqlite_store, "spend")) == sum(
        1 for r in fake.portal.campaigns.records.values() if r["hs_spend_items_sum_amount"])


def test_a_second_spend_sync_upserts_changed_campaigns_and_deletes_vanished_ones(
        sync, fake, sqlite_store) -> None:
    sync(("spend",))
    guids = [g for g, r in fake.portal.campaigns.records.items()
             if r["hs_spend_items_sum_amount"]]
    fake.portal.campaigns.update(guids[0], {"hs_spend_items_sum_amount": "9999"})
    fake.portal.campaigns.delete(guids[1])

    sync(("spend",))

    spend = rows(sqlite_store, "spend", "amount", "is_deleted")
    assert spend[guids[0]] == (9999.0, False)
    assert spend[guids[1]][1]
    assert sum(1 for _, deleted in spend.values() if deleted) == 1


def test_sync_reads_nps_csat_and_ces_feedback_with_its_contact(sync, fake, sqlite_store
                                                               ) -> None:
    results = sync(("feedback",))

    assert results.ok, results
    feedback = rows(sqlite_store, "feedback", "type", "score", "contact_id")
    surveys = {rid: fake.portal.record("feedback_submissions", rid)["hs_survey_type"]
               for rid in fake.portal.ids("feedback_submissions")}
    assert set(feedback) == {rid for rid, s in surveys.items() if s != "CUSTOM"}
    assert {t for t, _, _ in feedback.values()} == {"nps", "csat", "ces"}
    contacts = set(fake.portal.ids("contacts"))
    assert all(c in contacts for _, _, c in feedback.values())


def test_an_archived_submission_is_deleted_and_only_changes_are_read_again(
        sync, fake, sqlite_store) -> None:
    sync(("feedback",))
    gone = fake.portal.ids("feedback_submissions")[0]
    fake.portal.archive("feedback_submissions", gone)
    fake.calls.clear()

    sync(("feedback",))

    searches = [c for c in fake.calls if c.path.endswith("/feedback_submissions/search")]
    assert searches and all(c.body.get("filterGroups") for c in searches)
    assert rows(sqlite_store, "feedback", "is_deleted")[gone] == (True,)


@pytest.mark.parametrize("entity", ENTITIES)
def test_without_its_scope_an_input_is_skipped_with_a_one_line_note(
        entity: str, sync, fake, sqlite_store, caplog) -> None:
    object_type = {"quotas": "goal_targets", "feedback": "feedback_submissions",
                   "spend": "campaigns"}[entity]
    fake.portal.scopes.discard(SCOPES[object_type])

    with caplog.at_level(logging.WARNING):
        results = sync()

    assert results.ok, results
    assert rows(sqlite_store, entity) == {}
    notes = [r.getMessage() for r in caplog.records if SCOPES[object_type] in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0]
    others = [e for e in ENTITIES if e != entity]
    assert all(rows(sqlite_store, e) for e in others)


# -- cassettes: a portal without the scopes ----------------------------------------------------

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "hubspot" / Path(__file__).stem


def replay(name: str, *, record: bool = False) -> Any:
    """Replay ``name`` (hand-made from the fake portal's answers: a portal without the scope;
    ``record`` only to make it again)."""
    return vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="all" if record else "none",
                   match_on=("method", "path", "query"),
                   filter_headers=["authorization", "cookie", "set-cookie"],
                   decode_compressed_response=True).use_cassette(name)


def connector(base_url: str = "https://api.hubapi.com", token: str = "test-token"
              ) -> HubSpotConnector:
    return HubSpotConnector("hs", HubSpotConnector.validate_settings(
        {"base_url": base_url, "access_token": token}), throttle=Throttle(10_000, 10_000))


@pytest.mark.parametrize("entity", ENTITIES)
def test_scripted_missing_scope_ends_the_entity_with_one_note(entity: str, caplog) -> None:
    conn = connector()
    with replay(f"missing_scope_{entity}.yaml"), caplog.at_level(logging.WARNING):
        batches = list(conn.read(entity, None))
    conn.close()

    assert batches == []
    assert [r.getMessage().count("MISSING_SCOPES") for r in caplog.records] == [1]
    assert conn.api_calls.total == 1
