"""The ``as_of`` filter of the dashboard and ``crmsync report --as-of`` (docs/dashboard.md,
"As of a past date") in real chromium over a copy of the demo store with every metric
computed as of 2026-06-30 (``crmsync metrics compute --as-of``): each figure is the one
``crmsync metrics show --as-of`` prints for that date, the page says so, the filter is a form
control kept in the URL, and CRM strings stay text."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard_support import (
    XSS,
    DemoStore,
    PageWatch,
    ServedApp,
    cli_env,
    copy_store,
    crmsync_cli,
    figures,
    row_key,
    serve_dashboard,
    shown_rows,
    write_config_file,
)

pytest_plugins = ("dashboard_support",)

DAY = "2026-06-30"
#: A figure's data attributes in the report's HTML (the attributes' order of ``Kpi.data``).
FIGURE = re.compile(r'data-metric="([^"]*)" data-period-start="([^"]*)" '
                    r'data-dimension="([^"]*)" data-dimension-value="([^"]*)" '
                    r'data-value="([^"]*)"')


@pytest.fixture(scope="module")
def as_of_store(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[DemoStore, dict[str, str]]:
    """A copy of the demo store with every metric computed as of :data:`DAY`, and the
    environment of a ``crmsync`` child process over it."""
    directory = tmp_path_factory.mktemp("as-of-store")
    store = copy_store(dashboard_store, directory)
    env = cli_env(write_config_file(store, directory))
    for period in ("quarter", "month"):
        done = crmsync_cli("metrics", "compute", "--as-of", DAY, "--period", period, env=env)
        assert done.returncode == 0, done.stderr
    return store, env


@pytest.fixture(scope="module")
def as_of_server(as_of_store: tuple[DemoStore, dict[str, str]]) -> Iterator[ServedApp]:
    with serve_dashboard(as_of_store[0]) as served:
        yield served


def _show(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    """``crmsync metrics show --as-of DAY --json`` with ``args``."""
    done = crmsync_cli("metrics", "show", "--as-of", DAY, "--json", *args, env=env)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def _value(row: dict[str, object]) -> str:
    value = row["value"]
    return "" if value is None else repr(float(value))  # type: ignore[arg-type]


def test_a_headline_figure_is_the_one_metrics_show_as_of_prints(
        page: PageWatch, as_of_server: ServedApp, as_of_store: tuple[DemoStore, dict[str, str]]
) -> None:
    store, env = as_of_store
    page.goto(as_of_server.url(f"/?period=quarter&as_of={DAY}"))
    label = page.page.locator("p.as-of-label")
    assert label.get_attribute("data-as-of") == DAY
    assert f"As of {DAY}" in label.inner_text()
    card = figures(page.page, ".card .value [data-metric=pipeline_value]")[0]
    assert card["period_start"] == "2026-04-01", "the quarter containing the as-of day"
    shown = {row_key(r): _value(r) for r in _show(env, "--metric", "pipeline_value",
                                                  "--period", "quarter")}
    assert card["value"] == shown[row_key(card)]
    now = {row_key(r): _value(r) for r in shown_rows(store.config, metric="pipeline_value",
                                                     period="quarter")}
    assert card["value"] != now[row_key(card)], "as of the day, not as the store is now"
    page.assert_clean()


def test_every_figure_of_the_leaderboard_reads_as_of_the_day(
        page: PageWatch, as_of_server: ServedApp, as_of_store: tuple[DemoStore, dict[str, str]]
) -> None:
    _, env = as_of_store
    page.goto(as_of_server.url(f"/leaderboard?period=quarter&metric=win_rate&as_of={DAY}"))
    shown = figures(page.page)
    expected = {row_key(r): _value(r) for r in _show(env, "--period", "quarter",
                                                     "--by", "owner")}
    owners = [f for f in shown if f["dimension"] == "owner"]
    assert owners, "the leaderboard ranks reps"
    wrong = [f for f in owners if expected.get(row_key(f)) != f["value"]]
    assert not wrong, wrong[:3]
    page.assert_clean()


def test_the_filter_bar_sets_the_day_and_the_links_keep_it(
        page: PageWatch, as_of_server: ServedApp) -> None:
    page.goto(as_of_server.url("/?period=quarter"))
    assert page.page.locator("p.as-of-label").count() == 0
    page.page.fill("form.filters input[name=as_of]", DAY)
    with page.page.expect_navigation(wait_until="load"):
        page.page.click("form.filters button[type=submit]")
    assert parse_qs(urlsplit(page.page.url).query)["as_of"] == [DAY]
    assert page.page.locator("p.as-of-label").get_attribute("data-as-of") == DAY
    trends = page.page.get_attribute("nav.pages a:text-is('Trends')", "href")
    assert parse_qs(urlsplit(trends).query)["as_of"] == [DAY]
    assert f"as of {DAY}" in page.page.inner_text("details.filter-box summary")
    page.assert_clean()


def test_a_rep_named_script_is_text_on_the_as_of_rep_page(
        page: PageWatch, as_of_server: ServedApp, as_of_store: tuple[DemoStore, dict[str, str]]
) -> None:
    store, _ = as_of_store
    page.goto(as_of_server.url(f"/rep/{store.xss_rep}?period=quarter&as_of={DAY}"))
    assert XSS in page.page.inner_text("h1")
    assert page.page.locator("p.as-of-label").count() == 1
    assert page.page.evaluate("() => document.querySelectorAll('main script').length") == 0
    page.assert_clean()


def test_a_day_without_values_says_which_command_computes_them(
        page: PageWatch, as_of_server: ServedApp) -> None:
    page.goto(as_of_server.url("/?period=quarter&as_of=2026-05-15"))
    message = page.page.inner_text("ul.messages")
    assert "no values computed as of 2026-05-15 by quarter" in message
    assert "crmsync metrics compute --as-of 2026-05-15 --period quarter" in message
    assert figures(page.page, ".card .value [data-metric]") == []
    page.assert_clean()


def test_a_page_the_filter_does_not_apply_to_says_so(
        page: PageWatch, as_of_server: ServedApp) -> None:
    page.goto(as_of_server.url(f"/sync?as_of={DAY}"))
    assert "shows the store as it is now" in page.page.inner_text("ul.messages")
    assert page.page.locator("p.as-of-label").count() == 0
    page.assert_clean()


def test_report_as_of_shows_the_values_of_that_day(
        tmp_path: Path, as_of_store: tuple[DemoStore, dict[str, str]]) -> None:
    _, env = as_of_store
    out = tmp_path / "q2.html"
    done = crmsync_cli("report", "--html", str(out), "--period", "quarter", "--as-of", DAY,
                       env=env)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert f"as of <strong>{DAY}</strong>" in text
    shown = [dict(zip(("metric", "period_start", "dimension", "dimension_value", "value"),
                      (html.unescape(v) for v in m), strict=True))
             for m in FIGURE.findall(text)]
    expected: dict[tuple[str, str, str, str], set[str]] = {}  # per stage: several values
    for dimension in ({f["dimension"] for f in shown}):
        for period in ("quarter", "all"):
            by = ("--by", dimension) if dimension else ()
            for r in _show(env, "--period", period, *by):
                expected.setdefault(row_key(r), set()).add(_value(r))
    assert len(shown) > 50
    wrong = [f for f in shown if f["value"] not in expected.get(row_key(f), set())]
    assert not wrong, f"{len(wrong)} of {len(shown)} figures differ: {wrong[:3]}"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and XSS not in text


def test_report_as_of_a_day_without_values_is_a_clear_error(
        tmp_path: Path, as_of_store: tuple[DemoStore, dict[str, str]]) -> None:
    _, env = as_of_store
    out = tmp_path / "none.html"
    done = crmsync_cli("report", "--html", str(out), "--as-of", "2026-05-15", env=env)
    assert done.returncode != 0
    assert "no values computed as of 2026-05-15 by month" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_dashboard_as_of_points_to_the_filter_and_to_today(
        as_of_store: tuple[DemoStore, dict[str, str]]) -> None:
    _, env = as_of_store
    done = crmsync_cli("dashboard", "--as-of", DAY, env=env)
    assert done.returncode == 2
    assert f"?as_of={DAY}" in done.stderr and "--today" in done.stderr
