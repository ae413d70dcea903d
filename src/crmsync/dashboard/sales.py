"""Page data of the overview, trends, leaderboard, rep and team pages (docs/dashboard.md).

Each builder returns the template context of one page from report rows
(:meth:`~crmsync.dashboard.data.DashboardData.rows`); it never recomputes a stored value.
Team medians are the one derived figure, labelled as such and kept out of ``data-metric``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from crmsync.core.formatting import period_label
from crmsync.core.periods import previous_period_start
from crmsync.dashboard import charts
from crmsync.dashboard.data import Catalogue, DashboardData, Kpi, family_of, kpi
from crmsync.dashboard.filters import Filters
from crmsync.dashboard.records import ATTENTION, records_of
from crmsync.dashboard.snapshot_trends import snapshot_lines
from crmsync.metrics.scorecard import percentile_in_team, team_median

__all__ = ["overview", "trends", "leaderboard", "rep_page", "team_page", "HEADLINE",
           "MIN_N", "current_start", "series_rows", "cards", "DEFAULT_METRIC"]

#: The overview's headline KPIs, in order (those with values are shown).
HEADLINE = ("revenue", "win_rate", "avg_deal_size", "sales_cycle_days", "pipeline_value",
            "pipeline_coverage", "quota_attainment", "lead_response_minutes", "nps")
#: Leaderboard: a rep whose ``n`` (the value's population) is below this is greyed out and
#: not ranked (docs/dashboard.md).
MIN_N = 5
#: The metric of the trends and leaderboard pages when none is chosen.
DEFAULT_METRIC = "revenue"
#: Periods a sparkline shows.
SPARK = 8


def _start(row: dict[str, Any]) -> dt.date | None:
    return dt.date.fromisoformat(row["period_start"]) if row["period_start"] else None


def series_rows(rows: Iterable[dict[str, Any]], f: Filters, *, dimension_value: Any = ...,
                ) -> list[dict[str, Any]]:
    """Aggregate rows (no subject) in the date range, of one dimension value if given."""
    return [r for r in rows if r["subject_id"] is None and f.in_range(_start(r))
            and (dimension_value is ... or r["dimension_value"] == dimension_value)]


def current_start(rows: Iterable[dict[str, Any]], as_of: dt.date) -> str | None:
    """The start of the period containing ``as_of`` among ``rows``, else the latest one
    starting before it."""
    day = as_of.isoformat()
    best: str | None = None
    for r in rows:
        start: str | None = r["period_start"]
        end: str | None = r["period_end"]
        if start is None or start > day:
            continue
        if end is not None and start <= day < end:
            return start
        best = max(best or start, start)
    return best


def _as_of(data: DashboardData, f: Filters) -> dt.date:
    return f.date_to if f.date_to is not None else data.as_of()


def cards(data: DashboardData, rows: Sequence[dict[str, Any]], f: Filters,
          names: Sequence[str], as_of: dt.date) -> list[dict[str, Any]]:
    """One card per metric of ``names`` with values: current and previous period, change,
    target, attainment and a sparkline of the last periods."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_metric.setdefault(r["metric"], []).append(r)
    out = []
    for name in names:
        card = _card(data, by_metric.get(name, []), f, as_of)
        if card is not None:
            out.append(card)
    return out


def _card(data: DashboardData, rows: list[dict[str, Any]], f: Filters, as_of: dt.date
          ) -> dict[str, Any] | None:
    """The card of one metric's ``rows``, or ``None`` without a current value."""
    series = sorted(rows, key=lambda r: r["period_start"] or "")
    start = current_start(series, as_of)
    now = next((r for r in series if r["period_start"] == start), None)
    if now is None:
        return None
    prev = _previous(series, f, now)
    shown = [r for r in series if r["period_start"] and r["period_start"] <= start][-SPARK:]
    return {
        "kpi": kpi(now, data.currency),
        "previous": kpi(prev, data.currency) if prev is not None else None,
        "spark": charts.sparkline([period_label(r["period"], _start(r)) for r in shown],
                                  [r["value"] for r in shown],
                                  [bool(r["partial"]) for r in shown], now["title"]),
        "spark_rows": [kpi(r, data.currency) for r in shown],
    }


def _scope_rows(data: DashboardData, f: Filters, period: str) -> list[dict[str, Any]]:
    dim, value = f.scope
    rows = data.rows(period, dim, of=None if dim is None else [value or ""])
    return series_rows(rows, f, dimension_value=value if dim else ...)


