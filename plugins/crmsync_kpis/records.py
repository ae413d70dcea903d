"""Built-in KPIs: records (see docs/metrics/records.md)."""

from __future__ import annotations

from crmsync import Metric

__all__ = ["METRICS"]

#: The metrics this module defines, in catalogue order.
METRICS: tuple[type[Metric], ...] = ()
