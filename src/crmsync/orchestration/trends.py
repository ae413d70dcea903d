"""Trends over stored values: baselines and anomalies (``crmsync metrics trends``) and why
revenue changed between two periods (``crmsync metrics why``). The rules are in
:mod:`crmsync.metrics.baselines` and :mod:`crmsync.metrics.decompose` (docs/trends.md).

See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from crmsync.core.config import Config
from crmsync.core.errors import MetricError
from crmsync.core.formatting import period_label
from crmsync.core.periods import period_end
from crmsync.metrics import engine as metric_engine
from crmsync.metrics.decompose import FACTORS, Cell, decompose
from crmsync.metrics.engine import MetricValue
from crmsync.metrics.labels import dimension_tables, load_labels
from crmsync.orchestration.connections import open_store
from crmsync.orchestration.reading import metric_report, metric_values
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["metric_trends", "why_changed", "infer_period", "find_period", "DECOMPOSABLE"]

#: The metrics :func:`why_changed` can split, and the metric giving deals closed and won.
DECOMPOSABLE = {"revenue": "win_rate"}
_LABELS = ((re.compile(r"\d{4}-Q[1-4]"), "quarter"), (re.compile(r"\d{4}-W\d{2}"), "week"),
           (re.compile(r"\d{4}-\d{2}"), "month"), (re.compile(r"\d{4}"), "year"))


def metric_trends(config: Config, registry: Registry, *, metric: str | None = None,
                  period: str | None = None, dimension: str | None = None,
                  anomalies: bool = False, store: Store | None = None) -> list[dict[str, Any]]:
    """The latest values as report rows (:func:`crmsync.api.metric_report`) with their
    baselines and anomaly verdicts (``baseline_last_year``, ``baseline_trailing``,
    ``baseline_history``, ``band_low``, ``band_high``, ``anomaly``, ``anomaly_reason``);
    ``anomalies`` keeps only the values flagged. Per-subject values are left out."""
    rows = metric_report(config, registry, metric=metric,
                         period=period or config.metrics.period, dimension=dimension,
                         subjects=False, store=store)
    return [r for r in rows if r["anomaly"]] if anomalies else rows


def infer_period(label: str) -> str | None:
    """The period kind a label names: ``2026-Q1`` quarter, ``2026-W05`` week, ``2026-03``
    month, ``2026`` year; ``None`` for anything else (an ISO date)."""
    return next((kind for pattern, kind in _LABELS if pattern.fullmatch(label.strip())), None)


def find_period(label: str, period: str, starts: Sequence[dt.date]) -> dt.date:
    """The start, among ``starts``, of the period ``label`` names: its label
    (:func:`crmsync.core.formatting.period_label`), its first day or any day in it."""
    text = label.strip()
    for s in starts:
        if period_label(period, s) == text or s.isoformat() == text:
            return s
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    for s in starts:
        end = period_end(period, s)
        if day is not None and end is not None and s <= day < end:
            return s
    shown = (f"{period_label(period, min(starts))} … {period_label(period, max(starts))}"
             if starts else "none")
    raise MetricError(f"no {period} '{label}' among the stored values (stored: {shown}); "
                      f"write it as 2026-Q1, 2026-03, 2026-W05, 2026 or a date in it")


def _values(config: Config, registry: Registry, store: Store, names: Sequence[str],
            period: str, by: str | None) -> list[MetricValue]:
    """The stored aggregate values of ``names`` for ``period`` and ``by``; computed (and
    stored) first when one of them has none."""
    def read() -> list[MetricValue]:
        return [v for name in names for v in metric_values(
            config, metric=name, period=period, dimension=by, subjects=False, store=store)]

    found = read()
    if {v.metric for v in found} >= set(names):
        return found
    metric_engine.compute(store, [registry.metric(n) for n in names], config.metrics,
                          period=period, dimensions=(by,), keep_values=False,
                          declared=registry.dimensions())
    return read()


def _cells(values: Sequence[MetricValue], metric: str, start: dt.date) -> dict[str, Cell]:
    """Segment → :class:`Cell` of one period, from the metric and its deal counts."""
    money: dict[str, float] = {}
    counts: dict[str, tuple[float, float]] = {}
    for v in values:
        if v.period_start != start:
            continue
        key = v.dimension_value if v.dimension_value is not None else ""
        if v.metric == metric:
            money[key] = v.value or 0.0
        else:
            counts[key] = (v.denominator or 0.0, v.numerator or 0.0)
    return {k: Cell(closed=counts.get(k, (0.0, 0.0))[0], won=counts.get(k, (0.0, 0.0))[1],
                    revenue=money.get(k, 0.0)) for k in set(money) | set(counts)}


def _names(store: Store, registry: Registry, by: str | None, keys: Sequence[str]
           ) -> dict[str, str]:
    """Display names of the segments (a rep's name for ``owner``)."""
    table = dimension_tables(registry.dimensions().values()).get(by or "")
    if table is None:
        return {k: k or "(none)" for k in keys}
    with store.engine.connect() as conn:
        labels = load_labels(conn, (table,), ids={table: {k for k in keys if k}})
    return {k: labels.of(table, k) or "(none)" for k in keys}


def why_changed(config: Config, registry: Registry, *, start: str, end: str,
                metric: str = "revenue", by: str | None = None, period: str | None = None,
                store: Store | None = None) -> dict[str, Any]:
    """The change of ``metric`` (``revenue``) from the period ``start`` to the period
    ``end`` split exactly into volume (deals closed), mix (by ``by``), win rate and deal
    size (:mod:`crmsync.metrics.decompose`)::

        {"metric", "title", "period", "from", "to", "by", "method": "shapley",
         "before", "after", "change", "closed": [n before, n after],
         "components": {"volume", "mix", "win_rate", "deal_size"},
         "segments": [{"segment", "label", "before", "after", "change", "closed", "won",
                       "components"}]}

    :param start: the first period: ``2026-Q1``, ``2026-03``, ``2026-W05``, ``2026`` or a
        date in it; ``end`` likewise.
    :param period: the period kind (default: the labels', else ``[metrics] period``).
    """
    if metric not in DECOMPOSABLE:
        raise MetricError(f"metric '{metric}' cannot be decomposed (decomposable: "
                          f"{', '.join(DECOMPOSABLE)})")
    period = period or infer_period(start) or infer_period(end) or config.metrics.period
    own = store is None
    store = store or open_store(config)
    try:
        values = _values(config, registry, store, [metric, DECOMPOSABLE[metric]], period, by)
        starts = sorted({v.period_start for v in values if v.period_start is not None})
        first, second = find_period(start, period, starts), find_period(end, period, starts)
        out = decompose(_cells(values, metric, first), _cells(values, metric, second))
        segments: list[dict[str, Any]] = out["segments"]
        names = _names(store, registry, by, [s["segment"] for s in segments])
    finally:
        if own:
            store.dispose()
    for s in segments:
        s["label"] = names[s["segment"]]
    return {"metric": metric, "title": registry.metric(metric).title, "period": period,
            "from": period_label(period, first), "to": period_label(period, second),
            "from_start": first.isoformat(), "to_start": second.isoformat(), "by": by,
            "method": "shapley", "factors": list(FACTORS),
            **out, "segments": segments if by else []}
