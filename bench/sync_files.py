"""Benchmark: sync a CSV export of the demo CRM into SQLite with the real ``crmsync sync``.

Prints rows/s, the ratio against a raw ``sqlite3`` ``executemany`` insert of the same rows
measured in the same run, and the peak RSS of each process. Two baselines:

* the same tables and indexes crmsync's migrations create (what the database itself costs:
  the ratio that says how much crmsync adds), and
* bare tables without indexes (the fastest thing SQLite can do with the rows).

Peak RSS is measured at two dataset sizes so that growth with row count shows.

Usage::

    python bench/sync_files.py                 # medium and large (≥100k deals, ≥1M activities)
    python bench/sync_files.py --sizes small   # a quick run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
from childproc import report_rss, run_cli_sync  # noqa: E402 (bench/ is the script dir)


def export_demo(size: str, folder: Path) -> int:
    """Write the demo dataset of ``size`` as the files connector's CSV format; return rows."""
    from crmsync.orchestration.export import EXPORTED_COLUMNS, format_csv_value
    from crmsync_demo import DemoConnector

    marker = folder / ".complete"
    if marker.exists():
        return int(marker.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    demo = DemoConnector("demo", DemoConnector.validate_settings({"size": size}))
    total = 0
    for entity in demo.ENTITIES:
        columns = EXPORTED_COLUMNS[entity]
        with open(folder / f"{entity}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for batch in demo.read(entity, None):
                for record in batch.records:
                    writer.writerow([format_csv_value(record.get(c)) for c in columns])
                total += len(batch.records)
    marker.write_text(str(total))
    return total


def run_measured(args: list[str]) -> tuple[float, int, str]:
    """Run a process; return (wall seconds, peak RSS in KiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{args[:4]} failed ({proc.returncode}):\n{err[-3000:]}")
    # the child's own peak, read from /proc by the child itself (see `childproc.report_rss`)
    rss = int(out.strip().splitlines()[-1].split("=")[1])
    return elapsed, rss, out


def child_crmsync(folder: str, db: str, batch_size: int) -> None:
    """In a child process: the real CLI, `crmsync sync`, files → SQLite."""
    config = Path(db).with_suffix(".toml")
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n[connections.bench]\n'
                      f'type = "files"\npath = "{folder}"\nbatch_size = {batch_size}\n')
    try:
        run_cli_sync(str(config))
    finally:
        report_rss()


def child_raw(folder: str, db: str, batch_size: int, indexes: bool) -> None:
    """In a child process: csv.reader + sqlite3 executemany of the same rows, same batches."""
    import sqlite3

    from crmsync.core.schema import SYNCED_TABLES
    from crmsync.store import Store

    if indexes:  # the very tables and indexes crmsync's migrations create
        Store(f"sqlite:///{db}").dispose()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-32768")
    now = "2026-01-01 00:00:00.000000"
    for name in SYNCED_TABLES:
        path = Path(folder) / f"{name}.csv"
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            columns = [*header, "connection", "synced_at"]
            if not indexes:
                con.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, "
                            f"{', '.join(columns)})")
            sql = (f"INSERT INTO {name} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            flag = header.index("is_deleted") if "is_deleted" in header else None
            batch: list[list[object]] = []
            for row in reader:
                values: list[object] = [None if v == "" else v for v in row]
                if flag is not None and values[flag] is None:
                    values[flag] = 0  # NOT NULL in the schema; crmsync defaults it too
                batch.append([*values, "bench", now])
                if len(batch) >= batch_size:
                    con.executemany(sql, batch)
                    con.commit()
                    batch = []
            con.executemany(sql, batch)
            con.commit()
    con.close()
    report_rss()


def count_rows(db: str) -> int:
    import sqlite3

    from crmsync.core.schema import SYNCED_TABLES

    con = sqlite3.connect(db)
    try:
        return sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SYNCED_TABLES)
    finally:
        con.close()


def bench_size(size: str, work: Path, batch_size: int) -> dict[str, float]:
    folder = work / f"demo-{size}"
    t0 = time.perf_counter()
    rows = export_demo(size, folder)
    mb = sum(p.stat().st_size for p in folder.glob("*.csv")) / 1e6
    print(f"\n== {size}: {rows:,} rows in {len(list(folder.glob('*.csv')))} CSV files "
          f"({mb:,.0f} MB; exported in {time.perf_counter() - t0:,.1f} s)")
    py = sys.executable
    results = {}
    for label, mode in (("crmsync sync (files -> SQLite)", "crmsync"),
                        ("raw executemany, same tables+indexes", "raw-indexed"),
                        ("raw executemany, bare tables", "raw-bare")):
        db = work / f"{size}-{mode}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        seconds, rss, _ = run_measured([py, str(HERE), "--child", mode, str(folder), str(db),
                                        str(batch_size)])
        stored = count_rows(str(db))
        assert stored == rows, f"{mode} stored {stored:,} of {rows:,} rows"
        results[mode] = rows / seconds
        results[f"{mode}-rss"] = rss / 1024
        print(f"{label:<40} {seconds:8.1f} s {rows / seconds:12,.0f} rows/s "
              f"peak RSS {rss / 1024:6.0f} MB")
    print(f"{'ratio vs same tables+indexes':<40} {results['crmsync'] / results['raw-indexed']:8.2f}"
          "   (target >= 0.5)")
    print(f"{'ratio vs bare tables':<40} {results['crmsync'] / results['raw-bare']:8.2f}")
    results["rows"] = rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="medium,large",
                        help="comma-separated demo sizes (default: medium,large)")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workdir", help="keep exports here (reused by later runs)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, folder, db, batch = args.child
        if mode == "crmsync":
            child_crmsync(folder, db, int(batch))
        else:
            child_raw(folder, db, int(batch), indexes=mode == "raw-indexed")
        return
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="crmsync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, batch size "
          f"{args.batch_size}, work dir {work}")
    summary = {size: bench_size(size, work, args.batch_size) for size in args.sizes.split(",")}
    if len(summary) > 1:
        first, last = next(iter(summary.values())), list(summary.values())[-1]
        print(f"\npeak RSS of crmsync sync: {first['crmsync-rss']:.0f} MB at {first['rows']:,} "
              f"rows, {last['crmsync-rss']:.0f} MB at {last['rows']:,} rows "
              f"(x{last['rows'] / first['rows']:.1f} rows)")
    print(json.dumps({k: {m: round(v, 2) for m, v in r.items()} for k, r in summary.items()}))


if __name__ == "__main__":
    main()
