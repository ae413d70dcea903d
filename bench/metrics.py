"""Benchmark: compute the whole registered metric catalogue by month × owner over the demo CRM,
then what ``crmsync metrics compute`` without options stores (by month: the organisation, owner
and team, and the snapshot metrics).

Prints the seconds each metric takes and the total, the peak RSS of the computing process, and
the ratio against the same core KPIs (win_rate, avg_deal_size, sales_cycle_days,
lead_response_minutes, calls; those registered) computed with pandas from the same store in the
same run. The pandas results are checked against crmsync's values (|Δ| ≤ 1e-6 × max(1, |v|));
mismatches are printed.

A metric that has no period ``month`` is computed for its own period (record-level metrics:
``all``); one without dimension ``owner`` for the whole organisation. Both computations run in
child processes so that each peak RSS (``VmHWM``, see ``childproc``) is its own.

The demo dataset is synced once into ``<workdir>/demo-<size>.db`` and reused. With ``--pg`` it
is also synced into a fresh PostgreSQL schema (created and dropped by the run) and measured there.

Usage::

    python bench/metrics.py                      # large dataset, SQLite
    python bench/metrics.py --size small         # smoke test
    python bench/metrics.py --pg                 # also PostgreSQL (default local URL)
    python bench/metrics.py --pg postgresql+psycopg://user@host:5432/db
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
from childproc import peak_rss_kib  # noqa: E402 (bench/ is the script dir)
from demo_stores import sync_demo, synced_store  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CORE = ("win_rate", "avg_deal_size", "sales_cycle_days", "lead_response_minutes", "calls")
PERIOD, DIMENSION = "month", "owner"


# -- filling the store -------------------------------------------------------------------------

def sqlite_store(workdir: Path, size: str) -> str:
    """The cached SQLite store of the demo dataset (synced on first use), as a URL."""
    return f"sqlite:///{synced_store(workdir, size)}"


# -- children ----------------------------------------------------------------------------------

def child_crmsync(url: str, out: str) -> None:
    """Compute every registered metric, timing each; write timings and the core values."""
    from crmsync.core.config import MetricsConfig
    from crmsync.metrics import compute
    from crmsync.plugin.registry import Registry
    from crmsync.store import Store

    store = Store(url)
    timings, core = [], {}
    for name, metric in Registry().metrics().items():
        period = PERIOD if PERIOD in metric.periods else (
            "all" if "all" in metric.periods else metric.periods[0])
        dim = DIMENSION if DIMENSION in metric.dimensions else None
        start = time.perf_counter()
        try:
            # values stay in the database; only the core KPIs come back, for the pandas check
            result = compute(store, [metric], MetricsConfig(), period=period, dimensions=(dim,),
                             keep_values=name in CORE)
            error = None
        except Exception as exc:  # report and go on: one broken metric must not hide the rest
            result, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        seconds = time.perf_counter() - start
        rows = result.stored if result else 0
        timings.append({"metric": name, "period": period, "dimension": dim,
                        "seconds": seconds, "rows": rows, "error": error})
        if name in CORE and result and period == PERIOD and dim == DIMENSION:
            core[name] = [[v.dimension_value, v.period_start.isoformat() if v.period_start
                           else None, v.value] for v in result.values]
    # The catalogue as `crmsync metrics compute` runs it: one run per (period, dimension)
    # group, so fact sets shared between metrics (ctx.shared) are built once.
    groups: dict[tuple[str, str | None], list[Any]] = {}
    for t in timings:
        metric = Registry().metric(t["metric"])
        groups.setdefault((t["period"], t["dimension"]), []).append(metric)
    start = time.perf_counter()
    stored = 0
    for (period, dim), metrics in groups.items():
        stored += compute(store, metrics, MetricsConfig(), period=period, dimensions=(dim,),
                          keep_values=False).stored
    catalogue = {"seconds": time.perf_counter() - start, "runs": len(groups), "rows": stored}
    # `crmsync metrics compute` without options: org, owner and team, snapshots (no mappings)
    from crmsync.core.config import Config
    from crmsync.orchestration.standard import compute_standard

    start = time.perf_counter()
    result = compute_standard(store, Config(store_url=url, metrics=MetricsConfig(period=PERIOD)),
                              Registry().metrics())
    standard = {"seconds": time.perf_counter() - start, "runs": len(result.runs),
                "rows": result.stored}
    store.dispose()
    Path(out).write_text(json.dumps({"timings": timings, "core": core, "catalogue": catalogue,
                                     "standard": standard, "peak_rss_kib": peak_rss_kib()}))


def _month(series):
    return series.dt.to_period("M").dt.start_time.dt.date.map(lambda d: d.isoformat())


def _ts(df, *cols):
    import pandas as pd

    for c in cols:
        df[c] = pd.to_datetime(df[c], format="ISO8601")
    return df


def _flag(series):
    """Booleans read from SQLite (0/1) or PostgreSQL; NULL → False."""
    return series.fillna(False).astype(bool)


def _keyed(df, value: str) -> list:
    return [[None if isinstance(o, float) and math.isnan(o) else o, m,
             None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)]
            for o, m, v in zip(df["owner_id"], df["month"], df[value], strict=True)]


def child_pandas(url: str, out: str, names: list[str]) -> None:
    """The core KPIs with pandas, reading the needed columns from the same store."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    timings: dict[str, float] = {}
    core: dict[str, list] = {}

    def read(sql: str):
        with engine.connect() as conn:
            return pd.read_sql(sa.text(sql), conn)

    start = time.perf_counter()
    opps = rates = None
    if {"win_rate", "avg_deal_size", "sales_cycle_days"} & set(names):
        opps = _ts(read("select connection, owner_id, status, amount, currency, amount_base, "
                        "closed_at, remote_created_at, is_deleted from opportunities"),
                   "closed_at", "remote_created_at")
        opps = opps[~_flag(opps["is_deleted"])]
        opps = opps[opps["status"].isin(["won", "lost"]) & opps["closed_at"].notna()].copy()
        opps["month"] = _month(opps["closed_at"])
        opps["owner_id"] = opps["owner_id"].astype(object)
        rates = read("select connection, currency, base_currency, rate_to_base, valid_from, "
                     "valid_to, is_deleted from currency_rates")
    timings["read deals"] = time.perf_counter() - start
    keys = ["owner_id", "month"]

    if "win_rate" in names:
        t = time.perf_counter()
        g = opps.assign(won=(opps["status"] == "won").astype(int)).groupby(
            keys, dropna=False).agg(won=("won", "sum"), closed=("won", "size")).reset_index()
        g["value"] = g["won"] / g["closed"]
        core["win_rate"] = _keyed(g, "value")
        timings["win_rate"] = time.perf_counter() - t

    won = opps[opps["status"] == "won"].copy() if opps is not None else None
    if "avg_deal_size" in names:
        t = time.perf_counter()
        r = rates[~_flag(rates["is_deleted"])
                  & (rates["base_currency"].isna() | (rates["base_currency"] == "USD"))].copy()
        r["valid_from"] = pd.to_datetime(r["valid_from"]).dt.date
        r["valid_to"] = pd.to_datetime(r["valid_to"]).dt.date
        won["deal"] = range(len(won))
        won["close_day"] = won["closed_at"].dt.date
        need = won[won["amount_base"].isna() & won["currency"].notna()
                   & (won["currency"] != "USD")]
        m = need[["deal", "connection", "currency", "close_day"]].merge(
            r, on=["connection", "currency"])
        m = m[(m["valid_from"] <= m["close_day"])
              & (m["valid_to"].isna() | (m["valid_to"] > m["close_day"]))]
        m = m.sort_values("valid_from").drop_duplicates("deal", keep="last")
        won["rate"] = won["deal"].map(m.set_index("deal")["rate_to_base"])
        base = won["amount_base"].copy()
        plain = base.isna() & (won["currency"].isna() | (won["currency"] == "USD"))
        base[plain] = won.loc[plain, "amount"]
        conv = base.isna() & ~plain
        base[conv] = won.loc[conv, "amount"] * won.loc[conv, "rate"]
        won["base"] = base
        g = won.groupby(keys, dropna=False)["base"].mean().reset_index()
        core["avg_deal_size"] = _keyed(g, "base")
        timings["avg_deal_size"] = time.perf_counter() - t

    if "sales_cycle_days" in names:
        t = time.perf_counter()
        w = won[won["remote_created_at"].notna()].copy()
        w["days"] = (w["closed_at"] - w["remote_created_at"]).dt.total_seconds() / 86400.0
        g = w.groupby(keys, dropna=False)["days"].median().reset_index()
        core["sales_cycle_days"] = _keyed(g, "days")
        timings["sales_cycle_days"] = time.perf_counter() - t

    acts = None
    if {"lead_response_minutes", "calls"} & set(names):
        t = time.perf_counter()
        acts = _ts(read("select connection, type, direction, is_automated, is_deleted, "
                        "occurred_at, owner_id, lead_id, contact_id from activities"),
                   "occurred_at")
        acts = acts[~_flag(acts["is_deleted"]) & ~_flag(acts["is_automated"])]
        timings["read activities"] = time.perf_counter() - t

    if "lead_response_minutes" in names:
        t = time.perf_counter()
        leads = _ts(read("select connection, remote_id, owner_id, remote_created_at, "
                         "converted_contact_id, is_deleted from leads"), "remote_created_at")
        leads = leads[~_flag(leads["is_deleted"]) & leads["remote_created_at"].notna()].copy()
        timings["read leads"] = time.perf_counter() - t
        t = time.perf_counter()
        touch = acts[acts["type"].isin(["call", "email", "meeting"])
                     & ((acts["direction"] == "outbound")
                        | ((acts["type"] == "meeting") & acts["direction"].isna()))]
        lk = leads[["connection", "remote_id", "remote_created_at", "converted_contact_id"]]
        by_lead = lk.merge(touch[["connection", "lead_id", "occurred_at"]],
                           left_on=["connection", "remote_id"],
                           right_on=["connection", "lead_id"])
        by_contact = lk[lk["converted_contact_id"].notna()].merge(
            touch[["connection", "contact_id", "occurred_at"]],
            left_on=["connection", "converted_contact_id"],
            right_on=["connection", "contact_id"])
        pairs = pd.concat([by_lead[["connection", "remote_id", "remote_created_at",
                                    "occurred_at"]],
                           by_contact[["connection", "remote_id", "remote_created_at",
                                       "occurred_at"]]])
        pairs = pairs[pairs["occurred_at"] >= pairs["remote_created_at"]]
        first = pairs.groupby(["connection", "remote_id"])["occurred_at"].min().rename("first")
        f = leads.join(first, on=["connection", "remote_id"], how="inner")
        f["minutes"] = (f["first"] - f["remote_created_at"]).dt.total_seconds() / 60.0
        f["month"] = _month(f["remote_created_at"])
        f["owner_id"] = f["owner_id"].astype(object)
        g = f.groupby(keys, dropna=False)["minutes"].median().reset_index()
        core["lead_response_minutes"] = _keyed(g, "minutes")
        timings["lead_response_minutes"] = time.perf_counter() - t

    if "calls" in names:
        t = time.perf_counter()
        c = acts[(acts["type"] == "call") & acts["occurred_at"].notna()].copy()
        c["month"] = _month(c["occurred_at"])
        c["owner_id"] = c["owner_id"].astype(object)
        g = c.groupby(keys, dropna=False).size().rename("n").reset_index()
        core["calls"] = _keyed(g, "n")
        timings["calls"] = time.perf_counter() - t

    engine.dispose()
    Path(out).write_text(json.dumps({"timings": timings, "core": core,
                                     "peak_rss_kib": peak_rss_kib()}))


