"""Benchmark: generating the demo dataset (no store), per entity, and the process's peak RSS.

The demo connector regenerates records from per-record seeds as its streams reach them, so
memory stays flat whatever the size; this prints how long each entity's stream takes (CPU
seconds, which a shared machine's load moves less than wall time), the records it yields, and
the peak RSS at the end. Compare two versions of the generator by running this with each
(``PYTHONPATH=<other checkout>/plugins`` runs another generator with this crmsync).

Usage::

    python bench/demo_generation.py                 # large
    python bench/demo_generation.py --size medium
    python bench/demo_generation.py --cut-at 2026-07-01
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

from crmsync_demo.dataset import ENTITIES, DemoDataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--cut-at", default=None, help="an ISO date: generate the cut")
    args = parser.parse_args()
    cut = {"cut_at": dt.datetime.fromisoformat(args.cut_at)} if args.cut_at else {}
    wall, cpu = time.perf_counter(), time.process_time()
    dataset = DemoDataset(args.size, 42, dt.date(2026, 9, 30), **cut)
    total = 0
    for entity in ENTITIES:
        start = time.process_time()
        n = sum(1 for _ in dataset.records(entity))
        total += n
        print(f"{entity:<28} {n:>10,} records {time.process_time() - start:>7.2f} s CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{'all':<28} {total:>10,} records {time.process_time() - cpu:>7.2f} s CPU "
          f"({time.perf_counter() - wall:.1f} s wall), peak RSS {peak} MiB")


if __name__ == "__main__":
    main()
