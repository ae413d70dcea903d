"""The dashboard's data layer and app on a hand-made store (docs/dashboard.md): figures are
the stored report rows, records listed are the ones the metric counts, small samples stay
unranked, CRM strings are escaped, secrets never shown, the store is opened read-only."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import InternalError, OperationalError
from starlette.testclient import TestClient

from conftest import load_records, make_config
from crmsync import DashboardPanel, hookimpl
from crmsync.core.config import MetricsConfig
from crmsync.core.errors import ConfigError, DuplicateNameError
from crmsync.core.schema import metric_values
from crmsync.dashboard.app import COOKIE, create_app
from crmsync.dashboard.data import DashboardData, kpi, raw_value
from crmsync.dashboard.filters import Filters, parse_filters
from crmsync.dashboard.forecast import forecast_page
from crmsync.dashboard.records import records_of
from crmsync.dashboard.report import write_report
from crmsync.dashboard.sales import MIN_N, leaderboard
from crmsync.dashboard.serve import check_bind
from crmsync.metrics import compute
from crmsync.orchestration import readers
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store

AS_OF = dt.datetime(2026, 6, 15, 12, 0)
XSS = "<script>alert(1)</script>"


def deal(rid: str, status: str, owner: str, **kw: object) -> dict[str, object]:
    return {"remote_id": rid, "status": status, "owner_id": owner, "name": f"Deal {rid}", **kw}


def closed(rid: str, status: str, owner: str) -> dict[str, object]:
    return deal(rid, status, owner, closed_at="2026-05-10T00:00:00", amount=100,
                currency="USD")


DATA = {
    "users": [{"remote_id": "U1", "name": "Ada Big", "team": "East"},
              {"remote_id": "U2", "name": XSS, "team": "East"}],
    "opportunities": [
        # U1: six closed deals (ranked); U2: two (below MIN_N)
        *(closed(f"W{i}", "won" if i < 4 else "lost", "U1") for i in range(6)),
        closed("X1", "won", "U2"), closed("X2", "lost", "U2"),
        deal("P1", "open", "U1", expected_close_date="2026-06-01", amount=10),
        deal("P2", "open", "U2", expected_close_date="2026-06-15", amount=10),
        deal("P3", "open", "U2", expected_close_date="2026-01-02", amount=10),
        deal("P4", "open", "U1", expected_close_date="2025-12-01", is_deleted=True),
    ],
}


@pytest.fixture
def store_file(store_url: str) -> str:
    """A store (SQLite and PostgreSQL) with the records above and a few values computed."""
    url = store_url
    store = Store(url)
    try:
        load_records(store, DATA)
        metrics = Registry(get_plugin_manager()).metrics()
        cfg = MetricsConfig()
        compute(store, [metrics["win_rate"]], cfg, period="quarter",
                dimensions=(None, "owner"), as_of=AS_OF)
        compute(store, [metrics["dq_past_close_date_open"]], cfg, period="all", as_of=AS_OF)
    finally:
        store.dispose()
    return url


@pytest.fixture
def data(store_file: str, registry: Registry):
    source = DashboardData(make_config(store_file), registry, as_of=AS_OF.date())
    yield source
    source.close()



def race(call: Callable[[], object], callers: int, started: list[Any],
         release: threading.Event) -> None:
    """Run ``call`` in ``callers`` threads at once; ``release`` is set once every caller has
    started its own work (``len(started) == callers``: what happens without sharing) or
    after about a second, then all are joined."""
    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    pause = threading.Event()
    for _ in range(50):  # without sharing, every caller would do the work: let them try
        if len(started) == callers:
            break
        pause.wait(0.02)
    release.set()
    for t in threads:
        t.join()

def test_data_value_is_the_repr_of_the_stored_float() -> None:
    assert raw_value(0.1 + 0.2) == "0.30000000000000004"
    assert raw_value(64) == "64.0"
    assert raw_value(None) == ""


def test_coverage_reads_as_a_multiple() -> None:
    row = {"metric": "pipeline_coverage", "unit": "ratio", "value": 3.0, "target": 2.5,
           "period": "quarter", "period_start": "2026-04-01", "partial": False,
           "attainment": 1.2, "change_vs_previous": 1.25, "change_kind": "points",
           "direction": "higher_is_better"}

    shown = kpi(row)

    assert (shown.text, shown.target_text, shown.change_text) == ("3.0×", "2.5×", "+1.2×")


def test_a_drop_of_a_lower_is_better_kpi_reads_as_better() -> None:
    row = {"metric": "sales_cycle_days", "unit": "days", "value": 30.0, "target": None,
           "period": "quarter", "period_start": "2026-04-01", "partial": True,
           "attainment": None, "change_vs_previous": -0.25, "change_kind": "relative",
           "direction": "lower_is_better"}

    shown = kpi(row)

    assert (shown.arrow, shown.change_class) == ("▼", "better")
    assert shown.period_text == "2026-Q2 (partial)"


def test_unknown_filter_values_are_dropped_with_a_message() -> None:
    f, messages = parse_filters({"team": "Nowhere", "period": "decade", "from": "31/12"},
                                default_period="quarter", known={"team": {"East": "East"}})

    assert (f.team, f.period, f.date_from) == (None, "quarter", None)
    assert any("unknown team 'Nowhere'" in m for m in messages)
    assert any("unknown period 'decade'" in m for m in messages)
    assert any("'31/12' is not a date" in m for m in messages)


def test_listed_records_are_the_ones_the_data_quality_metric_counts(data) -> None:
    org = [r for r in data.rows("all") if r["metric"] == "dq_past_close_date_open"]

    records, total = records_of(data, "dq_past_close_date_open", period="all")

    assert [r.remote_id for r in records] == ["P1", "P3"]  # P2 is due today, P4 deleted
    assert total == org[0]["value"] == 2


def test_leaderboard_leaves_a_rep_below_min_n_unranked(data) -> None:
    board = leaderboard(data, Filters(period="quarter", metric="win_rate"))

    by_rep = {e["rep"]: e for e in board["entries"]}
    assert MIN_N == 5
    assert (by_rep["U1"]["rank"], by_rep["U1"]["small"]) == (1, False)
    assert (by_rep["U2"]["rank"], by_rep["U2"]["small"]) == (None, True)
    assert by_rep["U1"]["kpi"].data["data-value"] == repr(4 / 6)


def test_read_only_store_refuses_writes(store_file: str) -> None:
    store = Store(store_file, read_only=True)
    try:
        with (pytest.raises((OperationalError, InternalError), match=r"readonly|read-only"),
              store.engine.begin() as conn):
            conn.execute(sa.delete(metric_values))
    finally:
        store.dispose()


def test_version_token_changes_when_metrics_are_computed(data, store_file, registry) -> None:
    before = data.version()
    store = Store(store_file)
    try:
        compute(store, [registry.metric("win_rate")], MetricsConfig(), period="month",
                as_of=AS_OF)
    finally:
        store.dispose()

    after = data.version()

    assert after["token"] != before["token"]
    assert after["computed_at"] is not None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org"])
def test_a_non_loopback_host_needs_a_token_or_no_auth(host: str) -> None:
    with pytest.raises(ConfigError, match="refusing to serve"):
        check_bind(host, None, False)
    check_bind(host, "s3cret", False)
    check_bind(host, None, True)


def test_loopback_needs_no_token() -> None:
    check_bind("127.0.0.1", None, False)
    check_bind("::1", None, False)


def test_a_crm_string_renders_as_text(store_file: str, registry: Registry) -> None:
    client = TestClient(create_app(make_config(store_file), registry, as_of=AS_OF.date()))

    for path in ("/leaderboard?metric=win_rate", "/rep/U2", "/data-quality", "/team/East"):
        html = client.get(path).text
        assert XSS not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/rep/U2").text


def test_pages_carry_the_csp_and_never_a_secret(store_file: str, registry: Registry,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HS_TOKEN", "pat-SECRET-42")
    config = make_config(store_file, crm={"type": "hubspot", "access_token": "${HS_TOKEN}",
                                          "portal_id": "777"})
    client = TestClient(create_app(config, registry, as_of=AS_OF.date()))

    for path in ("/", "/sync", "/data-quality", "/rep/U1"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "pat-SECRET-42" not in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "https://app.hubspot.com/contacts/777/record/0-3/P1" in client.get(
        "/data-quality").text


def test_a_token_is_required_when_set(store_file: str, registry: Registry) -> None:
    client = TestClient(create_app(make_config(store_file), registry, auth_token="t0k"))

    assert client.get("/api/version").status_code == 401
    assert client.get("/api/version",
                      headers={"Authorization": "Bearer t0k"}).status_code == 200
    first = client.get("/?token=t0k")
    assert first.status_code == 200 and COOKIE in first.cookies
    assert client.get("/sync").status_code == 200  # the cookie carries on


def test_unknown_rep_is_a_404_page_not_an_error(store_file: str, registry: Registry) -> None:
    client = TestClient(create_app(make_config(store_file), registry))

    response = client.get("/rep/U404")

    assert response.status_code == 404
    assert "no rep with id &#39;U404&#39;" in response.text


class _PanelPlugin:
    @hookimpl
    def crmsync_dashboard_panels(self) -> list[DashboardPanel]:
        return [DashboardPanel(name="notes", title="Notes", page="overview",
                               rows=lambda ctx: [{"note": XSS, "period": ctx.filters["period"]}])]


def test_a_plugin_panel_is_shown_escaped(store_file: str) -> None:
    pm = get_plugin_manager()
    pm.register(_PanelPlugin(), name="panel-plugin")
    client = TestClient(create_app(make_config(store_file), Registry(pm)))

    html = client.get("/?period=quarter").text

    assert "<h2>Notes</h2>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html


def test_two_panels_with_one_name_name_both_plugins() -> None:
    pm = get_plugin_manager()
    pm.register(_PanelPlugin(), name="one")
    pm.register(_PanelPlugin(), name="two")

    with pytest.raises(DuplicateNameError, match="'one' and 'two'"):
        Registry(pm).dashboard_panels()


def test_report_is_one_file_without_external_resources(store_file: str, registry: Registry,
                                                        tmp_path: Path) -> None:
    result = write_report(make_config(store_file), registry, tmp_path / "r.html",
                          period="quarter", as_of=AS_OF.date())

    html = result.path.read_text(encoding="utf-8")
    assert "<script src" not in html and "<link" not in html
    assert 'id="plotly-packed"' in html
    assert 'data-metric="win_rate" data-period-start="2026-04-01"' in html
    assert XSS not in html


def test_metric_report_reads_only_the_dimension_values_asked_for(store_file: str,
                                                                 registry: Registry) -> None:
    from crmsync import api

    rows = api.metric_report(make_config(store_file), registry, period="quarter",
                             dimension="owner", dimension_values={"U2"})

    assert rows and {r["dimension_value"] for r in rows} == {"U2"}


def _cli(*args: str, config: Path | None = None):
    from click.testing import CliRunner

    from crmsync.cli import cli

    return CliRunner().invoke(cli, [*(["--config", str(config)] if config else []), *args])


def _config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    return path


def test_cli_refuses_a_public_host_without_auth(tmp_path: Path, store_file: str) -> None:
    result = _cli("dashboard", "--host", "0.0.0.0", config=_config_file(tmp_path, store_file))

    assert result.exit_code == 2
    assert result.output.startswith("error: refusing to serve the dashboard on 0.0.0.0")


def test_cli_report_writes_the_file_and_names_an_unknown_team(tmp_path: Path,
                                                              store_file: str) -> None:
    config = _config_file(tmp_path, store_file)

    ok = _cli("report", "--html", str(tmp_path / "out.html"), "--period", "quarter",
              "--today", "2026-06-15", "--json", config=config)
    bad = _cli("report", "--html", str(tmp_path / "bad.html"), "--team", "Nowhere",
               config=config)

    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "out.html").stat().st_size == json.loads(ok.output)["bytes"]
    assert bad.exit_code == 2 and "unknown team 'Nowhere'" in bad.output
    assert not (tmp_path / "bad.html").exists()


def test_salesforce_links_records_when_the_instance_is_known(registry: Registry) -> None:
    cls = registry.connector("salesforce")
    session = cls.validate_settings({"instance_url": "https://acme.my.salesforce.com",
                                     "session_id": "00Dx!token"})
    login = cls.validate_settings({"username": "u@acme.com", "password": "p",
                                   "security_token": "t"})

    assert cls("sf", session).record_url("opportunities", "006A") == \
        "https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view"
    assert cls("sf", session).record_url("accounts", "001B") == \
        "https://acme.my.salesforce.com/lightning/r/Account/001B/view"
    assert cls("sf", login).record_url("opportunities", "006A") is None


def test_hubspot_links_records_only_with_a_portal_id(registry: Registry) -> None:
    cls = registry.connector("hubspot")
    with_portal = cls.validate_settings({"access_token": "pat", "portal_id": 4242})
    without = cls.validate_settings({"access_token": "pat"})

    assert cls("hs", with_portal).record_url("opportunities", "91") == \
        "https://app.hubspot.com/contacts/4242/record/0-3/91"
    assert cls("hs", with_portal).record_url("accounts", "7") == \
        "https://app.hubspot.com/contacts/4242/record/0-2/7"
    assert cls("hs", without).record_url("opportunities", "91") is None


def test_slipped_deals_are_listed_for_the_current_period(data) -> None:
    records, total = records_of(data, "deal_slippage_rate", period="quarter")

    # due this quarter (from 2026-04-01) before today and still open: P1; P3 was due in Q1
    assert [r.remote_id for r in records] == ["P1"] and total == 1


def test_a_missing_store_is_a_clear_error_and_no_file_is_created(tmp_path: Path,
                                                                 registry: Registry) -> None:
    from crmsync.core.errors import StoreError

    missing = tmp_path / "nothing.db"

    with pytest.raises(StoreError, match=r"no store at .*nothing\.db"):
        DashboardData(make_config(f"sqlite:///{missing}"), registry)
    assert not missing.exists()


class _PagePlugin:
    @hookimpl
    def crmsync_dashboard_panels(self) -> list[DashboardPanel]:
        def broken(ctx):
            raise RuntimeError("boom")

        return [DashboardPanel(name="forecast", title="Forecast", page="deal-desk",
                               rows=lambda ctx: [{"quarter": "2026-Q3", "calls": 12}]),
                DashboardPanel(name="broken", title="Broken", page="deal-desk", rows=broken)]


def test_a_panel_on_a_new_page_gets_a_page_and_a_failing_one_says_so(store_file: str) -> None:
    pm = get_plugin_manager()
    pm.register(_PagePlugin(), name="page-plugin")
    client = TestClient(create_app(make_config(store_file), Registry(pm)))

    overview = client.get("/").text
    page = client.get("/page/deal-desk")

    assert 'href="/page/deal-desk' in overview
    assert page.status_code == 200
    assert "<td>2026-Q3</td><td>12</td>" in page.text
    assert "This panel failed: RuntimeError: boom" in page.text
    assert client.get("/page/nothing").status_code == 404


def test_the_report_lists_a_plugin_page_in_its_nav(store_file: str, tmp_path: Path) -> None:
    pm = get_plugin_manager()
    pm.register(_PagePlugin(), name="page-plugin")

    result = write_report(make_config(store_file), Registry(pm), tmp_path / "r.html",
                          as_of=AS_OF.date())

    html = result.path.read_text(encoding="utf-8")
    assert '<a href="#deal-desk">Deal desk</a>' in html
    assert '<section class="page tab" id="deal-desk">' in html


def test_concurrent_requests_share_one_build(data) -> None:

    builds: list[int] = []
    release = threading.Event()

    def build() -> list[int]:
        builds.append(1)
        release.wait(5)  # held until every caller is in (or 5 s have passed)
        return [len(builds)]

    results: list[object] = []
    race(lambda: results.append(data.cached("k", build)), 5, builds, release)

    assert len(builds) == 1
    assert len(results) == 5 and all(r is results[0] for r in results)


def test_pages_read_aggregate_values_and_per_subject_ones_on_request(data, store_file,
                                                                     registry) -> None:
    from crmsync import api

    store = Store(store_file)
    try:
        compute(store, [registry.metric("opportunity_age_days")], MetricsConfig(),
                period="all", as_of=AS_OF)
    finally:
        store.dispose()
    data.refresh()
    every = api.metric_report(data.config, registry, period="all", store=data.store)
    assert any(r["subject_id"] is not None for r in every)

    assert data.rows("all") == [r for r in every if r["subject_id"] is None]
    assert data.rows("all", subjects=True) == every
    ages = data.rows("all", metric="opportunity_age_days", subjects=True)
    assert {r["subject_id"] for r in ages} >= {"P1", "P2", "P3"}
    assert all(r["metric"] == "opportunity_age_days" for r in ages)


def test_a_page_is_rendered_once_per_change_token_and_filters(data, store_file, registry,
                                                              monkeypatch) -> None:
    from crmsync.dashboard.pages import Renderer

    renderer = Renderer(data)
    built: list[str] = []
    real = renderer.content

    def content(slug: str, *args: object) -> object:
        built.append(slug)
        return real(slug, *args)

    monkeypatch.setattr(renderer, "content", content)
    first = renderer.page("leaderboard", {"metric": "win_rate"})
    assert renderer.page("leaderboard", {"metric": "win_rate"}) == first
    assert built == ["leaderboard"]
    renderer.page("leaderboard", {"metric": "win_rate", "period": "quarter"})
    renderer.page("sync", {})
    renderer.page("sync", {})  # shows the time: never kept
    assert built == ["leaderboard", "leaderboard", "sync", "sync"]

    store = Store(store_file)
    try:
        compute(store, [registry.metric("win_rate")], MetricsConfig(), period="month",
                as_of=AS_OF)
    finally:
        store.dispose()
    renderer.page("leaderboard", {"metric": "win_rate"})  # new data: rendered anew
    assert built[-1] == "leaderboard" and len(built) == 5


def test_values_of_chosen_periods_keep_their_change(data, store_file, registry) -> None:
    from crmsync import api
    from crmsync.metrics.engine import latest_periods

    store = Store(store_file)
    try:  # open deals close in Q1 (P3) and Q2 (P1, P2): two periods of values
        compute(store, [registry.metric("pipeline_value")], MetricsConfig(),
                period="quarter", dimensions=("owner",), as_of=AS_OF)
    finally:
        store.dispose()
    data.refresh()
    every = api.metric_report(data.config, registry, metric="pipeline_value",
                              period="quarter", dimension="owner", store=data.store)
    periods = latest_periods(data.store, metric=["pipeline_value"], period="quarter",
                             dimension="owner", subjects=False)
    assert [(s.isoformat(), e.isoformat()) for s, e in periods] == sorted(
        {(r["period_start"], r["period_end"]) for r in every})
    assert len(periods) >= 2

    last, before = periods[-1][0].isoformat(), periods[-2][0].isoformat()
    only_last = data.rows("quarter", "owner", metric="pipeline_value", starts=[last])
    both = data.rows("quarter", "owner", metric="pipeline_value", starts=[last, before])

    def ident(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(r["period_start"], r["dimension_value"], r["value"]) for r in rows]

    assert ident(only_last) == ident([r for r in every if r["period_start"] == last])
    assert both == [r for r in every if r["period_start"] in (last, before)]
    assert any(r["change_vs_previous"] is not None for r in both)


def test_requests_for_a_page_being_rendered_wait_for_it(data, monkeypatch) -> None:

    from crmsync.dashboard.pages import Renderer

    renderer = Renderer(data)
    built: list[str] = []
    release = threading.Event()
    real = renderer.content

    def content(slug: str, *args: object) -> object:
        built.append(slug)
        release.wait(5)  # held until every request is in (or 5 s have passed)
        return real(slug, *args)

    monkeypatch.setattr(renderer, "content", content)
    pages: list[str] = []
    version = data.refresh()
    race(lambda: pages.append(
        renderer.page("leaderboard", {"metric": "win_rate"}, version=version)), 4, built, release)

    assert built == ["leaderboard"]
    assert len(pages) == 4 and len(set(pages)) == 1


def test_the_forecast_page_reads_its_periods_at_once_as_one_after_the_other(
        store_file: str, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forecast page's five reads (the forecast, four ended periods' accuracy) on
    several connections give what one after the other gives: the same periods, in order."""
    pages = {}
    for n in (1, 3):
        monkeypatch.setattr(readers, "READERS", n)
        source = DashboardData(make_config(store_file), registry, as_of=AS_OF.date())
        try:
            pages[n] = forecast_page(source, Filters())
        finally:
            source.close()
    assert pages[3] == pages[1]
    assert [p["name"] for p in pages[1]["past"]] == ["2026-Q1", "2025-Q4", "2025-Q3",
                                                     "2025-Q2"]


def test_the_forecast_page_says_no_rate_for_a_quota_it_cannot_convert(tmp_path: Path,
                                                                     registry: Registry
                                                                     ) -> None:
    """The rep with a EUR quota and no EUR rate (``test_forecast.ROLLUP``): ``no rate``
    where the quota goes, not the dash of a rep without a quota, and no bar drawn for it."""
    from conftest import load_records
    from test_forecast import ROLLUP

    store = Store(f"sqlite:///{tmp_path / 'rollup.db'}")
    load_records(store, ROLLUP)
    store.dispose()
    source = DashboardData(make_config(store.url), registry, as_of=dt.date(2026, 4, 30))
    try:
        page = forecast_page(source, Filters())
    finally:
        source.close()
    rows = {r["name"]: r for section in page["sections"] for r in section["rows"]
            if r["kind"] == "rep"}
    assert rows["<script>x</script>"]["quota"] == "no rate"
    assert rows["<script>x</script>"]["quota_value"] is None
    assert rows["Ann"]["quota"] != "no rate" and rows["Ann"]["quota_value"] == 2000.0
    assert page["total"]["quota"] == "no rate"  # the organisation's total holds that quota
