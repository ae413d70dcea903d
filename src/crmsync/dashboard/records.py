"""Records behind the figures: the deals needing attention and the data-quality offenders.

Lists come from the metrics' own :meth:`crmsync.Metric.records` (the same conditions that
count them), run read-only; each record links to the CRM when its connector can build the
URL without an API call (:meth:`crmsync.Connector.record_url`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from crmsync.core.errors import CrmsyncError
from crmsync.plugin.connector import Connector
from crmsync.plugin.context import MetricContext
from crmsync.plugin.metric import Metric

if TYPE_CHECKING:  # data.py imports this module on use
    from crmsync.dashboard.data import DashboardData

__all__ = ["Record", "records_of", "ATTENTION", "record_links"]

log = logging.getLogger(__name__)

#: Deals needing attention on rep and team pages: heading → the metric listing them.
ATTENTION = {"Stale (no recent activity)": "dq_stale_opportunities",
             "Past their close date": "dq_past_close_date_open",
             "Slipped this period": "deal_slippage_rate"}


@dataclass
class Record:
    """One listed record."""

    connection: str
    entity: str
    remote_id: str
    name: str
    owner_id: str | None
    owner: str
    detail: str
    url: str | None


def _context(data: DashboardData, metric: Metric, period: str) -> MetricContext:
    cfg = data.config.metrics
    as_of = dt.datetime.combine(data.as_of(), dt.time(23, 59, 59))
    return MetricContext(dialect=data.store.dialect, period=period,
                         base_currency=cfg.base_currency, timezone=cfg.timezone,
                         fiscal_year_start_month=cfg.fiscal_year_start_month,
                         variant=cfg.definitions.get(metric.NAME),
                         # the records as they are, with their current owner: owner at close
                         # is a temporary table only the metric engine builds
                         options={k: v for k, v in cfg.options.items()
                                  if k != "closed_deal_owner"},
                         as_of=as_of)


def record_links(data: DashboardData) -> dict[str, Connector | None]:
    """A connector per configured connection that can build record URLs (``None`` when
    its settings cannot be resolved); never makes an API call."""
    out: dict[str, Connector | None] = {}
    for name, conn_cfg in data.config.connections.items():
        try:
            cls = data.registry.connector(conn_cfg.type)
            settings, _ = conn_cfg.resolve(cls)
            out[name] = cls(name, settings)
        except (CrmsyncError, Exception):  # a missing env var: no links, never an error page
            log.debug("no record links for connection %s", name)
            out[name] = None
    return out


def records_of(data: DashboardData, metric_name: str, *, period: str,
               owners: Sequence[str] | None = None) -> tuple[list[Record], int]:
    """The records behind ``metric_name`` (only those of ``owners`` if given), at most
    ``data.record_limit``, and how many there are; ``([], 0)`` if the metric lists none.
    Cached per change token."""
    data = getattr(data, "base", data)  # as of a past day too: the records as they are now
    key = ("records", metric_name, period, None if owners is None else tuple(owners),
           data.record_limit)
    return data.cached(key, lambda: _records_of(data, metric_name, period, owners))


def _records_of(data: DashboardData, metric_name: str, period: str,
                owners: Sequence[str] | None) -> tuple[list[Record], int]:
    metric = data.definitions.get(metric_name)
    if metric is None:
        return [], 0
    ctx = _context(data, metric, period if period in metric.periods else "all")
    select = metric.records(ctx)
    if select is None:
        return [], 0
    sub = select.subquery("records")
    where = [sub.c.owner_id.in_(list(owners))] if owners is not None else []
    with data.store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(sub).where(*where)).scalar()
        rows = conn.execute(sa.select(sub).where(*where).limit(data.record_limit)
                            ).mappings().all()
    names = data.catalogue().reps
    links = data.cached_links()
    out = []
    for r in rows:
        connector = links.get(r["connection"])
        url = None
        if connector is not None:
            try:
                url = connector.record_url(r["entity"], r["remote_id"])
            except Exception:  # a connector bug must not break the page
                log.exception("record_url failed for %s", r["connection"])
        detail = r["detail"]
        out.append(Record(
            connection=r["connection"], entity=r["entity"], remote_id=r["remote_id"],
            name=r["name"] or r["remote_id"], owner_id=r["owner_id"],
            owner=names.get(r["owner_id"] or "", r["owner_id"] or "(no owner)"),
            detail=detail.isoformat() if isinstance(detail, (dt.date, dt.datetime))
            else ("" if detail is None else str(detail)), url=url))
    return out, int(total or 0)


def owner_counts(data: DashboardData, metric_name: str, *, period: str = "all"
                 ) -> list[tuple[str | None, str, int]]:
    """How many records ``metric_name`` lists per owner: ``(owner id, name, count)``, most
    first (cached per change token)."""
    return data.cached(("owners", metric_name, period),
                        lambda: _owner_counts(data, metric_name, period))


def _owner_counts(data: DashboardData, metric_name: str, period: str
                  ) -> list[tuple[str | None, str, int]]:
    metric = data.definitions.get(metric_name)
    if metric is None:
        return []
    select = metric.records(_context(data, metric, period if period in metric.periods
                                     else "all"))
    if select is None:
        return []
    sub = select.subquery("records")
    with data.store.engine.connect() as conn:
        rows = conn.execute(sa.select(sub.c.owner_id, sa.func.count().label("n"))
                            .group_by(sub.c.owner_id)
                            .order_by(sa.func.count().desc(), sub.c.owner_id)).all()
    names = data.catalogue().reps
    return [(owner, names.get(owner or "", owner or "(no owner)"), int(n)) for owner, n in rows]
