"""Benchmark: a full sync of one CSV export of activities with the real ``crmsync sync``,
SQLite and PostgreSQL, against raw loaders of the same rows measured in the same run.

Prints, in one run (``docs/performance.md`` explains the figures):

* rows/s of crmsync and of the raw ceilings (:mod:`files_data`), and their ratios:
  SQLite against ``csv.reader`` + ``executemany`` upsert in transactions of ``--batch-size``
  rows into a table with only the unique key; PostgreSQL against ``COPY`` into a temporary
  table + ``INSERT … ON CONFLICT`` (and, for scale, ``COPY`` into a bare table); and both
  against the same raw loader that also builds the five secondary indexes of crmsync's
  table after the load (the fastest loader of the table crmsync produces);
* bytes the sync wrote (``/proc/self/io`` of the process) against the final database size;
* the peak RSS of the sync at two sizes (``--rss-sizes``);
* a sync with nothing new (no-op), one with 1% of the rows edited, and a ``--full`` one that
  sends every stored row again unchanged, against the full sync, with the bytes each wrote;
  on PostgreSQL the same ``--full`` with the WAL it made and what it did to the table's size.

Usage::

    python bench/sync_files.py            # 500k rows; RSS at 200k and 1M
    python bench/sync_files.py --quick    # 20k rows (also CRMSYNC_BENCH_QUICK=1)
    python bench/sync_files.py --pg none  # SQLite only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
from childproc import compile_crmsync  # noqa: E402 (bench/ is the path)
from files_data import raw_pg, raw_sqlite, write_activities  # noqa: E402

PG = os.environ.get("CRMSYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# -- children: each measures itself and prints one JSON line last ----------------------------

def _self_io() -> int:
    """Bytes the process made the kernel write to storage: ``write_bytes`` less
    ``cancelled_write_bytes`` (pages of files deleted before they were written out, such as
    SQLite's sorter spilling while it builds an index: counted when dirtied, never written)."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            io = dict(r.split(":", 1) for r in f)
        return int(io["write_bytes"]) - int(io["cancelled_write_bytes"])
    except (OSError, KeyError, ValueError):
        return 0


def _peak_rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(r.split()[1]) for r in f if r.startswith("VmHWM:"))


def child(mode: str, target: str, folder: str, batch: int) -> None:
    start = time.perf_counter()
    figures: dict[str, Any] = {}
    if mode.startswith("crmsync"):
        from crmsync.cli import main

        figures["import_s"] = time.perf_counter() - start
        config = Path(tempfile.mkdtemp()) / "crmsync.toml"
        config.write_text(f'[store]\nurl = "{target}"\n[connections.bench]\ntype = "files"\n'
                          f'path = "{folder}"\nbatch_size = {batch}\n')
        t0 = time.perf_counter()
        try:
            main(["--config", str(config), "sync", "--json",
                  *(["--full"] if mode == "crmsync-full" else [])])
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise
        figures["sync_s"] = time.perf_counter() - t0
    elif mode.startswith("raw-sqlite"):
        raw_sqlite(Path(folder) / "activities.csv", target, batch,
                   indexes=mode.endswith("-indexed"))
    else:
        raw_pg(Path(folder) / "activities.csv", _libpq(target), batch,
               merge=mode.startswith("raw-merge"), indexes=mode.endswith("-indexed"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures.update(rss_mb=_peak_rss_kib() / 1024, written=_self_io(),
                   cpu_s=usage.ru_utime + usage.ru_stime)
    print("\n" + json.dumps(figures))


def _libpq(url: str) -> str:
    import sqlalchemy as sa

    u = sa.make_url(url)
    opts = u.query.get("options")
    dsn = f"host={u.host} port={u.port or 5432} dbname={u.database} user={u.username}"
    return dsn + (f" options='{opts}'" if opts else "")


# -- the parent ----------------------------------------------------------------------------

def measured(mode: str, target: str, folder: Path, batch: int) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE), "--child", mode, target, str(folder),
                           str(batch)], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["wall_s"] = wall
    return figures


def _sqlite_db(work: Path, name: str) -> Path:
    db = work / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def _db_bytes(db: Path) -> int:
    return sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal")
               if Path(f"{db}{s}").exists())


def _stored(db: Path) -> int:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM activities").fetchone()[0])
    finally:
        con.close()


def _line(label: str, rows: int, f: dict[str, Any], extra: str = "") -> None:
    print(f"  {label:<46} {f['wall_s']:7.1f} s {rows / f['wall_s']:10,.0f} rows/s "
          f"RSS {f['rss_mb']:5.0f} MB{extra}")


