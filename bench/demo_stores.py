"""What the benchmarks over a demo store share: the store, built once per workdir (by
``crmsync demo --store`` with its computed values, or by a bare sync of the demo CRM), and the
median timing of repeated runs."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["Timing", "demo_store", "sync_demo", "synced_store", "timed"]


def demo_store(workdir: Path, name: str, size: str) -> tuple[str, dt.date]:
    """The demo store of ``size`` in ``workdir`` as ``name-size.db`` (``crmsync demo
    --store``, built on the first call and reused after) and its demo result's as-of day."""
    from crmsync import api
    from crmsync.plugin.registry import Registry

    path = workdir / f"{name}-{size}.db"
    url = f"sqlite:///{path}"
    marker = workdir / f"{name}-{size}.asof"
    if not marker.exists():
        start = time.perf_counter()
        demo = api.demo(Registry(), store_url=url, size=size, period="quarter")
        marker.write_text(demo.as_of.date().isoformat(), encoding="utf-8")
        print(f"demo store ({size}) built in {time.perf_counter() - start:.1f} s")
    return url, dt.date.fromisoformat(marker.read_text(encoding="utf-8"))


def sync_demo(url: str, size: str) -> float:
    """Sync the demo CRM of ``size`` into ``url`` (nothing computed); return seconds."""
    from crmsync import api
    from crmsync.core.config import Config, ConnectionConfig
    from crmsync.plugin.registry import Registry

    config = Config(store_url=url, connections={
        "demo": ConnectionConfig(name="demo", type="demo", raw={"type": "demo", "size": size})})
    start = time.perf_counter()
    report = api.sync(config, Registry(), ["demo"])
    if not report.ok:
        raise SystemExit(f"demo sync failed: {report.error}")
    return time.perf_counter() - start


def synced_store(workdir: Path, size: str) -> Path:
    """The SQLite file ``demo-size.db`` in ``workdir`` holding a bare sync of the demo CRM
    (:func:`sync_demo` on first use, a marker file once complete; reused after)."""
    db = workdir / f"demo-{size}.db"
    marker = db.with_suffix(".complete")
    if not marker.exists():
        db.unlink(missing_ok=True)
        seconds = sync_demo(f"sqlite:///{db}", size)
        marker.write_text(f"{seconds:.1f}")
        print(f"synced demo '{size}' into {db} in {seconds:.1f} s")
    else:
        print(f"reusing {db}")
    return db


class Timing(NamedTuple):
    """Median wall and CPU seconds (this process's CPU: SQLite runs in-process)."""

    wall: float
    cpu: float


def timed(runs: int, work: Callable[[], Any]) -> tuple[Timing, Any]:
    """The median :class:`Timing` of ``runs`` calls of ``work`` and its last result."""
    wall, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing(statistics.median(wall), statistics.median(cpu)), result
