"""Built-in KPIs: activity (see docs/metrics/activity.md)."""

from __future__ import annotations

from crmsync import Metric

__all__ = ["METRICS"]

#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = ()
