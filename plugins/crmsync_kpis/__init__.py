"""crmsync's built-in KPIs (registered through the ``crmsync`` entry point like any plugin)."""

from __future__ import annotations

from crmsync import Metric, hookimpl
from crmsync_kpis.deals import AvgDealSize, SalesCycleDays, WinRate

__all__ = ["BUILTIN_METRICS", "crmsync_register_metrics"]

BUILTIN_METRICS: tuple[type[Metric], ...] = (WinRate, AvgDealSize, SalesCycleDays)


@hookimpl
def crmsync_register_metrics() -> list[Metric]:
    """The built-in metric catalogue."""
    return [cls() for cls in BUILTIN_METRICS]
