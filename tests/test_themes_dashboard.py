"""What customers say on the dashboard's customers page, in a real browser (Debian's chromium
via Playwright): themes with shares and quotes, a quote holding ``<script>`` shown as text
with its e-mail address and phone number redacted; and ``crmsync themes`` at 80 columns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync import api
from crmsync.plugin.registry import Registry
from dashboard_support import (
    DemoStore,
    ServedApp,
    cli_env,
    copy_store,
    crmsync_cli,
    serve_dashboard,
    write_config_file,
)

pytest_plugins = ("dashboard_support",)

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0100"
QUOTE = (f"Support <script>alert(3)</script><b>never</b> answers, write to {EMAIL} "
         f"or call {PHONE}")


@pytest.fixture(scope="module")
def themed(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[DemoStore, ServedApp, dict[str, Any]]]:
    """A copy of the demo store whose latest survey comment is :data:`QUOTE`, analysed, served."""
    store = copy_store(dashboard_store, tmp_path_factory.mktemp("themed"))
    engine = sa.create_engine(store.url)
    with engine.begin() as conn:
        latest = conn.execute(sa.text(
            "select remote_id from feedback where comment is not null "
            "order by responded_at desc limit 1")).scalar_one()
        conn.execute(sa.text("update feedback set comment = :c where remote_id = :id"),
                     {"c": QUOTE, "id": latest})
    engine.dispose()
    result = api.themes(store.config, Registry(), period="quarter", as_of=store.as_of.date())
    with serve_dashboard(store) as served:
        yield store, served, result


def test_customers_page_shows_themes_with_shares(page, themed):
    _, served, result = themed
    page.goto(served.url("/customers?period=quarter"))
    comments = next(s for s in result["sources"] if s["source"] == "feedback.comment")
    section = page.page.locator("article.theme-source[data-source='feedback.comment']")
    rows = section.locator("tr.theme")
    assert rows.count() == len(comments["themes"]) > 0
    first = comments["themes"][0]
    row = section.locator(f"tr.theme[data-theme='{first['theme']}']")
    assert f"{first['share']:.1%}" in row.inner_text()
    page.assert_clean()


def test_a_quote_is_escaped_and_its_email_and_phone_redacted(page, themed):
    _, served, _ = themed
    page.goto(served.url("/customers?period=quarter"))
    support = page.page.locator(
        "article.theme-source[data-source='feedback.comment'] tr.theme[data-theme='support']")
    text = support.locator("q.quote").first.inner_text()
    assert "<script>alert(3)</script><b>never</b>" in text
    assert EMAIL not in page.page.content() and "[email]" in text
    assert "555 0100" not in text and "[phone]" in text
    assert page.page.locator("section.themes b, section.themes script").count() == 0
    page.assert_clean()   # no dialog: the script did not run


def test_themes_command_fits_80_columns_and_redacts(themed, tmp_path):
    store, _, _ = themed
    env = cli_env(write_config_file(store, tmp_path))
    out = crmsync_cli("themes", "--period", "quarter", "--as-of",
                      store.as_of.date().isoformat(), "--no-analyse", env=env)
    assert out.returncode == 0, out.stderr
    assert "Survey comments · n" in out.stdout and "Lost reasons · n" in out.stdout
    assert all(len(line) <= 80 for line in out.stdout.splitlines())
    assert EMAIL not in out.stdout
    as_json = crmsync_cli("themes", "--period", "quarter", "--as-of",
                          store.as_of.date().isoformat(), "--json", "--by", "team", env=env)
    data = json.loads(as_json.stdout)
    assert data["analysis"]["analysed"] == 0 and data["groups"]
    assert EMAIL not in as_json.stdout
