"""The dashboard's data: stored metric values as report rows, and the names behind them.

Every figure comes from :func:`crmsync.api.metric_report` — the rows ``crmsync metrics show
--json`` prints — read through a read-only store (docs/dashboard.md). What one change token
(:meth:`DashboardData.version`) describes is loaded once and cached, so pages cost a few
queries only when a sync, a metrics computation or a write-back lands.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crmsync import api
from crmsync.core.config import Config
from crmsync.core.errors import StoreError
from crmsync.core.schema import (
    accounts,
    metric_values,
    pipelines,
    stages,
    sync_runs,
    users,
    writeback_state,
)
from crmsync.dashboard.kpis import Kpi, family_of, kpi, raw_value
from crmsync.metrics.engine import latest_periods
from crmsync.plugin.metric import Metric
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.database import redact_url

__all__ = ["DashboardData", "Catalogue", "Kpi", "kpi", "family_of", "raw_value"]

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class Catalogue:
    """Names and choices for one change token: reps, teams, pipelines, stages, accounts'
    segments/regions/industries, and the periods values exist for."""

    reps: dict[str, str] = field(default_factory=dict)
    rep_team: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, str] = field(default_factory=dict)
    stages: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    industries: dict[str, str] = field(default_factory=dict)
    periods: dict[str, set[str | None]] = field(default_factory=dict)

    def choices(self, metrics: dict[str, Metric]) -> dict[str, dict[str, str]]:
        """Known values per filter (value → display name)."""
        return {"rep": self.reps, "team": self.teams, "pipeline": self.pipelines,
                "segment": self.segments, "region": self.regions,
                "industry": self.industries,
                "metric": {n: m.title or n for n, m in metrics.items()}}


def _distinct(conn: sa.Connection, column: sa.ColumnElement[Any]) -> dict[str, str]:
    table = column.table
    rows = conn.execute(sa.select(column).where(table.c.is_deleted == sa.false(),
                                                column.is_not(None)).distinct())
    return {v: v for v in sorted(r[0] for r in rows if r[0])}


def _by_metric(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by metric (in their order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["metric"], []).append(r)
    return out


def _open_read_only(url: str) -> Store:
    """The store, read-only; a clear error when it does not exist or has no schema (an
    empty SQLite file is never created)."""
    parsed = make_url(url)
    if (parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
            and not Path(parsed.database).expanduser().exists()):
            raise StoreError(f"no store at {redact_url(url)}: run `crmsync sync` (or "
                             "`crmsync demo --store URL`) first")
    store = Store(url, read_only=True)
    try:
        revision = store.current_revision()
    except sa.exc.OperationalError as exc:
        store.dispose()
        raise StoreError(f"cannot open store {redact_url(url)}: "
                         f"{str(exc.orig).strip()}") from exc
    if revision is None:
        store.dispose()
        raise StoreError(f"store {redact_url(url)} has no crmsync schema yet: run "
                         "`crmsync sync` first")
    return store


class DashboardData:
    """Read-only access to one store for the dashboard and the report.

    :param config: the configuration (store URL, ``[metrics]``, ``[targets]``).
    :param registry: the plugins (metric definitions, connectors, panels).
    :param as_of: the day the "current period" contains (default: today, UTC).
    :param store: a store to read (default: the configured one, opened read-only).
    """

    def __init__(self, config: Config, registry: Registry, *, as_of: dt.date | None = None,
                 store: Store | None = None) -> None:
        self.config = config
        self.registry = registry
        self.fixed_as_of = as_of
        self.own_store = store is None
        self.store = store or _open_read_only(config.store_url)
        self.definitions = registry.metrics()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._cache: dict[Any, Any] = {}
        self._building: dict[Any, threading.Event] = {}
        self._links: dict[str, Any] | None = None
        #: At most this many records per list (the report lists fewer).
        self.record_limit = 200
        #: Loads what the pages show by default, run in the background when the token
        #: changes (the live dashboard sets it: :func:`crmsync.dashboard.warm.warm_pages`).
        self.warmer: Callable[[DashboardData], None] | None = None

    @property
    def currency(self) -> str:
        """The base currency values are in."""
        return self.config.metrics.base_currency

    def as_of(self) -> dt.date:
        """The day the current period contains."""
        return self.fixed_as_of or dt.datetime.now(dt.timezone.utc).date()

    def close(self) -> None:
        """Release the store's connections (if this object opened it)."""
        if self.own_store:
            self.store.dispose()

    def cached_links(self) -> dict[str, Any]:
        """Per connection, a connector that builds record URLs (or ``None``); built once."""
        if self._links is None:
            from crmsync.dashboard.records import record_links

            self._links = record_links(self)
        return self._links

    # -- change token ---------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """``synced_at``, ``computed_at`` (ISO, or None) and an opaque ``token`` that
        changes whenever a sync, metrics computation or write-back lands."""
        with self.store.engine.connect() as conn:
            run = conn.execute(sa.select(sa.func.max(sync_runs.c.id),
                                         sa.func.max(sync_runs.c.ended_at))).one()
            last_value = conn.execute(sa.select(sa.func.max(metric_values.c.id))).scalar()
            computed = (conn.execute(sa.select(metric_values.c.computed_at)
                                     .where(metric_values.c.id == last_value)).scalar()
                        if last_value is not None else None)
            written = conn.execute(sa.select(sa.func.count(), sa.func.max(
                writeback_state.c.updated_at))).one()
        token = f"{run[0] or 0}.{last_value or 0}.{written[0]}.{written[1] or ''}"
        return {"synced_at": run[1].isoformat() if run[1] else None,
                "computed_at": computed.isoformat() if computed else None,
                "token": token}

    def refresh(self) -> dict[str, Any]:
        """Check the change token (once per page): a new one drops the cached data.
        Returns :meth:`version`."""
        version = self.version()
        with self._lock:
            changed = version["token"] != self._token
            if changed:
                self._cache.clear()
                self._token = version["token"]
        if changed and self.warmer is not None:
            self.warm()
        return version

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``'s result, kept until the change token moves.

        Concurrent callers of one key share one build: the first builds, the others wait
        for its result (twenty clients opening the dashboard at once load its rows once).
        A result built under a token that has moved since is returned but not kept."""
        while True:
            with self._lock:
                if key in self._cache:  # kept by this method for this key: a T
                    return cast(T, self._cache[key])
                pending = self._building.get(key)
                if pending is None:
                    pending = self._building[key] = threading.Event()
                    token = self._token
                    break
            pending.wait()  # another thread builds it: take its result (or retry)
        try:
            value = build()
        except BaseException:
            with self._lock:
                del self._building[key]
            pending.set()
            raise
        with self._lock:
            if self._token == token:
                self._cache[key] = value
            del self._building[key]
        pending.set()
        return value

    # -- names ----------------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        """Names and filter choices (cached per change token)."""
        return self.cached("catalogue", self._load_catalogue)

    def _load_catalogue(self) -> Catalogue:
        cat = Catalogue()
        with self.store.engine.connect() as conn:
            for rid, name, team in conn.execute(
                    sa.select(users.c.remote_id, users.c.name, users.c.team)
                    .order_by(users.c.is_deleted.desc(), users.c.id)):
                cat.reps[rid] = name or rid
                if team:
                    cat.rep_team[rid] = team
            cat.teams = {t: t for t in sorted(set(cat.rep_team.values()))}
            for rid, label in conn.execute(sa.select(pipelines.c.remote_id, pipelines.c.label)
                                           .order_by(pipelines.c.display_order)):
                cat.pipelines[rid] = label or rid
            for rid, label, pipe, order in conn.execute(
                    sa.select(stages.c.remote_id, stages.c.label, stages.c.pipeline_id,
                              stages.c.display_order).where(stages.c.is_deleted == sa.false())):
                cat.stages[rid] = (label or rid, pipe, order or 0)
            cat.segments = _distinct(conn, accounts.c.segment)
            cat.regions = _distinct(conn, accounts.c.region)
            cat.industries = _distinct(conn, accounts.c.industry)
            for period, dimension in conn.execute(
                    sa.select(metric_values.c.period, metric_values.c.dimension).distinct()):
                cat.periods.setdefault(period, set()).add(dimension)
        cat.reps = dict(sorted(cat.reps.items(), key=lambda kv: kv[1].lower()))
        return cat

    def default_period(self) -> str:
        """The configured period if values exist for it, else the one most values have."""
        periods = self.catalogue().periods
        wanted = self.config.metrics.period
        if wanted in periods or not periods:
            return wanted if wanted != "all" else "quarter"
        for p in ("quarter", "month", "week", "year", "day"):
            if p in periods:
                return p
        return wanted

    # -- rows -----------------------------------------------------------------------------

    def rows(self, period: str, dimension: str | None = None, *,
             metric: str | None = None, of: Iterable[str] | None = None,
             subjects: bool = False, starts: Iterable[str] | None = None
             ) -> list[dict[str, Any]]:
        """The report rows (``metrics show --json``) of one period and dimension: of one
        metric, of the dimension values ``of`` and of the periods starting on ``starts``
        (ISO days) if given, with the per-subject values (per stage, per record) only if
        ``subjects``.

        The database does the filtering: a page reads only what it shows. Each distinct
        request is loaded once per change token; when the whole period and dimension is
        cached already, filtered requests are served from it."""
        wanted = None if of is None else frozenset(of)
        days = None if starts is None else frozenset(starts)
        whole = ("rows", period, dimension, subjects, None, None, None)
        with self._lock:
            cached: list[dict[str, Any]] | None = self._cache.get(whole)
        if cached is not None:
            if metric is None and wanted is None and days is None:
                return cached
            chosen = cached if metric is None else self.cached(
                ("by-metric", period, dimension, subjects), lambda: _by_metric(cached)
            ).get(metric, [])
            return [r for r in chosen if (wanted is None or r["dimension_value"] in wanted)
                    and (days is None or r["period_start"] in days)]
        key = ("rows", period, dimension, subjects, metric, wanted, days)
        return self.cached(key, lambda: api.metric_report(
            self.config, self.registry, metric=metric, period=period, dimension=dimension,
            store=self.store, dimension_values=wanted, subjects=subjects,
            period_starts=None if days is None else {dt.date.fromisoformat(d) for d in days}))

    def periods(self, period: str, dimension: str | None, metrics: Sequence[str], *,
                of: Iterable[str] | None = None) -> list[dict[str, str | None]]:
        """The periods the aggregate values of ``metrics`` (of the dimension values ``of``
        if given) exist for, as ``period_start``/``period_end`` (ISO) pairs, oldest first:
        which period is current, without loading the values (cached per change token)."""
        wanted = None if of is None else frozenset(of)

        def build() -> list[dict[str, str | None]]:
            pairs = latest_periods(self.store, metric=list(metrics), period=period,
                                   dimension=dimension, dimension_values=wanted,
                                   subjects=False)
            return [{"period_start": a.isoformat() if a else None,
                     "period_end": b.isoformat() if b else None} for a, b in pairs]

        return self.cached(("periods", period, dimension, tuple(metrics), wanted), build)

    def values_by_period(self, period: str, dimension: str, of: Iterable[str]
                         ) -> dict[tuple[str, str | None], list[float | None]]:
        """The stored aggregate values of the dimension values ``of``, per (metric, period
        start): the inputs of a peer median, without building report rows (cached per
        change token)."""
        wanted = frozenset(of)

        def build() -> dict[tuple[str, str | None], list[float | None]]:
            out: dict[tuple[str, str | None], list[float | None]] = {}
            for v in api.metric_values(self.config, period=period, dimension=dimension,
                                       store=self.store, dimension_values=wanted,
                                       subjects=False):
                start = v.period_start.isoformat() if v.period_start else None
                out.setdefault((v.metric, start), []).append(v.value)
            return out

        return self.cached(("values", period, dimension, wanted), build)

    def warm(self) -> threading.Thread:
        """Run :attr:`warmer` in a background thread, so the first visit of a page after new
        data lands is fast."""
        def load() -> None:
            try:
                if self.warmer is not None:
                    self.warmer(self)
            except Exception:  # a store being migrated or gone: pages will say so
                log.debug("warming the dashboard cache failed", exc_info=True)

        thread = threading.Thread(target=load, name="crmsync-dashboard-warm", daemon=True)
        thread.start()
        return thread

    def kpis(self, rows: Iterable[dict[str, Any]]) -> list[Kpi]:
        """Display forms of ``rows``."""
        return [kpi(r, self.currency) for r in rows]

    def current(self, rows: Sequence[dict[str, Any]], as_of: dt.date
                ) -> dict[tuple[str, str | None, str | None], dict[str, Any]]:
        """Per (metric, dimension value, subject): the row of the period containing
        ``as_of`` (period ``all``: its only row); else the latest one starting before."""
        best: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
        day = as_of.isoformat()
        for r in rows:
            start, end = r["period_start"], r["period_end"]
            if start is not None and start > day:
                continue
            key = (r["metric"], r["dimension_value"], r["subject_id"])
            held = best.get(key)
            if held is None or (start or "") > (held["period_start"] or ""):
                best[key] = r
            if start is not None and end is not None and start <= day < end:
                best[key] = r
        return best

    def periods_of(self, rows: Iterable[dict[str, Any]], as_of: dt.date,
                   last: int = 8) -> list[str]:
        """The ``last`` period starts up to ``as_of`` found in ``rows`` (oldest first)."""
        day = as_of.isoformat()
        starts = sorted({r["period_start"] for r in rows
                         if r["period_start"] and r["period_start"] <= day})
        return starts[-last:]
