"""Benchmark: ``crmsync forecast`` and ``crmsync forecast --accuracy`` on the demo CRM
(default ``large``), against baselines measured in the same run.

The demo dataset is synced once into ``<workdir>/demo-<size>.db`` and reused. When the store
has no ``opportunity_field_history`` (the demo does not produce one yet), a synthetic history
is inserted by SQL: a ``stage_id`` change for every stage entry after the first (from the
stage history), a close date pushed 30 days for every third deal and an amount resized by a
quarter for every fifth.

Timed (best of ``--repeat``), through the API functions the CLI calls, by owner:

- ``forecast`` of the demo's current quarter from the stored deals;
- ``forecast --as-of`` a day mid-quarter, the deals rebuilt from history;
- ``forecast --accuracy`` of the last ended quarter (rebuilt at its start and each week),
  its instants rebuilt at once (``READERS`` at a time) and one after the other;
- the dashboard's forecast page built from nothing, its five reads at once and one after
  the other;
- the CLI end to end (``crmsync forecast --by owner --as-of …`` and ``--accuracy``), once.

Baselines: a bare scan of the deals and both histories (``count``/``sum``), and one full
``opportunities_as_of`` (the as-of building block alone, counted).

Usage::

    python bench/forecast.py                 # large dataset
    python bench/forecast.py --size small    # smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from demo_stores import synced_store  # bench/ is the script dir

AS_OF = dt.date(2026, 9, 29)  # the demo dataset's today
NOW = dt.datetime(2026, 9, 30)

SYNTHETIC = (
    # a stage change for every entry after a deal's first
    """INSERT INTO opportunity_field_history (connection, remote_id, is_deleted, synced_at,
           opportunity_id, field, changed_at, old_value, new_value, source)
       SELECT connection, 'syn-st-' || id, 0, '2026-09-30 00:00:00.000000', opportunity_id,
              'stage_id', entered_at, prev, stage_id, 'crm'
       FROM (SELECT h.*, lag(stage_id) OVER (PARTITION BY connection, opportunity_id
                                             ORDER BY entered_at, id) AS prev
             FROM opportunity_stage_history h WHERE is_deleted = 0) AS s
       WHERE prev IS NOT NULL""",
    # every third deal's close date pushed by 30 days halfway to it
    """INSERT INTO opportunity_field_history (connection, remote_id, is_deleted, synced_at,
           opportunity_id, field, changed_at, old_value, new_value, source)
       SELECT connection, 'syn-cd-' || id, 0, '2026-09-30 00:00:00.000000', remote_id,
              'expected_close_date',
              strftime('%Y-%m-%d %H:%M:%S.000000', julianday(remote_created_at)
                       + max(julianday(expected_close_date) - julianday(remote_created_at), 2)
                       / 2),
              date(expected_close_date, '-30 days'), date(expected_close_date), 'crm'
       FROM opportunities
       WHERE id % 3 = 0 AND expected_close_date IS NOT NULL AND remote_created_at IS NOT NULL""",
    # every fifth deal resized three days after its creation
    """INSERT INTO opportunity_field_history (connection, remote_id, is_deleted, synced_at,
           opportunity_id, field, changed_at, old_value, new_value, source)
       SELECT connection, 'syn-am-' || id, 0, '2026-09-30 00:00:00.000000', remote_id,
              'amount', strftime('%Y-%m-%d %H:%M:%S.000000', remote_created_at, '+3 days'),
              printf('%.1f', amount * 0.75), printf('%.1f', amount), 'crm'
       FROM opportunities
       WHERE id % 5 = 0 AND amount IS NOT NULL AND remote_created_at IS NOT NULL""",
)


def sqlite_store(workdir: Path, size: str) -> str:
    """The cached SQLite store of the demo dataset (synced on first use), as a URL."""
    return f"sqlite:///{synced_store(workdir, size)}"


def ensure_history(engine: sa.Engine) -> int:
    """Insert the synthetic field history when the store has none; its row count."""
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM opportunity_field_history")).scalar()
        if not rows:
            for statement in SYNTHETIC:
                conn.execute(sa.text(statement))
            rows = conn.execute(sa.text("SELECT count(*) FROM opportunity_field_history")
                                ).scalar()
            print(f"inserted a synthetic field history: {rows:,} changes")
        conn.exec_driver_sql("ANALYZE")
    return int(rows or 0)


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def cli_seconds(url: str, *args: str) -> float:
    """``crmsync forecast ARGS`` end to end in a child process (start-up included)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crmsync.toml"
        path.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
        crmsync = str(Path(sys.executable).parent / "crmsync")
        start = time.perf_counter()
        done = subprocess.run([crmsync, "--config", str(path), "forecast", *args],
                              capture_output=True, text=True, check=False,
                              env=dict(os.environ, COLUMNS="80"))
        seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"crmsync forecast {' '.join(args)} failed: {done.stderr}")
    return seconds


