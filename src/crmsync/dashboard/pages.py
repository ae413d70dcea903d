"""Rendering pages: the page list, the shared context (nav, filters, freshness, panels) and
the Jinja2 environment (autoescape on) used by the live dashboard and the report alike."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from crmsync.dashboard import operations, sales
from crmsync.dashboard.as_of import AS_OF_PAGES, as_of_messages, view
from crmsync.dashboard.coaching import coaching_page
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import PERIODS, Filters, parse_filters
from crmsync.dashboard.forecast import forecast_page
from crmsync.dashboard.pipeline_changes import changes_page
from crmsync.dashboard.themes import customers_page
from crmsync.plugin.panel import PANEL_PAGES, DashboardPanel, PanelContext

__all__ = ["Page", "PAGES", "Renderer", "NotFound"]

log = logging.getLogger(__name__)

#: Rendered live pages kept (the most recently used), per change token, filters and day.
PAGE_CACHE = 32
#: Pages never kept: they show the time (the sync page's next scheduled runs) or what a
#: command outside the change token stored (coaching findings, text themes).
UNCACHED = frozenset({"sync", "coaching", "customers"})


@dataclass(frozen=True)
class Page:
    """One page of the dashboard (a section of the report)."""

    slug: str
    path: str
    title: str
    build: Callable[..., dict[str, Any]]
    uses_metric: bool = False
    #: The period the page shows when none is chosen, if values exist for it.
    preferred_period: str | None = None
    #: ``build`` also gets the query string (for the page's own parameters).
    reads_query: bool = False
    #: A section of the HTML report too.
    in_report: bool = True


PAGES = (
    Page("overview", "/", "Overview", sales.overview),
    Page("trends", "/trends", "Trends", sales.trends, uses_metric=True),
    Page("leaderboard", "/leaderboard", "Leaderboard", sales.leaderboard, uses_metric=True),
    Page("funnel", "/funnel", "Funnel", operations.funnel),
    Page("pipeline", "/pipeline", "Pipeline", operations.pipeline),
    Page("activity", "/activity", "Activity", operations.activity, preferred_period="week"),
    Page("customers", "/customers", "Customers", customers_page),
    Page("data-quality", "/data-quality", "Data quality", operations.data_quality),
    Page("sync", "/sync", "Sync health", operations.sync_health),
    Page("coaching", "/coaching", "Coaching", coaching_page),
    Page("pipeline-changes", "/pipeline/changes", "Pipeline changes", changes_page,
         reads_query=True, in_report=False),
    Page("forecast", "/forecast", "Forecast", forecast_page, preferred_period="quarter"),
)
_BY_SLUG = {p.slug: p for p in PAGES}


class NotFound(LookupError):
    """A rep or team that is not in the store."""


def anchor(kind: str, value: str | None = None) -> str:
    """The report's section id of a page (``rep-<hex of the id>`` for reps and teams)."""
    return kind if value is None else f"{kind}-{value.encode().hex()}"


