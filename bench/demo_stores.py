"""What the benchmarks over a demo store share: the store, built once per workdir, and the
median timing of repeated runs."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["Timing", "demo_store", "timed"]


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
