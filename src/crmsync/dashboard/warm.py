"""What the live dashboard loads in the background when new data lands: the pages' default
views (organisation, snapshot, the default metric per team and per rep, activity per rep, the
data-quality records)."""

from __future__ import annotations

from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters
from crmsync.dashboard.operations import activity, data_quality
from crmsync.dashboard.sales import DEFAULT_METRIC

__all__ = ["warm_pages"]


def warm_pages(data: DashboardData) -> None:
    """Fill ``data``'s cache with what the pages show with their default filters."""
    period = data.default_period()
    data.rows(period, None)
    data.rows("all", None)
    for dimension in ("team", "owner"):  # trends and leaderboard
        data.rows(period, dimension, metric=DEFAULT_METRIC)
    owner = data.catalogue().periods
    weekly = "week" if "owner" in owner.get("week", set()) else period
    activity(data, Filters(period=weekly))  # its current period per rep
    data_quality(data, Filters(period=period))  # record lists, owner counts