def overview(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Headline cards, then every metric's current value by family (snapshot metrics from
    period ``all``)."""
    as_of = _as_of(data, f)
    rows = _scope_rows(data, f, f.period)
    headline = cards(data, rows, f, [n for n in HEADLINE if n in data.definitions], as_of)
    shown = {c["kpi"].metric for c in headline}
    others = cards(data, rows, f, [n for n in data.definitions if n not in shown], as_of)
    snapshot = [kpi(r, data.currency) for r in _scope_rows(data, f, "all")
                if r["metric"] not in shown]
    families: dict[str, list[Any]] = {}
    for c in others:
        families.setdefault(family_of(data.definitions[c["kpi"].metric]), []).append(c)
    return {"headline": headline, "families": families, "snapshot": snapshot,
            "empty": not rows and not snapshot}


def _previous(series: list[dict[str, Any]], f: Filters, now: dict[str, Any]
              ) -> dict[str, Any] | None:
    """The row of the period before ``now``'s in ``series``, if any."""
    now_day = _start(now)
    if now_day is None:
        return None
    prev_start = previous_period_start(f.period, now_day).isoformat()
    return next((r for r in series if r["period_start"] == prev_start), None)


def _metric(data: DashboardData, f: Filters) -> str | None:
    """The chosen metric, else :data:`DEFAULT_METRIC` if defined, else the first one."""
    if f.metric:
        return f.metric
    if DEFAULT_METRIC in data.definitions:
        return DEFAULT_METRIC
    return next(iter(data.definitions), None)


class _Group(NamedTuple):
    """Lines of the trends chart: the aggregate rows of ``dimension`` (``None``: the
    organisation) whose value is one of ``values`` (``None``: any), one line per value,
    labelled ``label`` or by the rows' own label."""

    dimension: str | None
    values: frozenset[str | None] | None
    label: str | None = None


def _trend_groups(cat: Catalogue, dim: str | None, value: str | None) -> list[_Group]:
    """The scope's line with its parts: org → teams, team → reps, rep → team and org."""
    org = _Group(None, None, "organisation")
    if dim is None:
        return [org, _Group("team", None)]
    if dim == "team":
        reps = frozenset(r for r, t in cat.rep_team.items() if t == value)
        return [_Group("team", frozenset({value})), _Group("owner", frozenset(reps))]
    if dim == "owner":
        return [_Group("owner", frozenset({value})),
                _Group("team", frozenset({cat.rep_team.get(value or "")})), org]
    return [_Group(dim, frozenset({value})), org]


