"""Benchmark: a sales manager's Monday on the demo store — the scorecards, the coaching
findings and the themes customers raise, for every rep — against a bare scan of the rows
they read, in the same run.

Builds the demo store of ``--size`` once (``crmsync demo --store``, which also analyses the
texts; reused from the workdir), then times, ``--runs`` times each and taking the median:

* the baseline: a bare ``SELECT`` of what the three read (every opportunity's and
  activity's owner, dates and amount, and every analysed text's row), fetched into Python;
* the scorecards of every rep (``crmsync scorecard``);
* the coaching findings of every rep, stored (``crmsync coach``);
* the theme metrics of every rep with the organisation's quotes (``crmsync themes --by
  owner``, the analysis already done);
* the three together.

Then the peak RSS of an incremental text analysis with nothing new (what ``crmsync themes``
runs first), each in a child process of its own: on the ``small`` store and on ``--size``'s,
to show whether it grows with the store.

Usage::

    python bench/manager_views.py                  # large demo store, SQLite
    python bench/manager_views.py --size small     # smoke test
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from childproc import peak_rss_kib, report_rss  # bench/ is the script dir
from demo_stores import demo_store, timed


def bare_scan(engine: sa.Engine) -> int:
    """The rows the three views read, fetched and dropped: the baseline."""
    n = 0
    with engine.connect() as conn:
        for query in ("select owner_id, remote_created_at, closed_at, status, amount_base "
                      "from opportunities where is_deleted = 0",
                      "select owner_id, occurred_at, type from activities where is_deleted = 0",
                      "select owner_id, occurred_at, theme, sentiment, nps_score "
                      "from text_themes"):
            for _ in conn.execute(sa.text(query)).yield_per(10_000):
                n += 1
    return n


def child_analysis(url: str) -> None:
    """In a child process: an incremental analysis with nothing new, then its peak RSS."""
    from crmsync import api
    from crmsync.core.config import Config
    from crmsync.plugin.registry import Registry

    counts = api.analyse_texts(Config(store_url=url), Registry())
    print(f"TEXTS={counts['texts']} ANALYSED={counts['analysed']}")
    report_rss()


def analysis_rss(url: str) -> tuple[int, int]:
    """Texts and peak RSS (KiB) of :func:`child_analysis` run on ``url``."""
    out = subprocess.run([sys.executable, __file__, "--child-analysis", url],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    texts = int(next(x for x in out if x.startswith("TEXTS=")).split()[0].split("=")[1])
    return texts, int(out[-1].split("=")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "crmsync-bench"))
    parser.add_argument("--child-analysis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_analysis:
        child_analysis(args.child_analysis)
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    from crmsync import api
    from crmsync.core.config import Config
    from crmsync.plugin.registry import Registry

    url, as_of = demo_store(workdir, "manager", args.size)
    config, registry = Config(store_url=url), Registry()
    store = api.open_store(config)

    def scorecards() -> Any:
        return api.scorecard(config, registry, period="quarter", as_of=as_of, store=store)

    def findings() -> Any:
        return api.coach(config, registry, period="quarter", as_of=as_of, store=store)

    def themes() -> Any:
        return api.themes(config, registry, period="quarter", as_of=as_of, by="owner",
                          analyse=False, store=store)

    try:
        rss_open = peak_rss_kib()
        base, rows = timed(args.runs, lambda: bare_scan(store.engine))
        cards_s, cards = timed(args.runs, scorecards)
        coach_s, coach = timed(args.runs, findings)
        themes_s, result = timed(args.runs, themes)
        total, _ = timed(args.runs, lambda: (scorecards(), findings(), themes()))
        rss_after = peak_rss_kib()
    finally:
        store.dispose()
    print(f"size {args.size}: {len(cards['reps'])} reps with a scorecard, "
          f"{len(coach['findings'])} open findings, {len(result['groups'])} rep × source "
          f"theme rows, period {result['period_start']}; baseline read {rows:,} rows")
    print(f"{'':<37} {'wall':>9}  {'ratio':>6} {'CPU':>9}  {'ratio':>6}")
    for label, (wall, cpu) in (("bare scan of the rows read (baseline)", base),
                               ("scorecards of every rep", cards_s),
                               ("coaching findings of every rep", coach_s),
                               ("themes of every rep (--by owner)", themes_s),
                               ("the three together", total)):
        print(f"{label:<37} {wall:7.3f} s  {wall / base[0]:5.2f}× {cpu:7.3f} s  "
              f"{cpu / base[1]:5.2f}×")
    print(f"peak RSS with the store open {rss_open / 1024:.0f} MiB, after the timed runs "
          f"{rss_after / 1024:.0f} MiB")
    sizes = ["small"] if args.size == "small" else ["small", args.size]
    for size in sizes:
        texts, kib = analysis_rss(demo_store(workdir, "manager", size)[0])
        print(f"incremental analysis, nothing new, {size:<6} {texts:>9,} texts: "
              f"peak RSS {kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
