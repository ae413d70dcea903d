"""The dashboard's ``as_of`` filter without a browser (src/crmsync/dashboard/as_of.py): the
filter's parsing, the page data as of a day (the snapshots of that day's instant, not the
current values), and trend lines cut at that day (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from as_of_support import world
from conftest import load_records
from crmsync.core.config import Config, MetricsConfig
from crmsync.dashboard.as_of import AsOfData, as_of_messages, view
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters, parse_filters
from crmsync.dashboard.sales import overview, trends
from crmsync.metrics import compute
from crmsync.orchestration.snapshots import record_snapshots, snapshot_report
from crmsync.plugin.registry import Registry
from crmsync.store import Store

DAY = dt.date(2026, 3, 1)


def test_the_filter_reads_a_date_and_keeps_it_in_links() -> None:
    f, messages = parse_filters({"as_of": "2026-03-01"}, default_period="quarter", known={})
    assert f.as_of == DAY and messages == []
    assert "as_of=2026-03-01" in f.query()
    bad, messages = parse_filters({"as_of": "March"}, default_period="quarter", known={})
    assert bad.as_of is None
    assert messages == ["'March' is not a date (YYYY-MM-DD) for 'as_of': ignored"]


def _data(store: Store, registry: Registry) -> tuple[Config, DashboardData]:
    load_records(store, world(None))
    config = Config(store_url=store.url, metrics=MetricsConfig(period="quarter"))
    record_snapshots(config, registry, backfill="3w", metrics=["pipeline_value"], store=store,
                     now=dt.datetime(2026, 3, 11))
    compute(store, [registry.metric("pipeline_value")], config.metrics)  # current values
    return config, DashboardData(config, registry, as_of=dt.date(2026, 3, 11), store=store)


def test_the_page_data_as_of_a_day_are_the_values_computed_as_of_it(
        store: Store, registry: Registry) -> None:
    config, data = _data(store, registry)
    f = Filters(period="quarter", as_of=DAY)
    shown = view(data, "overview", f)
    assert isinstance(shown, AsOfData) and shown.as_of() == DAY
    assert view(data, "sync", f) is data and view(data, "overview", Filters()) is data
    at = shown.at
    expected = {(r["period_start"], r["value"]) for r in snapshot_report(
        config, registry, at, period="quarter", store=store) if r["subject_id"] is None}
    got = {(r["period_start"], r["value"]) for r in shown.rows("quarter")}
    assert got == expected and got
    now = {(r["period_start"], r["value"]) for r in data.rows("quarter")}
    assert got != now
    card = overview(shown, f)["headline"][0]["kpi"]
    assert (card.metric, card.period_start) == ("pipeline_value", "2026-01-01")
    assert (card.period_start, card.value) in expected


def test_a_day_without_values_says_which_command_computes_them(
        store: Store, registry: Registry) -> None:
    _, data = _data(store, registry)
    assert as_of_messages(data, "overview", Filters(as_of=DAY)) == []
    assert as_of_messages(data, "overview", Filters(as_of=dt.date(2026, 3, 2))) == [
        "no values computed as of 2026-03-02 by quarter: run `crmsync metrics compute "
        "--as-of 2026-03-02 --period quarter`"]
    assert as_of_messages(data, "overview", Filters(period="month", as_of=DAY)) == [
        "no values computed as of 2026-03-01 by month: run `crmsync metrics compute "
        "--as-of 2026-03-01 --period month`"]
    assert "shows the store as it is now" in as_of_messages(
        data, "sync", Filters(as_of=DAY))[0]


def test_the_trend_of_snapshots_stops_at_the_as_of_day(store: Store,
                                                       registry: Registry) -> None:
    _, data = _data(store, registry)
    f = Filters(period="quarter", metric="pipeline_value", as_of=DAY)
    page = trends(view(data, "trends", f), f)
    org = next(s for s in page["figure"]["data"] if s["name"] == "organisation")
    assert org["x"] == ["2026-02-22", "2026-03-01"]
