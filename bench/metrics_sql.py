"""Benchmark: win rate, average deal size and sales cycle by month × owner (issue 19), crmsync
against the bare SQL on SQLite and DuckDB over the same SQLite file, in one run.

Over the demo store (``bench/metrics.py`` syncs it once into ``<workdir>/demo-<size>.db``; the
same work dir is shared), each measured in this process, best of ``--repeat``, wall and CPU
seconds (CPU of every thread: DuckDB runs its scans in parallel):

* ``sqlite3, hand-written``: the three metrics as one would write them by hand for SQLite
  (stdlib ``sqlite3``, read-only connection, the page cache metrics run with);
* ``crmsync SQL only``: crmsync's three metric queries (``metric_select``) run through the
  store's engine and fetched: the query shape, without storing anything;
* ``crmsync compute()``: what ``crmsync metrics compute`` runs (the queries stored into
  ``metric_values`` in one transaction, the unconverted-deal findings, the commit);
* ``crmsync compute(), values kept``: the same, also reading the values back into Python
  (what the API's default, the dashboard and ``bench/metrics.py`` do);
* ``DuckDB over the SQLite file``: the same three metrics in DuckDB, reading the SQLite file
  through its ``sqlite_scanner`` extension (attached read-only; attaching is timed apart).

Then whole processes, start-up included (left out with ``--no-cli``): ``crmsync metrics
compute --metric … --period month --by owner`` (which also computes the organisation's
values), a Python process that imports DuckDB, attaches the file and runs the same three
queries, and ``import crmsync.cli.main`` alone (the start-up every command pays).

Every value of the three is checked: crmsync's stored values against the hand-written SQLite
ones and DuckDB's (value, numerator, denominator; |Δ| ≤ 1e-9 × max(1, |v|)); mismatches are
printed. Ratios are crmsync's seconds over the baseline's.

DuckDB is a bench-only extra (``pip install -e '.[bench]'``: ``duckdb`` and its
``sqlite_scanner`` extension as a package, pinned to the same version); without it the DuckDB
lines are left out.

Usage::

    python bench/metrics_sql.py                  # large demo store
    python bench/metrics_sql.py --size small     # smoke test
    python bench/metrics_sql.py --repeat 5 --no-cli
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
from metrics import sqlite_store  # noqa: E402 (bench/ is the script dir)

NAMES = ("win_rate", "avg_deal_size", "sales_cycle_days")
BASE = "USD"

#: Hand-written SQLite: one grouped query per metric over every month. Rows: owner, month,
#: value, numerator, denominator (the metric contract's, so values compare one to one).
SQLITE = {
    "win_rate": """
        SELECT owner_id, date(closed_at, 'start of month'),
               sum(status = 'won') * 1.0 / count(*), sum(status = 'won'), count(*)
        FROM opportunities
        WHERE is_deleted = 0 AND status IN ('won', 'lost') AND closed_at IS NOT NULL
        GROUP BY 1, 2""",
    "avg_deal_size": """
        WITH won AS MATERIALIZED (  -- each deal converted once (else once per aggregate)
          SELECT o.owner_id AS d, date(o.closed_at, 'start of month') AS p,
                 CASE WHEN o.amount_base IS NOT NULL THEN o.amount_base
                      WHEN o.currency IS NULL OR o.currency = 'USD' THEN o.amount
                      ELSE o.amount * (
                        SELECT fx.rate_to_base FROM currency_rates fx
                        WHERE fx.connection = o.connection AND fx.currency = o.currency
                          AND fx.is_deleted = 0
                          AND (fx.base_currency IS NULL OR fx.base_currency = 'USD')
                          AND fx.valid_from <= date(o.closed_at)
                          AND (fx.valid_to IS NULL OR fx.valid_to > date(o.closed_at))
                        ORDER BY fx.valid_from DESC LIMIT 1) END AS x
          FROM opportunities o
          WHERE o.is_deleted = 0 AND o.status = 'won' AND o.closed_at IS NOT NULL)
        SELECT d, p, avg(x), sum(x), count(x) FROM won GROUP BY d, p""",
    "sales_cycle_days": """
        WITH f AS (
          SELECT owner_id AS d, date(closed_at, 'start of month') AS p,
                 julianday(closed_at) - julianday(remote_created_at) AS x
          FROM opportunities
          WHERE is_deleted = 0 AND status = 'won' AND closed_at IS NOT NULL
            AND remote_created_at IS NOT NULL),
        r AS (
          SELECT d, p, x, row_number() OVER (PARTITION BY d, p ORDER BY x) AS rn,
                 count(*) OVER (PARTITION BY d, p) AS n
          FROM f)
        SELECT d, p, avg(x), NULL, max(n) FROM r
        WHERE rn BETWEEN (n + 1) / 2 AND (n + 2) / 2 GROUP BY d, p""",
}

#: The same in DuckDB (``median`` is exact: the mean of the two middle values).
DUCKDB = {
    "win_rate": """
        SELECT owner_id, CAST(date_trunc('month', closed_at) AS DATE),
               sum(CASE WHEN status = 'won' THEN 1 ELSE 0 END) * 1.0 / count(*),
               sum(CASE WHEN status = 'won' THEN 1 ELSE 0 END), count(*)
        FROM opportunities
        WHERE is_deleted = 0 AND status IN ('won', 'lost') AND closed_at IS NOT NULL
        GROUP BY ALL""",
    "avg_deal_size": """
        WITH won AS (
          SELECT o.owner_id AS d, CAST(date_trunc('month', o.closed_at) AS DATE) AS p,
                 CASE WHEN o.amount_base IS NOT NULL THEN o.amount_base
                      WHEN o.currency IS NULL OR o.currency = 'USD' THEN o.amount
                      ELSE o.amount * (
                        SELECT fx.rate_to_base FROM currency_rates fx
                        WHERE fx.connection = o.connection AND fx.currency = o.currency
                          AND fx.is_deleted = 0
                          AND (fx.base_currency IS NULL OR fx.base_currency = 'USD')
                          AND fx.valid_from <= CAST(o.closed_at AS DATE)
                          AND (fx.valid_to IS NULL OR fx.valid_to > CAST(o.closed_at AS DATE))
                        ORDER BY fx.valid_from DESC LIMIT 1) END AS x
          FROM opportunities o
          WHERE o.is_deleted = 0 AND o.status = 'won' AND o.closed_at IS NOT NULL)
        SELECT d, p, avg(x), sum(x), count(x) FROM won GROUP BY ALL""",
    "sales_cycle_days": """
        SELECT owner_id, CAST(date_trunc('month', closed_at) AS DATE),
               median(epoch(closed_at - remote_created_at) / 86400.0), NULL, count(*)
        FROM opportunities
        WHERE is_deleted = 0 AND status = 'won' AND closed_at IS NOT NULL
          AND remote_created_at IS NOT NULL
        GROUP BY ALL""",
}

Values = dict[tuple[str, Any, str], tuple[Any, Any, Any]]


def _keyed(name: str, rows: list[Any]) -> Values:
    """``(metric, owner, month ISO)`` → ``(value, numerator, denominator)``."""
    return {(name, r[0], str(r[1])[:10]): (r[2], r[3], r[4]) for r in rows}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall and best CPU seconds of ``repeat`` calls of ``fn``, and its last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return min(walls), min(cpus), out


# -- the ways measured ------------------------------------------------------------------------

def hand_sqlite(db: Path) -> Callable[[], Values]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.execute("PRAGMA cache_size=-8192")  # crmsync.metrics.engine.METRIC_CACHE_SIZE

    def run() -> Values:
        out: Values = {}
        for name, sql in SQLITE.items():
            out.update(_keyed(name, con.execute(sql).fetchall()))
        return out
    return run


def duckdb_extension() -> str | None:
    """The path of the packaged ``sqlite_scanner`` extension, or ``None`` without it."""
    try:
        import duckdb  # noqa: F401
        import duckdb_extension_sqlite_scanner as ext
    except ImportError:
        return None
    found = sorted(Path(ext.__file__).parent.glob("extensions/*/sqlite_scanner.duckdb_extension"))
    return str(found[-1]) if found else None


def duckdb_attached(db: Path, extension: str) -> Any:
    """A DuckDB connection with ``db`` attached read-only as the default catalog (the
    extension is loaded from its package: signature checked, nothing downloaded)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"LOAD '{extension}'")
    con.execute(f"ATTACH '{db}' AS crm (TYPE sqlite, READ_ONLY)")
    con.execute("USE crm")
    return con


