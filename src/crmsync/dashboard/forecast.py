"""The dashboard's forecast page: the period's roll-up by forecast category per team and per
rep against quota (stacked bars), the weighted and history-based forecasts, and the accuracy
of the last ended period (docs/dashboard.md, docs/forecast.md). Figures come from
:func:`crmsync.api.forecast` and :func:`crmsync.api.forecast_accuracy`, the functions behind
``crmsync forecast --json``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from crmsync import api
from crmsync.core.formatting import format_value
from crmsync.dashboard import charts
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters
from crmsync.orchestration.forecast import period_bounds, teams_of
from crmsync.orchestration.forecast_accuracy import accuracy_teams_of
from crmsync.orchestration.readers import at_once

__all__ = ["forecast_page", "CATEGORIES", "KINDS"]

#: Categories in stacking order, with their labels.
CATEGORIES = (("closed", "Closed"), ("commit", "Commit"), ("best_case", "Best case"),
              ("pipeline", "Pipeline"), ("omitted", "Omitted"))
#: Forecast kinds compared with what closed.
KINDS = (("commit", "Closed + commit"), ("best_case", "+ best case"),
         ("weighted", "Weighted"), ("history", "History-based"))
_PERIODS = ("month", "quarter", "year")
#: Bar colours, from the firmest category to the least (the quota dash is red).
_COLOURS = ("#166534", "#22c55e", "#60a5fa", "#cbd5e1", "#e5e7eb")


def _money(value: float | None, currency: str) -> str:
    return format_value(value, "currency", currency) if value is not None else "–"


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "–"


def _in_scope(groups: Sequence[Mapping[str, Any]], f: Filters, by: str
              ) -> list[Mapping[str, Any]]:
    if by == "owner" and f.rep:
        return [g for g in groups if g["key"] == f.rep]
    if by == "owner" and f.team:
        return [g for g in groups if g["team"] == f.team]
    if by == "team" and (f.team or f.rep):
        return [g for g in groups if g["key"] == f.team] if f.team else []
    return list(groups)


def _row(g: Mapping[str, Any], by: str, currency: str) -> dict[str, Any]:
    """One rep's or team's forecast, formatted, with the raw values for ``data-*``."""
    return {
        "key": g["key"], "name": g["name"], "kind": "rep" if by == "owner" else "team",
        "cells": [{"category": c, "value": g[c]["amount"], "n": g[c]["n"],
                   "text": _money(g[c]["amount"], currency)} for c, _ in CATEGORIES],
        "quota": "no rate" if g.get("quota_unconverted") else _money(g["quota"], currency),
        "quota_value": g["quota"],
        "kinds": [{"kind": k, "value": g["kinds"][k], "text": _money(g["kinds"][k], currency),
                   "attainment": _pct(g["attainment"][k])} for k, _ in KINDS],
        "history_n": g["history_n"], "open_n": g["open_n"],
    }


def _figure(rows: Sequence[Mapping[str, Any]], title: str) -> dict[str, Any] | None:
    if not rows:
        return None
    names = [str(r["name"]) for r in rows]
    series = [(label, names, [r["cells"][i]["value"] for r in rows])
              for i, (_, label) in enumerate(CATEGORIES)]
    figure = charts.stacked_with_marks(
        series, ("quota", names, [r["quota_value"] for r in rows]), "currency", title)
    for trace, colour in zip(figure["data"], _COLOURS, strict=False):
        trace["marker"] = {"color": colour}
    return figure


def _section(result: Mapping[str, Any], f: Filters, by: str, currency: str
             ) -> dict[str, Any]:
    rows = [_row(g, by, currency) for g in _in_scope(result["groups"], f, by)]
    title = f"{'Teams' if by == 'team' else 'Reps'}: forecast by category against quota"
    return {"by": by, "rows": rows, "figure": _figure(rows, title)}


def _accuracy_rows(result: Mapping[str, Any], f: Filters, by: str, currency: str
                   ) -> list[dict[str, Any]]:
    out = []
    for g in _in_scope(result["groups"], f, by):
        out.append({"key": g["key"], "name": g["name"],
                    "kind": "rep" if by == "owner" else "team",
                    "won": _money(g["actual"]["amount"], currency), "won_n": g["actual"]["n"],
                    "won_value": g["actual"]["amount"],
                    "kinds": [{"kind": k, "value": g["kinds"][k]["forecast"],
                               "text": _money(g["kinds"][k]["forecast"], currency),
                               "ape": _pct(g["kinds"][k]["ape"]),
                               "ape_value": g["kinds"][k]["ape"]} for k, _ in KINDS]})
    return out


#: Ended periods whose accuracy (the organisation's) the page lists.
PAST_PERIODS = 4


def _build(data: DashboardData, period: str, day: dt.date) -> dict[str, Any]:
    """The forecasts and accuracy behind the page (cached per change token): the reps'
    forecast and accuracy rebuilt once each (teams are regrouped from them), and the
    organisation's accuracy at the start of the ended periods before."""
    def build() -> dict[str, Any]:
        fiscal = data.config.metrics.fiscal_year_start_month
        start, days = period_bounds(period, day, fiscal)[0], []
        for _ in range(PAST_PERIODS):  # a day in each of the ended periods before
            days.append(start - dt.timedelta(days=1))
            start = period_bounds(period, days[-1], fiscal)[0]
        calls: list[Callable[[], dict[str, Any]]] = [partial(
            api.forecast, data.config, period=period, by="owner", as_of=day, store=data.store)]
        calls += [partial(api.forecast_accuracy, data.config, period=period,
                          by=None if i else "owner", as_of=d, store=data.store, weekly=False)
                  for i, d in enumerate(days)]
        # five independent queries: on several connections at once (orchestration.readers)
        owner, *accuracy = at_once(data.store, calls)
        return {"forecast": {"owner": owner, "team": teams_of(owner)},
                "accuracy": {"owner": accuracy[0], "team": accuracy_teams_of(accuracy[0])},
                "past": accuracy}

    return data.cached(("forecast-page", period, day), build)


