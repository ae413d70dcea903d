"""Benchmark: themes of every text of the demo store (``crmsync themes``), against a bare
``SELECT`` of the same texts, in the same run.

Builds the demo store of ``--size`` once (``crmsync demo --store``, reused from the workdir),
then times, ``--runs`` times each and taking the median:

* the baseline: reading every text of the analysed sources (the ``SELECT`` the analysis
  starts with, rows fetched into a list);
* a full analysis (``--full``: every text analysed and written again);
* an incremental analysis with nothing new (what a scheduled run costs most days);
* the theme metrics by rep (``--by owner``) for the latest quarter, quotes included;
* the theme metrics and quotes of one rep at a time (``--rep``, what the dashboard's
  customers page filtered to a rep asks), over ``--reps`` reps that own texts (the large
  store has about 1,500 users), and that time scaled to every rep owning texts.

Prints the seconds, the ratio of each to the baseline, the counts, and this process's peak
RSS before and after the timed runs.

Usage::

    python bench/themes.py                  # large demo store, SQLite
    python bench/themes.py --size small     # smoke test
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from childproc import peak_rss_kib  # bench/ is the script dir
from demo_stores import demo_store, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=25, help="reps timed one at a time")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "crmsync-bench"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    from crmsync import api
    from crmsync.core.config import Config
    from crmsync.metrics.themes_config import DEFAULT_SOURCES
    from crmsync.metrics.themes_store import read_texts
    from crmsync.orchestration.scorecards import store_reps
    from crmsync.plugin.registry import Registry

    url, as_of = demo_store(workdir, "themes", args.size)
    config, registry = Config(store_url=url), Registry()
    store = api.open_store(config)

    def select_texts() -> int:
        with store.engine.connect() as conn:
            return len(list(read_texts(conn, DEFAULT_SOURCES)))

    def some_reps() -> int:
        for rep in owners[:args.reps]:
            api.themes(config, registry, period="quarter", as_of=as_of, rep=rep,
                       analyse=False, store=store)
        return min(len(owners), args.reps)

    try:
        rss_open = peak_rss_kib()
        first = time.perf_counter()
        api.analyse_texts(config, registry, store=store)  # the table filled once
        first = time.perf_counter() - first
        with store.engine.connect() as conn:
            owners = sorted(str(o) for (o,) in conn.execute(sa.text(
                "select distinct owner_id from opportunities where owner_id is not null "
                "union select distinct owner_id from activities where owner_id is not null")))
        users = len(store_reps(store))
        rss_before = peak_rss_kib()
        (base, _), texts = timed(args.runs, select_texts)
        (full, _), counts = timed(args.runs, lambda: api.analyse_texts(
            config, registry, store=store, full=True))
        (incremental, _), again = timed(args.runs, lambda: api.analyse_texts(
            config, registry, store=store))
        (by_owner, _), result = timed(args.runs, lambda: api.themes(
            config, registry, period="quarter", as_of=as_of, by="owner", analyse=False,
            store=store))
        (per_rep, _), n_reps = timed(args.runs, some_reps)
        rss_after = peak_rss_kib()
    finally:
        store.dispose()
    print(f"size {args.size}: {texts:,} texts ({counts['distinct']:,} distinct), "
          f"{users:,} users, {len(owners):,} owning deals or calls, "
          f"{len(result['groups'])} rep × source rows, "
          f"period {result['period_start']}; incremental run analysed {again['analysed']}")
    print(f"first analysis of the store      {first:7.3f} s (once)")
    print(f"SELECT of the texts (baseline)   {base:7.3f} s   1.00×")
    print(f"full analysis (--full)           {full:7.3f} s   {full / base:.2f}×")
    print(f"incremental analysis, no change  {incremental:7.3f} s   {incremental / base:.2f}×")
    print(f"theme metrics --by owner         {by_owner:7.3f} s   {by_owner / base:.2f}×")
    each = per_rep / max(n_reps, 1)
    print(f"one rep (--rep), median of {n_reps}  {each:7.3f} s   {each / base:.2f}×")
    print(f"… scaled to all {len(owners):,} reps     {each * len(owners):7.1f} s")
    print(f"peak RSS with the store open {rss_open / 1024:.0f} MiB, before the timed runs "
          f"{rss_before / 1024:.0f} MiB, after {rss_after / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
