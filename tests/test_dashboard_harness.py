"""The browser harness of the dashboard tests (tests/dashboard_support.py) catches what it
promises to: a request off 127.0.0.1, a console error, a dialog. Each test serves a tiny page of
its own, so a harness that stopped watching would fail here rather than pass everything else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from dashboard_support import DESKTOP, PageWatch, ServedApp

pytest_plugins = ("dashboard_support",)


def _page_app(body: str) -> Starlette:
    async def index(request: Any) -> Response:
        return HTMLResponse(f"<!doctype html><title>t</title><body>{body}</body>")

    async def pixel(request: Any) -> Response:
        return Response(b"", media_type="image/gif")

    return Starlette(routes=[Route("/", index), Route("/pixel.gif", pixel)])


@pytest.fixture
def visit(browser: Any) -> Iterator[Callable[[str], PageWatch]]:
    """Serve ``body`` and open it in a watched page (not the ``page`` fixture: its teardown
    would fail these tests for the off-host request they make on purpose)."""
    opened: list[tuple[ServedApp, Any]] = []

    def open_body(body: str) -> PageWatch:
        served = ServedApp(_page_app(body)).__enter__()
        watch = PageWatch(browser.new_context(viewport=DESKTOP))
        opened.append((served, watch.context))
        watch.goto(served.url("/"))
        return watch

    yield open_body
    for served, context in opened:
        context.close()
        served.__exit__(None, None, None)


def test_a_request_off_loopback_is_aborted_and_recorded(visit):
    watch = visit('<img src="/pixel.gif"><img src="https://cdn.example.com/lib.js">')
    assert watch.off_host == ["https://cdn.example.com/lib.js"]
    assert any(u.endswith("/pixel.gif") for u in watch.requests)
    with pytest.raises(AssertionError, match=r"off 127\.0\.0\.1: https://cdn\.example\.com"):
        watch.assert_clean()


def test_a_console_error_is_recorded(visit):
    watch = visit("<script>console.error('boom')</script>")
    assert any("boom" in e for e in watch.console_errors)
    with pytest.raises(AssertionError, match="boom"):
        watch.assert_clean()


def test_a_dialog_is_recorded_and_dismissed(visit):
    watch = visit("<script>alert(1)</script><p>after</p>")
    assert watch.dialogs == ["alert: 1"]
    assert watch.page.inner_text("p") == "after"


def test_a_clean_page_passes(visit):
    watch = visit('<img src="/pixel.gif"><p>fine</p>')
    watch.assert_clean()
    assert watch.page.inner_text("p") == "fine"