def run_child(*args: str) -> tuple[float, dict]:
    """Run this script as a child with ``args``; return (wall seconds, its JSON report)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE), *args, "--out", out],
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"child {args[0]} failed ({proc.returncode}):\n"
                             f"{proc.stderr[-3000:]}")
        return wall, json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


# -- comparison and report ---------------------------------------------------------------------

def compare(ours: dict, theirs: dict) -> list[str]:
    """Mismatches between crmsync's and pandas' values of each core metric."""
    problems = []
    for name, rows in theirs.items():
        if name not in ours:
            problems.append(f"{name}: not computed by crmsync by {PERIOD} × {DIMENSION}")
            continue
        a = {(d, p): v for d, p, v in ours[name]}
        b = {(d, p): v for d, p, v in rows}
        for key in sorted(set(a) | set(b), key=lambda k: (str(k[1]), str(k[0]))):
            va, vb = a.get(key, "missing"), b.get(key, "missing")
            if va is None and vb is None:
                continue
            if isinstance(va, float) and isinstance(vb, float) and \
                    abs(va - vb) <= 1e-6 * max(1.0, abs(va)):
                continue
            problems.append(f"{name} owner={key[0]} month={key[1]}: crmsync {va} "
                            f"pandas {vb}")
    return problems


def measure(label: str, url: str) -> None:
    from crmsync.plugin.registry import Registry

    print(f"\n== {label}")
    names = [n for n in CORE if n in Registry().metrics()]
    skipped = [n for n in CORE if n not in names]
    wall, ours = run_child("--child-crmsync", url)
    print(f"{'metric':40} {'period':7} {'by':6} {'rows':>7} {'seconds':>9}")
    for t in ours["timings"]:
        print(f"{t['metric']:40} {t['period']:7} {t['dimension'] or '-':6} {t['rows']:>7} "
              f"{t['seconds']:>9.3f}" + (f"  ERROR {t['error']}" if t["error"] else ""))
    total = sum(t["seconds"] for t in ours["timings"])
    errors = [t["metric"] for t in ours["timings"] if t["error"]]
    print(f"{'TOTAL (' + str(len(ours['timings'])) + ' metrics)':62} {total:>9.3f}"
          f"   (child wall {wall:.1f} s, peak RSS {ours['peak_rss_kib'] / 1024:.0f} MiB)")
    if errors:
        print(f"metrics that failed: {', '.join(errors)}")
    cat = ours["catalogue"]
    print(f"WHOLE CATALOGUE by {DIMENSION} as `crmsync metrics compute --by {DIMENSION}` "
          f"groups it ({cat['runs']} runs, {cat['rows']:,} values): {cat['seconds']:.1f} s   "
          "(target < 60 s on SQLite)")
    std = ours["standard"]
    print(f"STANDARD `crmsync metrics compute` (by {PERIOD}: organisation, owner, team and "
          f"snapshots; {std['runs']} runs, {std['rows']:,} values): {std['seconds']:.1f} s")

    _pwall, theirs = run_child("--child-pandas", url, "--names", ",".join(names))
    core_ours = sum(t["seconds"] for t in ours["timings"] if t["metric"] in names)
    core_pandas = sum(theirs["timings"].values())
    print(f"\ncore KPIs ({', '.join(names)}"
          + (f"; not registered: {', '.join(skipped)}" if skipped else "") + ")")
    for step, seconds in theirs["timings"].items():
        print(f"  pandas {step:34} {seconds:>9.3f}")
    print(f"  crmsync (SQL, incl. storing values)    {core_ours:>9.3f}")
    print(f"  pandas  (read_sql + compute)           {core_pandas:>9.3f}"
          f"   (child peak RSS {theirs['peak_rss_kib'] / 1024:.0f} MiB)")
    print(f"  ratio crmsync / pandas                 {core_ours / max(core_pandas, 1e-9):>9.2f}x")
    problems = compare(ours["core"], theirs["core"])
    checked = sum(len(v) for v in theirs["core"].values())
    if problems:
        print(f"  CHECK: {len(problems)} mismatch(es) over {checked} pandas values:")
        for p in problems[:50]:
            print(f"    {p}")
        if len(problems) > 50:
            print(f"    … {len(problems) - 50} more")
    else:
        print(f"  CHECK: pandas equals crmsync on all {checked} values (±1e-6)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir())
                                                  / "crmsync-bench-metrics"))
    parser.add_argument("--pg", nargs="?", const=DEFAULT_PG, default=None,
                        help=f"also measure on PostgreSQL (default URL {DEFAULT_PG})")
    parser.add_argument("--child-crmsync", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--child-pandas", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--names", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_crmsync:
        return child_crmsync(args.child_crmsync, args.out)
    if args.child_pandas:
        return child_pandas(args.child_pandas, args.out, args.names.split(","))

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"crmsync metrics benchmark: demo '{args.size}', every metric by {PERIOD} × "
          f"{DIMENSION}")
    measure("SQLite", sqlite_store(workdir, args.size))
    if args.pg:
        import sqlalchemy as sa

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            url = sa.make_url(args.pg).update_query_dict(
                {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
            print(f"\nsyncing demo '{args.size}' into PostgreSQL schema {schema}…")
            print(f"synced in {sync_demo(url, args.size):.1f} s")
            measure("PostgreSQL", url)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
