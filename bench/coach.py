"""Benchmark: coaching findings (``crmsync coach``) for every rep of the demo store, against
the scorecards they are built on (``crmsync scorecard``), in the same run.

Builds the demo store of ``--size`` once (``crmsync demo --store``, reused from the workdir),
then times, ``--runs`` times each and taking the median: the scorecards of every rep (the
baseline), one evaluation of the coaching rules that stores its findings (the first run opens
them, the later ones find them still open), and the same evaluation with ``--no-record``.
Prints the seconds, the ratio of each to the scorecards, the number of findings and reps,
and this process's peak RSS before and after the timed runs.

Usage::

    python bench/coach.py                  # large demo store, SQLite
    python bench/coach.py --size small     # smoke test
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from childproc import peak_rss_kib  # bench/ is the script dir
from demo_stores import demo_store, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "crmsync-bench"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    from crmsync import api
    from crmsync.core.config import Config
    from crmsync.plugin.registry import Registry

    url, as_of = demo_store(workdir, "coach", args.size)
    config, registry = Config(store_url=url), Registry()
    store = api.open_store(config)
    try:
        rss_before = peak_rss_kib()
        (base, _), cards = timed(args.runs, lambda: api.scorecard(
            config, registry, period="quarter", as_of=as_of, store=store))
        (recorded, _), result = timed(args.runs, lambda: api.coach(
            config, registry, period="quarter", as_of=as_of, store=store))
        (dry, _), _ = timed(args.runs, lambda: api.coach(
            config, registry, period="quarter", as_of=as_of, store=store, record=False))
        rss_after = peak_rss_kib()
    finally:
        store.dispose()
    print(f"size {args.size}: {len(cards['reps'])} reps, {len(result['rules'])} rules, "
          f"{len(result['findings'])} open findings, period {result['period_start']}")
    print(f"scorecards (baseline)   {base:7.3f} s   1.00×")
    print(f"coach (stores findings) {recorded:7.3f} s   {recorded / base:.2f}×")
    print(f"coach --no-record       {dry:7.3f} s   {dry / base:.2f}×")
    print(f"peak RSS before the timed runs {rss_before / 1024:.0f} MiB, "
          f"after {rss_after / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
