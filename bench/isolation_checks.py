"""Benchmark: what checking a connector's batches costs (``crmsync.sync.checks``).

Materialises every batch of the demo dataset once, then times, in the same run: a bare pass
over the records (the baseline: touching each record once), :func:`checked_batch` over every
batch, and a full sync of the same data into a fresh SQLite store. Prints each time, the
checks as a ratio of the baseline, and as a share of the sync (the figure that matters:
docs/plugins.md, "Blast radius").

Usage::

    python bench/isolation_checks.py                # the small demo dataset, best of 5
    python bench/isolation_checks.py --size medium --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.sync.checks import checked_batch


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` timings of ``run()``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("small", "medium", "large"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cls = Registry().connector("demo")
    connector = cls("demo", {"size": args.size, "seed": 42, "as_of": "2026-09-30",
                             "batch_size": 1000})

    batches = [(e, b) for e in cls.ENTITIES for b in connector.read(e, None)]
    rows = sum(len(b.records) for _, b in batches)

    def bare() -> int:
        return sum(len(r) for _, b in batches for r in b.records)

    def checked() -> None:
        for entity, batch in batches:
            checked_batch(connector, entity, batch)

    bare_s = best_of(args.repeat, bare)
    checks_s = best_of(args.repeat, checked)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            start = time.perf_counter()
            SyncEngine(store, connector).run()
            sync_s = time.perf_counter() - start
        finally:
            store.dispose()
    print(f"demo {args.size}: {rows:,} records in {len(batches)} batches")
    print(f"bare pass over the records (baseline) {bare_s:8.4f} s")
    print(f"checked_batch over every batch        {checks_s:8.4f} s  "
          f"ratio {checks_s / bare_s:.2f}")
    print(f"full sync into SQLite                 {sync_s:8.4f} s")
    print(f"the checks are {checks_s / sync_s:.2%} of the sync")

if __name__ == "__main__":
    main()
