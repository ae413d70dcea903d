"""What customers and deals say (``crmsync themes``; docs/themes.md): analyse the store's
texts into ``text_themes`` (incrementally) and report the theme metrics of a period with
example quotes, redacted.

See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.core.periods import period_end
from crmsync.core.pii import redact_quote
from crmsync.metrics.report import today_in
from crmsync.metrics.themes_config import SOURCES, THEMES, taxonomy_of
from crmsync.metrics.themes_report import BY, latest_start, populations, quotes, theme_counts
from crmsync.metrics.themes_store import analyse_store
from crmsync.orchestration.connections import now_utc, open_store, redactor_for
from crmsync.orchestration.scorecards import store_reps
from crmsync.plugin.analyser import Taxonomy, TextAnalyser
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["text_analyser", "analyse_texts", "themes", "theme_taxonomy"]


def theme_taxonomy(config: Config) -> Taxonomy:
    """The taxonomy in force (the built-in sales pack changed by ``[themes.taxonomy]``)."""
    return taxonomy_of(THEMES.get(config))


def text_analyser(config: Config, registry: Registry) -> TextAnalyser:
    """The analyser ``[themes] analyser`` names, built with the taxonomy and options."""
    settings = THEMES.get(config)
    found = registry.analysers()
    cls = found.get(settings.analyser)
    if cls is None:
        known = ", ".join(sorted(found)) or "none installed"
        raise ConfigError(f"no text analyser named '{settings.analyser}' (available: {known})",
                          file=settings.file, section="themes", key="analyser")
    return cls(taxonomy_of(settings), settings.options)


def analyse_texts(config: Config, registry: Registry, *, store: Store | None = None,
                  full: bool = False, now: dt.datetime | None = None,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Analyse the texts that are new or changed since the last run (all with ``full``)
    into ``text_themes``: ``{"analyser", "sources", "texts", "analysed", "distinct",
    "unchanged", "removed"}``."""
    settings = THEMES.get(config)
    analyser = text_analyser(config, registry)
    own = store is None
    store = store or open_store(config)
    try:
        moment = now or now_utc()
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        counts = analyse_store(store, analyser, settings.sources, moment, full=full,
                               progress=progress)
    finally:
        if own:
            store.dispose()
    return {"analyser": analyser.NAME, "sources": list(settings.sources), **counts.as_dict()}


def _theme_line(r: Mapping[str, Any], n: int, taxonomy: Taxonomy) -> dict[str, Any]:
    """One theme of one source (and group) with its share, sentiment and NPS."""
    nps_n = int(r["nps_n"] or 0)
    return {"theme": r["theme"], "title": taxonomy.title(r["theme"]), "count": int(r["count"]),
            "n": n, "share": int(r["count"]) / n if n else None,
            "sentiment": _round(r["sentiment"]), "nps_n": nps_n,
            "nps": (100.0 * (int(r["promoters"]) - int(r["detractors"])) / nps_n
                    if nps_n else None)}


def _round(value: Any) -> float | None:
    return round(float(value), 4) if value is not None else None


def _source_lines(pops: Sequence[Mapping[str, Any]], counts: Sequence[Mapping[str, Any]],
                  taxonomy: Taxonomy, names: Mapping[str, str] | None
                  ) -> list[dict[str, Any]]:
    """One entry per (group,) source: n, sentiment, NPS and the themes, largest first."""
    out = []
    order = list(SOURCES)
    by_key: dict[tuple[Any, Any, Any], list[Mapping[str, Any]]] = {}
    for r in counts:
        by_key.setdefault((r["grp"], r["entity"], r["field"]), []).append(r)
    for p in sorted(pops, key=lambda p: (str(p["grp"] or ""),
                                         order.index(f"{p['entity']}.{p['field']}"))):
        source = f"{p['entity']}.{p['field']}"
        n = int(p["count"])
        lines = [_theme_line(r, n, taxonomy)
                 for r in by_key.get((p["grp"], p["entity"], p["field"]), ())]
        lines.sort(key=lambda x: (-x["count"], x["title"].lower()))
        nps_n = int(p["nps_n"] or 0)
        entry = {"source": source, "title": SOURCES.get(source, source), "n": n,
                 "sentiment": _round(p["sentiment"]), "nps_n": nps_n,
                 "nps": (100.0 * (int(p["promoters"]) - int(p["detractors"])) / nps_n
                         if nps_n else None),
                 "themes": lines}
        if names is not None:
            entry["group"] = p["grp"]
            entry["name"] = names.get(str(p["grp"]), str(p["grp"])) if p["grp"] else None
        out.append(entry)
    return out


