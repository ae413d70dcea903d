"""The dashboard's coaching page in a real browser (Debian's chromium via Playwright): open
findings per rep with their evidence, a rep named like a script shown as text, the rep
filter, and the page before any ``crmsync coach`` run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync import api
from crmsync.metrics.coaching_rules import COACH, CoachConfig
from crmsync.plugin.registry import Registry
from dashboard_support import XSS, DemoStore, ServedApp, copy_store, serve_dashboard

pytest_plugins = ("dashboard_support",)

#: A rule every rep with calls trips, so the rep named :data:`XSS` has a finding.
EVERYONE = {"id": "calls_logged", "title": "Calls <b>logged</b>", "area": "Call hygiene",
            "when": ["calls >= 0"], "min_n": 0, "advice": "<img src=x onerror=alert(2)>"}


@pytest.fixture(scope="module")
def coached(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[DemoStore, ServedApp, dict[str, Any]]]:
    """A copy of the demo store after one ``coach`` run, served."""
    store = copy_store(dashboard_store, tmp_path_factory.mktemp("coached"))
    COACH.set(store.config, CoachConfig(rules=(EVERYONE,)))
    result = api.coach(store.config, Registry(), period="quarter",
                       as_of=store.as_of.date())
    with serve_dashboard(store) as served:
        yield store, served, result


def test_coaching_page_lists_open_findings_with_evidence(page, coached):
    _, served, result = coached
    page.goto(served.url("/coaching"))
    shown = page.page.locator("article.finding")
    assert shown.count() == len(result["findings"]) > 0
    first = result["findings"][0]
    article = page.page.locator(f"section.coaching-rep[data-rep-id='{first['rep_id']}'] "
                                f"article.finding[data-rule='{first['rule_id']}']")
    assert article.count() == 1
    assert first["evidence"][0]["title"] in article.inner_text()
    page.assert_clean()


def test_a_rep_named_like_a_script_is_shown_as_text(page, coached):
    store, served, _ = coached
    page.goto(served.url("/coaching"))
    section = page.page.locator(f"section.coaching-rep[data-rep-id='{store.xss_rep}']")
    assert section.locator("h2").get_by_text(XSS).count() == 1
    assert "Calls <b>logged</b>" in section.inner_text()
    assert page.page.locator("main b, main img").count() == 0
    page.assert_clean()   # no dialog: neither the name nor the advice ran


def test_rep_filter_shows_only_that_rep(page, coached):
    store, served, _ = coached
    page.goto(served.url(f"/coaching?rep={store.xss_rep}"))
    reps = page.page.eval_on_selector_all("section.coaching-rep",
                                          "els => els.map(e => e.dataset.repId)")
    assert reps == [store.xss_rep]


def test_page_before_any_coach_run_says_what_to_run(page, dashboard_server):
    page.goto(dashboard_server.url("/coaching"))
    assert "crmsync coach" in page.page.locator("main").inner_text()
    assert page.page.locator("article.finding").count() == 0
    page.assert_clean()
