"""``crmsync demo``: the demo CRM synced and computed in a throw-away store.

See docs/architecture.md.
"""


from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmsync.core.config import Config, ConnectionConfig
from crmsync.core.errors import ConnectorError
from crmsync.core.reports import (
    RunReport,
)
from crmsync.metrics.engine import ComputeResult
from crmsync.metrics.themes_config import THEMES
from crmsync.orchestration.connections import open_store
from crmsync.orchestration.runs import compute_metrics, sync
from crmsync.orchestration.themes import analyse_texts
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.sync.engine import ProgressCallback

if TYPE_CHECKING:
    pass


@dataclass
class DemoResult:
    """What ``crmsync demo`` did."""

    store_url: str
    kept: bool
    sync: RunReport
    metrics: ComputeResult
    by_team: ComputeResult
    snapshot: ComputeResult
    period: str
    as_of: dt.datetime
    #: How many per-rep values the demo stored (not kept in memory).
    by_owner: int = 0
    #: What ``demo(then=…)`` returned.
    then_result: Any = None


#: Activity counts the demo also computes per rep and week (the dashboard's activity page).
DEMO_WEEKLY_METRICS = ("calls", "emails", "meetings", "tasks")


#: Open pipeline the demo also computes per stage and per pipeline (the dashboard's pipeline
#: page).
DEMO_STAGE_METRICS = ("pipeline_value", "weighted_pipeline_value")


def _dashboard_extras(config: Config, registry: Registry, store: Store, period: str,
                      as_of: dt.datetime) -> None:
    """The open pipeline per stage and pipeline (the dashboard's pipeline page), the
    activity counts per rep and week (its activity page) and the themes of the texts (its
    customers page; docs/themes.md)."""
    by_stage = [n for n in DEMO_STAGE_METRICS if n in registry.metrics()]
    if by_stage:
        compute_metrics(config, registry, by_stage, period=period,
                        dimensions=("stage", "pipeline"), store=store, as_of=as_of,
                        keep_values=False)
    weekly = [n for n in DEMO_WEEKLY_METRICS if n in registry.metrics()]
    if weekly and period != "week":
        compute_metrics(config, registry, weekly, period="week", dimensions=(None, "owner"),
                        store=store, as_of=as_of, keep_values=False)
    if THEMES.get(config).analyser in registry.analysers():  # the default one is installed
        analyse_texts(config, registry, store=store, now=as_of)


def demo(registry: Registry, *, store_url: str | None = None, size: str = "small",
         period: str = "quarter", progress: ProgressCallback | None = None,
         then: Callable[[Config, dt.datetime], Any] | None = None) -> DemoResult:
    """Sync the demo CRM into a store (a throw-away one unless ``store_url``), compute every
    registered metric by ``period`` for the organisation, per team and per rep (and the
    activity counts per rep and week, the open pipeline per stage and pipeline), and the
    snapshot metrics (period ``all``), all as of the demo dataset's own "today"; return it
    all.

    :param then: called with the demo store's configuration and "today" once everything is
        computed, before a throw-away store is removed (``crmsync demo`` writes the HTML
        report with it, ``crmsync demo --dashboard`` serves the dashboard); its result is
        ``DemoResult.then_result``.
    """
    tmp = None if store_url else tempfile.mkdtemp(prefix="crmsync-demo-")
    url = store_url or f"sqlite:///{Path(tmp or '.') / 'crmsync-demo.db'}"
    source = registry.demo_connector()
    config = Config(store_url=url, connections={
        "demo": ConnectionConfig(name="demo", type=source.NAME,
                                 raw={"type": source.NAME, "size": size}),
    })
    store = open_store(config)
    try:
        report = sync(config, registry, ["demo"], progress=progress, store=store)
        if not report.ok:
            raise ConnectorError(f"demo sync failed: {report.error}", connection="demo")
        as_of = dt.datetime.fromisoformat(str(source.DEMO_AS_OF))
        org = compute_metrics(config, registry, period=period, store=store, as_of=as_of)
        teams = compute_metrics(config, registry, period=period, dimensions=("team",),
                                store=store, as_of=as_of)
        # per rep (the dashboard's leaderboard and rep pages) and the activity counts per
        # rep and week (its activity page)
        owners = compute_metrics(config, registry, period=period, dimensions=("owner",),
                                 store=store, as_of=as_of, keep_values=False)
        _dashboard_extras(config, registry, store, period, as_of)
        snapshot_names = [n for n, m in registry.metrics().items()
                          if m.subject == "org" and period not in m.periods
                          and "all" in m.periods]
        snapshot = compute_metrics(config, registry, snapshot_names, period="all", store=store,
                                   as_of=as_of)
        result = DemoResult(store_url=url, kept=tmp is None, sync=report, metrics=org,
                            by_team=teams, snapshot=snapshot, period=period, as_of=as_of,
                            by_owner=owners.stored)
        if then is not None:
            store.dispose()  # the callback opens the store its own way (read-only)
            result.then_result = then(config, as_of)
        return result
    finally:
        store.dispose()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
