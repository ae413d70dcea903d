"""Rep scorecards over the stored per-rep values (``crmsync scorecard``; the rules are in
:mod:`crmsync.metrics.scorecard` and docs/metrics.md, "Scorecards").

See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmsync.core.config import Config
from crmsync.core.schema import users
from crmsync.metrics.engine import metrics_per_period
from crmsync.metrics.report import today_in
from crmsync.metrics.scorecard import Rep, choose_period, scorecards
from crmsync.orchestration.connections import open_store
from crmsync.orchestration.reading import metric_report
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["scorecard", "store_reps"]


def store_reps(store: Store) -> dict[str, Rep]:
    """The store's reps by remote id, with their names and teams (live rows win)."""
    reps: dict[str, Rep] = {}
    with store.engine.connect() as conn:
        for rid, name, team in conn.execute(
                sa.select(users.c.remote_id, users.c.name, users.c.team)
                .order_by(users.c.is_deleted.desc(), users.c.id)):
            reps[str(rid)] = Rep(str(rid), name or str(rid), team or None)
    return reps


def _metric_counts(store: Store, period: str) -> dict[tuple[dt.date, dt.date | None], int]:
    """How many metrics have a per-rep value in each stored period of ``period``."""
    counts = metrics_per_period(store, period=period, dimension="owner")
    return {(start, end): n for (start, end), n in counts.items() if start is not None}


def scorecard(config: Config, registry: Registry, *, rep: str | None = None,
              team: str | None = None, period: str | None = None,
              as_of: dt.date | None = None, store: Store | None = None) -> dict[str, Any]:
    """Each rep's scorecard for the latest period (of ``period``, default ``[metrics]
    period``) starting on or before ``as_of`` (default today in ``[metrics] timezone``)
    with values for most metrics (:func:`crmsync.metrics.scorecard.choose_period`)::

        {"period", "period_start", "period_end", "partial", "as_of", "computed",
         "reps": [{"rep_id", "rep", "team", "families": [{"family", "metrics": [
             {"metric", "title", "unit", "direction", "value", "n", "team_median",
              "team_reps", "percentile", "target", "attainment", "below_target"}]}]}]}

    ``computed`` is false when no per-rep value of the period is stored (run ``crmsync
    metrics compute``). Medians and percentiles are over the whole team even when ``rep``
    (a remote id) or ``team`` narrows the reps returned.
    """
    period = period or config.metrics.period
    as_of = as_of or today_in(config.metrics.timezone)
    out: dict[str, Any] = {"period": period, "period_start": None, "period_end": None,
                           "partial": False, "as_of": as_of.isoformat(), "computed": False,
                           "reps": []}
    own = store is None
    store = store or open_store(config)
    try:
        chosen = choose_period(_metric_counts(store, period), as_of)
        if chosen is None:
            return out
        start, end = chosen
        rows = metric_report(config, registry, period=period, dimension="owner",
                             subjects=False, period_starts=[start], store=store)
        reps = store_reps(store)
    finally:
        if own:
            store.dispose()
    cards = scorecards(rows, reps, registry.metrics())
    out.update(period_start=start.isoformat(), period_end=end.isoformat() if end else None,
               partial=end is None or end > as_of, computed=bool(cards),
               reps=[c for c in cards if (rep is None or c["rep_id"] == rep)
                     and (team is None or c["team"] == team)])
    return out
