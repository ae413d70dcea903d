"""Benchmark: the real ``crmsync sync`` of the HubSpot connector against the local fake portal.

The fake portal (tests/fakes/hubspot_portal.py) runs in this process on loopback; every sync
runs in a child process (its peak RSS is its own). Printed:

* full-sync rows/s, and its ratio to a **raw ceiling** measured in the same run: the very
  same HTTP requests the connector made (recorded by the portal), replayed with plain urllib3
  + ``json.loads`` and the records inserted with ``executemany`` into the same tables of a
  fresh store (the ratio is raw seconds / crmsync seconds for the same pages);
* API calls per 1,000 deals, associations and stage history included (target <= 12), and
  field history's on top (its cost against the stage history alone: bench/field_history.py);
* API calls of the whole full sync against the API's minimum for reading the same records
  (:func:`minimum_calls`, target <= 1.1);
* peak RSS of the sync at two dataset sizes (flat in row count, target < 200 MB);
* an incremental sync after 1% of the records changed: calls, seconds, ratio to the full sync.

The portal's rate limits are raised out of reach (its headers never ask the connector to hold)
and the connector's throttle is set high: the figures are crmsync's own cost, not HubSpot's
10-second allowance.

Usage::

    python bench/sync_hubspot.py                # 100k deals, 200k contacts, 50k companies,
                                                # 300k engagements (+ a quarter size for RSS)
    python bench/sync_hubspot.py --scale 0.05   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))
from childproc import compile_crmsync, peak_rss_kib, report_rss, run_cli_sync  # noqa: E402

DEAL_ENTITIES = ("opportunities", "opportunity_stage_history", "opportunity_contacts")
FIELD_HISTORY = "opportunity_field_history"
#: object type → (table, {property: column}) for the raw ceiling's rows
RAW_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "companies": ("accounts", {"name": "name", "domain": "domain", "industry": "industry",
                               "numberofemployees": "employee_count",
                               "annualrevenue": "annual_revenue",
                               "hubspot_owner_id": "owner_id"}),
    "contacts": ("contacts", {"firstname": "first_name", "lastname": "last_name",
                              "email": "email", "phone": "phone", "jobtitle": "title",
                              "lifecyclestage": "lifecycle_stage",
                              "hubspot_owner_id": "owner_id"}),
    "deals": ("opportunities", {"dealname": "name", "pipeline": "pipeline_id",
                                "dealstage": "stage_id", "amount": "amount",
                                "deal_currency_code": "currency",
                                "amount_in_home_currency": "amount_base",
                                "hubspot_owner_id": "owner_id"}),
    **{t: ("activities", {"hs_timestamp": "occurred_at", "hubspot_owner_id": "owner_id"})
       for t in ("calls", "emails", "meetings", "tasks", "notes")},
}


# -- children ----------------------------------------------------------------------------------

def child_crmsync(base_url: str, db: str) -> None:
    """In a child process: the real CLI, ``crmsync sync``, fake portal → SQLite."""
    config = Path(db).with_suffix(".toml")
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n[connections.hub]\ntype = "hubspot"\n'
                      f'access_token = "${{HS_BENCH_TOKEN}}"\nbase_url = "{base_url}"\n'
                      f'rate_limit = 1000000\nsearch_rate_limit = 100000\n')
    try:
        run_cli_sync(str(config))
    finally:
        report_rss()


def child_raw(base_url: str, db: str, calls_file: str) -> None:
    """In a child process: replay the recorded requests with urllib3 + json.loads and
    ``executemany`` the records into the same tables of a fresh store."""
    import sqlite3

    import urllib3

    from crmsync.store import Store

    Store(f"sqlite:///{db}").dispose()  # the very tables and indexes crmsync creates
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    http = urllib3.PoolManager(maxsize=2)
    headers = {"Authorization": f"Bearer {os.environ['HS_BENCH_TOKEN']}",
               "Content-Type": "application/json"}
    now = "2026-01-01 00:00:00.000000"
    sql: dict[str, str] = {}
    with open(calls_file, encoding="utf-8") as f:
        for line in f:
            method, path, body = json.loads(line)
            res = http.request(method, base_url + path, headers=headers,
                               body=None if body is None else json.dumps(body))
            data = json.loads(res.data)
            parts = path.split("?")[0].split("/")
            results = data.get("results") or []
            rows: list[tuple[Any, ...]]
            if parts[1:4] == ["crm", "v3", "objects"] and parts[4] in RAW_TABLES and results:
                table, columns = RAW_TABLES[parts[4]]
                if "propertiesWithHistory" in results[0]:
                    table, rows = "opportunity_stage_history", [
                        (f"{r['id']}:{k}", r["id"], h["value"], h["timestamp"])
                        for r in results for k, h in enumerate(
                            r["propertiesWithHistory"].get("dealstage", []))]
                    names = ["remote_id", "opportunity_id", "stage_id", "entered_at"]
                else:
                    names = ["remote_id", "remote_created_at", "remote_updated_at",
                             *columns.values()]
                    rows = [(r["id"], r.get("createdAt"), r.get("updatedAt"),
                             *(r["properties"].get(p) for p in columns)) for r in results]
            elif parts[1:3] == ["crm", "v4"] and parts[4:6] == ["deals", "contacts"]:
                table, names = "opportunity_contacts", ["remote_id", "opportunity_id", "contact_id"]
                rows = [(f"{r['from']['id']}:{t['toObjectId']}", r["from"]["id"],
                         str(t["toObjectId"])) for r in results for t in r["to"]]
            else:
                continue
            key = f"{table}:{len(names)}"
            if key not in sql:
                cols = ["connection", "synced_at", "is_deleted", *names]
                sql[key] = (f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) "
                            f"VALUES ({', '.join('?' * len(cols))})")
            con.executemany(sql[key], [("hub", now, 0, *row) for row in rows])
            con.commit()
    con.close()
    report_rss()


# -- parent --------------------------------------------------------------------------------------

def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run a child; return (wall seconds, peak RSS in KiB)."""
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{args[2:4]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, int(proc.stdout.strip().splitlines()[-1].split("=")[1])


def runs(db: Path, after_id: int = 0) -> list[dict[str, Any]]:
    """sync_runs rows of the store (id > after_id), oldest first."""
    import sqlite3

    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(
            "SELECT id, entity, status, rows_read, api_calls, api_calls_by_endpoint "
            "FROM sync_runs WHERE id > ? ORDER BY id", (after_id,))]
    finally:
        con.close()