def duckdb_run(con: Any) -> Values:
    out: Values = {}
    for name, sql in DUCKDB.items():
        out.update(_keyed(name, con.execute(sql).fetchall()))
    return out


def crmsync_parts(url: str) -> dict[str, Callable[[], Any]]:
    """crmsync's ways: the bare metric queries, ``compute()``, and ``compute()`` keeping the
    values."""
    from crmsync.core.config import MetricsConfig
    from crmsync.metrics import compute
    from crmsync.metrics.engine import metric_select
    from crmsync.plugin.context import MetricContext
    from crmsync.plugin.registry import Registry
    from crmsync.store import Store

    registry = Registry()
    store = Store(url)
    metrics = [registry.metric(n) for n in NAMES]

    def queries() -> Values:
        out: Values = {}
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-8192")
            for m in metrics:
                ctx = MetricContext(dialect="sqlite", period="month", dimension="owner",
                                    declared=registry.dimensions())
                rows = conn.execute(metric_select(m, ctx)).all()
                out.update(_keyed(m.NAME, [(r.dimension_value, r.period_start, r.value,
                                            r.numerator, r.denominator) for r in rows]))
        return out

    def run(keep: bool) -> Any:
        return compute(store, metrics, MetricsConfig(), period="month", dimensions=("owner",),
                       keep_values=keep)

    def kept() -> Values:
        out: Values = {}
        for v in run(True).values:
            out[(v.metric, v.dimension_value, str(v.period_start))] = (
                v.value, v.numerator, v.denominator)
        return out

    return {"queries": queries, "compute": lambda: run(False), "kept": kept}


# -- checks and report -------------------------------------------------------------------------