def _add_quotes(store: Store, lines: list[dict[str, Any]], window: tuple[dt.date, dt.date],
                limit: int, redact: Callable[[str], str], owner: str | None = None) -> None:
    """Put up to ``limit`` redacted example quotes on each theme of ``lines``."""
    with store.engine.connect() as conn:
        for entry in lines:
            for theme in entry["themes"]:
                found = quotes(conn, theme=theme["theme"], source=entry["source"],
                               limit=limit, window=window, owner=owner)
                theme["quotes"] = [{"text": redact(q["text"]),
                                    "sentiment": _round(q["sentiment"]),
                                    "matched": q["matched"],
                                    "date": str(q["occurred_at"])[:10]
                                    if q["occurred_at"] is not None else None}
                                   for q in found]


def _check(period: str, by: str | None) -> None:
    if period not in ("day", "week", "month", "quarter", "year"):
        raise ConfigError(f"themes are by day, week, month, quarter or year, not '{period}'",
                          key="period")
    if by is not None and by not in BY:
        raise ConfigError(f"--by must be one of {', '.join(BY)}, not '{by}'", key="by")


def themes(config: Config, registry: Registry, *, period: str | None = None,
           by: str | None = None, as_of: dt.date | None = None, analyse: bool = True,
           full: bool = False, examples: int | None = None, rep: str | None = None,
           store: Store | None = None) -> dict[str, Any]:
    """Analyse what is new (unless ``analyse`` is false), then the theme metrics of the
    latest period of ``period`` (default ``[metrics] period``) with texts, starting on or
    before ``as_of``::

        {"period", "period_start", "period_end", "partial", "as_of", "by", "analysis",
         "sources": [{"source", "title", "n", "sentiment", "nps", "nps_n",
                      "themes": [{"theme", "title", "count", "n", "share", "sentiment",
                                  "nps", "nps_n", "quotes": [{"text", "sentiment",
                                                              "matched", "date"}]}]}],
         "groups": [the same per owner, team or segment, with "group" and "name"]}

    :param by: ``owner``, ``team`` or ``segment``: also the metrics per group (no quotes).
    :param rep: only texts attributed to this rep (remote id), for the quotes and metrics.
    :param examples: quotes per theme (default ``[themes] examples``), redacted.
    """
    period = period or config.metrics.period
    _check(period, by)
    settings = THEMES.get(config)
    taxonomy = taxonomy_of(settings)
    as_of = as_of or today_in(config.metrics.timezone)
    own = store is None
    store = store or open_store(config)
    try:
        analysis = analyse_texts(config, registry, store=store, full=full) if analyse else None
        out = _report(config, registry, store, period, by, as_of, taxonomy,
                      settings.examples if examples is None else examples, rep)
    finally:
        if own:
            store.dispose()
    out["analysis"] = analysis
    return out


def _report(config: Config, registry: Registry, store: Store, period: str, by: str | None,
            as_of: dt.date, taxonomy: Taxonomy, examples: int, rep: str | None
            ) -> dict[str, Any]:
    """The metrics of the chosen period (see :func:`themes`)."""
    sources = THEMES.get(config).sources
    out: dict[str, Any] = {"period": period, "as_of": as_of.isoformat(), "by": by,
                           "rep": rep, "period_start": None, "period_end": None,
                           "partial": False, "sources": [], "groups": []}
    with store.engine.connect() as conn:
        start = latest_start(conn, period=period, sources=sources, as_of=as_of, owner=rep,
                             fiscal_year_start_month=config.metrics.fiscal_year_start_month)
        if start is None:
            return out
        end = period_end(period, start)
        assert end is not None
        window = (start, end)
        out.update(period_start=start.isoformat(), period_end=end.isoformat(),
                   partial=as_of < end)
        scope: dict[str, Any] = {"sources": sources, "window": window, "owner": rep}
        out["sources"] = _source_lines(populations(conn, **scope),
                                       theme_counts(conn, **scope), taxonomy, None)
        if by is not None:
            names = ({k: r.name for k, r in store_reps(store).items()} if by == "owner"
                     else {})
            out["groups"] = _source_lines(populations(conn, by=by, **scope),
                                          theme_counts(conn, by=by, **scope), taxonomy, names)
    redactor = redactor_for(config, registry)
    if examples:
        _add_quotes(store, out["sources"], window, examples,
                    lambda text: redact_quote(text, redactor), rep)
    return out
