"""Forecast accuracy (``crmsync forecast --accuracy``): the forecast of a past period as it
stood at the period's start and at the start of each of its weeks, rebuilt from history with
:func:`crmsync.opportunities_as_of`, against what actually closed won in it
(docs/forecast.md, "Accuracy").
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from crmsync.core.config import Config
from crmsync.core.formatting import period_label
from crmsync.metrics.forecast import ForecastScope, won_totals
from crmsync.metrics.forecast_history import MIN_SAMPLE
from crmsync.metrics.report import today_in
from crmsync.orchestration.connections import open_store
from crmsync.orchestration.forecast import (
    KINDS,
    NO_TEAM,
    check_by,
    group_names,
    period_bounds,
    previous_bounds,
    run_rollup,
    utc_now,
)
from crmsync.orchestration.readers import at_once
from crmsync.orchestration.scorecards import store_reps
from crmsync.store import Store

__all__ = ["forecast_accuracy", "errors", "accuracy_teams_of"]


def errors(forecast: dict[str, float], actual: float) -> dict[str, Any]:
    """Per kind: the forecast, its ``error`` (forecast − actual) and ``ape`` (|error| ÷
    actual; ``None`` when nothing closed)."""
    return {k: {"forecast": forecast.get(k, 0.0), "error": forecast.get(k, 0.0) - actual,
                "ape": abs(forecast.get(k, 0.0) - actual) / actual if actual else None}
            for k in KINDS}


def _instants(start: dt.date, end: dt.date, now: dt.datetime) -> list[dt.datetime]:
    """The period's start and the start of each later week of it, up to now."""
    out = []
    day = start
    while day < end:
        at = dt.datetime.combine(day, dt.time())
        if at > now:
            break
        out.append(at)
        day += dt.timedelta(days=7)
    return out


def _kinds(groups: dict[Any, dict[str, Any]], key: Any) -> dict[str, float]:
    g = groups.get(key)
    return {k: float(g["kinds"][k] or 0.0) for k in KINDS} if g else dict.fromkeys(KINDS, 0.0)


def _summed(groups: dict[Any, dict[str, Any]]) -> dict[str, float]:
    return {k: sum(float(g["kinds"][k] or 0.0) for g in groups.values()) for k in KINDS}


def forecast_accuracy(config: Config, *, period: str = "quarter", by: str | None = None,
                      as_of: dt.date | None = None, min_sample: int = MIN_SAMPLE,
                      store: Store | None = None, now: dt.datetime | None = None,
                      weekly: bool = True) -> dict[str, Any]:
    """How the forecast of a period compared with what closed won in it: the period
    containing ``as_of``, by default the last ended one (before today's)::

        {"period", "label", "period_start", "period_end", "ended", "by", "currency",
         "weeks": [{"at", "total": {kind: forecast}}],
         "groups": [{"key", "name", "team", "actual": {"n", "amount"},
                     "kinds": {kind: {"forecast", "error", "ape"}}}],
         "total": {"actual", "kinds"}}

    Kinds: ``commit`` (closed + commit), ``best_case`` (closed + commit + best case),
    ``weighted``, ``history``; the forecast is the one rebuilt for the period's first
    instant, ``weeks`` the rebuilt totals at the start of each week. ``ended`` is false for
    a period not over yet: its errors are not final. ``weekly=False`` rebuilds the start
    only (``weeks`` holds it alone).
    """
    check_by(by)
    now = now or utc_now()
    today = today_in(config.metrics.timezone, now)
    fiscal = config.metrics.fiscal_year_start_month
    if as_of is None:
        start, end = previous_bounds(period, period_bounds(period, today, fiscal)[0])
    else:
        start, end = period_bounds(period, as_of, fiscal)
    own = store is None
    store = store or open_store(config)
    try:
        def scope(at: dt.datetime) -> ForecastScope:
            return ForecastScope(dialect=store.dialect, start=start, end=end, at=at,
                                 dimension=by, base_currency=config.metrics.base_currency,
                                 as_of=True, min_sample=min_sample)

        instants = _instants(start, end, now)[:None if weekly else 1]
        # each instant is one query: several at once (crmsync.orchestration.readers)
        rolled = at_once(store, [partial(run_rollup, store, scope(at)) for at in instants])
        snapshots = list(zip(instants, rolled, strict=True))
        with store.engine.connect() as conn:
            actual = {r["dimension_value"]: {"n": int(r["n"]), "amount": float(r["amount"] or 0)}
                      for r in conn.execute(won_totals(scope(now))).mappings()}
        reps = store_reps(store) if by == "owner" else {}
    finally:
        if own:
            store.dispose()
    first = snapshots[0][1] if snapshots else {}
    keys = list(dict.fromkeys([*first, *actual]))
    names = group_names(by, keys, reps)
    groups = []
    for key in keys:
        got = actual.get(key, {"n": 0, "amount": 0.0})
        groups.append({"key": key, "name": names[key][0], "team": names[key][1],
                       "actual": got, "kinds": errors(_kinds(first, key), got["amount"])})
    groups.sort(key=lambda g: (-g["actual"]["amount"], g["name"]))
    total_actual = {"n": sum(a["n"] for a in actual.values()),
                    "amount": sum(a["amount"] for a in actual.values())}
    return {"period": period, "label": period_label(period, start),
            "period_start": start.isoformat(), "period_end": end.isoformat(),
            "ended": end <= today, "by": by, "currency": config.metrics.base_currency,
            "weeks": [{"at": at.isoformat(timespec="seconds"), "total": _summed(g)}
                      for at, g in snapshots],
            "groups": groups,
            "total": {"actual": total_actual,
                      "kinds": errors(_summed(first), total_actual["amount"])}}


def accuracy_teams_of(result: dict[str, Any]) -> dict[str, Any]:
    """A ``by="owner"`` accuracy regrouped by the reps' teams (forecasts and what was won
    summed, errors recomputed): the ``by="team"`` accuracy without rebuilding again."""
    teams: dict[Any, dict[str, Any]] = {}
    for g in result["groups"]:
        t = teams.setdefault(g["team"], {"n": 0, "amount": 0.0,
                                         "kinds": dict.fromkeys(KINDS, 0.0)})
        t["n"] += g["actual"]["n"]
        t["amount"] += g["actual"]["amount"]
        for k in KINDS:
            t["kinds"][k] += g["kinds"][k]["forecast"]
    groups = [{"key": team, "name": team or NO_TEAM, "team": None,
               "actual": {"n": t["n"], "amount": t["amount"]},
               "kinds": errors(t["kinds"], t["amount"])} for team, t in teams.items()]
    groups.sort(key=lambda g: (-g["actual"]["amount"], g["name"]))
    return {**result, "by": "team", "groups": groups}