def bench_sqlite(work: Path, folder: Path, rows: int, batch: int) -> dict[str, Any]:
    print("SQLite")
    db = _sqlite_db(work, "crmsync")
    ours = measured("crmsync", f"sqlite:///{db}", folder, batch)
    size = _db_bytes(db)
    assert _stored(db) == rows, f"crmsync stored {_stored(db):,} of {rows:,} rows"
    raw_db = _sqlite_db(work, "raw")
    raw = measured("raw-sqlite", str(raw_db), folder, batch)
    indexed_db = _sqlite_db(work, "raw-indexed")
    indexed = measured("raw-sqlite-indexed", str(indexed_db), folder, batch)
    _line("crmsync sync (files -> SQLite)", rows, ours,
          f"  wrote {ours['written'] / 1e6:,.0f} MB for a {size / 1e6:,.0f} MB db "
          f"(x{ours['written'] / size:.2f}; target <= 2)")
    _line(f"raw csv.reader + executemany upsert, {batch}/tx", rows, raw,
          f"  wrote {raw['written'] / 1e6:,.0f} MB")
    _line("  the same, then the schema's 5 indexes", rows, indexed,
          f"  wrote {indexed['written'] / 1e6:,.0f} MB")
    ratio = raw["wall_s"] / ours["wall_s"]
    print(f"  ratio crmsync / raw executemany upsert (unique key only): {ratio:.2f} "
          f"(target >= 0.5); in CPU time {raw['cpu_s'] / ours['cpu_s']:.2f} "
          f"({ours['cpu_s']:.1f} s vs {raw['cpu_s']:.1f} s)")
    same = indexed["wall_s"] / ours["wall_s"]
    print(f"  ratio crmsync / the same loader building crmsync's indexes: {same:.2f}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{indexed_db}{suffix}").unlink(missing_ok=True)
    return {"crmsync_rows_s": rows / ours["wall_s"], "raw_rows_s": rows / raw["wall_s"],
            "ratio": ratio, "cpu_ratio": raw["cpu_s"] / ours["cpu_s"], "indexed_ratio": same,
            "write_amplification": ours["written"] / size,
            "full_s": ours["wall_s"], "db": str(db)}


def bench_pg(url: str, folder: Path, rows: int, batch: int) -> dict[str, Any]:
    import sqlalchemy as sa

    print("PostgreSQL")
    admin = sa.create_engine(url)
    figures: dict[str, dict[str, Any]] = {}
    for mode in ("crmsync", "raw-merge", "raw-merge-indexed", "raw-copy"):
        schema = f"bench_files_{mode.replace('-', '_')}"
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        target = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        figures[mode] = measured(mode, target.render_as_string(hide_password=False), folder,
                                 batch)
        if mode == "crmsync":
            figures["crmsync-full"] = _pg_full_again(admin, schema, target, folder, batch)
        with admin.begin() as conn:
            stored = conn.execute(sa.text(f"SELECT count(*) FROM {schema}.activities")).scalar()
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        assert stored == rows, f"{mode} stored {stored:,} of {rows:,} rows"
    admin.dispose()
    _line("crmsync sync (files -> PostgreSQL)", rows, figures["crmsync"])
    _line(f"raw COPY to temp + INSERT ON CONFLICT, {batch}/tx", rows, figures["raw-merge"])
    _line("  the same, then the schema's 5 indexes", rows, figures["raw-merge-indexed"])
    _line(f"raw COPY into a bare table, {batch}/tx", rows, figures["raw-copy"])
    ratio = figures["raw-merge"]["wall_s"] / figures["crmsync"]["wall_s"]
    same = figures["raw-merge-indexed"]["wall_s"] / figures["crmsync"]["wall_s"]
    again = figures["crmsync-full"]
    print(f"  --full again, nothing new: {again['wall_s']:.1f} s "
          f"({again['wall_s'] / figures['crmsync']['wall_s']:.2f} of the full sync); "
          f"WAL {again['wal'] / 1e6:,.0f} MB; activities {again['size_before'] / 1e6:,.0f}"
          f" -> {again['size_after'] / 1e6:,.0f} MB")
    print(f"  ratio crmsync / raw COPY + INSERT ON CONFLICT: {ratio:.2f} (target >= 0.8); "
          f"/ raw COPY bare: "
          f"{figures['raw-copy']['wall_s'] / figures['crmsync']['wall_s']:.2f}; "
          f"/ the merge building crmsync's indexes: {same:.2f}")
    return {"crmsync_rows_s": rows / figures["crmsync"]["wall_s"], "ratio": ratio,
            "indexed_ratio": same, "full_again_wal_mb": again["wal"] / 1e6,
            "full_again_growth": again["size_after"] / again["size_before"]}


