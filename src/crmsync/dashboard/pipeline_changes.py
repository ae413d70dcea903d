"""The pipeline changes page (``/pipeline/changes``; docs/dashboard.md, "Pipeline changes"):
``crmsync.api.pipeline_changes`` as a waterfall chart, the table of changes (per group with
``by``) and the deals behind each change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from crmsync import api
from crmsync.core.errors import MetricError
from crmsync.dashboard import charts
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters
from crmsync.metrics.pipeline_changes import CATEGORIES, GROUPINGS
from crmsync.orchestration.pipeline_changes import WINDOWS

__all__ = ["changes_page", "LISTED"]

#: Deals listed per change (largest first).
LISTED = 25
_MOVES = ("moved_in", "moved_out")
_ENTERING = ("created", "pulled_in", "reopened", "moved_in", "moved_out")


def _options(f: Filters, query: Mapping[str, str], today: dt.date
             ) -> tuple[dt.date, dt.date, str, str | None]:
    """From, to, window and by (the shared ``from``/``to`` filters; defaults: the week to
    the dashboard's today)."""
    date_to = f.date_to or today
    date_from = f.date_from or date_to - dt.timedelta(days=6)
    if date_from > date_to:
        date_from = date_to - dt.timedelta(days=6)
    window = (query.get("window") or "").strip() or "quarter"
    by = (query.get("by") or "").strip() or None
    return date_from, date_to, window, by


def _deal_lists(deals: list[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    lists = []
    for key, label, _ in CATEGORIES:
        if key in ("start", "end") or (by is None and key in _MOVES):
            continue
        those = sorted((d for d in deals if key in d["categories"]),
                       key=lambda d: -max(d["amount_start"], d["amount_end"]))
        if not those:
            continue
        rows = [{**d, "shown_owner": d["owner_at_start"] if key == "moved_out" else d["owner"],
                 "amount": d["amount_start"] if key in _ENTERING else d["amount_end"]}
                for d in those[:LISTED]]
        lists.append({"category": key, "label": label, "deals": rows,
                      "more": max(0, len(those) - LISTED)})
    return lists


def _lines(lines: list[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    return [line for line in lines if by is not None or line["category"] not in _MOVES]


def changes_page(data: DashboardData, f: Filters, query: Mapping[str, str]
                 ) -> dict[str, Any]:
    """The page's data: the options, messages for bad ones, the report, the chart."""
    date_from, date_to, window, by = _options(f, query, data.as_of())
    messages = []
    if by is not None and by not in GROUPINGS:
        messages.append(f"unknown grouping '{by}' (team or owner): showing all deals")
        by = None
    try:
        result = api.pipeline_changes(data.config, date_from=date_from, date_to=date_to,
                                      window=window, by=by, deals=True, store=data.store)
    except MetricError as exc:
        messages.append(f"{exc}: showing the quarter")
        window = "quarter"
        result = api.pipeline_changes(data.config, date_from=date_from, date_to=date_to,
                                      window=window, by=by, deals=True, store=data.store)
    total = _lines(result["total"], by)
    labels = [{"start": "start", "end": "end"}.get(line["category"], line["label"])
              for line in total]
    figure = charts.waterfall(labels, [line["amount"] for line in total],
                              f"Open pipeline {result['from']} → {result['to']} "
                              f"({result['currency']})")
    groups = [{**g, "lines": _lines(g["lines"], by)} for g in result["groups"]]
    return {"from": date_from.isoformat(), "to": date_to.isoformat(), "window": window,
            "by": by or "", "windows": WINDOWS, "groupings": GROUPINGS,
            "messages": messages, "result": result, "total": total, "groups": groups,
            "figure": figure, "lists": _deal_lists(result["deals"], by)}
