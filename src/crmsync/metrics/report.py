"""Stored metric values as people read them (docs/metrics.md, "Reading values").

:func:`report_rows` turns the latest stored values into the rows ``crmsync metrics show
--json`` prints and every human view (CLI tables, dashboard, report) is built from: each value
with its target and direction-aware attainment, the change against the previous period (in
points for ratios, relative otherwise), ``n``, whether the period has ended, and the names of
the rep, pipeline or record it is about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from crmsync.core.periods import previous_period_start
from crmsync.metrics.baselines import AnomalyRule, Baseline, baselines
from crmsync.metrics.engine import MetricValue
from crmsync.metrics.labels import Labels, dimension_tables, load_labels, subject_table
from crmsync.metrics.targets import Target, attainment, is_below, resolve, target_for
from crmsync.plugin.dimensions import Dimension, declared_dimensions
from crmsync.plugin.metric import Metric
from crmsync.store import Store

__all__ = ["report_rows", "change_between", "today_in"]


def today_in(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``timezone`` (``now`` is naive UTC; tests pin it)."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(timezone)).date()


def change_between(value: float | None, previous: float | None, unit: str
                   ) -> tuple[float | None, str]:
    """The change from ``previous`` to ``value`` and its kind: ``points`` for ratios (0.05 is
    five percentage points), ``relative`` otherwise (0.05 is +5 %)."""
    if unit == "ratio":
        if value is None or previous is None:
            return None, "points"
        return value - previous, "points"
    if value is None or previous is None or not previous:
        return None, "relative"
    return (value - previous) / abs(previous), "relative"


def _labels(store: Store, values: Sequence[MetricValue],
            definitions: Mapping[str, Metric], declared: Mapping[str, Dimension]) -> Labels:
    tables = dimension_tables([*declared_dimensions(definitions.values()).values(),
                               *declared.values()])
    wanted: dict[str, set[str]] = {}
    for v in values:
        defined = definitions.get(v.metric)
        table = subject_table(defined.subject if defined is not None else None)
        if table and v.subject_id is not None:
            wanted.setdefault(table, set()).add(v.subject_id)
        labelled = tables.get(v.dimension or "")
        if labelled and v.dimension_value is not None:
            wanted.setdefault(labelled, set()).add(v.dimension_value)
    with store.engine.connect() as conn:
        base = load_labels(conn, ("users", "pipelines", "stages"))
        extra = load_labels(conn, wanted, ids=wanted) if wanted else Labels()
    return Labels({**base.names, **{k: {**base.names.get(k, {}), **v}
                                    for k, v in extra.names.items()}}, tables)


_Key = tuple[str, str | None, str | None, dt.date | None]


def _previous(by_key: Mapping[_Key, MetricValue], v: MetricValue) -> MetricValue | None:
    """The value of the period before ``v``'s, same metric, dimension value and subject."""
    if v.period_start is None:
        return None
    return by_key.get((v.metric, v.dimension_value, v.subject_id,
                       previous_period_start(v.period, v.period_start)))


def _direction(target: Target | None, defined: Metric | None) -> str:
    """The target's direction when it sets one, else the metric's."""
    return ((target.direction if target is not None else None)
            or (defined.direction if defined is not None else "higher_is_better"))


def _row(v: MetricValue, defined: Metric | None, labels: Labels, today: dt.date,
         target: float | None, direction: str, below: bool | None,
         prev: MetricValue | None, base: Baseline) -> dict[str, Any]:
    """The report row of one value (module docstring)."""
    unit = defined.unit if defined is not None else "count"
    change, change_kind = change_between(v.value, prev.value if prev else None, unit)
    return {
        "metric": v.metric,
        "title": defined.title if defined is not None else v.metric,
        "unit": unit, "direction": direction,
        "period": v.period,
        "period_start": v.period_start.isoformat() if v.period_start else None,
        "period_end": v.period_end.isoformat() if v.period_end else None,
        "partial": v.period_end is not None and v.period_end > today,
        "dimension": v.dimension, "dimension_value": v.dimension_value,
        "label": labels.dimension(v.dimension, v.dimension_value),
        "subject_id": v.subject_id,
        "subject": labels.subject(defined.subject if defined is not None else None,
                                  v.subject_id),
        "value": v.value, "numerator": v.numerator, "denominator": v.denominator,
        "n": v.denominator if defined is None or defined.denominator_is_n else None,
        "target": target,
        "attainment": attainment(v.value, target, direction),
        "below_target": below,
        "change_vs_previous": change, "change_kind": change_kind,
        "previous_value": prev.value if prev is not None else None,
        **base.as_row(),
    }


def report_rows(store: Store, values: Sequence[MetricValue], targets: Sequence[Target],
                definitions: Mapping[str, Metric], *, timezone: str = "UTC",
                now: dt.datetime | None = None, below_target: bool = False,
                declared: Mapping[str, Dimension] | None = None,
                rule: AnomalyRule | None = None) -> list[dict[str, Any]]:
    """One row per value (see the module docstring); ``below_target`` keeps only misses.
    ``declared``: the dimensions plugins declare (those of ``definitions`` count anyway).
    Each row carries its baselines and anomaly verdict (:mod:`crmsync.metrics.baselines`,
    ``rule``: ``[trends]``) from the other periods among ``values``; a relative target is
    resolved from them."""
    labels = _labels(store, values, definitions, declared or {})
    today = today_in(timezone, now)
    by_key: dict[_Key, MetricValue] = {
        (v.metric, v.dimension_value, v.subject_id, v.period_start): v for v in values}
    bases = baselines(values, rule, definitions, today)
    rows = []
    for v in values:
        defined = definitions.get(v.metric)
        target = target_for(targets, v.metric, v.period, v.dimension, v.dimension_value)
        direction = _direction(target, defined)
        base = bases.get(((v.metric, v.period, v.dimension, v.dimension_value, v.subject_id),
                          v.period_start), Baseline()) if v.period_start else Baseline()
        number = resolve(target, {"trailing_4": base.trailing, "last_year": base.last_year})
        below = is_below(v.value, target, direction, number) if target is not None else None
        if below_target and not below:
            continue
        rows.append(_row(v, defined, labels, today, number, direction, below,
                         _previous(by_key, v), base))
    return rows
