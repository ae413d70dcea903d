"""Benchmark: what baselines and the anomaly rule add to reading every stored value, and how
long ``metrics why`` takes (docs/trends.md).

Syncs the demo CRM of ``--size`` into a throw-away SQLite store (or reuses ``--store``),
computes the standard catalogue by quarter, then measures (CPU seconds of this process,
median of ``--repeat`` runs):

* ``metric_values``: reading every per-rep value of the catalogue (the baseline: what any
  report pays anyway);
* ``baselines()``: the baselines and anomaly verdicts of those values;
* ``metric_report``: the whole report (names, targets, baselines), for the ratio;
* ``why_changed``: the Shapley split of the last two ended quarters, by team.

Usage::

    python bench/trends.py --size small
    python bench/trends.py --store sqlite:////tmp/demo.db
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu(fn: Callable[[], Any], repeat: int) -> float:
    """The median CPU seconds of ``fn`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    from crmsync import api
    from crmsync.core.config import Config, ConnectionConfig, MetricsConfig
    from crmsync.metrics.baselines import baselines
    from crmsync.plugin.registry import Registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("small", "medium", "large"))
    parser.add_argument("--store", help="an existing store with the demo synced")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    registry = Registry()
    url = args.store or f"sqlite:///{Path(tempfile.mkdtemp()) / 'demo.db'}"
    config = Config(store_url=url, metrics=MetricsConfig(period="quarter"), connections={
        "demo": ConnectionConfig(name="demo", type="demo",
                                 raw={"type": "demo", "size": args.size})})
    if not args.store:
        api.sync(config, registry, ["demo"])
        api.compute_standard_metrics(config, registry, period="quarter")
    values = api.metric_values(config, period="quarter", dimension="owner", subjects=False)
    read = cpu(lambda: api.metric_values(config, period="quarter", dimension="owner",
                                         subjects=False), args.repeat)
    base = cpu(lambda: baselines(values, definitions=registry.metrics()), args.repeat)
    report = cpu(lambda: api.metric_report(config, registry, period="quarter",
                                           dimension="owner", subjects=False), args.repeat)
    starts = sorted({v.period_start for v in values if v.period_start and v.metric == "revenue"})
    first, second = starts[-2].isoformat(), starts[-1].isoformat()
    why = cpu(lambda: api.why_changed(config, registry, start=first, end=second, by="team"),
              args.repeat)
    print(f"{len(values):,} per-rep values by quarter ({args.size})")
    print(f"metric_values (read)   {read * 1000:8.1f} ms")
    print(f"baselines()            {base * 1000:8.1f} ms  ({base / read:.2f}× the read, "
          f"{base / report:.0%} of metric_report)")
    print(f"metric_report (all)    {report * 1000:8.1f} ms")
    print(f"why_changed by team    {why * 1000:8.1f} ms  ({first} → {second})")


if __name__ == "__main__":
    main()