def stored_rows(db: Path) -> int:
    import sqlite3

    from crmsync.core.schema import SYNCED_TABLES

    con = sqlite3.connect(db)
    try:
        return sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SYNCED_TABLES)
    finally:
        con.close()


def deal_calls(rows: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    """Calls of the deal entities, in total and per endpoint (from cumulative snapshots)."""
    total = 0
    before: dict[str, int] = {}
    by_endpoint: dict[str, int] = {}
    for r in rows:
        snap = json.loads(r["api_calls_by_endpoint"] or "{}")
        if r["entity"] in DEAL_ENTITIES:
            total += r["api_calls"]
            for k, v in snap.items():
                if v - before.get(k, 0):
                    by_endpoint[k] = by_endpoint.get(k, 0) + v - before.get(k, 0)
        before = snap
    return total, by_endpoint


#: HubSpot's largest pages: a search answers at most 200 records, a v4 association batch read
#: takes 1,000 ids, a list endpoint (owners, archived records) answers 100.
SEARCH_PAGE, ASSOCIATION_BATCH, LIST_PAGE = 200, 1000, 100
#: Calls whose number depends on the data, not on paging (deals whose stage dates do not tile
#: their lives need their property history, 50 a call; a record with more associations than a
#: batch answer holds pages through them): counted in the floor as crmsync made them.
DATA_DEPENDENT = ("POST /crm/v3/objects/deals/batch/read", "GET /crm/v4/objects/")
#: The KPI inputs' object types (crmsync_hubspot.inputs): goal targets, feedback submissions.
INPUT_OBJECTS = ("goal_targets", "feedback_submissions")


def minimum_calls(portal: Any, totals: dict[str, int]) -> int:
    """The fewest calls that read the portal once: per object type, its records in search
    pages of 200, each association the schema needs in batches of 1,000, one custom-properties
    read and one archived-list page (goal targets and feedback submissions too); the owners
    (active and archived) in list pages; the pipelines in one call; ``leads`` (lifecycle) are
    contacts, already read; the portal's currency in one call and the campaigns in list pages
    of 100; web traffic in one sources-report call per ``WINDOW_DAYS`` of the two years a
    first read asks (bench/web_traffic_calls.py). Plus the :data:`DATA_DEPENDENT` calls as made
    (``totals``: calls per endpoint of the sync)."""
    from crmsync_hubspot.connector import ASSOCIATIONS
    from crmsync_hubspot.web_analytics import HISTORY_DAYS, calls_for_days

    def pages(n: int, size: int) -> int:
        return max(1, -(-n // size))

    floor = 1 + pages(len(portal.owners), LIST_PAGE) + 1  # pipelines, owners, archived owners
    floor += calls_for_days(HISTORY_DAYS + 1)  # web_traffic: the daily sources report
    for object_type in portal.tables:
        if object_type not in RAW_TABLES:  # read only as associations (e.g. the Leads object)
            continue
        n = len(portal.ids(object_type))
        floor += pages(n, SEARCH_PAGE) + 1 + 1  # search pages, properties, archived list
        associations = (*ASSOCIATIONS.get(object_type, ()),
                        *(("contacts",) if object_type == "deals" else ()))
        floor += len(associations) * pages(n, ASSOCIATION_BATCH)
    for object_type in INPUT_OBJECTS:  # quotas and feedback: read like the objects above
        n = len(portal.ids(object_type))
        floor += pages(n, SEARCH_PAGE) + 1 + 1
        floor += len(ASSOCIATIONS.get(object_type, ())) * pages(n, ASSOCIATION_BATCH)
    # the portal's currency (goal amounts), and the campaigns (spend) in list pages of 100
    floor += 1 + pages(len(portal.campaigns.records), LIST_PAGE)
    return floor + sum(n for k, n in totals.items() if k.startswith(DATA_DEPENDENT))


def change_one_percent(portal: Any) -> int:
    """Change a property on every 100th record of every object type; return how many."""
    changed = 0
    names = {"deals": "dealname", "companies": "name", "contacts": "firstname",
             "calls": "hs_call_title", "emails": "hs_email_subject",
             "meetings": "hs_meeting_title", "tasks": "hs_task_subject", "notes": "hs_note_body"}
    for object_type, prop in names.items():
        for rid in portal.ids(object_type)[::100]:
            portal.update(object_type, rid, {prop: f"changed {rid}"})
            changed += 1
    return changed


def unlimited(fake: Any) -> Any:
    """Raise the portal's limits out of reach: its rate-limit headers then never make the
    connector hold (the figures are crmsync's cost, not HubSpot's allowance)."""
    fake.portal.limits.max_per_interval = fake.portal.limits.daily = 10**9
    return fake


def full_sync(fake: Any, work: Path, label: str, env: dict[str, str]) -> dict[str, Any]:
    db = work / f"{label}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    seconds, rss = run_measured([sys.executable, str(HERE), "--child", "crmsync", fake.base_url,
                                 str(db)], env)
    rows = runs(db)
    bad = [r for r in rows if r["status"] != "success"]
    if bad:
        raise SystemExit(f"sync did not succeed: {bad}")
    return {"db": db, "seconds": seconds, "rss": rss / 1024, "stored": stored_rows(db),
            "read": sum(r["rows_read"] for r in rows), "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="dataset size relative to 100k deals/200k contacts/50k companies/"
                             "300k engagements (default 1.0)")
    parser.add_argument("--second-scale", type=float, default=None,
                        help="the second size for peak RSS (default: scale / 4)")
    parser.add_argument("--workdir", help="keep the stores here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "crmsync":
            child_crmsync(*rest)
        elif mode == "raw":
            child_raw(*rest)
        else:  # the fixed cost of a sync process: interpreter, imports, plugins
            import crmsync.cli  # noqa: F401
            import crmsync_hubspot  # noqa: F401
            report_rss()
        return

    from fakes.hs_data import Dataset
    from fakes.hubspot_portal import FakeHubSpotPortal

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="crmsync-hs-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset = Dataset.bench(args.scale)
    print(compile_crmsync())
    t0 = time.perf_counter()
    calls_file = work / "calls.jsonl"
    # the connector's requests, for the replay
    with open(calls_file, "w", encoding="utf-8") as sink:
        lock = threading.Lock()

        def log_call(call: Any) -> None:
            line = json.dumps([call.method, call.path, call.body]) + "\n"
            with lock:
                sink.write(line)

        fake = unlimited(FakeHubSpotPortal.start(dataset, call_log=log_call))
        env = {**os.environ, "HS_BENCH_TOKEN": fake.access_token}
        records = sum(len(t) for t in fake.portal.tables.values())
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; fake portal: "
              f"{dataset.deals:,} deals, {dataset.contacts:,} contacts, {dataset.companies:,} "
              f"companies, {dataset.engagements:,} engagements ({records:,} records, built in "
              f"{time.perf_counter() - t0:.1f} s); work dir {work}")

        full = full_sync(fake, work, "full", env)
        fake.record_calls = False
    with open(calls_file, encoding="utf-8") as f:
        n_calls = sum(1 for _ in f)
    raw_db = work / "raw.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{raw_db}{suffix}").unlink(missing_ok=True)
    raw_seconds, raw_rss = run_measured([sys.executable, str(HERE), "--child", "raw",
                                         fake.base_url, str(raw_db), str(calls_file)], env)
    rate, ceiling = full["stored"] / full["seconds"], full["stored"] / raw_seconds
    print(f"\n== full sync ({n_calls:,} API calls)")
    print(f"{'crmsync sync (fake HubSpot -> SQLite)':<44} {full['seconds']:8.1f} s "
          f"{rate:10,.0f} rows/s  ({full['stored']:,} rows stored, {full['read']:,} read)")
    print(f"{'raw ceiling: same requests, json, executemany':<44} {raw_seconds:8.1f} s "
          f"{ceiling:10,.0f} rows/s  (peak RSS {raw_rss / 1024:.0f} MB)")
    print(f"{'ratio crmsync / raw ceiling':<44} {rate / ceiling:8.2f}   (target >= 0.5)")

    total, by_endpoint = deal_calls(full["runs"])
    per_k = total / (dataset.deals / 1000)
    print(f"\n== API calls per 1,000 deals (opportunities, stage history, deal contacts): "
          f"{per_k:.1f}   (target <= 12)")
    for endpoint, n in sorted(by_endpoint.items(), key=lambda kv: -kv[1]):
        print(f"   {endpoint:<58} {n / (dataset.deals / 1000):6.1f}")
    history = sum(r["api_calls"] for r in full["runs"] if r["entity"] == FIELD_HISTORY)
    print(f"   + opportunity_field_history (deal property history, 50 deals a batch read; "
          f"bench/field_history.py): {history / (dataset.deals / 1000):.1f}")
    totals = json.loads(full["runs"][-1]["api_calls_by_endpoint"] or "{}")
    floor = minimum_calls(fake.portal, totals)
    print(f"\n== API calls of the full sync vs the API's minimum: {n_calls:,} / {floor:,} = "
          f"{n_calls / floor:.3f}   (target <= 1.1)")
    for endpoint, n in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"   {endpoint:<58} {n:8,d}")

    changed = change_one_percent(fake.portal)
    last_id = full["runs"][-1]["id"]
    seconds, _rss = run_measured([sys.executable, str(HERE), "--child", "crmsync", fake.base_url,
                                  str(full["db"])], env)
    incr = runs(full["db"], last_id)
    calls = sum(r["api_calls"] for r in incr)
    startup, _ = run_measured([sys.executable, str(HERE), "--child", "noop"], env)
    print(f"\n== incremental sync after 1% changed ({changed:,} records)")
    print(f"{'calls':<44} {calls:8,d}   ({calls / max(n_calls, 1):.3f} of the full sync's)")
    print(f"{'seconds':<44} {seconds:8.1f}   ratio to full {seconds / full['seconds']:.3f} "
          f"(target <= 0.05; {startup:.1f} s of it is starting Python and importing crmsync)")
    fake.stop()

    second = args.second_scale or args.scale / 4
    small = unlimited(FakeHubSpotPortal.start(Dataset.bench(second), record_calls=False))
    env["HS_BENCH_TOKEN"] = small.access_token
    other = full_sync(small, work, "second", env)
    small.stop()
    print(f"\n== peak RSS of crmsync sync: {other['rss']:.0f} MB at {other['stored']:,} rows, "
          f"{full['rss']:.0f} MB at {full['stored']:,} rows "
          f"(x{full['stored'] / max(other['stored'], 1):.1f} rows; target < 200 MB, flat)")
    hwm = peak_rss_kib()
    print(f"   (the fake portal's own process, serving both: peak RSS {hwm / 1024:.0f} MB)")
    print(json.dumps({"rows_per_s": round(rate), "ceiling_rows_per_s": round(ceiling),
                      "ratio": round(rate / ceiling, 2), "calls_per_1000_deals": round(per_k, 1),
                      "calls": n_calls, "min_calls": floor,
                      "incremental_calls": calls, "incremental_s": round(seconds, 1),
                      "incremental_ratio": round(seconds / full["seconds"], 3),
                      "rss_mb": [round(other["rss"]), round(full["rss"])],
                      "rows": [other["stored"], full["stored"]]}))


if __name__ == "__main__":
    main()
