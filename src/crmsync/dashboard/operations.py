"""Page data of the funnel, pipeline, activity, customers, data-quality and sync pages
(docs/dashboard.md). Figures are report rows; record lists come from the metrics'
:meth:`~crmsync.Metric.records`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmsync import api
from crmsync.core.periods import previous_period_start
from crmsync.dashboard import charts
from crmsync.dashboard.data import DashboardData, family_of, kpi
from crmsync.dashboard.filters import Filters
from crmsync.dashboard.records import owner_counts, records_of
from crmsync.dashboard.sales import cards, current_start, series_rows
from crmsync.metrics.formatting import period_label

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
    pipelines: dict[str | None, list[dict[str, Any]]] = {}
    for stage in sorted(set(conv) | set(days),
                        key=lambda s: (cat.stages.get(s or "", ("", None, 0))[2], s or "")):
        label, pipe, _ = cat.stages.get(stage or "", (stage, None, 0))
        pipelines.setdefault(pipe, []).append({
            "stage": stage, "label": label,
            "conversion": kpi(conv[stage], data.currency) if stage in conv else None,
            "days": kpi(days[stage], data.currency) if stage in days else None})
    out = []
    for pipe, stages in pipelines.items():
        if f.pipeline and pipe != f.pipeline:
            continue
        shown = [s for s in stages if s["conversion"] is not None]
        figure = charts.bars([("conversion to a later stage", [s["label"] for s in shown],
                               [s["conversion"].value for s in shown])], "ratio",
                             "Stage-to-stage conversion", height=300) if shown else None
        out.append({"pipeline": pipe, "name": cat.pipelines.get(pipe or "", pipe or "(none)"),
                    "stages": stages, "figure": figure})
    return {"pipelines": out, "start": start}


def pipeline(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Open pipeline (and weighted) by expected close period from the current one on, and
    coverage (shown as a multiple)."""
    as_of = _as_of(data, f)
    value = _scoped(data, f, f.period, "pipeline_value")
    weighted = _scoped(data, f, f.period, "weighted_pipeline_value")
    start = current_start(value, as_of) or ""
    value = sorted((r for r in value if (r["period_start"] or "") >= start),
                   key=lambda r: r["period_start"] or "")
    weighted = sorted((r for r in weighted if (r["period_start"] or "") >= start),
                      key=lambda r: r["period_start"] or "")
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


def _by_stage(data: DashboardData, f: Filters, start: str) -> dict[str, Any]:
    """Open pipeline (and weighted) per stage and expected close period, from the current
    period on (values computed ``--by stage``)."""
    cat = data.catalogue()
    rows = {m: [r for r in data.rows(f.period, "stage", metric=m)
                if r["subject_id"] is None and (r["period_start"] or "") >= start
                and f.in_range(dt.date.fromisoformat(r["period_start"])
                               if r["period_start"] else None)]
            for m in ("pipeline_value", "weighted_pipeline_value")}
    if f.pipeline:
        rows = {m: [r for r in rs if cat.stages.get(r["dimension_value"] or "",
                                                    ("", None, 0))[1] == f.pipeline]
                for m, rs in rows.items()}
    starts = sorted({r["period_start"] for rs in rows.values() for r in rs})
    order = sorted({r["dimension_value"] for rs in rows.values() for r in rs},
                   key=lambda s: (cat.stages.get(s or "", ("", None, 0))[1] or "",
                                  cat.stages.get(s or "", ("", None, 0))[2], s or ""))
    cell = {(m, r["dimension_value"], r["period_start"]): kpi(r, data.currency)
            for m, rs in rows.items() for r in rs}
    table = [{"stage": s, "label": cat.stages.get(s or "", (s or "(none)",))[0],
              "pipeline": cat.pipelines.get(cat.stages.get(s or "", ("", None, 0))[1] or "",
                                            ""),
              "cells": [(cell.get(("pipeline_value", s, p)),
                         cell.get(("weighted_pipeline_value", s, p))) for p in starts]}
             for s in order]
    labels = [_label(r) for r in sorted(
        {r["period_start"]: r for rs in rows.values() for r in rs}.values(),
        key=lambda r: r["period_start"] or "")]
    figure = charts.bars(
        [(f"{t['label']} ({t['pipeline']})" if t["pipeline"] else t["label"], labels,
          [c[0].value if c[0] else None for c in t["cells"]]) for t in table],
        "currency", "Open pipeline by stage and expected close period",
        stacked=True, periods=True) if table else None
    return {"stage_table": table, "stage_periods": labels, "stage_figure": figure}


def activity(data: DashboardData, f: Filters) -> dict[str, Any]:
    """Calls, e-mails, meetings and tasks per rep in the current period (per week when the
    period filter says so) against the activity targets."""
    cat = data.catalogue()
    names = [m for m in ACTIVITY_METRICS if m in data.definitions]
    wanted = {r for r, t in cat.rep_team.items() if t == f.team} if f.team else None
    if f.rep:
        wanted = {f.rep} if wanted is None else wanted & {f.rep}
    # only the current period's values (and the previous one's, their change) are read
    periods = [p for p in data.periods(f.period, "owner", names, of=wanted)
               if f.in_range(dt.date.fromisoformat(p["period_start"])
                             if p["period_start"] else None)]
    start = current_start(periods, _as_of(data, f))
    days = {start, previous_period_start(f.period, dt.date.fromisoformat(start)).isoformat()} \
        if start else set()
    rows = [r for m in names for r in data.rows(f.period, "owner", metric=m, of=wanted,
                                                starts=days) if start]
    now = {(r["dimension_value"], r["metric"]): r for r in rows if r["period_start"] == start}
    reps = sorted({rep for rep, _ in now}, key=lambda r: cat.reps.get(r or "", r or "").lower())
    table = [{"rep": rep, "name": cat.reps.get(rep or "", rep),
              "team": cat.rep_team.get(rep or "", ""),
              "cells": [kpi(now[(rep, m)], data.currency) if (rep, m) in now else None
                        for m in names]} for rep in reps]
    figure = charts.bars([(data.definitions[m].title or m, [t["name"] for t in table],
                           [now[(t["rep"], m)]["value"] if (t["rep"], m) in now else None
                            for t in table]) for m in names], "count",
                         "Activities per rep", stacked=True, horizontal=True,
                         height=max(260, 22 * len(table) + 100)) if table else None
    org = cards(data, _scoped(data, f, f.period), f, names, _as_of(data, f))
    return {"metrics": [data.definitions[m].title or m for m in names], "table": table,
            "figure": figure, "start": start, "cards": org,
            "weekly_available": "week" in cat.periods}


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
        lines = []
        for m in group:
            rs = sorted((r for r in rows if r["metric"] == m),
                        key=lambda r: r["period_start"] or "")
            if rs:
                lines.append((data.definitions[m].title or m, [_label(r) for r in rs],
                              [r["value"] for r in rs]))
        if lines:
            figures.append(charts.lines(lines, unit, title))
    return {"cards": shown, "figures": figures}


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
