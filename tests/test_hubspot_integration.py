"""The real HubSpot connector through ``crmsync.api.sync`` against the local fake portal.

The fake (tests/fakes/hubspot_portal.py) is a threaded HTTP server on loopback speaking
HubSpot's APIs; the connector reaches it through hubspot-api-client with ``base_url``. Tests
script the portal (changes, archives, merges, 429s, 5xx, expired tokens) and assert what lands
in the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_config, table_rows
from crmsync import FieldSpec, WriteUpdate, api
from crmsync.core.reports import STOPPED_QUOTA
from crmsync.core.schema import metadata
from crmsync.store import Store
from fakes.hs_data import TIED_TS, Dataset
from fakes.hubspot_portal import FakeHubSpotPortal

#: several batches of deals (the connector commits 1,000 records a batch)
SMALL = Dataset(deals=3000, contacts=60, companies=20, engagements=50, owners=6)
DEALS = SMALL.deals


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, registry) -> Callable[..., Any]:
    """``hub(store, fake, **settings)`` → a sync function running ``crmsync.api.sync``."""

    def make(store: Store, fake: FakeHubSpotPortal, **settings: Any) -> Callable[..., Any]:
        monkeypatch.setenv("HS_TOKEN", fake.access_token)
        monkeypatch.setenv("HS_SECRET", fake.portal.client_secret)
        monkeypatch.setenv("HS_REFRESH", fake.portal.refresh_token)
        raw = {"type": "hubspot", "base_url": fake.base_url, "rate_limit": 100_000,
               "search_rate_limit": 10_000, **settings}
        if "client_id" not in raw:
            raw["access_token"] = "${HS_TOKEN}"
        config = make_config(store.url, hub=raw)

        def sync(entities: tuple[str, ...] = (), **kw: Any):
            return api.sync(config, registry, entities=entities, store=store, **kw)

        sync.config = config  # type: ignore[attr-defined]
        return sync

    return make


def count(store: Store, table: str, **where: Any) -> int:
    tbl = metadata.tables[table]
    query = sa.select(sa.func.count()).select_from(tbl)
    for column, value in where.items():
        query = query.where(tbl.c[column] == value)
    with store.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def remote_ids(store: Store, table: str) -> list[str]:
    return [r[0] for r in table_rows(store, table, "remote_id")]


class StopAfter:
    """A progress callback that interrupts the sync after ``rows`` of ``entity``; it can
    also run an action instead (to change the portal mid-sync)."""

    def __init__(self, entity: str, rows: int, action: Callable[[], None] | None = None) -> None:
        self.entity, self.rows, self.action, self.fired = entity, rows, action, False

    def __call__(self, connection: str, entity: str, rows: int) -> None:
        if entity == self.entity and rows >= self.rows and not self.fired:
            self.fired = True
            if self.action is None:
                raise KeyboardInterrupt("simulated crash")
            self.action()


# -- full sync ---------------------------------------------------------------------------------

def test_full_sync_reads_every_entity_of_the_portal(store, fake_hubspot, hub):
    report = hub(store, fake_hubspot)()
    portal = fake_hubspot.portal
    assert report.status == "success", report.error
    assert {d.entity for d in report.details} >= {"users", "pipelines", "stages", "accounts",
                                                  "contacts", "opportunities", "activities",
                                                  "opportunity_stage_history",
                                                  "opportunity_contacts"}
    assert sorted(remote_ids(store, "opportunities")) == sorted(portal.ids("deals"))
    assert sorted(remote_ids(store, "accounts")) == sorted(portal.ids("companies"))
    assert sorted(remote_ids(store, "contacts")) == sorted(portal.ids("contacts"))
    engagements = sum(len(portal.ids(t)) for t in ("calls", "emails", "meetings", "tasks", "notes"))
    assert count(store, "activities") == engagements
    assert count(store, "users") == len(portal.owners)
    assert count(store, "stages") == 15 and count(store, "pipelines") == 3


def test_full_sync_maps_deal_strings_to_typed_columns(sqlite_store, fake_hubspot, hub):
    hub(sqlite_store, fake_hubspot)(("pipelines", "stages", "opportunities"))
    portal = fake_hubspot.portal
    deal = next(portal.record("deals", i) for i in portal.ids("deals")
                if portal.record("deals", i)["amount"] and
                portal.record("deals", i)["hs_is_closed_won"] == "true")
    tbl = metadata.tables["opportunities"]
    with sqlite_store.engine.connect() as conn:
        row = conn.execute(sa.select(tbl).where(tbl.c.remote_id == deal["hs_object_id"])).one()
    assert row.amount == float(deal["amount"]) and row.currency == deal["deal_currency_code"]
    assert row.status == "won"


def test_leads_come_from_the_leads_object_when_the_portal_has_one(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(Dataset(leads=40))
    report = hub(sqlite_store, fake, lead_definition="leads_object")(("leads",))
    rows = table_rows(sqlite_store, "leads", "remote_id", "converted_contact_id")
    assert report.status == "success"
    assert sorted(r[0] for r in rows) == sorted(fake.portal.ids("leads"))
    converted = {r[1] for r in rows} - {None}  # qualified leads point to their contact
    assert converted and converted <= set(fake.portal.ids("contacts"))


# -- resume, ties, changes during the sync --------------------------------------------------------

def test_a_crash_mid_sync_then_resume_loses_nothing_and_duplicates_nothing(
        store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    sync = hub(store, fake)
    with pytest.raises(KeyboardInterrupt):
        sync(("opportunities",), progress=StopAfter("opportunities", 200))
    stored_at_crash = count(store, "opportunities")
    assert 0 < stored_at_crash < DEALS
    fake.reset_calls()
    report = sync(("opportunities",))
    ids = remote_ids(store, "opportunities")
    assert report.status == "success"
    assert sorted(ids) == sorted(fake.portal.ids("deals")) and len(set(ids)) == len(ids)
    # the resumed run started from the committed cursor, not from the beginning
    first = fake.calls_to("deals/search")[0].body["filterGroups"][0]["filters"][0]
    assert int(first["value"]) > 0


def _committed(db: Path) -> int:
    """Rows the killed process committed so far (0 before the store exists)."""
    try:
        store = Store(f"sqlite:///{db}", upgrade=False)
    except Exception:  # the child has not created the store yet
        return 0
    try:
        return count(store, "opportunities")
    except sa.exc.OperationalError:
        return 0
    finally:
        store.dispose()


@pytest.mark.slow
def test_sigkill_of_crmsync_sync_mid_sync_then_rerun_loses_nothing(tmp_path, fake_hubspot_factory):
    fake = fake_hubspot_factory(Dataset(deals=3000, contacts=50, companies=20, engagements=0))
    fake.slow_next(0.1, times=10_000, pattern="deals/search")  # keep the sync busy for a while
    db = tmp_path / "hub.db"
    config = tmp_path / "crmsync.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n[connections.hub]\ntype = "hubspot"\n'
                      f'access_token = "${{HS_TOKEN}}"\nbase_url = "{fake.base_url}"\n'
                      f'objects = ["opportunities"]\nsearch_rate_limit = 1000\n')
    env = {**os.environ, "HS_TOKEN": fake.access_token}
    command = [sys.executable, "-c", "from crmsync.cli import main; main()", "--config",
               str(config), "sync"]
    victim = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _committed(db) < 400:
        assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert 0 < _committed(db) < 3000
    fake.portal.faults.clear()
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    store = Store(f"sqlite:///{db}")
    try:
        ids = remote_ids(store, "opportunities")
    finally:
        store.dispose()
    assert sorted(ids) == sorted(fake.portal.ids("deals"))


def test_more_than_ten_thousand_deals_on_one_timestamp_are_all_read(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(Dataset(deals=10_400, contacts=20, companies=10, engagements=0,
                                        tied=10_300))
    report = hub(sqlite_store, fake)(("opportunities",))
    assert report.status == "success", report.error
    assert count(sqlite_store, "opportunities") == 10_400
    tied = [r for r in fake.calls_to("deals/search")
            if any(f.get("value") == str(TIED_TS) and f["operator"] == "EQ"
                   for g in r.body["filterGroups"] for f in g["filters"])]
    assert tied  # the tie on one timestamp was crossed by re-anchoring on hs_object_id


def test_records_modified_during_the_sync_are_stored_with_their_new_values(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    portal = fake.portal
    early, late = portal.ids("deals")[0], portal.ids("deals")[-1]

    def change() -> None:
        portal.update("deals", early, {"dealname": "changed while syncing (read)"})
        portal.update("deals", late, {"dealname": "changed while syncing (unread)"})

    report = hub(sqlite_store, fake)(("opportunities",),
                                     progress=StopAfter("opportunities", 200, change))
    names = dict(table_rows(sqlite_store, "opportunities", "remote_id", "name"))
    assert report.status == "success"
    assert names[early] == "changed while syncing (read)"
    assert names[late] == "changed while syncing (unread)"
    assert len(names) == DEALS


def _lag_change(fake: FakeHubSpotPortal) -> str:
    """Change a deal with a timestamp 30 s before the newest one (late-indexed record)."""
    portal = fake.portal
    table = portal.table("deals")
    newest = max(table.updated)
    victim = portal.ids("deals")[5]
    portal.update("deals", victim, {"dealname": "indexed late"}, at_ms=newest - 30_000)
    return victim


def test_an_incremental_sync_looks_back_for_late_indexed_changes(sqlite_store, fake_hubspot, hub):
    sync = hub(sqlite_store, fake_hubspot, lookback_seconds=60)
    sync(("opportunities",))
    victim = _lag_change(fake_hubspot)
    sync(("opportunities",))
    assert dict(table_rows(sqlite_store, "opportunities", "remote_id", "name"))[victim] == \
        "indexed late"


def test_without_lookback_a_late_indexed_change_is_missed(sqlite_store, fake_hubspot, hub):
    sync = hub(sqlite_store, fake_hubspot, lookback_seconds=0)
    sync(("opportunities",))
    victim = _lag_change(fake_hubspot)
    sync(("opportunities",))
    assert dict(table_rows(sqlite_store, "opportunities", "remote_id", "name"))[victim] != \
        "indexed late"


# -- deletes --------------------------------------------------------------------------------------

def test_archived_deals_are_marked_deleted_by_the_next_sync(store, fake_hubspot, hub):
    sync = hub(store, fake_hubspot)
    sync(("opportunities",))
    victim = fake_hubspot.portal.ids("deals")[7]
    fake_hubspot.portal.archive("deals", victim)
    sync(("opportunities",))
    assert count(store, "opportunities", remote_id=victim, is_deleted=True) == 1
    assert count(store, "opportunities", is_deleted=True) == 1


def test_a_merged_contact_is_marked_deleted_and_its_survivor_kept(store, fake_hubspot, hub):
    sync = hub(store, fake_hubspot)
    sync(("contacts",))
    survivor, merged = fake_hubspot.portal.ids("contacts")[:2]
    fake_hubspot.portal.merge("contacts", survivor, merged)
    sync(("contacts",))
    assert count(store, "contacts", remote_id=merged, is_deleted=True) == 1
    assert count(store, "contacts", remote_id=survivor, is_deleted=False) == 1


def test_references_to_a_merged_contact_point_at_the_survivor(store, fake_hubspot, hub):
    sync = hub(store, fake_hubspot)
    sync(("contacts", "activities"))
    activities = metadata.tables["activities"]
    with store.engine.connect() as conn:
        merged = conn.execute(sa.select(activities.c.contact_id)
                              .where(activities.c.contact_id.is_not(None)).limit(1)).scalar_one()
    survivor = next(i for i in fake_hubspot.portal.ids("contacts") if i != merged)
    before = count(store, "activities", contact_id=merged)
    already = count(store, "activities", contact_id=survivor)
    fake_hubspot.portal.merge("contacts", survivor, merged)
    sync(("contacts",))  # only the contacts: the activities are not read again
    assert before > 0 and count(store, "activities", contact_id=merged) == 0
    assert count(store, "activities", contact_id=survivor) == already + before


# -- rate limits, faults, auth --------------------------------------------------------------------

def test_a_ten_secondly_429_is_waited_out_and_the_sync_finishes(sqlite_store, fake_hubspot, hub):
    fault = fake_hubspot.throttle_next("TEN_SECONDLY_ROLLING", times=2, pattern="deals/search",
                                       retry_after=1)
    report = hub(sqlite_store, fake_hubspot)(("opportunities",))
    assert fault.hits == 2
    assert report.status == "success"
    assert count(sqlite_store, "opportunities") == 120


def test_the_connector_throttle_keeps_under_the_portals_search_limit(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    limits = fake.portal.limits
    limits.enforce_search, limits.search_per_second = True, 5
    report = hub(sqlite_store, fake, search_rate_limit=4)(("opportunities",))
    assert report.status == "success"
    assert len(fake.calls_to("search")) >= 5
    assert limits.refused == {}


def test_the_connector_paces_itself_by_the_portals_rate_limit_headers(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    limits = fake.portal.limits
    # 10 calls a rolling second, far below the connector's own rate_limit setting: only the
    # X-HubSpot-RateLimit-Remaining/-Interval-Milliseconds headers can keep it from 429s
    limits.enforce_interval, limits.max_per_interval, limits.interval_ms = True, 10, 1000
    report = hub(sqlite_store, fake, rate_limit=1000)(("opportunities",))
    assert report.status == "success"
    assert count(sqlite_store, "opportunities") == DEALS
    assert limits.refused == {}


def test_a_daily_429_stops_the_run_cleanly_and_the_next_run_resumes(
        store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    sync = hub(store, fake)
    # the daily allowance runs out while the second batch of deals (pages of 200, five
    # pages a batch) is read
    daily = fake.throttle_next("DAILY", pattern="deals/search", after=6, retry_after=None)
    stopped = sync(("opportunities", "activities"))
    kept = count(store, "opportunities")
    assert daily.hits == 1
    assert stopped.status == STOPPED_QUOTA
    assert [d.status for d in stopped.details] == [STOPPED_QUOTA, STOPPED_QUOTA]
    assert 0 < kept < DEALS  # committed pages are kept
    fake.portal.limits.new_day()
    fake.reset_calls()
    resumed = sync(("opportunities", "activities"))
    assert resumed.status == "success"
    assert sorted(remote_ids(store, "opportunities")) == sorted(fake.portal.ids("deals"))
    assert int(fake.calls_to("deals/search")[0].body["filterGroups"][0]["filters"][0]["value"]) > 0


def test_the_daily_allowance_counted_by_the_portal_stops_the_run_at_the_budget(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    fake.portal.limits.daily = 1_000
    fake.portal.limits.daily_used = 1_000 - 12  # 12 calls left today
    report = hub(sqlite_store, fake)(("opportunities",))
    assert report.status == STOPPED_QUOTA
    assert 0 < count(sqlite_store, "opportunities") < DEALS
    assert "daily" in report.details[0].error


def test_server_errors_are_retried(sqlite_store, fake_hubspot, hub):
    fault = fake_hubspot.fail_next(503, times=2, pattern="deals/search")
    report = hub(sqlite_store, fake_hubspot)(("opportunities",))
    assert fault.hits == 2 and report.status == "success"
    assert count(sqlite_store, "opportunities") == 120


def test_an_expired_oauth_token_is_refreshed_once_and_the_sync_continues(
        sqlite_store, fake_hubspot_factory, hub):
    fake = fake_hubspot_factory(SMALL)
    sync = hub(sqlite_store, fake, client_id=fake.portal.client_id,
               client_secret="${HS_SECRET}", refresh_token="${HS_REFRESH}")
    report = sync(("opportunities",), progress=StopAfter("opportunities", 200,
                                                         fake.portal.expire_tokens))
    assert report.status == "success", report.error
    assert count(sqlite_store, "opportunities") == DEALS
    assert len(fake.calls_to("POST /oauth/v1/token")) == 2  # first token, then one refresh


# -- write path -----------------------------------------------------------------------------------

@pytest.fixture
def connector(sqlite_store, fake_hubspot, hub, registry):
    sync = hub(sqlite_store, fake_hubspot)
    conn, _ = api.connect(sync.config, "hub", registry)
    yield conn
    conn.close()


def test_ensure_field_creates_the_property_in_a_crmsync_group(connector, fake_hubspot):
    info = connector.ensure_field("opportunities", FieldSpec("crmsync_win_rate", "percent",
                                                             "Win rate"))
    portal = fake_hubspot.portal
    assert info.name == "crmsync_win_rate" and info.writable
    assert portal.properties["deals"]["crmsync_win_rate"]["groupName"] == "crmsync"
    assert "crmsync" in portal.groups["deals"]


def test_ensure_field_twice_creates_the_property_once(connector, fake_hubspot):
    spec = FieldSpec("crmsync_score", "number", "Score")
    connector.ensure_field("opportunities", spec)
    connector.ensure_field("opportunities", spec)
    assert len(fake_hubspot.calls_to(r"POST /crm/v3/properties/deals$")) == 1


def test_write_reports_a_207_partial_failure_per_record(connector, fake_hubspot):
    portal = fake_hubspot.portal
    ok, locked, gone = portal.ids("deals")[:3]
    portal.reject_writes("deals", locked, "Record is locked by an approval process")
    portal.archive("deals", gone)
    connector.ensure_field("opportunities", FieldSpec("crmsync_score", "number", "Score"))
    results = {r.remote_id: r for r in connector.write("opportunities", [
        WriteUpdate(rid, {"crmsync_score": 0.5}) for rid in (ok, locked, gone)])}
    assert results[ok].ok and portal.record("deals", ok)["crmsync_score"] == "0.5"
    assert not results[locked].ok and "locked" in results[locked].error
    assert not results[gone].ok and results[gone].error_code == "OBJECT_NOT_FOUND"
    assert portal.record("deals", locked).get("crmsync_score") is None


def test_write_sends_dates_as_midnight_utc(connector, fake_hubspot):
    import datetime as dt

    deal = fake_hubspot.portal.ids("deals")[0]
    connector.ensure_field("opportunities", FieldSpec("crmsync_next_step", "date", "Next step"))
    [result] = connector.write("opportunities", [
        WriteUpdate(deal, {"crmsync_next_step": dt.date(2026, 3, 4)})])
    assert result.ok
    assert fake_hubspot.portal.record("deals", deal)["crmsync_next_step"] == \
        "2026-03-04T00:00:00.000Z"