def _past(results: Sequence[Mapping[str, Any]], currency: str) -> list[dict[str, Any]]:
    """The organisation's accuracy per ended period, most recent first."""
    return [{**_accuracy_rows({"groups": [r["total"] | {"key": None, "name": r["label"]}]},
                              Filters(), "org", currency)[0], "ended": r["ended"]}
            for r in results]


def forecast_page(data: DashboardData, f: Filters) -> dict[str, Any]:
    """The forecast of the period (of ``f.period``: month, quarter or year; quarter for
    other choices) containing the dashboard's today, per team and per rep in scope, and the
    accuracy of the period before."""
    period = f.period if f.period in _PERIODS else "quarter"
    built = _build(data, period, data.as_of())
    currency = data.currency
    result, accuracy = built["forecast"], built["accuracy"]
    total = _row(result["team"]["total"] | {"key": None, "name": "organisation"}, "team",
                 currency)
    acc_total = _accuracy_rows({"groups": [accuracy["owner"]["total"]
                                           | {"key": None, "name": "organisation"}]},
                               Filters(), "org", currency)
    return {
        "period": period, "note": None if period == f.period else
        f"forecasts cover a month, quarter or year: showing the {period}",
        "result": result["team"], "total": total,
        "sections": [_section(result[b], f, b, currency) for b in ("team", "owner")],
        "categories": CATEGORIES, "kinds": KINDS,
        "accuracy": accuracy["owner"],
        "accuracy_sections": [{"by": "organisation", "rows": acc_total}] + [
            {"by": b, "rows": _accuracy_rows(accuracy[b], f, b, currency)}
            for b in ("team", "owner")],
        "past": _past(built["past"], currency),
    }
