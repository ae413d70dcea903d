"""The live dashboard: a read-only Starlette app over the store (docs/dashboard.md).

Pages are server-rendered HTML; ``/api/version`` gives the change token pages poll to offer
a reload when a sync, computation or write-back lands. With an ``auth_token`` every request
needs ``Authorization: Bearer TOKEN`` or ``?token=TOKEN`` (which sets a cookie).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from crmsync.core.config import Config
from crmsync.dashboard.assets import ASSETS, own_asset, plotly_js
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.pages import PAGES, NotFound, Renderer
from crmsync.dashboard.warm import warm_pages
from crmsync.plugin.registry import Registry

__all__ = ["create_app", "CSP", "COOKIE"]

#: Content-Security-Policy of every response: nothing but this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
#: The cookie holding the token after a ``?token=`` visit.
COOKIE = "crmsync_dashboard_token"


class _Security(BaseHTTPMiddleware):
    """The auth check (when a token is set) and the security headers."""

    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    def _allowed(self, request: Request) -> tuple[bool, bool]:
        if self.token is None:
            return True, False
        given = request.headers.get("authorization", "")
        if given.lower().startswith("bearer ") and hmac.compare_digest(
                given[7:].strip().encode(), self.token.encode()):
            return True, False
        query = request.query_params.get("token")
        if query is not None and hmac.compare_digest(query.encode(), self.token.encode()):
            return True, True
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(),
                                                          self.token.encode()), False

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        allowed, set_cookie = self._allowed(request)
        if not allowed:
            response: Response = PlainTextResponse(
                "unauthorized: this dashboard needs its token (Authorization: Bearer TOKEN "
                "or ?token=TOKEN)", status_code=401)
        else:
            response = await call_next(request)
            if set_cookie and self.token is not None:
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def _query(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k != "token"}


def create_app(config: Config, registry: Registry, *, auth_token: str | None = None,
               as_of: dt.date | None = None, data: DashboardData | None = None) -> Starlette:
    """The dashboard as an ASGI app.

    :param config: the configuration (its store is opened read-only).
    :param registry: the plugins (metrics, connectors for record links, panels).
    :param auth_token: require this token on every request (``None``: no auth).
    :param as_of: the day the "current period" contains (default today; the demo pins its
        dataset's today).
    :param data: the data access to use (default: a new one over ``config``).
    """
    source = data or DashboardData(config, registry, as_of=as_of)
    renderer = Renderer(source)

    async def render(request: Request, slug: str, subject: str | None = None) -> Response:
        query = _query(request)
        try:
            html = await run_in_threadpool(renderer.page, slug, query, subject)
        except NotFound as exc:
            html = await run_in_threadpool(renderer.error_page, str(exc), query)
            return HTMLResponse(html, status_code=404)
        return HTMLResponse(html)

    def page_route(slug: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return await render(request, slug)
        return endpoint

    async def rep(request: Request) -> Response:
        return await render(request, "rep", request.path_params["remote_id"])

    async def team(request: Request) -> Response:
        return await render(request, "team", request.path_params["name"])

    async def plugin_page(request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug not in renderer.extra_pages():
            html = await run_in_threadpool(renderer.error_page, f"no page '{slug}'",
                                           _query(request))
            return HTMLResponse(html, status_code=404)
        return await render(request, slug)

    async def version(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(source.version))

    async def plotly(request: Request) -> Response:
        return Response(plotly_js(), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return Response(own_asset(name), media_type=ASSETS[name],
                        headers={"Cache-Control": "no-cache"})

    routes = [Route(p.path, page_route(p.slug)) for p in PAGES]
    routes += [Route("/rep/{remote_id:path}", rep), Route("/team/{name:path}", team),
               Route("/page/{slug}", plugin_page), Route("/api/version", version),
               Route("/assets/plotly.min.js", plotly), Route("/assets/{name}", asset),
               Route("/favicon.ico", lambda request: Response(status_code=204))]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        source.warmer = warm_pages
        await run_in_threadpool(source.refresh)  # a first token: warms the cache
        try:
            yield
        finally:
            if data is None:
                source.close()

    app = Starlette(routes=routes, middleware=[Middleware(_Security, token=auth_token)],
                    lifespan=lifespan)
    app.state.data = source
    return app