def _group_lines(data: DashboardData, f: Filters, metric: str, group: _Group
                 ) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(label, rows in period order)`` per dimension value of ``group``."""
    of = None if group.values is None else [v or "" for v in group.values]
    per: dict[Any, list[dict[str, Any]]] = {}
    for r in data.rows(f.period, group.dimension, metric=metric, of=of):
        if r["subject_id"] is None and f.in_range(_start(r)) and (
                group.values is None or r["dimension_value"] in group.values):
            per.setdefault(r["dimension_value"], []).append(r)
    out = []
    for dv, rs in per.items():
        rs.sort(key=lambda r: r["period_start"] or "")
        out.append((group.label or rs[0]["label"] or dv or "(none)", rs))
    return out


def trends(data: DashboardData, f: Filters) -> dict[str, Any]:
    """One metric over time: the scope's line with its parts (org → teams, team → reps,
    rep → team and org) and the target line."""
    metric = _metric(data, f)
    if metric is None:
        return {"metric": None, "series": [], "figure": None, "table": []}
    lines: list[charts.Series] = []
    table: list[Kpi] = []
    main: list[dict[str, Any]] = []  # the scope's own line: its band and target
    for group in _trend_groups(data.catalogue(), *f.scope):
        as_stood = snapshot_lines(data, f, metric, group.dimension, group.values, group.label)
        if as_stood is not None:  # snapshots: the value as it stood at each (docs/as-of.md)
            lines.extend(as_stood)
            continue
        for label, rs in _group_lines(data, f, metric, group):
            lines.append((label, [period_label(f.period, _start(r)) for r in rs],
                          [r["value"] for r in rs]))
            table.extend(kpi(r, data.currency) for r in rs)
            main = main or rs
    definition = data.definitions[metric]
    x = [period_label(f.period, _start(r)) for r in main]
    targets = [r["target"] for r in main]
    target: float | charts.Series | None = None
    if len({t for t in targets if t is not None}) == 1 and main[-1]["target"] is not None:
        target = main[-1]["target"]
    elif any(t is not None for t in targets):  # relative targets differ by period
        target = ("target", x, targets)
    behind = charts.band(x, [r.get("band_low") for r in main],
                         [r.get("band_high") for r in main]) \
        if any(r.get("band_low") is not None for r in main) else []
    figure = charts.lines(lines, definition.unit, definition.title or metric,
                          target=target, behind=behind) if lines else None
    return {"metric": metric, "title": definition.title or metric, "figure": figure,
            "table": table, "target": target, "band": bool(behind),
            "anomalies": sum(1 for k in table if k.row.get("anomaly"))}


def _ranked(rows: Sequence[dict[str, Any]], lower_better: bool) -> dict[str, int]:
    eligible = [r for r in rows if r["value"] is not None
                and (r["n"] is None or r["n"] >= MIN_N)]
    eligible.sort(key=lambda r: r["value"], reverse=not lower_better)
    return {r["dimension_value"]: i + 1 for i, r in enumerate(eligible)}


def leaderboard(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Reps ranked on one metric in the current period (of the team filter's team), with
    the rank change against the previous period; ``n`` below :data:`MIN_N` is unranked."""
    metric = _metric(data, f)
    cat = data.catalogue()
    rows = _rep_rows(data, f, cat, metric)
    start = current_start(rows, _as_of(data, f))
    now = [r for r in rows if r["period_start"] == start]
    prev_start = (previous_period_start(f.period, dt.date.fromisoformat(start)).isoformat()
                  if start else None)
    before = [r for r in rows if r["period_start"] == prev_start]
    definition = data.definitions.get(metric or "")
    title = definition.title if definition else metric
    entries = _leaders(data, cat, now, before)
    ranked = [e for e in entries if e["rank"] is not None]
    figure = charts.bars([("value", [e["name"] for e in ranked],
                           [e["kpi"].value for e in ranked])],
                         definition.unit if definition else "count", f"{title}",
                         horizontal=True, height=max(240, 24 * len(ranked) + 80)
                         ) if ranked else None
    return {"metric": metric, "title": title, "entries": entries, "start": start,
            "figure": figure, "min_n": MIN_N}


def _rep_rows(data: DashboardData, f: Filters, cat: Catalogue, metric: str | None
              ) -> list[dict[str, Any]]:
    """The per-rep aggregate rows of ``metric`` (of the team filter's team)."""
    rows = [r for r in data.rows(f.period, "owner", metric=metric) if r["subject_id"] is None]
    if f.team:
        rows = [r for r in rows if cat.rep_team.get(r["dimension_value"] or "") == f.team]
    return rows


