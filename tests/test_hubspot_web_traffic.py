"""HubSpot web traffic (plugins/crmsync_hubspot/web_analytics.py) through ``crmsync.api.sync``
against the fake portal's daily sources report: mapping, windows, the incremental re-read of
late-attributed days with deletions, bad numbers rejected naming the field, and the missing
``business-intelligence`` scope skipped with one log line."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest

from conftest import make_config, table_rows
from crmsync import api
from crmsync.store import Store
from crmsync_hubspot import web_analytics
from crmsync_hubspot.web_analytics import calls_for_days, channel_of, day_records
from fakes.hs_data import Dataset
from fakes.hs_web import LAST_DAY, SCOPE
from fakes.hubspot_portal import FakeHubSpotPortal

DATA = Dataset(deals=5, contacts=5, companies=2, engagements=0, owners=2, products=1,
               line_items=0)
REPORT = "GET /analytics/v2/reports/sources/daily"


@pytest.fixture
def fake(fake_hubspot_factory: Callable[..., FakeHubSpotPortal],
         monkeypatch: pytest.MonkeyPatch) -> FakeHubSpotPortal:
    monkeypatch.setattr(web_analytics, "utc_today", lambda: LAST_DAY)
    return fake_hubspot_factory(DATA)


@pytest.fixture
def sync(fake: FakeHubSpotPortal, sqlite_store: Store, registry,
         monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("HS_TOKEN", fake.access_token)
    config = make_config(sqlite_store.url, hub={
        "type": "hubspot", "base_url": fake.base_url, "access_token": "${HS_TOKEN}",
        "rate_limit": 100_000, "search_rate_limit": 10_000})

    def run(**kw: Any):
        return api.sync(config, registry, entities=("web_traffic",), store=sqlite_store, **kw)

    return run


def live(store: Store) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in table_rows(store, "web_traffic", "remote_id", "channel",
                                            "sessions", "page_views", "new_contacts",
                                            "is_deleted")}


def report_calls(fake: FakeHubSpotPortal) -> list[str]:
    return [c.path.split("?", 1)[1] for c in fake.calls if c.route.startswith(
        "/analytics/v2/reports/sources/daily")]


def test_breakdown_names_become_channels() -> None:
    assert [channel_of(b) for b in ("organic", "ORGANIC_SEARCH", "paid-social", "email",
                                    "DIRECT_TRAFFIC", "other", "Partner Sites")] == [
        "organic_search", "organic_search", "paid_social", "email", "direct",
        "other_campaigns", "partner_sites"]


def test_a_day_maps_visits_views_and_contacts_and_sums_one_channel() -> None:
    records, rejects = day_records("2026-11-03", [
        {"breakdown": "organic", "visits": 100, "rawViews": 250, "contacts": 3},
        {"breakdown": "ORGANIC_SEARCH", "visits": "20", "rawViews": 30, "contacts": 1},
        {"breakdown": "direct", "visits": 40, "rawViews": 60}])
    assert rejects == []
    assert records == [
        {"remote_id": "2026-11-03:organic_search", "date": "2026-11-03",
         "channel": "organic_search", "sessions": 120, "page_views": 280, "new_contacts": 4},
        {"remote_id": "2026-11-03:direct", "date": "2026-11-03", "channel": "direct",
         "sessions": 40, "page_views": 60, "new_contacts": None}]


def test_a_bad_number_rejects_its_breakdown_naming_the_field_and_keeps_the_day() -> None:
    records, rejects = day_records("2026-11-03", [
        {"breakdown": "email", "visits": -3, "rawViews": 5, "contacts": 0},
        {"breakdown": "paid", "visits": 10, "rawViews": 1.5, "contacts": 0},
        {"breakdown": "social", "visits": 10, "rawViews": 4, "contacts": {"n": 1}},
        {"breakdown": "direct", "visits": 7, "rawViews": 9, "contacts": 0}])
    assert [r["remote_id"] for r in records] == ["2026-11-03:direct"]
    assert [(r.remote_id, r.field) for r in rejects] == [("2026-11-03:email", "visits"),
                                                         ("2026-11-03:paid_search", "rawViews"),
                                                         ("2026-11-03:organic_social", "contacts")]


def test_first_read_goes_back_two_years_in_two_calls_and_stores_every_day(
        fake: FakeHubSpotPortal, sync, sqlite_store: Store) -> None:
    assert sync().ok
    assert report_calls(fake) == ["start=20241130&end=20251130", "start=20251201&end=20261130"]
    assert calls_for_days(731) == 2
    expected = {f"{day}:{channel_of(r['breakdown'])}": (r["visits"], r["rawViews"],
                                                         r["contacts"])
                for day, rows in fake.portal.web.report(LAST_DAY - dt.timedelta(days=60),
                                                        LAST_DAY).items() for r in rows}
    assert {k: v[1:4] for k, v in live(sqlite_store).items()} == expected
    assert live(sqlite_store)["2026-11-30:organic_search"] == ("organic_search", 96, 222, 2, 0)


def test_next_read_rereads_recent_days_and_deletes_a_source_gone_from_them(
        fake: FakeHubSpotPortal, sync, sqlite_store: Store, monkeypatch) -> None:
    assert sync().ok
    fake.reset_calls()
    day = dt.date(2026, 11, 29)
    fake.portal.web.set(day, "organic", {"visits": 70, "rawViews": 90, "contacts": 5})
    fake.portal.web.set(day, "direct", None)
    fake.portal.web.set(dt.date(2026, 12, 1), "email", {"visits": 9, "rawViews": 9,
                                                        "contacts": 1})
    monkeypatch.setattr(web_analytics, "utc_today", lambda: dt.date(2026, 12, 1))

    assert sync().ok

    assert report_calls(fake) == ["start=20261127&end=20261201"]
    rows = live(sqlite_store)
    assert rows["2026-11-29:organic_search"] == ("organic_search", 70, 90, 5, 0)
    assert rows["2026-11-29:direct"][-1] == 1  # deleted: HubSpot no longer reports it
    assert rows["2026-12-01:email"] == ("email", 9, 9, 1, 0)
    assert rows["2026-11-26:direct"][-1] == 0  # before the re-read window: untouched


def test_without_the_scope_web_traffic_is_skipped_with_one_log_line(
        fake: FakeHubSpotPortal, sync, sqlite_store: Store, caplog) -> None:
    fake.portal.scopes.discard(SCOPE)
    with caplog.at_level(logging.WARNING, logger="crmsync_hubspot.line_items"):
        result = sync()
    assert result.ok
    assert live(sqlite_store) == {}
    notes = [r.getMessage() for r in caplog.records if "skipping web_traffic" in r.getMessage()]
    assert len(notes) == 1 and "'business-intelligence' scope" in notes[0]
