"""The metric interface (design.md §3): data plus SQL.

Placeholder replaced below.
"""
from __future__ import annotations

__all__ = ["Metric", "MetricContext"]


class Metric:  # pragma: no cover - replaced
    NAME = ""


class MetricContext:  # pragma: no cover - replaced
    pass
