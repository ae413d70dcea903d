"""The forecast (``crmsync forecast``, the dashboard's forecast page): the roll-up by forecast
category of a period per rep or team, against quota, weighted and history-based. The SQL is
in :mod:`crmsync.metrics.forecast`; the method in docs/forecast.md. Accuracy over past
periods is :mod:`crmsync.orchestration.forecast_accuracy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.core.formatting import period_label
from crmsync.core.periods import period_end, previous_period_start
from crmsync.metrics.forecast import CATEGORIES, ForecastScope, quota_totals, rollup
from crmsync.metrics.forecast_history import MIN_SAMPLE
from crmsync.metrics.report import today_in
from crmsync.metrics.scorecard import Rep
from crmsync.orchestration.connections import open_store
from crmsync.orchestration.scorecards import store_reps
from crmsync.store import Store

__all__ = ["forecast", "FORECAST_PERIODS", "FORECAST_BY", "period_bounds", "utc_now",
           "group_names", "add_kinds", "check_by", "previous_bounds", "run_rollup", "KINDS",
           "NO_TEAM", "NO_OWNER", "teams_of"]

#: The periods a forecast covers.
FORECAST_PERIODS = ("month", "quarter", "year")
#: What a forecast is broken down by (``None``: the whole organisation).
FORECAST_BY = ("owner", "team")
#: The forecast kinds compared with what closed: the usual roll-ups, weighted, history-based.
KINDS = ("commit", "best_case", "weighted", "history")
NO_TEAM = "(no team)"
NO_OWNER = "(no owner)"


def utc_now() -> dt.datetime:
    """Now, naive UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def period_bounds(period: str, day: dt.date, fiscal_year_start_month: int = 1
                  ) -> tuple[dt.date, dt.date]:
    """``(first day, first day after)`` of the ``period`` (month, quarter or fiscal year)
    containing ``day``."""
    if period not in FORECAST_PERIODS:
        raise ConfigError(f"a forecast covers a month, quarter or year, not '{period}'")
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    shift = 0 if period == "month" else fiscal_year_start_month - 1
    index = (day.year * 12 + day.month - 1 - shift) // months * months + shift
    start = dt.date(index // 12, index % 12 + 1, 1)
    end = period_end(period, start)
    assert end is not None
    return start, end


def previous_bounds(period: str, start: dt.date) -> tuple[dt.date, dt.date]:
    """The period before the one starting at ``start``."""
    return previous_period_start(period, start), start


def check_by(by: str | None) -> None:
    if by is not None and by not in FORECAST_BY:
        raise ConfigError(f"a forecast is by owner or team, not '{by}'")


def group_names(by: str | None, keys: Iterable[Any], reps: Mapping[str, Rep]
                ) -> dict[Any, tuple[str, str | None]]:
    """``key → (name, team)`` for the groups of a breakdown ``by``."""
    out: dict[Any, tuple[str, str | None]] = {}
    for key in keys:
        if by == "owner":
            rep = reps.get(str(key)) if key is not None else None
            out[key] = ((rep.name, rep.team) if rep else
                        (str(key) if key is not None else NO_OWNER, None))
        elif by == "team":
            out[key] = (str(key) if key else NO_TEAM, None)
        else:
            out[key] = ("organisation", None)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_kinds(g: dict[str, Any]) -> dict[str, Any]:
    """The roll-ups of a group's categories: ``commit`` (closed + commit), ``best_case``
    (closed + commit + best case) next to ``weighted`` and ``history``."""
    def amount(cat: str) -> float:
        return float(g[cat]["amount"] or 0.0)

    g["kinds"] = {"commit": amount("closed") + amount("commit"),
                  "best_case": amount("closed") + amount("commit") + amount("best_case"),
                  "weighted": g["weighted"], "history": g["history"]}
    return g


def _empty_group() -> dict[str, Any]:
    return {**{c: {"n": 0, "amount": 0.0} for c in CATEGORIES}, "weighted": 0.0,
            "history": 0.0, "history_n": 0, "open_n": 0, "unconverted": 0, "quota": None,
            "quota_unconverted": False}


def _collect(rows: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """Roll-up rows (:func:`crmsync.metrics.forecast.rollup`) as groups by key."""
    groups: dict[Any, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault(r["dimension_value"], _empty_group())
        g[r["category"]] = {"n": int(r["n"]), "amount": float(r["amount"] or 0.0)}
        g["weighted"] += float(r["weighted"] or 0.0)
        g["history"] += float(r["history"] or 0.0)
        g["history_n"] += int(r["history_n"] or 0)
        g["unconverted"] += int(r["unconverted"] or 0)
        if r["category"] != "closed":
            g["open_n"] += int(r["n"])
    return groups


def run_rollup(store: Store, scope: ForecastScope) -> dict[Any, dict[str, Any]]:
    """The roll-up of ``scope`` as groups by key, with ``kinds`` (:func:`add_kinds`)."""
    with store.engine.connect() as conn:
        groups = _collect(conn.execute(rollup(scope)).mappings())
    return {k: add_kinds(g) for k, g in groups.items()}


def _total(groups: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total = _empty_group()
    quotas = []
    for g in groups:
        for c in CATEGORIES:
            total[c] = {"n": total[c]["n"] + g[c]["n"],
                        "amount": total[c]["amount"] + g[c]["amount"]}
        for k in ("weighted", "history", "history_n", "open_n", "unconverted"):
            total[k] += g[k]
        if g["quota"] is not None or g["quota_unconverted"]:
            quotas.append(g["quota"])
    # unknown when a group's quota is (no rate to the base currency): never a partial sum
    total["quota_unconverted"] = None in quotas
    total["quota"] = sum(quotas) if quotas and None not in quotas else None
    return add_kinds(total)


def _attainment(g: dict[str, Any]) -> dict[str, Any]:
    g["attainment"] = {"closed": _ratio(g["closed"]["amount"], g["quota"]),
                       **{k: _ratio(v, g["quota"]) for k, v in g["kinds"].items()}}
    return g


def forecast(config: Config, *, period: str = "quarter", by: str | None = None,
             as_of: dt.date | None = None, min_sample: int = MIN_SAMPLE,
             store: Store | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The forecast of the ``period`` containing ``as_of`` (default: today in ``[metrics]
    timezone``) by ``by`` (``owner``, ``team`` or ``None``)::

        {"period", "label", "period_start", "period_end", "at", "rebuilt", "ended", "by",
         "currency", "min_sample",
         "groups": [{"key", "name", "team", "closed": {"n", "amount"}, "commit", "best_case",
                     "pipeline", "omitted", "quota", "quota_unconverted", "weighted",
                     "history", "history_n",
                     "open_n", "unconverted",
                     "kinds": {"commit", "best_case", "weighted", "history"},
                     "attainment": {"closed", "commit", "best_case", "weighted", "history"}}],
         "total": {... the same for everyone}}

    With ``as_of`` before today the deals are rebuilt as they stood at the end of that day
    (``rebuilt``) from history; otherwise the stored deals are read as they are now.
    """
    check_by(by)
    now = now or utc_now()
    today = today_in(config.metrics.timezone, now)
    day = as_of or today
    start, end = period_bounds(period, day, config.metrics.fiscal_year_start_month)
    at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    rebuilt = at < now
    if not rebuilt:
        at = now
    own = store is None
    store = store or open_store(config)
    try:
        scope = ForecastScope(dialect=store.dialect, start=start, end=end, at=at, dimension=by,
                              base_currency=config.metrics.base_currency, as_of=rebuilt,
                              min_sample=min_sample)
        groups = run_rollup(store, scope)
        with store.engine.connect() as conn:
            for r in conn.execute(quota_totals(scope)).mappings():
                groups.setdefault(r["dimension_value"], add_kinds(_empty_group()))
                group = groups[r["dimension_value"]]
                group["quota"] = None if r["quota"] is None else float(r["quota"])
                group["quota_unconverted"] = r["quota"] is None
        reps = store_reps(store) if by == "owner" else {}
    finally:
        if own:
            store.dispose()
    names = group_names(by, groups, reps)
    listed = [_attainment({"key": k, "name": names[k][0], "team": names[k][1], **g})
              for k, g in groups.items()]
    listed.sort(key=lambda g: (-(g["kinds"]["best_case"] or 0.0), g["name"]))
    return {"period": period, "label": period_label(period, start),
            "period_start": start.isoformat(), "period_end": end.isoformat(),
            "at": at.isoformat(timespec="seconds"), "rebuilt": rebuilt, "ended": end <= today,
            "by": by, "currency": config.metrics.base_currency, "min_sample": min_sample,
            "groups": listed, "total": _attainment(_total(groups.values()))}


def teams_of(result: Mapping[str, Any]) -> dict[str, Any]:
    """A ``by="owner"`` forecast regrouped by the reps' teams: the ``by="team"`` forecast
    without another query (a team's quota is its reps' quotas; reps without a team make
    the group :data:`NO_TEAM`)."""
    members: dict[Any, list[dict[str, Any]]] = {}
    for g in result["groups"]:
        members.setdefault(g["team"], []).append(g)
    groups = [_attainment({"key": team, "name": team or NO_TEAM, "team": None,
                           **_total(rows)}) for team, rows in members.items()]
    groups.sort(key=lambda g: (-(g["kinds"]["best_case"] or 0.0), g["name"]))
    return {**result, "by": "team", "groups": groups}
