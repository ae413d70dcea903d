"""Benchmark: SQLite building crmsync's secondary indexes after a first load, by cache size.

A first load drops a table's secondary indexes and builds them when it ends
(``crmsync.store.bulk``). SQLite's sorter keeps as much in memory as the connection's page
cache holds, so the cache size sets what the build adds to a sync's peak memory. This bench
loads ``--rows`` activities shaped like a CRM's into a store made by crmsync's migrations,
then, in a fresh process per measure (alternating sizes, ``--runs`` rounds), drops the five
indexes and times building them again, printing the seconds, the peak RSS the build added
(``ru_maxrss``), and the bytes written (``wchar``: the sorter's spill into temporary files
included; SQLite deletes them, mostly before the kernel writes them back). The baseline is
the store's own page cache (``PAGE_CACHE_KIB``, 32 MB), what the build used before
``SORT_CACHE_KIB``.

Usage::

    python bench/index_build.py                  # 300,000 rows, caches 32 MB, 8 MB, 2 MB
    python bench/index_build.py --rows 1000000 --runs 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _io() -> dict[str, int]:
    return {k: int(v) for k, v in (line.split(":") for line in open("/proc/self/io"))}


def child(db: str, cache_kib: int) -> None:
    """In a fresh process: drop the activities' secondary indexes, build them, report."""
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA cache_size=-{cache_kib}")
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                          "tbl_name = 'activities' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    con.commit()
    before, io = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, _io()
    start = time.perf_counter()
    for _, sql in indexes:
        con.execute(sql)
    con.commit()
    seconds = time.perf_counter() - start
    after = _io()
    print(json.dumps({"seconds": seconds, "indexes": len(indexes),
                      "rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
                      / 1024, "written_mb": (after["wchar"] - io["wchar"]) / 2**20}))


def build_store(db: Path, rows: int) -> None:
    from crmsync.store import Store

    store = Store(f"sqlite:///{db}")
    store.dispose()
    rng = random.Random(7)
    t0 = dt.datetime(2024, 1, 1)
    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO activities (connection, remote_id, type, subject, occurred_at, owner_id, "
        "contact_id, account_id, opportunity_id, lead_id, is_deleted, synced_at) "
        "VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        ((f"00T{i:015d}", rng.choice(("call", "email", "meeting", "task")),
          f"Follow-up {i}", (t0 + dt.timedelta(minutes=rng.randrange(10**6))).isoformat(" "),
          f"005{rng.randrange(200):015d}", f"003{rng.randrange(50_000):015d}",
          f"001{rng.randrange(20_000):015d}",
          f"006{rng.randrange(100_000):015d}" if i % 2 else None,
          f"00Q{rng.randrange(50_000):015d}" if i % 5 == 0 else None,
          t0.isoformat(" ")) for i in range(rows)))
    con.commit()
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    from crmsync.store.bulk import PAGE_CACHE_KIB, SORT_CACHE_KIB

    sizes = [PAGE_CACHE_KIB, SORT_CACHE_KIB, 2_048]
    with tempfile.TemporaryDirectory(prefix="crmsync-index-") as work:
        db = Path(work) / "store.db"
        build_store(db, args.rows)
        print(f"{args.rows:,} activities, {db.stat().st_size / 2**20:.0f} MB store; "
              f"baseline: the store's page cache ({PAGE_CACHE_KIB // 1024} MB)")
        got: dict[int, list[dict[str, float]]] = {s: [] for s in sizes}
        for _ in range(args.runs):
            for size in sizes:
                out = subprocess.run([sys.executable, __file__, "--child", str(db), str(size)],
                                     capture_output=True, text=True, check=True).stdout
                got[size].append(json.loads(out))
    base = statistics.median(r["seconds"] for r in got[PAGE_CACHE_KIB])
    for size, runs in got.items():
        secs = [r["seconds"] for r in runs]
        print(f"cache {size // 1024:3d} MB: {runs[0]['indexes']} indexes in "
              f"{' / '.join(f'{s:.2f}' for s in secs)} s (median {statistics.median(secs):.2f}, "
              f"{statistics.median(secs) / base:.2f}x the baseline), peak RSS +"
              f"{max(r['rss_mb'] for r in runs):.0f} MB, written "
              f"{statistics.median(r['written_mb'] for r in runs):.0f} MB")


if __name__ == "__main__":
    main()
