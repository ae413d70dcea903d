"""The dashboard and the HTML report in a real browser (Debian's chromium via Playwright).

One demo store, one server and one browser serve the whole module (tests/dashboard_support.py);
tests that change data or need another server make their own copy. Every page is checked for
console errors and requests off 127.0.0.1; figures are compared with ``metrics show --json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from crmsync import api
from crmsync.plugin.registry import Registry
from dashboard_support import (
    PAGES,
    XSS,
    DemoStore,
    PageWatch,
    copy_store,
    figures,
    row_key,
    serve_dashboard,
    shown_rows,
)

pytest_plugins = ("dashboard_support",)

#: Remote ids of the demo's users, accounts and deals (what must never replace a name).
DEMO_IDS = re.compile(r"\b(U\d{4}|A\d{6}|O\d{7})\b")
TOKEN = "dashboard-test-token"


def _pages(store: DemoStore) -> list[str]:
    return [*PAGES, f"/rep/{store.xss_rep}", f"/team/{quote(store.teams[0])}"]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _shown(watch: PageWatch) -> list[dict[str, Any]]:
    shown = [f for f in figures(watch.page) if f["visible"]]
    assert shown, f"no KPI figure visible on {watch.page.url}"
    return shown


def _apply(watch: PageWatch, name: str, value: str) -> None:
    """Choose ``value`` in the filter ``name`` and apply the filters (a page load)."""
    watch.page.select_option(f"form.filters select[name={name}]", value)
    with watch.page.expect_navigation(wait_until="load"):
        watch.page.click("form.filters button[type=submit]")


# -- every page ---------------------------------------------------------------------------------

@pytest.mark.parametrize("index", range(len(PAGES) + 2),
                         ids=[p.strip("/") or "overview" for p in PAGES] + ["rep", "team"])
def test_every_dashboard_page_loads_cleanly(page, dashboard_server, dashboard_store, index):
    path = _pages(dashboard_store)[index]
    page.goto(dashboard_server.url(path))
    assert page.page.locator("h1").first.is_visible()
    page.assert_clean()
    assert any(u.endswith("/assets/plotly.min.js") for u in page.requests)


def test_every_report_section_opens_offline_cleanly(page, report_file, dashboard_store):
    page.files.add(str(report_file))
    page.context.set_offline(True)
    page.goto(report_file.as_uri())
    sections = page.page.eval_on_selector_all("section.tab", "els => els.map(e => e.id)")
    assert {"overview", "leaderboard", "pipeline", "data-quality"} <= set(sections)
    for section in sections:  # rep and team sections are reached by links, not the nav
        page.page.evaluate("id => { location.hash = id; }", section)
        page.page.locator(f"section.tab#{section}").wait_for(state="visible")
    page.page.click("nav.pages a[href='#overview']")
    assert _shown(page)
    page.page.wait_for_function(  # the inlined plotly.js, inflated offline, drew the charts
        "() => document.querySelectorAll('#overview .js-plotly-plot .main-svg').length > 0")
    page.assert_clean()
    assert set(page.requests) == {report_file.as_uri()}


def test_charts_are_drawn_from_the_servers_own_plotly(page, dashboard_server):
    page.goto(dashboard_server.url("/"))
    page.page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
    assert not page.off_host
    assert page.page.evaluate("typeof window.Plotly.newPlot") == "function"


def test_plotly_is_served_from_the_plotly_package(dashboard_server):
    from importlib import resources

    shipped = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    response = httpx.get(dashboard_server.url("/assets/plotly.min.js"))
    assert response.status_code == 200
    assert response.content == shipped
    assert response.headers["content-type"].startswith("text/javascript")


# -- filters ------------------------------------------------------------------------------------

def test_choosing_a_period_changes_the_figures_and_the_url(page, dashboard_server):
    page.goto(dashboard_server.url("/"))
    assert page.page.input_value("form.filters select[name=period]") == "month"
    before = {row_key(f): f["value"] for f in _shown(page) if f["period_start"]}
    _apply(page, "period", "quarter")
    assert _query(page.page.url)["period"] == ["quarter"]
    after = {row_key(f): f["value"] for f in _shown(page) if f["period_start"]}
    # snapshot figures (no period) stay as they are; months become quarters
    assert "2026-09-01" in {k[1] for k in before}
    assert {k[1][5:] for k in after} <= {"01-01", "04-01", "07-01", "10-01"}
    assert set(after.values()) != set(before.values())
    page.assert_clean()


def test_choosing_a_team_shows_that_teams_figures(page, dashboard_server, dashboard_store):
    team = dashboard_store.teams[1]
    page.goto(dashboard_server.url("/"))
    _apply(page, "team", team)
    assert _query(page.page.url)["team"] == [team]
    shown = _shown(page)
    assert {(f["dimension"], f["dimension_value"]) for f in shown} == {("team", team)}
    page.assert_clean()


def test_choosing_a_rep_shows_that_reps_figures(page, dashboard_server, dashboard_store):
    rep = dashboard_store.xss_rep
    page.goto(dashboard_server.url("/"))
    _apply(page, "rep", rep)
    assert _query(page.page.url)["rep"] == [rep]
    shown = _shown(page)
    assert {(f["dimension"], f["dimension_value"]) for f in shown} == {("owner", rep)}
    page.assert_clean()


def test_a_shared_url_restores_the_view(page, dashboard_server, dashboard_store):
    team = dashboard_store.teams[2]
    page.goto(dashboard_server.url(f"/?period=quarter&team={quote(team)}"))
    assert page.page.input_value("form.filters select[name=period]") == "quarter"
    assert page.page.input_value("form.filters select[name=team]") == team
    assert {f["dimension_value"] for f in _shown(page)} == {team}


# -- the figures are the stored values ----------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/leaderboard", "/?period=quarter&team={team}",
                                  "/leaderboard?period=quarter&metric=revenue"])
def test_displayed_values_equal_metrics_show_json(page, dashboard_server, dashboard_store,
                                                  path):
    page.goto(dashboard_server.url(path.format(team=quote(dashboard_store.teams[0]))))
    period = page.page.input_value("form.filters select[name=period]")
    stored: dict[tuple[str, str, str, str], set[str]] = {}
    for dimension in {f["dimension"] or None for f in figures(page.page)}:
        for p in (period, "all"):
            for row in shown_rows(dashboard_store.config, period=p, dimension=dimension):
                value = "" if row["value"] is None else repr(float(row["value"]))
                stored.setdefault(row_key(row), set()).add(value)
    shown = figures(page.page)
    assert len(shown) >= 5
    wrong = [f for f in shown if f["value"] not in stored.get(row_key(f), set())]
    assert not wrong, f"{len(wrong)} of {len(shown)} figures differ from the store: {wrong[:5]}"


def test_the_cli_json_and_the_page_agree_on_a_figure(page, dashboard_server, dashboard_store,
                                                     cli_config):
    import json

    from dashboard_support import crmsync_cli

    page.goto(dashboard_server.url("/?period=quarter"))
    shown = [f for f in _shown(page) if f["metric"] == "win_rate"]
    result = crmsync_cli("metrics", "show", "--metric", "win_rate", "--period", "quarter",
                         "--json", env=cli_config)
    assert result.returncode == 0, result.stderr
    rows = {row_key(r): r["value"] for r in json.loads(result.stdout)}
    assert shown and all(float(f["value"]) == rows[row_key(f)] for f in shown)


def test_the_rep_page_ranks_the_rep_in_the_team_as_the_scorecard_does(page, dashboard_server,
                                                                       dashboard_store):
    card = api.scorecard(dashboard_store.config, Registry(), period="quarter",
                         as_of=dashboard_store.as_of.date())
    rep = next(r for r in card["reps"] if r["team"] and r["families"])
    expected = {line["metric"]: line["percentile"]
                for family in rep["families"] for line in family["metrics"]}
    page.goto(dashboard_server.url(f"/rep/{quote(rep['rep_id'])}?period=quarter"))
    cells = page.page.eval_on_selector_all(
        "td[data-percentile]", "els => els.map(e => [e.dataset.of, e.dataset.ofStart, "
        "e.dataset.percentile, e.innerText])")
    same_period = [(metric, shown, text) for metric, start, shown, text in cells
                   if start == card["period_start"] and metric in expected]
    assert len(same_period) >= 5
    for metric, shown, text in same_period:
        want = expected[metric]
        assert (float(shown) if shown else None) == want, metric
        assert text == ("–" if want is None else f"{want:.0f}"), metric
    page.assert_clean()


# -- names, escaping, layout --------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/leaderboard", "/rep/{rep}", "/data-quality"])
def test_a_script_in_crm_names_renders_as_text(page, dashboard_server, dashboard_store, path):
    page.goto(dashboard_server.url(path.format(rep=dashboard_store.xss_rep)))
    page.page.wait_for_timeout(300)  # a script that ran would have opened its dialog by now
    assert page.dialogs == []
    assert page.page.locator("main").get_by_text(XSS).filter(visible=True).count() >= 1
    injected = page.page.eval_on_selector_all(
        "script", "els => els.filter(e => e.textContent.includes('alert(1)')).length")
    assert injected == 0
    page.assert_clean()


def test_deal_and_account_names_render_as_text_on_the_rep_page(page, dashboard_server,
                                                                dashboard_store):
    page.goto(dashboard_server.url(f"/rep/{dashboard_store.xss_rep}"))
    assert page.page.locator("main").get_by_text(XSS).filter(visible=True).count() >= 2
    assert page.dialogs == []


@pytest.mark.parametrize("path", ["/", "/leaderboard", "/rep/{rep}", "/team/{team}",
                                  "/data-quality", "/pipeline", "/activity"])
def test_people_and_records_appear_by_name_not_id(page, dashboard_server, dashboard_store,
                                                   path):
    page.goto(dashboard_server.url(path.format(rep=dashboard_store.xss_rep,
                                               team=quote(dashboard_store.teams[0]))))
    text = page.page.inner_text("main")
    assert DEMO_IDS.findall(text) == []


def test_the_overview_fits_a_phone_without_horizontal_scrolling(phone_page, dashboard_server):
    phone_page.goto(dashboard_server.url("/"))
    widths = phone_page.page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px viewport"
    assert _shown(phone_page)


# -- security -----------------------------------------------------------------------------------

def test_with_a_token_a_request_without_it_is_refused(token_server):
    assert httpx.get(token_server.url("/")).status_code == 401
    assert httpx.get(token_server.url("/api/version")).status_code == 401


def test_with_a_token_a_request_bearing_it_is_served(token_server):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(token_server.url("/"), headers=headers).status_code == 200
    assert httpx.get(token_server.url("/"), headers={
        "Authorization": "Bearer wrong"}).status_code == 401


def test_a_token_link_opens_the_dashboard_in_the_browser(page, token_server):
    page.goto(token_server.url(f"/?token={TOKEN}"))
    page.goto(token_server.url("/leaderboard"))  # the cookie set by the first visit
    assert _shown(page)
    page.assert_clean()


# -- live updates -------------------------------------------------------------------------------

def test_an_open_page_offers_the_values_of_a_new_computation(page, browser, live_store):
    store, served = live_store
    page.goto(served.url("/?period=quarter"))
    before = {row_key(f): f["value"] for f in _shown(page) if f["metric"] == "avg_deal_size"}
    engine = sa.create_engine(store.url)
    with engine.begin() as conn:
        conn.execute(sa.text("update opportunities set amount = amount * 2, "
                             "amount_base = amount_base * 2 where status = 'won'"))
    engine.dispose()
    api.compute_metrics(store.config, Registry(), ["avg_deal_size"], period="quarter",
                        as_of=store.as_of)
    page.page.wait_for_selector("#new-data", state="visible", timeout=60_000)
    with page.page.expect_navigation(wait_until="load"):
        page.page.click("#reload")
    after = {row_key(f): f["value"] for f in _shown(page) if f["metric"] == "avg_deal_size"}
    assert after.keys() == before.keys()
    assert all(float(after[k]) == pytest.approx(2 * float(before[k])) for k in before)
    page.assert_clean()


# -- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report_file(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of the module's store."""
    from crmsync.dashboard import write_report

    out = tmp_path_factory.mktemp("report") / "report.html"
    write_report(dashboard_store.config, Registry(), out, as_of=dashboard_store.as_of.date())
    return out


@pytest.fixture(scope="module")
def cli_config(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, str]:
    """An environment for ``crmsync`` over the module's store."""
    from dashboard_support import cli_env, write_config_file

    return cli_env(write_config_file(dashboard_store, tmp_path_factory.mktemp("cli")))


@pytest.fixture(scope="module")
def token_server(dashboard_store: DemoStore) -> Any:
    """The dashboard over the module's store, requiring :data:`TOKEN`."""
    with serve_dashboard(dashboard_store, auth_token=TOKEN) as served:
        yield served


@pytest.fixture
def live_store(dashboard_store: DemoStore, tmp_path: Path) -> Any:
    """A copy of the store and a dashboard over it (the test changes its data)."""
    store = copy_store(dashboard_store, tmp_path / "live")
    with serve_dashboard(store) as served:
        yield store, served
