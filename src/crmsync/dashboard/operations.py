"""Page data of the funnel, pipeline, activity, customers, data-quality and sync pages
(docs/dashboard.md). Figures are report rows; record lists come from the metrics'
:meth:`~crmsync.Metric.records`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmsync import api
from crmsync.core.formatting import period_label
from crmsync.core.periods import previous_period_start
from crmsync.dashboard import charts
from crmsync.dashboard.data import Catalogue, DashboardData, family_of, kpi
from crmsync.dashboard.filters import Filters
from crmsync.dashboard.records import owner_counts, records_of
from crmsync.dashboard.sales import cards, current_start, series_rows

__all__ = ["funnel", "pipeline", "activity", "customers", "data_quality", "sync_health",
           "ACTIVITY_METRICS", "CUSTOMER_METRICS"]

ACTIVITY_METRICS = ("calls", "emails", "meetings", "tasks")
CUSTOMER_METRICS = ("nps", "csat", "ces", "retention_rate", "churn_rate", "cac",
                    "customer_lifetime_value", "ltv_to_cac")


def _as_of(data: DashboardData, f: Filters) -> dt.date:
    return f.date_to if f.date_to is not None else data.as_of()


def _label(row: dict[str, Any]) -> str:
    """A row's period as people read it (``2026-Q3``)."""
    start = dt.date.fromisoformat(row["period_start"]) if row["period_start"] else None
    return period_label(row["period"], start)


def _scoped(data: DashboardData, f: Filters, period: str, metric: str | None = None,
            *, subjects: bool = False) -> list[dict[str, Any]]:
    dim, value = f.scope
    return [r for r in data.rows(period, dim, metric=metric, subjects=subjects,
                                 of=None if dim is None else [value or ""])
            if (subjects or r["subject_id"] is None)
            and (dim is None or r["dimension_value"] == value)
            and f.in_range(dt.date.fromisoformat(r["period_start"])
                           if r["period_start"] else None)]


_NO_STAGE: tuple[str, str | None, int] = ("", None, 0)


def _day(row: dict[str, Any]) -> dt.date | None:
    """The row's period start as a date (``None`` for period ``all``)."""
    return dt.date.fromisoformat(row["period_start"]) if row["period_start"] else None


def _by_start(row: dict[str, Any]) -> str:
    return row["period_start"] or ""


def _stage_pipeline(cat: Catalogue, stage: str | None) -> str | None:
    return cat.stages.get(stage or "", _NO_STAGE)[1]


def _stage_position(cat: Catalogue, stage: str | None) -> int:
    return cat.stages.get(stage or "", _NO_STAGE)[2]