class Renderer:
    """Renders pages for one :class:`DashboardData`.

    :param static: render for the self-contained report (links are ``#anchors``).
    :param included: in the report, the rep/team sections present (``(kind, id)``).
    """

    def __init__(self, data: DashboardData, *, static: bool = False,
                 included: set[tuple[str, str]] | None = None) -> None:
        self.data = data
        self.static = static
        self.included = included or set()
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("crmsync.dashboard", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
            lstrip_blocks=True)
        self.panels = data.registry.dashboard_panels()
        self._ids = itertools.count(1)
        self._pages: OrderedDict[Any, str] = OrderedDict()
        self._pages_lock = threading.Lock()
        self._rendering: dict[Any, threading.Event] = {}

    # -- links ---------------------------------------------------------------------------

    def extra_pages(self) -> list[str]:
        """Pages only plugin panels fill."""
        return sorted({p.page for p in self.panels if p.page not in PANEL_PAGES})

    def href(self, f: Filters, kind: str, value: str | None = None) -> str | None:
        """The link to a page, a rep (``kind="rep"``) or a team; ``None`` in the report
        when that section is not included."""
        if self.static:
            if kind in ("rep", "team") and (kind, value or "") not in self.included:
                return None
            return "#" + anchor(kind, value)
        query = f.query()
        if kind in ("rep", "team"):
            path = f"/{kind}/{quote(value or '', safe='')}"
        elif kind in _BY_SLUG:
            path = _BY_SLUG[kind].path
        else:
            path = f"/page/{kind}"
        return path + (f"?{query}" if query else "")

    # -- context -------------------------------------------------------------------------

    def filters(self, query: Mapping[str, str]) -> tuple[Filters, list[str]]:
        """Parse the query string against the store's names."""
        cat = self.data.catalogue()
        return parse_filters(query, default_period=self.data.default_period(),
                             known=cat.choices(self.data.definitions))

    def _panels(self, slug: str, f: Filters, subject: str | None) -> list[dict[str, Any]]:
        out = []
        for panel in self.panels:
            if panel.page != slug:
                continue
            out.append(self._panel(panel, f, subject))
        return out

    def _panel(self, panel: DashboardPanel, f: Filters, subject: str | None
               ) -> dict[str, Any]:
        def report_rows(period: str, dimension: str | None = None) -> list[dict[str, Any]]:
            return self.data.rows(period, dimension, subjects=True)

        ctx = PanelContext(config=self.data.config, store=self.data.store, filters=f.params(),
                           report_rows=report_rows, subject=subject)
        try:
            rows = [dict(r) for r in panel.rows(ctx)]
        except Exception as exc:  # a plugin's bug shows in its panel, never a 500
            log.exception("dashboard panel '%s' failed", panel.name)
            return {"title": panel.title, "description": panel.description, "columns": [],
                    "rows": [], "error": f"{type(exc).__name__}: {exc}"}
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return {"title": panel.title, "description": panel.description, "columns": columns,
                "rows": [[r.get(c, "") for c in columns] for r in rows], "error": None}

    def common(self, slug: str, title: str, f: Filters, messages: list[str],
               version: Mapping[str, Any]) -> dict[str, Any]:
        """What every page template gets."""
        cat = self.data.catalogue()
        nav = [(p.slug, p.title, self.href(f, p.slug)) for p in PAGES]
        nav += [(s, s.replace("-", " ").capitalize(), self.href(f, s))
                for s in self.extra_pages()]
        dim, value = f.scope
        scope = ("whole organisation" if dim is None else
                 f"rep {cat.reps.get(value or '', value)}" if dim == "owner" else
                 f"pipeline {cat.pipelines.get(value or '', value)}" if dim == "pipeline" else
                 f"{dim} {value}")
        return {"slug": slug, "title": title, "f": f, "messages": messages, "scope": scope,
                "version": version, "nav": nav, "static": self.static,
                "periods": PERIODS, "choices": cat.choices(self.data.definitions),
                "uses_metric": slug in ("trends", "leaderboard"),
                "href": lambda kind, value=None: self.href(f, kind, value),
                "uid": lambda: f"c{next(self._ids)}", "currency": self.data.currency,
                "as_of": self.data.as_of(), "values_as_of": (
                    f.as_of if slug in AS_OF_PAGES or slug == "report" else None)}

    # -- pages ---------------------------------------------------------------------------

    def preferred(self, slug: str, f: Filters, chosen: bool) -> Filters:
        """``f`` with the page's preferred period when none was ``chosen`` and per-rep values
        exist for it (the activity page shows weeks)."""
        page = _BY_SLUG.get(slug)
        wanted = page.preferred_period if page is not None else None
        if chosen or wanted is None or wanted == f.period:
            return f
        if "owner" in self.data.catalogue().periods.get(wanted, set()):
            return replace(f, period=wanted)
        return f

    def content(self, slug: str, f: Filters, subject: str | None = None,
                query: Mapping[str, str] | None = None) -> tuple[str, Markup]:
        """A page's title and its rendered content (without the surrounding layout)."""
        cat = self.data.catalogue()
        data = view(self.data, slug, f)
        if slug == "rep":
            if subject not in cat.reps:
                raise NotFound(f"no rep with id '{subject}' in the store")
            d = sales.rep_page(data, f, subject or "")
            title, template = f"Rep: {d['name']}", "rep.html"
        elif slug == "team":
            if subject not in cat.teams:
                raise NotFound(f"no team named '{subject}' in the store")
            d = sales.team_page(data, f, subject or "")
            title, template = f"Team: {subject}", "team.html"
        elif slug in _BY_SLUG:
            page = _BY_SLUG[slug]
            d = page.build(data, f, query or {}) if page.reads_query \
                else page.build(data, f)
            title, template = page.title, f"{slug}.html"
        elif slug in self.extra_pages():
            d, title, template = {}, slug.replace("-", " ").capitalize(), "plugin_page.html"
        else:
            raise NotFound(f"no page '{slug}'")
        ctx = self.common(slug, title, f, [], {})
        ctx.update(d=d, panels=self._panels(slug, f, subject), subject=subject,
                   min_n=sales.MIN_N)
        return title, Markup(self.env.get_template(template).render(ctx))

    def page(self, slug: str, query: Mapping[str, str], subject: str | None = None,
             version: Mapping[str, Any] | None = None) -> str:
        """A whole live page; the same page with the same filters, data (change token) and
        day is rendered once (requests arriving meanwhile wait for it) and kept (the
        :data:`PAGE_CACHE` most recently used)."""
        version = version or self.data.refresh()
        if slug in UNCACHED or any(p.page == slug for p in self.panels):
            return self._render(slug, query, subject, version)
        # the same page, filters, data (change token) and day: the same HTML
        key = (slug, subject, tuple(sorted(query.items())), tuple(sorted(version.items())),
               self.data.as_of())
        with self._pages_lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
            pending = self._rendering.get(key)
            mine = pending is None
            if pending is None:
                pending = self._rendering[key] = threading.Event()
        if not mine:  # being rendered for another request: take that
            pending.wait()
            with self._pages_lock:
                if key in self._pages:
                    return self._pages[key]
            return self._render(slug, query, subject, version)
        try:
            html = self._render(slug, query, subject, version)
            with self._pages_lock:
                self._pages[key] = html
                while len(self._pages) > PAGE_CACHE:
                    self._pages.popitem(last=False)
        finally:
            with self._pages_lock:
                del self._rendering[key]
            pending.set()
        return html

    def _render(self, slug: str, query: Mapping[str, str], subject: str | None,
                version: Mapping[str, Any]) -> str:
        f, messages = self.filters(query)
        f = self.preferred(slug, f, chosen=bool(query.get("period")))
        messages += as_of_messages(self.data, slug, f)
        title, content = self.content(slug, f, subject, query)
        ctx = self.common(slug, title, f, messages, version)
        ctx["content"] = content
        return self.env.get_template("layout.html").render(ctx)

    def error_page(self, message: str, query: Mapping[str, str]) -> str:
        """A page saying what was not found, with the usual navigation."""
        version = self.data.refresh()
        f, messages = self.filters(query)
        ctx = self.common("", "Not found", f, [*messages, message], version)
        ctx["content"] = Markup("")
        return self.env.get_template("layout.html").render(ctx)
