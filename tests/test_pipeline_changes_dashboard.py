"""The pipeline changes page (/pipeline/changes) in a real browser (Debian's chromium via
Playwright; tests/dashboard_support.py): the waterfall drawn by the server's plotly, the table
equal to ``api.pipeline_changes``, the options, deal names from the CRM shown as text.

The store is a copy of the session's demo store where the deal renamed to ``XSS`` (owned by
the rep renamed to ``XSS``) was pushed out of the quarter (from ten days before the demo's today
to next June) three days before that today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from crmsync import api
from dashboard_support import XSS, DemoStore, ServedApp, copy_store, serve_dashboard

pytest_plugins = ("dashboard_support",)


@pytest.fixture(scope="module")
def pushed_store(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
                 ) -> DemoStore:
    store = copy_store(dashboard_store, tmp_path_factory.mktemp("pipeline-changes"))
    today = store.as_of.date()
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            connection = conn.execute(sa.text(
                "select connection from opportunities where remote_id = :id"),
                {"id": store.xss_deal}).scalar_one()
            conn.execute(sa.text(
                "update opportunities set expected_close_date = '2027-06-30', "
                "status = 'open', is_deleted = 0 where remote_id = :id"),
                {"id": store.xss_deal})
            conn.execute(sa.text(
                "insert into opportunity_field_history (connection, remote_id, opportunity_id, "
                "field, changed_at, old_value, new_value, source, is_deleted, synced_at) "
                "values (:c, 'push-1', :id, 'expected_close_date', :at, :old, '2027-06-30', "
                "'crm', 0, :at)"),
                {"c": connection, "id": store.xss_deal,
                 "old": (today - dt.timedelta(days=10)).isoformat(),
                 "at": dt.datetime.combine(today - dt.timedelta(days=3), dt.time())})
    finally:
        engine.dispose()
    return store


@pytest.fixture(scope="module")
def server(pushed_store: DemoStore) -> Iterator[ServedApp]:
    with serve_dashboard(pushed_store) as served:
        yield served


def _expected(store: DemoStore, **options: Any) -> dict[str, Any]:
    to = store.as_of.date()
    return api.pipeline_changes(store.config, date_from=to - dt.timedelta(days=6), date_to=to,
                                **options)


def _table(page: Any, caption: str) -> dict[str, dict[str, str]]:
    rows = page.eval_on_selector_all(
        f"table.changes:has(caption:text-is('{caption}')) tbody tr",
        "els => els.map(e => ({...e.dataset}))")
    return {r["category"]: r for r in rows}


def test_the_page_is_in_the_navigation(page, server):
    page.goto(server.url("/"))
    with page.page.expect_navigation(wait_until="load"):
        page.page.click("nav.pages a:text-is('Pipeline changes')")
    assert urlsplit(page.page.url).path == "/pipeline/changes"
    page.assert_clean()


def test_the_waterfall_is_drawn_and_the_table_is_the_api_report(page, server, pushed_store):
    page.goto(server.url("/pipeline/changes"))
    page.page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .waterfalllayer .point').length > 0")
    shown = _table(page.page, "Changes")
    expected = {line["category"]: line for line in _expected(pushed_store)["total"]}
    assert set(shown) == set(expected) - {"moved_in", "moved_out"}
    for key, row in shown.items():
        assert (int(row["cents"]), int(row["count"])) == (expected[key]["cents"],
                                                         expected[key]["count"]), key
    start, end = int(shown["start"]["cents"]), int(shown["end"]["cents"])
    assert start + sum(int(r["cents"]) for k, r in shown.items()
                       if k not in ("start", "end")) == end
    page.assert_clean()


def test_a_deal_name_from_the_crm_is_shown_as_text(page, server, pushed_store):
    page.goto(server.url("/pipeline/changes"))
    row = page.page.locator(f"section.deal-list[data-category=pushed_out] "
                            f"tr[data-deal='{pushed_store.xss_deal}']")
    assert row.locator("td").nth(0).inner_text() == XSS
    assert row.locator("td").nth(1).inner_text() == XSS  # its owner, the renamed rep
    assert "(+" in row.locator("td").nth(4).inner_text()  # pushed, with the days
    assert page.dialogs == []
    page.assert_clean()


def test_choosing_team_shows_one_table_per_team(page, server, pushed_store):
    page.goto(server.url("/pipeline/changes"))
    page.page.select_option("form.changes-options select[name=by]", "team")
    with page.page.expect_navigation(wait_until="load"):
        page.page.click("form.changes-options button[type=submit]")
    assert parse_qs(urlsplit(page.page.url).query)["by"] == ["team"]
    captions = page.page.eval_on_selector_all("table.changes caption",
                                              "els => els.map(e => e.innerText)")
    assert captions[0] == "All deals"
    assert {c.removeprefix("team ") for c in captions[1:]} <= set(pushed_store.teams)
    expected = _expected(pushed_store, by="team")
    for group in expected["groups"]:
        shown = _table(page.page, f"team {group['name']}")
        assert int(shown["end"]["cents"]) == {
            line["category"]: line for line in group["lines"]}["end"]["cents"]
    page.assert_clean()


def test_a_bad_window_is_a_message_not_an_error(page, server):
    page.goto(server.url("/pipeline/changes?window=soon"))
    assert "window 'soon'" in page.page.locator("ul.messages").inner_text()
    assert page.page.locator("table.changes").count() == 1
    page.assert_clean()


def test_an_explicit_window_is_kept_in_the_form(page, server):
    page.goto(server.url("/pipeline/changes?window=all"))
    assert page.page.input_value("form.changes-options input[name=window]") == "all"
    assert "all close dates" in page.page.locator("main").inner_text()
    page.assert_clean()


def test_the_page_screenshot(page, server, tmp_path: Path):
    page.goto(server.url("/pipeline/changes?by=team"))
    page.page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .waterfalllayer .point').length > 0")
    path = tmp_path / "pipeline-changes.png"
    page.page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000
    page.assert_clean()
