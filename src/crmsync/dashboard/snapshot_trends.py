"""Trend lines from ``metric_snapshots`` (docs/as-of.md): where a metric has snapshots for
the page's period, its trend is the value *as it stood* at each snapshot — pipeline value as
it stood each week — instead of the value of each period as computed today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from crmsync.dashboard.data import Catalogue, DashboardData
from crmsync.dashboard.filters import Filters
from crmsync.metrics.engine import MetricValue
from crmsync.metrics.snapshots import snapshot_series

__all__ = ["snapshot_lines"]


def _current(at: dt.datetime, v: MetricValue) -> bool:
    """Whether ``v`` is the value of the period holding ``at`` (the period then current)."""
    if v.period_start is None:
        return True
    return v.period_start <= at.date() and (v.period_end is None or at.date() < v.period_end)


def _label(cat: Catalogue, dimension: str | None, value: str | None) -> str:
    if dimension is None:
        return "organisation"
    if dimension == "owner":
        return cat.reps.get(value or "", value or "(none)")
    return value or "(none)"


def snapshot_lines(data: DashboardData, f: Filters, metric: str, dimension: str | None,
                   values: Collection[str | None] | None, label: str | None
                   ) -> list[tuple[str, list[str], list[float | None]]] | None:
    """``(label, snapshot days, values)`` per dimension value (of ``values`` if given) from
    the snapshots of ``metric`` for the page's period in its date range (and taken by the
    ``as_of`` day, if set); ``None`` when there are none (the caller draws the computed
    periods)."""
    series = data.cached(("snapshots", metric, f.period, dimension),
                         lambda: snapshot_series(data.store, metric, period=f.period,
                                                 dimension=dimension))
    per: dict[str | None, tuple[list[str], list[float | None]]] = {}
    for at, v in series:
        if not _current(at, v) or not f.in_range(at.date()):
            continue
        if f.as_of is not None and at.date() > f.as_of:  # not yet taken on the as-of day
            continue
        if values is not None and v.dimension_value not in values:
            continue
        xs, ys = per.setdefault(v.dimension_value, ([], []))
        xs.append(at.date().isoformat())
        ys.append(v.value)
    if not per:
        return None
    cat = data.catalogue()
    return [(label or _label(cat, dimension, dv), xs, ys) for dv, (xs, ys) in per.items()]