def _pg_full_again(admin: Any, schema: str, target: Any, folder: Path,
                   batch: int) -> dict[str, Any]:
    """``crmsync sync --full`` over the store the full sync left, with nothing new: its time,
    the WAL it made the server write, and the size of ``activities`` (indexes and TOAST
    included) before and after: a row rewritten unchanged leaves a dead version behind."""
    import sqlalchemy as sa

    size = sa.text(f"SELECT pg_current_wal_lsn(), "
                   f"pg_total_relation_size('{schema}.activities')")
    with admin.connect() as conn:
        lsn, before = conn.execute(size).one()
    f = measured("crmsync-full", target.render_as_string(hide_password=False), folder, batch)
    with admin.connect() as conn:
        after_lsn, after = conn.execute(size).one()
        wal = conn.execute(sa.text("SELECT pg_wal_lsn_diff(:a, :b)"),
                           {"a": after_lsn, "b": lsn}).scalar()
    f.update(wal=float(wal), size_before=before, size_after=after)
    return f


def bench_incremental(work: Path, rows: int, batch: int, full: dict[str, Any]) -> dict[str, Any]:
    print(f"Incremental, on the {rows:,}-row SQLite store")
    target = f"sqlite:///{full['db']}"
    noop = measured("crmsync", target, work / f"rows-{rows}", batch)
    changed_folder = work / f"rows-{rows}-changed"
    write_activities(changed_folder, rows, changed=0.01)
    changed = measured("crmsync", target, changed_folder, batch)
    again = measured("crmsync-full", target, changed_folder, batch)
    for label, f in (("no-op (nothing new)", noop), ("1% of the rows edited", changed),
                     ("--full, nothing new", again)):
        print(f"  {label:<24} process {f['wall_s']:5.2f} s (imports {f['import_s']:.2f} s, "
              f"sync {f['sync_s']:.2f} s) = {f['wall_s'] / full['full_s']:.3f} of the full "
              f"sync; wrote {f['written'] / 1e6:,.0f} MB")
    print("  targets: no-op < 1 s; 1% edited <= 0.05 of the full sync")
    return {"noop_s": noop["wall_s"], "noop_sync_s": noop["sync_s"],
            "changed_ratio": changed["wall_s"] / full["full_s"],
            "full_again_ratio": again["wall_s"] / full["full_s"]}


def bench_rss(work: Path, sizes: list[int], batch: int) -> dict[str, float]:
    print("Peak RSS of crmsync sync (SQLite)")
    out = {}
    for n in sizes:
        folder = work / f"rows-{n}"
        write_activities(folder, n)
        db = _sqlite_db(work, f"rss-{n}")
        f = measured("crmsync", f"sqlite:///{db}", folder, batch)
        size = _db_bytes(db)
        _line(f"{n:,} rows", n, f, f"  wrote x{f['written'] / size:.2f} the db size")
        out[str(n)] = f["rss_mb"]
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = bool(os.environ.get("CRMSYNC_BENCH_QUICK"))
    parser.add_argument("--quick", action="store_true", default=quick,
                        help="20k rows, RSS at 10k and 40k (a smoke run)")
    parser.add_argument("--rows", type=int, help="rows of the main run (default 500000)")
    parser.add_argument("--rss-sizes", help="two sizes for peak RSS (default 200000,1000000)")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--pg", default=PG, help="PostgreSQL URL, or 'none' to skip")
    parser.add_argument("--parts", default="sqlite,postgresql,incremental,rss",
                        help="which measurements (incremental needs sqlite)")
    parser.add_argument("--workdir", help="keep the CSV files here (reused by later runs)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, target, folder, batch = args.child
        child(mode, target, folder, int(batch))
        return
    rows = args.rows or (20_000 if args.quick else 500_000)
    sizes = [int(s) for s in (args.rss_sizes or ("10000,40000" if args.quick
                                                else "200000,1000000")).split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="crmsync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    folder = work / f"rows-{rows}"
    t0 = time.perf_counter()
    write_activities(folder, rows)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {rows:,} activities "
          f"(CSV, Z timestamps; {time.perf_counter() - t0:.1f} s to write), batch size "
          f"{args.batch_size}, work dir {work}")
    print(compile_crmsync())
    parts = args.parts.split(",")
    summary: dict[str, Any] = {}
    if "sqlite" in parts:
        summary["sqlite"] = bench_sqlite(work, folder, rows, args.batch_size)
    if "postgresql" in parts and args.pg != "none":
        summary["postgresql"] = bench_pg(args.pg, folder, rows, args.batch_size)
    if "incremental" in parts and "sqlite" in summary:
        summary["incremental"] = bench_incremental(work, rows, args.batch_size,
                                                   summary["sqlite"])
    if "rss" in parts:
        summary["peak_rss_mb"] = bench_rss(work, sizes, args.batch_size)
    if "sqlite" in summary:
        summary["sqlite"].pop("db")
    print(json.dumps(_rounded(summary)))


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 3) if isinstance(value, float) else value


if __name__ == "__main__":
    main()
