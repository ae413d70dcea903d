"""The metric engine: runs metric SQL per period and dimension and stores the values."""

from __future__ import annotations

from crmsync.metrics.engine import MetricValue, compute, latest_values
from crmsync.plugin.context import DIMENSIONS, MetricContext

__all__ = ["DIMENSIONS", "MetricContext", "MetricValue", "compute", "latest_values"]
