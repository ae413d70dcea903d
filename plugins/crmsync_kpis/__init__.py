"""crmsync's built-in KPIs (registered through the ``crmsync`` entry point like any plugin).

One module per family of metrics, each with a ``METRICS`` tuple; docs/metrics/<family>.md
documents each metric (formula, population, period attribution, variants, pitfalls).
"""

from __future__ import annotations

from types import ModuleType

from crmsync import Dimension, Metric, hookimpl
from crmsync_kpis import (
    activity,
    customers,
    data_quality,
    deals,
    dimensions,
    feedback,
    leads,
    pipeline,
    records,
    slippage,
    stages,
    subscriptions,
    web_traffic,
)

__all__ = ["BUILTIN_METRICS", "FAMILIES", "crmsync_register_dimensions",
           "crmsync_register_metrics"]

#: The metric families, in catalogue order.
FAMILIES = (deals, pipeline, stages, leads, activity, customers, feedback, data_quality,
            records, slippage, subscriptions, web_traffic)
BUILTIN_METRICS: tuple[type[Metric], ...] = tuple(cls for f in FAMILIES for cls in f.METRICS)


def _documented(family: ModuleType, cls: type[Metric]) -> Metric:
    """An instance of ``cls`` pointing to its section of docs/metrics/<family>.md."""
    metric = cls()
    metric.docs = f"docs/metrics/{family.__name__.rsplit('.', 1)[1]}.md#{cls.NAME}"
    return metric


@hookimpl
def crmsync_register_metrics() -> list[Metric]:
    """The built-in metric catalogue."""
    return [_documented(f, cls) for f in FAMILIES for cls in f.METRICS]


@hookimpl
def crmsync_register_dimensions() -> list[Dimension]:
    """``currency`` and ``product_line`` for the deal metrics, ``channel`` for the web traffic
    metrics (:mod:`crmsync_kpis.dimensions`)."""
    return list(dimensions.DIMENSIONS)
