"""The forecast page (/forecast, docs/dashboard.md) in real chromium over the demo store:
it loads cleanly from the navigation, draws its charts, shows the figures ``crmsync forecast
--json`` gives, narrows with the filters and shows a rep named ``<script>`` as text."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from crmsync import api
from dashboard_support import XSS, DemoStore, PageWatch

pytest_plugins = ("dashboard_support",)


def _apply(watch: PageWatch, name: str, value: str) -> None:
    watch.page.select_option(f"form.filters select[name={name}]", value)
    with watch.page.expect_navigation(wait_until="load"):
        watch.page.click("form.filters button[type=submit]")


def _forecast(store: DemoStore, by: str, period: str = "quarter") -> dict[str, Any]:
    return api.forecast(store.config, period=period, by=by, as_of=store.as_of.date())


def test_the_navigation_leads_to_the_forecast_page(page, dashboard_server):
    page.goto(dashboard_server.url("/"))
    with page.page.expect_navigation(wait_until="load"):
        page.page.click("nav.pages a:text-is('Forecast')")
    assert urlsplit(page.page.url).path == "/forecast"
    assert page.page.get_attribute("nav.pages a[aria-current=page]", "href").startswith(
        "/forecast")
    page.assert_clean()


def test_the_stacked_bars_against_quota_are_drawn(page, dashboard_server):
    page.goto(dashboard_server.url("/forecast"))
    page.page.wait_for_function(
        "() => document.querySelectorAll('main .js-plotly-plot .main-svg').length >= 2")
    layout = page.page.evaluate(
        "() => document.querySelector('main .js-plotly-plot').layout.barmode")
    assert layout == "stack"
    traces = page.page.evaluate(
        "() => document.querySelector('main .js-plotly-plot').data.map(t => t.name)")
    assert traces == ["Closed", "Commit", "Best case", "Pipeline", "Omitted", "quota"]
    page.assert_clean()


def test_the_page_shows_the_figures_of_the_forecast_api(page, dashboard_server,
                                                        dashboard_store):
    page.goto(dashboard_server.url("/forecast"))
    teams = _forecast(dashboard_store, "team")
    assert teams["groups"], "the demo's current quarter has a forecast"
    shown = {k: float(page.page.get_attribute(f"[data-forecast-total={k}]", "data-value"))
             for k in ("commit", "best_case", "weighted", "history")}
    assert shown == pytest.approx(teams["total"]["kinds"])
    team = teams["groups"][0]
    cell = f"table.forecast[data-by=team] tr[data-group='{team['key']}'] td[data-category=commit]"
    assert float(page.page.get_attribute(cell, "data-value")) == pytest.approx(
        team["commit"]["amount"])
    assert page.page.get_attribute(cell, "data-n") == str(team["commit"]["n"])
    page.assert_clean()


def test_the_accuracy_table_covers_the_last_ended_period(page, dashboard_server,
                                                         dashboard_store):
    page.goto(dashboard_server.url("/forecast"))
    heading = page.page.inner_text("h2#accuracy")
    label = _forecast(dashboard_store, "team")["label"]
    assert heading.startswith("Accuracy: ") and label not in heading
    rows = page.page.locator("table.accuracy[data-by=owner] tbody tr").count()
    assert rows >= 1
    past = page.page.eval_on_selector_all("table.past-accuracy tbody tr",
                                          "rows => rows.map(r => r.dataset.period)")
    assert past == ["2026-Q2", "2026-Q1", "2025-Q4", "2025-Q3"]
    page.assert_clean()


def test_choosing_a_period_and_a_team_narrows_the_forecast(page, dashboard_server,
                                                           dashboard_store):
    page.goto(dashboard_server.url("/forecast"))
    _apply(page, "period", "month")
    assert parse_qs(urlsplit(page.page.url).query)["period"] == ["month"]
    month = _forecast(dashboard_store, "team", "month")["label"]
    assert month in page.page.inner_text("main")
    team = dashboard_store.teams[0]
    _apply(page, "team", team)
    shown = page.page.eval_on_selector_all(
        "table.forecast[data-by=team] tbody tr", "rows => rows.map(r => r.dataset.group)")
    assert shown == [team]
    reps = _forecast(dashboard_store, "owner", "month")["groups"]
    expected = {g["key"] for g in reps if g["team"] == team}
    listed = page.page.eval_on_selector_all(
        "table.forecast[data-by=owner] tbody tr", "rows => rows.map(r => r.dataset.group)")
    assert set(listed) == expected
    page.assert_clean()


def test_a_rep_named_script_renders_as_text(page, dashboard_server, dashboard_store):
    page.goto(dashboard_server.url("/forecast"))
    page.page.wait_for_timeout(300)  # a script that ran would have opened its dialog by now
    assert page.dialogs == []
    assert page.page.locator("main table").get_by_text(XSS).filter(visible=True).count() >= 1
    injected = page.page.eval_on_selector_all(
        "script", "els => els.filter(e => e.type !== 'application/json' "
                  "&& e.textContent.includes('alert(1)')).length")
    assert injected == 0
    page.assert_clean()
