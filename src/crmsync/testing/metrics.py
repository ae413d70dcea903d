"""Running a metric in a test exactly as ``crmsync metrics compute`` does."""

from __future__ import annotations

from typing import Any

from crmsync.core.config import MetricsConfig
from crmsync.metrics.engine import MetricValue, compute
from crmsync.plugin.metric import Metric
from crmsync.store import Store

__all__ = ["compute_metric"]


def compute_metric(store: Store, metric: Metric, *, period: str = "month",
                   dimension: str | None = None, **settings: Any) -> list[MetricValue]:
    """Compute ``metric`` over ``store`` for ``period`` and ``dimension`` (``None`` = the whole
    organisation) and return the values (also stored in ``metric_values``).

    :param settings: ``[metrics]`` settings such as ``base_currency="EUR"`` or
        ``fiscal_year_start_month=4``.
    """
    result = compute(store, [metric], MetricsConfig(**settings), period=period,
                     dimensions=(dimension,))
    return result.values