def one_at_a_time(fn: Callable[[], Any]) -> Any:
    """``fn()`` with the accuracy's instants rebuilt one after the other (``READERS = 1``),
    as before they ran at once."""
    from crmsync.orchestration import readers

    before = readers.READERS
    readers.READERS = 1
    try:
        return fn()
    finally:
        readers.READERS = before


def dashboard_page(config: Any) -> Any:
    """The dashboard's forecast page built from nothing (a new :class:`DashboardData`, so
    nothing cached): the forecast and four ended periods' accuracy at their starts."""
    from crmsync.dashboard.data import DashboardData
    from crmsync.dashboard.filters import Filters
    from crmsync.dashboard.forecast import forecast_page
    from crmsync.plugin.manager import get_plugin_manager
    from crmsync.plugin.registry import Registry

    data = DashboardData(config, Registry(get_plugin_manager()), as_of=AS_OF)
    try:
        return forecast_page(data, Filters())
    finally:
        data.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "crmsync-bench")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    from crmsync import api, opportunities_as_of
    from crmsync.core.config import Config
    from crmsync.store import Store

    url = sqlite_store(args.workdir, args.size)
    store = Store(url)
    changes = ensure_history(store.engine)
    config = Config(store_url=url)
    with store.engine.connect() as conn:
        deals = conn.execute(sa.text("SELECT count(*) FROM opportunities")).scalar_one()
        entries = conn.execute(sa.text("SELECT count(*) FROM opportunity_stage_history")
                               ).scalar_one()
    print(f"{args.size}: {deals:,} deals, {entries:,} stage entries, {changes:,} field changes")

    def scan() -> Any:
        with store.engine.connect() as conn:
            return [conn.execute(sa.text(q)).all() for q in (
                "SELECT count(*), sum(amount) FROM opportunities",
                "SELECT count(*), max(changed_at) FROM opportunity_field_history",
                "SELECT count(*), max(entered_at) FROM opportunity_stage_history")]

    def as_of_once() -> Any:
        rebuilt = opportunities_as_of(store.dialect, dt.datetime(2026, 8, 15)).subquery()
        with store.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count(), sa.func.sum(rebuilt.c.amount))
                                .select_from(rebuilt)).one()

    runs: list[tuple[str, Callable[[], Any]]] = [
        ("baseline: bare scan of deals + histories", scan),
        ("baseline: one opportunities_as_of, counted", as_of_once),
        ("forecast --by owner (stored deals)", lambda: api.forecast(
            config, by="owner", store=store, now=NOW)),
        ("forecast --by owner --as-of 2026-08-15", lambda: api.forecast(
            config, by="owner", as_of=dt.date(2026, 8, 15), store=store, now=NOW)),
        ("forecast --accuracy --by owner (2026-Q2)", lambda: api.forecast_accuracy(
            config, by="owner", store=store, now=NOW)),
        ("  the same, one instant at a time", lambda: one_at_a_time(
            lambda: api.forecast_accuracy(config, by="owner", store=store, now=NOW))),
        ("dashboard /forecast, first build (5 reads)", lambda: dashboard_page(config)),
        ("  the same, one read at a time", lambda: one_at_a_time(
            lambda: dashboard_page(config))),
    ]
    seconds: dict[str, float] = {}
    for name, fn in runs:
        seconds[name], result = best(fn, args.repeat)
        extra = ""
        if isinstance(result, dict) and "weeks" in result:
            extra = f" ({len(result['weeks'])} rebuilt instants)"
        print(f"{name:48} {seconds[name]:8.3f} s{extra}")
    scan_s = seconds[runs[0][0]]
    as_of_s = seconds[runs[1][0]]
    for name, _ in runs[2:]:
        print(f"  {name}: {seconds[name] / scan_s:6.1f}× the bare scan, "
              f"{seconds[name] / as_of_s:5.2f}× one as-of rebuild")
    print(f"CLI end to end: forecast --by owner --as-of {AS_OF}: "
          f"{cli_seconds(url, '--by', 'owner', '--as-of', AS_OF.isoformat()):.2f} s; "
          f"--accuracy --by owner --as-of 2026-06-30: "
          f"{cli_seconds(url, '--accuracy', '--by', 'owner', '--as-of', '2026-06-30'):.2f} s")
    store.dispose()


if __name__ == "__main__":
    main()
