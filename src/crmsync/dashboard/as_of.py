"""The dashboard's ``as_of`` filter: the KPI pages as they read at the end of a past day
(docs/dashboard.md, "As of a past date").

The values are those ``crmsync metrics compute --as-of DAY`` stored in ``metric_snapshots``
(``crmsync metrics show --as-of DAY`` prints the same rows): the dashboard reads them, it
never computes them, as it never computes current values. :class:`AsOfData` is the page data
of one day: the same names and cache as the :class:`DashboardData` it views, its rows read
from the snapshots of that day's instant, and that day as the day the current period
contains.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from crmsync import api
from crmsync.core.internal_tables import metric_snapshots
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters
from crmsync.metrics.snapshots import end_of_day

__all__ = ["AsOfData", "AS_OF_PAGES", "STORED_PAGES", "view", "as_of_messages", "missing"]

T = TypeVar("T")

#: The pages whose figures are stored metric values, shown as of the ``as_of`` day.
STORED_PAGES = frozenset({"overview", "trends", "leaderboard", "rep", "team", "funnel",
                          "pipeline", "activity", "customers", "data-quality"})
#: The pages the ``as_of`` filter applies to: those, and the forecast (rebuilt as of the
#: day, as ``crmsync forecast --as-of`` does). The others (sync health, coaching, pipeline
#: changes with its own dates) show the store as it is.
AS_OF_PAGES = STORED_PAGES | {"forecast"}


class AsOfData(DashboardData):
    """The page data of ``base`` as of the end of ``day`` (``[metrics] timezone``).

    It shares ``base``'s store, names, cache and change token; its rows are the values
    computed as of that instant; :meth:`as_of` is ``day``.
    """

    def __init__(self, base: DashboardData, day: dt.date) -> None:
        # a view: the base's state (store, cache, lock), not a second one
        self.__dict__.update(base.__dict__)
        self.base = base
        self.day = day
        self.at = end_of_day(day, base.config.metrics.timezone)

    def as_of(self) -> dt.date:
        """The as-of day: the current period is the one containing it."""
        return self.day

    def refresh(self) -> dict[str, Any]:
        """The base's change token."""
        return self.base.refresh()

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """The base's cache (keys of as-of rows name the instant)."""
        return self.base.cached(key, build)

    def has_values(self, period: str | None = None) -> bool:
        """Whether values were computed as of this day's instant (for ``period`` if
        given)."""
        def load() -> set[tuple[dt.datetime, str]]:
            ms = metric_snapshots
            with self.store.engine.connect() as conn:
                return {(at, p) for at, p in conn.execute(
                    sa.select(ms.c.snapshot_at, ms.c.period).distinct())}

        computed = self.cached("snapshot-instants", load)
        return any(at == self.at and (period is None or p == period) for at, p in computed)

    def _all_rows(self, period: str, dimension: str | None) -> list[dict[str, Any]]:
        return self.cached(("as-of rows", self.at, period, dimension), lambda: api.snapshot_report(
            self.config, self.registry, self.at, period=period, dimension=dimension,
            store=self.store))

    def rows(self, period: str, dimension: str | None = None, *,
             metric: str | None = None, of: Iterable[str] | None = None,
             subjects: bool = False, starts: Iterable[str] | None = None
             ) -> list[dict[str, Any]]:
        """:meth:`DashboardData.rows` of the values computed as of the day."""
        wanted = None if of is None else set(of)
        days = None if starts is None else set(starts)
        return [r for r in self._all_rows(period, dimension)
                if (subjects or r["subject_id"] is None)
                and (metric is None or r["metric"] == metric)
                and (wanted is None or r["dimension_value"] in wanted)
                and (days is None or r["period_start"] in days)]

    def periods(self, period: str, dimension: str | None, metrics: Sequence[str], *,
                of: Iterable[str] | None = None) -> list[dict[str, str | None]]:
        """:meth:`DashboardData.periods` of the values computed as of the day."""
        names = set(metrics)
        pairs = {(r["period_start"], r["period_end"])
                 for r in self.rows(period, dimension, of=of) if r["metric"] in names}
        return [{"period_start": a, "period_end": b}
                for a, b in sorted(pairs, key=lambda p: p[0] or "")]

    def values_by_period(self, period: str, dimension: str, of: Iterable[str]
                         ) -> dict[tuple[str, str | None], list[float | None]]:
        """:meth:`DashboardData.values_by_period` of the values computed as of the day."""
        out: dict[tuple[str, str | None], list[float | None]] = {}
        for r in self.rows(period, dimension, of=of):
            out.setdefault((r["metric"], r["period_start"]), []).append(r["value"])
        return out


def view(data: DashboardData, slug: str, f: Filters) -> DashboardData:
    """The data a page reads: ``data`` as of ``f.as_of`` on :data:`AS_OF_PAGES`, else
    ``data``."""
    if f.as_of is None or slug not in AS_OF_PAGES:
        return data
    return AsOfData(data, f.as_of)


def as_of_messages(data: DashboardData, slug: str, f: Filters) -> list[str]:
    """What a page with the ``as_of`` filter says besides its label: that this page shows
    the store as it is, or that nothing was computed as of that day."""
    if f.as_of is None or not slug:
        return []
    if slug not in AS_OF_PAGES:
        return [f"this page shows the store as it is now: 'as of {f.as_of}' applies to the "
                "KPI pages"]
    if slug in STORED_PAGES and not AsOfData(data, f.as_of).has_values(f.period):
        return [missing(f.as_of, f.period)]
    return []


def missing(day: dt.date, period: str) -> str:
    """The message for a day and period nothing was computed for."""
    return (f"no values computed as of {day} by {period}: run `crmsync metrics compute "
            f"--as-of {day} --period {period}`")
