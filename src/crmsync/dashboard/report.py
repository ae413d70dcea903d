"""``crmsync report --html``: the dashboard's pages as ONE self-contained HTML file
(docs/dashboard.md).

Every section is rendered by the same templates as the live dashboard, from the same report
rows; the CSS, the dashboard's script and plotly.js (gzip + base64, inflated by the browser)
are inline, so the file opens offline — from an e-mail attachment, say — and makes no
request at all. Sections are tabs switched by the URL fragment.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from crmsync.core.config import Config
from crmsync.core.errors import CrmsyncError
from crmsync.dashboard.as_of import AsOfData, missing
from crmsync.dashboard.assets import own_asset, plotly_js_packed
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import PERIODS, Filters
from crmsync.dashboard.pages import PAGES, Renderer, anchor
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["write_report", "ReportResult", "REPORT_RECORDS"]

#: At most this many records per list in the report (the live dashboard shows more).
REPORT_RECORDS = 25


@dataclass
class ReportResult:
    """What :func:`write_report` wrote."""

    path: Path
    size: int
    sections: int
    seconds: float


def _choose(data: DashboardData, team: str | None, rep: str | None
            ) -> tuple[list[str], list[str]]:
    """The team and rep sections: ``--rep`` gives that rep and their team; ``--team`` that
    team and its reps; neither gives every team and no rep pages (the leaderboard lists
    them all)."""
    cat = data.catalogue()
    if rep is not None:
        if rep not in cat.reps:
            raise CrmsyncError(f"no rep with id '{rep}' in the store (see the leaderboard "
                               "or `crmsync metrics show --by owner`)")
        own_team = cat.rep_team.get(rep)
        return ([own_team] if own_team else []), [rep]
    if team is not None:
        if team not in cat.teams:
            known = ", ".join(cat.teams) or "none"
            raise CrmsyncError(f"no team named '{team}' in the store (teams: {known})")
        return [team], [r for r, t in cat.rep_team.items() if t == team]
    return list(cat.teams), []


def write_report(config: Config, registry: Registry, path: str | Path, *,
                 period: str | None = None, as_of: dt.date | None = None,
                 team: str | None = None, rep: str | None = None,
                 store: Store | None = None, values_as_of: dt.date | None = None
                 ) -> ReportResult:
    """Write the self-contained report.

    :param period: the period granularity (default: the configured one, if computed).
    :param as_of: the day the current period contains (default ``values_as_of``, else
        today).
    :param values_as_of: show the figures as they read at the end of this day: the values
        ``crmsync metrics compute --as-of`` stored for it (an error when there are none).
    :param team: only this team (its page, its reps' pages, the other pages filtered to it).
    :param rep: only this rep (their page, their team's page, the pages filtered to them).
    :param store: the store to read (default: the configured one, read-only).
    """
    started = time.perf_counter()
    if period is not None and period not in PERIODS:
        raise CrmsyncError(f"unknown period '{period}' (one of {', '.join(PERIODS)})")
    data = DashboardData(config, registry, as_of=as_of or values_as_of, store=store)
    data.record_limit = REPORT_RECORDS
    try:
        version = data.refresh()
        teams, reps = _choose(data, team, rep)
        f = Filters(period=period or data.default_period(), team=team, rep=rep,
                    as_of=values_as_of)
        if values_as_of is not None and not AsOfData(data, values_as_of).has_values(f.period):
            raise CrmsyncError(missing(values_as_of, f.period))
        if len(teams) + len(reps) > 3 and values_as_of is None:  # every rep's rows at once
            data.rows(f.period, "owner")
        included = {("team", t) for t in teams} | {("rep", r) for r in reps}
        renderer = Renderer(data, static=True, included=included)
        sections = []
        for page in (p for p in PAGES if p.in_report):
            title, content = renderer.content(page.slug,
                                              renderer.preferred(page.slug, f, period is not None))
            sections.append({"id": anchor(page.slug), "title": title, "content": content})
        for extra in renderer.extra_pages():
            title, content = renderer.content(extra, f)
            sections.append({"id": anchor(extra), "title": title, "content": content})
        pages = len(sections)
        for t in teams:
            title, content = renderer.content("team", f, t)
            sections.append({"id": anchor("team", t), "title": title, "content": content})
        for r in reps:
            title, content = renderer.content("rep", f, r)
            sections.append({"id": anchor("rep", r), "title": title, "content": content})
        ctx = renderer.common("report", "crmsync report", f, [], version)
        ctx.update(sections=sections, css=Markup(own_asset("dashboard.css").decode()),
                   js=Markup(own_asset("dashboard.js").decode()), plotly=plotly_js_packed(),
                   generated=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
                   nav=[(s["id"], s["title"], "#" + s["id"]) for s in sections[:pages]],
                   teams=[(t, "#" + anchor("team", t)) for t in teams],
                   reps=[(data.catalogue().reps.get(r, r), "#" + anchor("rep", r))
                         for r in reps])
        html = renderer.env.get_template("report.html").render(ctx)
    finally:
        data.close()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return ReportResult(path=target, size=target.stat().st_size, sections=len(sections),
                        seconds=time.perf_counter() - started)