def funnel(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Per pipeline, its stages in order with stage-to-stage conversion and time in stage
    (the per-stage metrics) in the current period."""
    cat = data.catalogue()
    as_of = _as_of(data, f)
    # stages belong to one pipeline: the pipeline filter picks the pipeline shown
    scope = Filters(**{**f.__dict__, "pipeline": None}) if f.scope[0] == "pipeline" else f
    conversion = _scoped(data, scope, f.period, "stage_conversion_rate", subjects=True)
    time_in = _scoped(data, scope, f.period, "time_in_stage_days", subjects=True)
    start = current_start(conversion or time_in, as_of)
    conv = {r["subject_id"]: r for r in conversion if r["period_start"] == start}
    days = {r["subject_id"]: r for r in time_in if r["period_start"] == start}
    out = [_funnel_pipeline(cat, pipe, stages)
           for pipe, stages in _funnel_stages(data, cat, conv, days).items()
           if not (f.pipeline and pipe != f.pipeline)]
    return {"pipelines": out, "start": start}


def _funnel_stages(data: DashboardData, cat: Catalogue, conv: dict[Any, dict[str, Any]],
                   days: dict[Any, dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    """The stages with a value, in order, by pipeline."""
    pipelines: dict[str | None, list[dict[str, Any]]] = {}
    for stage in sorted(set(conv) | set(days),
                        key=lambda s: (_stage_position(cat, s), s or "")):
        label, pipe, _ = cat.stages.get(stage or "", (stage, None, 0))
        pipelines.setdefault(pipe, []).append({
            "stage": stage, "label": label,
            "conversion": kpi(conv[stage], data.currency) if stage in conv else None,
            "days": kpi(days[stage], data.currency) if stage in days else None})
    return pipelines


def _funnel_pipeline(cat: Catalogue, pipe: str | None, stages: list[dict[str, Any]]
                     ) -> dict[str, Any]:
    """One pipeline of the funnel page: its stages and the conversion chart."""
    shown = [s for s in stages if s["conversion"] is not None]
    figure = charts.bars([("conversion to a later stage", [s["label"] for s in shown],
                           [s["conversion"].value for s in shown])], "ratio",
                         "Stage-to-stage conversion", height=300) if shown else None
    return {"pipeline": pipe, "name": cat.pipelines.get(pipe or "", pipe or "(none)"),
            "stages": stages, "figure": figure}


def pipeline(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Open pipeline (and weighted) by expected close period from the current one on, and
    coverage (shown as a multiple)."""
    as_of = _as_of(data, f)
    value = _scoped(data, f, f.period, "pipeline_value")
    weighted = _scoped(data, f, f.period, "weighted_pipeline_value")
    start = current_start(value, as_of) or ""
    value = _from(value, start)
    weighted = _from(weighted, start)
    figure = charts.bars([("open pipeline", [_label(r) for r in value],
                           [r["value"] for r in value]),
                          ("weighted", [_label(r) for r in weighted],
                           [r["value"] for r in weighted])], "currency",
                         "Open pipeline by expected close period", periods=True) \
        if value else None
    coverage = cards(data, _scoped(data, f, f.period), f,
                     ["pipeline_coverage", "quota_attainment", "pipeline_value",
                      "weighted_pipeline_value"], as_of)
    by_pipeline = [kpi(r, data.currency) for r in data.rows(f.period, "pipeline",
                                                            metric="pipeline_value")
                   if r["period_start"] == start and r["subject_id"] is None]
    return {"value": [kpi(r, data.currency) for r in value],
            "weighted": [kpi(r, data.currency) for r in weighted], "figure": figure,
            "cards": coverage, "by_pipeline": by_pipeline,
            **_by_stage(data, f, start)}


def _from(rows: list[dict[str, Any]], start: str) -> list[dict[str, Any]]:
    """The rows of the periods starting on ``start`` or later, in period order."""
    return sorted((r for r in rows if (r["period_start"] or "") >= start), key=_by_start)


def _by_stage(data: DashboardData, f: Filters, start: str) -> dict[str, Any]:
    """Open pipeline (and weighted) per stage and expected close period, from the current
    period on (values computed ``--by stage``)."""
    cat = data.catalogue()
    rows = {m: _stage_rows(data, f, cat, m, start)
            for m in ("pipeline_value", "weighted_pipeline_value")}
    table = _stage_table(data, cat, rows)
    labels = [_label(r) for r in sorted(
        {r["period_start"]: r for rs in rows.values() for r in rs}.values(), key=_by_start)]
    figure = charts.bars(
        [(_stage_line(t), labels, [c[0].value if c[0] else None for c in t["cells"]])
         for t in table],
        "currency", "Open pipeline by stage and expected close period",
        stacked=True, periods=True) if table else None
    return {"stage_table": table, "stage_periods": labels, "stage_figure": figure}


def _stage_rows(data: DashboardData, f: Filters, cat: Catalogue, metric: str, start: str
                ) -> list[dict[str, Any]]:
    """The per-stage rows of ``metric`` from ``start`` on (of the pipeline filter's)."""
    rows = [r for r in data.rows(f.period, "stage", metric=metric)
            if r["subject_id"] is None and (r["period_start"] or "") >= start
            and f.in_range(_day(r))]
    if f.pipeline:
        rows = [r for r in rows if _stage_pipeline(cat, r["dimension_value"]) == f.pipeline]
    return rows


def _stage_table(data: DashboardData, cat: Catalogue, rows: dict[str, list[dict[str, Any]]]
                 ) -> list[dict[str, Any]]:
    """One line per stage (by pipeline, in stage order): the value and weighted value per
    period."""
    starts = sorted({r["period_start"] for rs in rows.values() for r in rs})
    order = sorted({r["dimension_value"] for rs in rows.values() for r in rs},
                   key=lambda s: (_stage_pipeline(cat, s) or "", _stage_position(cat, s),
                                  s or ""))
    cell = {(m, r["dimension_value"], r["period_start"]): kpi(r, data.currency)
            for m, rs in rows.items() for r in rs}
    return [{"stage": s, "label": _stage_label(cat, s),
             "pipeline": cat.pipelines.get(_stage_pipeline(cat, s) or "", ""),
             "cells": [(cell.get(("pipeline_value", s, p)),
                        cell.get(("weighted_pipeline_value", s, p))) for p in starts]}
            for s in order]


def _stage_label(cat: Catalogue, stage: str | None) -> str:
    known = cat.stages.get(stage or "")
    return known[0] if known is not None else stage or "(none)"


def _stage_line(line: dict[str, Any]) -> str:
    """A stage's name on the chart, with its pipeline's when it has one."""
    return f"{line['label']} ({line['pipeline']})" if line["pipeline"] else str(line["label"])


def activity(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Calls, e-mails, meetings and tasks per rep in the current period (per week when the
    period filter says so) against the activity targets."""
    cat = data.catalogue()
    names = [m for m in ACTIVITY_METRICS if m in data.definitions]
    wanted = _activity_reps(cat, f)
    # only the current period's values (and the previous one's, their change) are read
    periods = [p for p in data.periods(f.period, "owner", names, of=wanted)
               if f.in_range(_day(p))]
    start = current_start(periods, _as_of(data, f))
    now = _current(data, f, names, wanted, start)
    table = _activity_table(data, cat, names, now)
    figure = charts.bars([(data.definitions[m].title or m, [t["name"] for t in table],
                           [now[(t["rep"], m)]["value"] if (t["rep"], m) in now else None
                            for t in table]) for m in names], "count",
                         "Activities per rep", stacked=True, horizontal=True,
                         height=max(260, 22 * len(table) + 100)) if table else None
    org = cards(data, _scoped(data, f, f.period), f, names, _as_of(data, f))
    return {"metrics": [data.definitions[m].title or m for m in names], "table": table,
            "figure": figure, "start": start, "cards": org,
            "weekly_available": "week" in cat.periods}


def _activity_reps(cat: Catalogue, f: Filters) -> set[str] | None:
    """The reps of the team and rep filters (``None``: every rep)."""
    wanted = {r for r, t in cat.rep_team.items() if t == f.team} if f.team else None
    if f.rep:
        wanted = {f.rep} if wanted is None else wanted & {f.rep}
    return wanted


def _current(data: DashboardData, f: Filters, names: list[str], wanted: set[str] | None,
             start: str | None) -> dict[tuple[Any, Any], dict[str, Any]]:
    """The per-rep values of period ``start`` by ``(rep, metric)``."""
    if not start:
        return {}
    days = {start, previous_period_start(f.period, dt.date.fromisoformat(start)).isoformat()}
    rows = [r for m in names for r in data.rows(f.period, "owner", metric=m, of=wanted,
                                                starts=days)]
    return {(r["dimension_value"], r["metric"]): r for r in rows if r["period_start"] == start}


def _activity_table(data: DashboardData, cat: Catalogue, names: list[str],
                    now: dict[tuple[Any, Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per rep with a value, by name: the value of each metric."""
    reps = sorted({rep for rep, _ in now}, key=lambda r: cat.reps.get(r or "", r or "").lower())
    return [{"rep": rep, "name": cat.reps.get(rep or "", rep),
             "team": cat.rep_team.get(rep or "", ""),
             "cells": [kpi(now[(rep, m)], data.currency) if (rep, m) in now else None
                       for m in names]} for rep in reps]


def customers(data: DashboardData, f: Filters) -> dict[str, Any]:
    """NPS / CSAT / CES, retention and churn, CAC, lifetime value: cards and trends."""
    as_of = _as_of(data, f)
    names = [m for m in CUSTOMER_METRICS if m in data.definitions]
    names += [n for n, m in data.definitions.items()
              if family_of(m) == "customers" and n not in names]
    rows = _scoped(data, f, f.period)
    shown = cards(data, rows, f, names, as_of)
    figures = []
    for group, unit, title in ((("nps", "ces"), "score", "NPS and CES"),
                               (("csat", "retention_rate", "churn_rate"), "ratio",
                                "CSAT, retention and churn")):
        lines = _metric_lines(data, rows, group)
        if lines:
            figures.append(charts.lines(lines, unit, title))
    return {"cards": shown, "figures": figures}


def _metric_lines(data: DashboardData, rows: list[dict[str, Any]], metrics: tuple[str, ...]
                  ) -> list[charts.Series]:
    """A line over the periods per metric of ``metrics`` with values among ``rows``."""
    lines: list[charts.Series] = []
    for m in metrics:
        rs = sorted((r for r in rows if r["metric"] == m), key=_by_start)
        if rs:
            lines.append((data.definitions[m].title or m, [_label(r) for r in rs],
                          [r["value"] for r in rs]))
    return lines


def data_quality(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Each data-quality check: its count (stored, period ``all``), the offending records by
    name with CRM links, and how many each owner has."""
    checks = []
    org = {r["metric"]: r for r in series_rows(data.rows("all", None), f)}
    cat = data.catalogue()
    owners = ([f.rep] if f.rep else
              [r for r, t in cat.rep_team.items() if t == f.team] if f.team else None)
    for name, metric in data.definitions.items():
        if family_of(metric) != "data_quality" and not name.startswith("dq_"):
            continue
        records, total = records_of(data, name, period="all", owners=owners)
        checks.append({"metric": name, "title": metric.title or name,
                       "description": metric.description,
                       "kpi": kpi(org[name], data.currency) if name in org else None,
                       "records": records, "total": total,
                       "owners": owner_counts(data, name)})
    return {"checks": checks, "scoped": owners is not None}


def sync_health(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Last runs, rejects with reasons, API quota and write-back state (``crmsync status``)."""
    status = api.status(data.config, store=data.store)
    return {"status": status}
