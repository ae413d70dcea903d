"""The trends page's baselines in a real browser (Debian's chromium via Playwright): the
shaded usual range behind the scope's line, the trailing median in the table, and the
anomalies marked exactly where the stored values are anomalies (docs/trends.md)."""

from __future__ import annotations

from crmsync import api
from crmsync.plugin.registry import Registry
from dashboard_support import row_key

pytest_plugins = ("dashboard_support",)

PATH = "/trends?period=quarter&metric=revenue"


def test_the_band_is_drawn_behind_the_organisation_s_line(page, dashboard_server):
    page.goto(dashboard_server.url(PATH))
    page.page.wait_for_function(
        "() => document.querySelector('.chart.js-plotly-plot') !== null")
    traces = page.page.evaluate(
        "() => document.querySelector('.chart.js-plotly-plot').data"
        ".map(t => ({name: t.name, fill: t.fill || null, n: t.y.length}))")
    band = [t for t in traces if t["name"] == "usual range (trailing 4)"]
    assert band and band[0]["fill"] == "tonexty" and band[0]["n"] > 4
    assert traces.index(band[0]) < [t["name"] for t in traces].index("organisation")
    assert page.page.locator("th", has_text="usual (trailing 4)").is_visible()
    page.assert_clean()


def test_anomalies_are_marked_where_the_store_says(page, dashboard_server, dashboard_store):
    page.goto(dashboard_server.url(PATH))
    marked = page.page.eval_on_selector_all(
        "tr:has([data-anomaly]) [data-metric]", """els => els.map(e => ({
            metric: e.dataset.metric, period_start: e.dataset.periodStart,
            dimension: e.dataset.dimension, dimension_value: e.dataset.dimensionValue}))""")
    expected = {row_key(r) for dim in (None, "team")
                for r in api.metric_trends(dashboard_store.config, Registry(), metric="revenue",
                                           period="quarter", dimension=dim, anomalies=True)}
    shown = {row_key(f) for f in marked}
    assert shown, "the demo's revenue by team has anomalies (APAC & LATAM, 2026-Q2)"
    assert shown == expected
    assert page.page.locator("[data-anomaly]").first.inner_text() == "! unusual"
    page.assert_clean()