def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))


def mismatches(ours: Values, theirs: Values) -> list[str]:
    out = []
    for key in sorted(set(ours) | set(theirs), key=str):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None or not all(_same(x, y) for x, y in zip(a, b, strict=True)):
            out.append(f"{key}: crmsync {a} baseline {b}")
    return out


def line(label: str, wall: float, cpu: float, base: tuple[float, float] | None) -> None:
    ratio = f"{wall / base[0]:6.2f}x {cpu / max(base[1], 1e-9):6.2f}x" if base else ""
    print(f"  {label:48} {wall:7.3f} {cpu:7.3f}  {ratio}")


def cli_times(db: Path, workdir: Path, extension: str | None, repeat: int) -> None:
    """Whole processes, start-up included: best wall and CPU (children's rusage)."""
    config = workdir / "metrics-sql.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n')
    runs = {
        "crmsync metrics compute (3 metrics, --by owner)": [
            str(Path(sys.executable).with_name("crmsync")), "--config", str(config),
            "metrics", "compute",
            *(a for n in NAMES for a in ("--metric", n)), "--period", "month", "--by", "owner"],
        "python: import crmsync.cli.main only": [
            sys.executable, "-c", "import crmsync.cli.main"],
    }
    if extension:
        runs["python: duckdb over the file, 3 queries"] = [
            sys.executable, str(HERE), "--child-duckdb", str(db)]
    best: dict[str, tuple[float, float]] = {}
    for label, argv in runs.items():
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True,
                                  env={**os.environ, "NO_COLOR": "1"})
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                raise SystemExit(f"{label} failed:\n{proc.stderr[-2000:]}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            w, c = best.get(label, (math.inf, math.inf))
            best[label] = (min(w, wall), min(c, cpu))
    print(f"\nwhole processes, start-up included (best of {repeat}) {'wall':>7} {'CPU':>7}"
          "  crmsync's over this")
    cli = best["crmsync metrics compute (3 metrics, --by owner)"]
    for label, (wall, cpu) in best.items():
        ratio = "" if label.startswith("crmsync") else (
            f"{cli[0] / wall:6.2f}x {cli[1] / max(cpu, 1e-9):6.2f}x")
        print(f"  {label:48} {wall:7.3f} {cpu:7.3f}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir())
                                                  / "crmsync-bench-metrics"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-process runs")
    parser.add_argument("--child-duckdb", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_duckdb:
        ext = duckdb_extension()
        assert ext is not None
        print(len(duckdb_run(duckdb_attached(Path(args.child_duckdb), ext))))
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    url = sqlite_store(workdir, args.size)
    db = Path(url.removeprefix("sqlite:///"))
    print(f"{', '.join(NAMES)} by month × owner, demo '{args.size}' ({db}); "
          f"best of {args.repeat}")
    ours = crmsync_parts(url)
    hand = hand_sqlite(db)
    hand()  # warm the OS page cache for everyone
    results: dict[str, tuple[float, float, Any]] = {
        "sqlite3, hand-written": timed(hand, args.repeat)}
    results["crmsync SQL only (metric_select)"] = timed(ours["queries"], args.repeat)
    results["crmsync compute() (what the CLI runs)"] = timed(ours["compute"], args.repeat)
    results["crmsync compute(), values kept"] = timed(ours["kept"], args.repeat)
    extension = duckdb_extension()
    if extension:
        w, c = time.perf_counter(), time.process_time()
        con = duckdb_attached(db, extension)
        attach = (time.perf_counter() - w, time.process_time() - c)
        results["DuckDB over the SQLite file"] = timed(lambda: duckdb_run(con), args.repeat)
    hand_t = results["sqlite3, hand-written"][:2]
    print(f"\n{'in this process':50} {'wall':>7} {'CPU':>7}  ratio to hand-written SQLite")
    for label, (wall, cpu, _) in results.items():
        line(label, wall, cpu, hand_t)
    if extension:
        print(f"  {'(DuckDB: load extension + ATTACH, once)':48} {attach[0]:7.3f} "
              f"{attach[1]:7.3f}")
        duck = results["DuckDB over the SQLite file"][:2]
        cpt = results["crmsync compute() (what the CLI runs)"][:2]
        print(f"  {'crmsync compute() / DuckDB':48} {cpt[0] / duck[0]:6.2f}x wall, "
              f"{cpt[1] / max(duck[1], 1e-9):.2f}x CPU")
    else:
        print("  (DuckDB not installed: pip install -e '.[bench]')")

    kept = results["crmsync compute(), values kept"][2]
    for label in ("sqlite3, hand-written", "crmsync SQL only (metric_select)",
                  "DuckDB over the SQLite file"):
        if label not in results:
            continue
        bad = mismatches(kept, results[label][2])
        print(f"CHECK crmsync's stored values vs {label}: "
              + (f"{len(bad)} mismatch(es) over {len(kept)} values" if bad
                 else f"identical ({len(kept)} values)"))
        for b in bad[:10]:
            print(f"    {b}")
    if not args.no_cli:
        cli_times(db, workdir, extension, args.repeat)


if __name__ == "__main__":
    main()
