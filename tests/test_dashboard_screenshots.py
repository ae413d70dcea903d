"""The screenshots in docs/dashboard.md, taken by the test browser.

Each test takes one screenshot of the served dashboard over a copy of the session's demo store
(its ``<script>`` names put back to ordinary ones) and checks it stays a small PNG that the page
shows. ``CRMSYNC_DASHBOARD_SCREENSHOTS=1 pytest tests/test_dashboard_screenshots.py`` writes
them into ``docs/img/`` (commit the result); without it they go to a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from dashboard_support import (
    PHONE,
    REPO,
    DemoStore,
    PageWatch,
    ServedApp,
    copy_store,
    serve_dashboard,
)

pytest_plugins = ("dashboard_support",)

DOC = REPO / "docs" / "dashboard.md"
IMG = REPO / "docs" / "img"
MAX_BYTES = 150_000
DESK = {"width": 1100, "height": 720}
#: name → (path, viewport, CSS selector whose top the picture starts at: None for the page's).
SHOTS: dict[str, tuple[str, dict[str, int], str | None]] = {
    "overview": ("/?period=quarter", DESK, None),
    "leaderboard": ("/leaderboard?period=quarter", DESK, "main"),
    "rep": ("/rep/{rep}?period=quarter", DESK, "main"),
    "pipeline": ("/pipeline?period=quarter", DESK, "main"),
    "phone": ("/?period=quarter&team={team}", PHONE, None),
}
#: Ordinary names for the records the session store named ``<script>…``.
NAMES = {"users": "Jordan Reyes", "accounts": "Northwind Traders",
         "opportunities": "Northwind Traders - Platform renewal"}


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/img when regenerating, else a temporary folder."""
    if os.environ.get("CRMSYNC_DASHBOARD_SCREENSHOTS") == "1":
        IMG.mkdir(parents=True, exist_ok=True)
        return IMG
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def docs_server(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[DemoStore, ServedApp]]:
    """The dashboard over a copy of the store with ordinary names."""
    store = copy_store(dashboard_store, tmp_path_factory.mktemp("docs-store"))
    engine = sa.create_engine(store.url)
    with engine.begin() as conn:
        for table, remote_id in (("users", store.xss_rep), ("accounts", store.xss_account),
                                 ("opportunities", store.xss_deal)):
            conn.execute(sa.text(f"update {table} set name = :name "
                                 "where remote_id = :id"), {"name": NAMES[table], "id": remote_id})
    engine.dispose()
    with serve_dashboard(store) as served:
        yield store, served


@pytest.mark.parametrize("name", list(SHOTS))
def test_the_docs_screenshot_is_a_small_png_the_page_shows(name, browser: Any, docs_server,
                                                          shots_dir):
    store, served = docs_server
    path, viewport, selector = SHOTS[name]
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    try:
        watch = PageWatch(context)
        watch.goto(served.url(path.format(rep=store.xss_rep, team=quote(store.teams[0]))))
        watch.page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".every(e => e.querySelector('.main-svg'))")
        watch.assert_clean()
        out = shots_dir / f"dashboard-{name}.png"
        top = watch.page.locator(selector).bounding_box()["y"] if selector else 0
        watch.page.screenshot(path=str(out), animations="disabled", caret="hide",
                              full_page=True, clip={"x": 0, "y": top, **viewport})
    finally:
        context.close()
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < MAX_BYTES, f"{out.name} is {len(data):,} bytes"
    assert f"img/dashboard-{name}.png" in DOC.read_text(encoding="utf-8")
