"""Benchmark: the cost of observed field history (docs/history.md) on an incremental sync of
deals, SQLite and PostgreSQL, against the same sync with observation off, in the same run.

A CSV of ``--rows`` deals is loaded (a first load), then a second version in which
``--changed`` of them have a new amount and close date (and a later ``remote_updated_at``) is
synced: by one connection that observes every tracked field (the files connector without a
history file) and by one that observes none (``history_fields`` naming every tracked field:
the strongest baseline, the very same sync without the observation's query and rows). Each
measurement starts from a fresh store; the two alternate, best of ``--repeat``.

Prints, per dialect, the second sync's seconds (wall and this process's CPU) with and without
observation, their ratios, and the observed rows written.

Usage::

    python bench/observed_history.py                 # 200k deals, 10% changed
    python bench/observed_history.py --quick         # 20k deals
    python bench/observed_history.py --pg none       # SQLite only
    python bench/observed_history.py --changed 1 --untracked  # the comparison alone
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from crmsync import HISTORY_FIELDS
from crmsync.api import sync
from crmsync.core.config import Config, ConnectionConfig
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store

PG = os.environ.get("CRMSYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HEADER = ("remote_id,name,stage_id,status,amount,currency,expected_close_date,owner_id,"
          "probability,account_id,remote_updated_at\n")


def write_deals(path: Path, rows: int, changed: set[int], version: int,
                tracked: bool = True) -> None:
    """``rows`` deals; in version 2 the ``changed`` ones have a new amount and close date
    (``tracked``) or only a new name (no tracked field changes: the comparison's cost alone).
    """
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        for i in range(rows):
            amount = 1000 + rng.randrange(100_000)
            day = 1 + rng.randrange(28)
            updated, name = "2026-01-01T00:00:00Z", f"Deal {i}"
            if version == 2 and i in changed:
                updated = "2026-02-01T00:00:00Z"
                if tracked:
                    amount, day = amount + 500, day % 28 + 1
                else:
                    name += " (renamed)"
            f.write(f"o{i:08d},{name},s{i % 6},open,{amount}.0,EUR,2026-03-{day:02d},"
                    f"u{i % 50},0.{1 + i % 8},a{i % 5000},{updated}\n")


@contextlib.contextmanager
def fresh_store(dialect: str, workdir: Path, n: int) -> Iterator[Store]:
    """An empty store: a new SQLite file, or a new PostgreSQL schema."""
    if dialect == "sqlite":
        store = Store(f"sqlite:///{workdir / f'store-{n}.db'}")
        try:
            yield store
        finally:
            store.dispose()
        return
    from crmsync.testing.postgres import fresh_schema

    with fresh_schema(PG) as url:
        store = Store(url)
        try:
            yield store
        finally:
            store.dispose()


def config(store: Store, folder: Path, observe: bool) -> Config:
    """One files connection over ``folder`` that observes every field, or none."""
    raw: dict[str, object] = {"type": "files", "path": str(folder), "batch_size": 5000}
    if not observe:
        raw["history_fields"] = list(HISTORY_FIELDS)
    return Config(store_url=store.url,
                  connections={"crm": ConnectionConfig(name="crm", type="files", raw=raw)})


def measure(dialect: str, workdir: Path, v1: Path, v2: Path, observe: bool, n: int
            ) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process's: all of SQLite's work, none of PostgreSQL's) of
    the second sync, and the observed rows it wrote."""
    registry = Registry(get_plugin_manager())
    with fresh_store(dialect, workdir, n) as store:
        report = sync(config(store, v1, observe), registry, store=store,
                      entities=["opportunities"])
        assert report.ok, report
        start, cpu = time.perf_counter(), time.process_time()
        report = sync(config(store, v2, observe), registry, store=store,
                      entities=["opportunities"])
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert report.ok, report
        table = SYNCED_TABLES["opportunity_field_history"]
        with store.engine.connect() as conn:
            written = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return seconds, cpu, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--changed", type=float, default=0.10, help="share of deals changed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg", default="yes", help="'none' for SQLite only")
    parser.add_argument("--untracked", action="store_true",
                        help="change only the deals' names: no observed row is written")
    args = parser.parse_args()
    rows = 20_000 if args.quick or os.environ.get("CRMSYNC_BENCH_QUICK") else args.rows
    changed = set(random.Random(1).sample(range(rows), int(rows * args.changed)))
    dialects = ["sqlite"] + ([] if args.pg == "none" else ["postgresql"])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        v1, v2 = workdir / "v1", workdir / "v2"
        for version, folder in ((1, v1), (2, v2)):
            folder.mkdir()
            write_deals(folder / "opportunities.csv", rows, changed, version,
                        tracked=not args.untracked)
        what = "name only" if args.untracked else "amount and close date"
        print(f"{rows:,} deals, {len(changed):,} changed ({what}), "
              f"batches of 5,000; best of {args.repeat}")
        n = 0
        for dialect in dialects:
            best = {True: float("inf"), False: float("inf")}
            cpu = {True: float("inf"), False: float("inf")}
            written = {True: 0, False: 0}
            for _ in range(args.repeat):
                for observe in (True, False) if n % 2 == 0 else (False, True):
                    n += 1
                    seconds, used, count = measure(dialect, workdir, v1, v2, observe, n)
                    best[observe] = min(best[observe], seconds)
                    cpu[observe] = min(cpu[observe], used)
                    written[observe] = count
            print(f"{dialect:<10} second sync: observed {best[True]:.2f} s "
                  f"({cpu[True]:.2f} s CPU, {written[True]:,} rows), not observed "
                  f"{best[False]:.2f} s ({cpu[False]:.2f} s CPU): ratio "
                  f"{best[True] / best[False]:.2f} (CPU {cpu[True] / cpu[False]:.2f})")


if __name__ == "__main__":
    main()