def _leaders(data: DashboardData, cat: Catalogue, now: list[dict[str, Any]],
             before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leaderboard's entries, ranked first, with their move and tier."""
    lower = bool(now and now[0]["direction"] == "lower_is_better")
    rank, prev_rank = _ranked(now, lower), _ranked(before, lower)
    entries = []
    for r in now:
        rep = r["dimension_value"]
        position, previous = rank.get(rep), prev_rank.get(rep)
        entries.append({"kpi": kpi(r, data.currency), "rep": rep,
                        "name": cat.reps.get(rep or "", rep),
                        "team": cat.rep_team.get(rep or "", ""), "rank": position,
                        "move": (previous - position) if position and previous else None,
                        "small": position is None})
    entries.sort(key=lambda e: (e["rank"] is None, e["rank"] or 0, e["name"] or ""))
    _set_tiers(entries)
    return entries


def _set_tiers(entries: list[dict[str, Any]]) -> None:
    """Mark the top three ranked entries, and the bottom three when more than six rank."""
    ranked = [e for e in entries if e["rank"] is not None]
    top = {id(e) for e in ranked[:3]}
    bottom = {id(e) for e in ranked[-3:]} if len(ranked) > 6 else set()
    for e in entries:
        e["tier"] = "top" if id(e) in top else "bottom" if id(e) in bottom else ""


def _compare(data: DashboardData, f: Filters, dimension: str, member: str,
             peers: set[str], context: list[tuple[str | None, str | None]]
             ) -> list[dict[str, Any]]:
    """Per metric: the member's current value, the median of its peers (same period), and
    the stored values of ``context`` scopes (its team, the organisation)."""
    as_of = _as_of(data, f)
    mine = [r for r in data.rows(f.period, dimension, of=[member])
            if r["subject_id"] is None and f.in_range(_start(r))]
    peer_values = data.values_by_period(f.period, dimension, peers)
    scopes = []
    for cdim, cval in context:
        scope = data.rows(f.period, cdim, of=None if cdim is None else [cval or ""])
        scopes.append({(r["metric"], r["period_start"]): r for r in scope
                       if r["subject_id"] is None and r["dimension_value"] == cval})
    out = []
    for c in cards(data, mine, f, list(data.definitions), as_of):
        k: Kpi = c["kpi"]
        same = peer_values.get((k.metric, k.period_start), [])
        ctx = [kpi(scope[(k.metric, k.period_start)], data.currency) for scope in scopes
               if (k.metric, k.period_start) in scope]
        present = [v for v in same if v is not None]
        median = team_median(present)
        out.append({**c, "family": family_of(data.definitions[k.metric]),
                    "median": median, "peers": len(present),
                    "percentile": _percentile(k, present),
                    "median_text": kpi({**k.row, "value": median, "target": None},
                                       data.currency).text, "context": ctx})
    return out


def _percentile(k: Kpi, peers: list[float]) -> float | None:
    """The member's percentile among its peers by the scorecard's rule
    (:func:`crmsync.metrics.scorecard.percentile_in_team`: the share of the others it does
    better than, ties counting half); ``peers`` holds the member's own value once."""
    value = k.row.get("value")
    if value is None:
        return None
    others = list(peers)
    if value in others:
        others.remove(value)
    return percentile_in_team(float(value), others, k.row.get("direction") or "higher_is_better")


def _attention(data: DashboardData, f: Filters, owners: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for heading, metric in ATTENTION.items():
        records, total = records_of(data, metric, period=f.period, owners=owners)
        if metric in data.definitions:
            out.append({"heading": heading, "metric": metric, "records": records,
                        "total": total})
    return out


def rep_page(data: DashboardData, f: Filters, rep: str) -> dict[str, Any]:
    """One rep's KPIs against the team median, team, organisation and target, and the deals
    needing attention."""
    cat = data.catalogue()
    team = cat.rep_team.get(rep)
    peers = {r for r, t in cat.rep_team.items() if t == team} if team else set(cat.reps)
    kpis = _compare(data, f, "owner", rep, peers, [("team", team), (None, None)])
    return {"rep": rep, "name": cat.reps.get(rep, rep), "team": team, "kpis": kpis,
            "attention": _attention(data, f, [rep])}


def team_page(data: DashboardData, f: Filters, team: str) -> dict[str, Any]:
    """One team's KPIs against the median of all teams, the organisation and target; its
    reps on the headline metrics; the deals needing attention."""
    cat = data.catalogue()
    members = [r for r, t in cat.rep_team.items() if t == team]
    members.sort(key=lambda r: _rep_name(cat, r).lower())
    kpis = _compare(data, f, "team", team, set(cat.teams), [(None, None)])
    owner_rows = [r for r in data.rows(f.period, "owner", of=members)
                  if r["subject_id"] is None
                  and f.in_range(_start(r))]
    columns = _headline_columns(data, owner_rows)
    team_start = {c["kpi"].metric: c["kpi"].period_start for c in kpis}
    as_of = _as_of(data, f)
    reps = [{"rep": rep, "name": cat.reps.get(rep, rep),
             "cells": _rep_cells(data, f, [r for r in owner_rows if r["dimension_value"] == rep],
                                 columns, team_start, as_of)}
            for rep in members]
    titles = [data.definitions[n].title or n for n in columns]
    return {"team": team, "kpis": kpis, "columns": titles, "reps": reps,
            "attention": _attention(data, f, members)}


def _rep_name(cat: Catalogue, rep: str) -> str:
    """The rep's display name (its id when it has none)."""
    return cat.reps.get(rep, rep)


def _headline_columns(data: DashboardData, rows: list[dict[str, Any]]) -> list[str]:
    """The first five headline metrics with a value among ``rows``."""
    return [n for n in HEADLINE if n in data.definitions
            and any(r["metric"] == n for r in rows)][:5]


def _rep_cells(data: DashboardData, f: Filters, rows: list[dict[str, Any]],
               columns: list[str], team_start: dict[str, str | None], as_of: dt.date
               ) -> list[Kpi | None]:
    """A rep's value per column, only in the team's current period: a rep without a value
    there shows none."""
    by = {c["kpi"].metric: c["kpi"] for c in cards(data, rows, f, columns, as_of)
          if c["kpi"].period_start == team_start.get(c["kpi"].metric)}
    return [by.get(n) for n in columns]
