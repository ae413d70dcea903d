"""Benchmark: the real ``crmsync sync`` of a Salesforce org (the fake in tests/fakes) into SQLite.

Dataset (``--scale 1``): 100k opportunities, 400k stage-history rows, 300k activities (Task +
Event), 50k contacts, 50k leads, 5k campaigns, eight quarters of forecast quotas (two forecast
types), 20k survey responses (40k answers), plus accounts (with their territory assignments),
users, contact roles, stages and rates.
Prints, each measured in the same run:

* full-sync rows/s on the REST path (queryAll pages of 2000) and on the Bulk API 2.0 path
  (the connector's default ``bulk_threshold``), each against its raw ceiling: the connector's
  own queries sent again (the same pages) with plain ``requests`` + ``json``/``csv`` and the
  rows inserted with ``executemany`` into the same tables of a fresh store;
* API calls against the API's minimum (:func:`minimum_calls`): ``ceil(rows / 2000)`` per
  object on REST (2,000 is the most a ``queryAll`` page holds); on Bulk, per object above the
  threshold, the job calls — create, the status polls the org answers before ``JobComplete``
  — and ``ceil(rows / API_BULK_PAGE)`` result pages, the pages Salesforce makes when the client
  asks for no ``maxRecords`` (the fewest a client can fetch; not crmsync's own page size);
* peak RSS of the sync process at two dataset sizes (is it flat in row count?);
* an incremental sync after 1 % of every object's records changed (edited; OpportunityHistory,
  which Salesforce only appends to, gains 1 % new rows: see :func:`change_one_percent`):
  calls, seconds, ratio to the full sync.

The fake runs in this process (its CPU time during each run and its RSS after it are
printed: when the raw ceiling's seconds come close to the fake's CPU time, the ceiling is
bounded by the fake, not by the client); every sync runs in a child process whose peak RSS is
its own (``VmHWM``). The fake computes the next page while the
client digests the current one, as a real org does server-side.

Usage::

    python bench/sync_salesforce.py               # scale 1 (and 0.25 for the RSS comparison)
    python bench/sync_salesforce.py --scale 0.05  # a quick run
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
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))  # the fake org lives with the tests
from childproc import compile_crmsync, report_rss, run_cli_sync, status_kib  # noqa: E402

SESSION_ENV = "SF_BENCH_SESSION_ID"
REST_PAGE = 2000
#: Rows of a Bulk API result page when the client sends no ``maxRecords`` (the fake org's
#: default, tests/fakes/sf_bulk.py): the floor's page size, whatever crmsync asks for.
API_BULK_PAGE = 100_000
CRMSYNC_BULK_PAGE: int | None = None  # crmsync_salesforce.reader.BULK_PAGE_SIZE (the API's size)
BULK_THRESHOLD = 10_000  # the connector's default bulk_threshold
#: Survey responses in the org at scale 1 (two SurveyQuestionResponse rows each), and the
#: objects the floor counts without the raw ceiling storing them: answers (feedback), survey
#: subjects, and the territory model, territories and account assignments.
SURVEYS = 20_000
FLOOR_ONLY = ("SurveyQuestionResponse", "SurveySubject", "Territory2Model", "Territory2",
              "ObjectTerritory2Association")

#: table → [(object, {Salesforce field: column})], for the raw ceiling's inserts.
RAW_MAP: dict[str, list[tuple[str, dict[str, str]]]] = {
    "users": [("User", {"Name": "name", "Email": "email", "IsActive": "is_active",
                        "ManagerId": "manager_id"})],
    "accounts": [("Account", {"Name": "name", "Industry": "industry",
                              "NumberOfEmployees": "employee_count",
                              "AnnualRevenue": "annual_revenue", "OwnerId": "owner_id",
                              "ParentId": "parent_id"})],
    "contacts": [("Contact", {"FirstName": "first_name", "LastName": "last_name",
                              "Email": "email", "Phone": "phone", "Title": "title",
                              "AccountId": "account_id", "OwnerId": "owner_id",
                              "LeadSource": "lead_source"})],
    "leads": [("Lead", {"Name": "name", "Company": "company", "Email": "email",
                        "Status": "status", "LeadSource": "lead_source", "OwnerId": "owner_id",
                        "ConvertedContactId": "converted_contact_id",
                        "ConvertedAccountId": "converted_account_id"})],
    "stages": [("OpportunityStage", {"MasterLabel": "label", "SortOrder": "display_order",
                                     "DefaultProbability": "probability",
                                     "IsClosed": "is_closed", "IsWon": "is_won"})],
    "opportunities": [("Opportunity", {"Name": "name", "Type": "type", "StageName": "stage_id",
                                       "Amount": "amount", "Probability": "probability",
                                       "CloseDate": "expected_close_date",
                                       "OwnerId": "owner_id", "AccountId": "account_id",
                                       "LeadSource": "lead_source",
                                       "CampaignId": "campaign_id"})],
    "opportunity_stage_history": [("OpportunityHistory", {
        "OpportunityId": "opportunity_id", "StageName": "stage_id", "CreatedDate": "entered_at",
        "Amount": "amount", "CreatedById": "changed_by"})],
    "opportunity_contacts": [("OpportunityContactRole", {
        "OpportunityId": "opportunity_id", "ContactId": "contact_id", "Role": "role",
        "IsPrimary": "is_primary"})],
    "activities": [(obj, {"Subject": "subject", "OwnerId": "owner_id", "WhoId": "contact_id",
                          "WhatId": "opportunity_id", "AccountId": "account_id",
                          "CreatedDate": "occurred_at"}) for obj in ("Task", "Event")],
    # every forecast type's quotas are read (the type is known per row): the floor counts all
    "quotas": [("ForecastingQuota", {"QuotaOwnerId": "owner_id", "StartDate": "period_start",
                                     "QuotaAmount": "amount",
                                     "CurrencyIsoCode": "currency"})],
    "spend": [("Campaign", {"Type": "channel", "StartDate": "period_start",
                            "EndDate": "period_end", "ActualCost": "amount",
                            "CurrencyIsoCode": "currency"})],
    "currency_rates": [("DatedConversionRate", {"IsoCode": "currency",
                                                "ConversionRate": "rate_to_base",
                                                "StartDate": "valid_from",
                                                "NextStartDate": "valid_to"})],
}


def _report(started: float) -> None:
    """The child's last two lines: seconds of work (imports excluded) and peak RSS."""
    print(f"SECONDS={time.perf_counter() - started}")
    report_rss()


# -- children ---------------------------------------------------------------------------------

def child_crmsync(config: str) -> None:
    """In a child process: the real CLI, ``crmsync sync``."""
    started = time.perf_counter()
    try:
        run_cli_sync(config)
    finally:
        _report(started)


def child_raw(queries_file: str, instance_url: str, ca_bundle: str, db: str) -> None:
    """In a child process: the connector's own queries again (the same pages), fetched with
    requests + json (REST) or csv (Bulk) and inserted with sqlite3 executemany into the
    tables crmsync's migrations create; lookups (``/query``) are fetched, not stored."""
    import csv
    import io
    import re
    import sqlite3

    import requests

    from crmsync.store import Store

    started = time.perf_counter()
    Store(f"sqlite:///{db}").dispose()  # the very tables and indexes of a crmsync store
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {os.environ[SESSION_ENV]}"
    base = f"{instance_url}/services/data/v61.0"
    now = "2026-01-01 00:00:00.000000"
    targets = {obj: (table, fields) for table, sources in RAW_MAP.items()
               for obj, fields in sources}
    system = {"Id": "remote_id", "CreatedDate": "remote_created_at",
              "SystemModstamp": "remote_updated_at", "IsDeleted": "is_deleted"}
    for query in json.loads(Path(queries_file).read_text()):
        soql = query["q"]
        m = re.match(r"\s*SELECT\s+(.*?)\s+FROM\s+(\w+)", soql, re.I | re.S)
        assert m, soql
        selected = [f.strip() for f in m.group(1).split(",")]
        table, fields = targets.get(m.group(2), (None, {}))
        names = [f for f in selected if f in system or f in fields]
        columns = [system.get(f) or fields[f] for f in names]
        sql = (f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}, connection, synced_at) "
               f"VALUES ({', '.join('?' * (len(columns) + 2))})")

        def store(rows: list[list[Any]], table: str | None = table,
                  query: dict[str, Any] = query, sql: str = sql) -> None:
            if table and query["store"]:
                con.executemany(sql, [[*r, "bench", now] for r in rows])
                con.commit()
        if query["kind"] == "bulk":
            job = http.post(f"{base}/jobs/query", verify=ca_bundle, json={
                "operation": query["operation"], "query": soql}).json()
            while http.get(f"{base}/jobs/query/{job['id']}", verify=ca_bundle).json()[
                    "state"] != "JobComplete":
                time.sleep(0.05)
            locator = ""
            while locator != "null":
                params: dict[str, Any] = {"maxRecords": CRMSYNC_BULK_PAGE}  # the same pages
                params = {k: v for k, v in params.items() if v is not None}
                if locator:
                    params["locator"] = locator
                resp = http.get(f"{base}/jobs/query/{job['id']}/results", params=params,
                                verify=ca_bundle)
                locator = resp.headers["Sforce-Locator"]
                reader = csv.reader(io.StringIO(resp.text))
                header = next(reader)
                keep = [header.index(n) for n in names]
                rows = [[r[i] if r[i] != "" else None for i in keep] for r in reader]
                for start in range(0, len(rows), REST_PAGE):
                    store(rows[start:start + REST_PAGE])
            continue
        headers = {"Sforce-Query-Options": f"batchSize={REST_PAGE}"}
        page = http.get(f"{base}/{query['endpoint']}/", params={"q": soql}, headers=headers,
                        verify=ca_bundle).json()
        for fetched in range(1, query["pages"] + 1):  # as many pages as the connector read
            store([[rec[n] for n in names] for rec in page["records"]])
            if page["done"] or fetched == query["pages"]:
                break
            page = http.get(instance_url + page["nextRecordsUrl"], headers=headers,
                            verify=ca_bundle).json()
    con.close()
    _report(started)


def data_queries(requests: list[Any]) -> list[dict[str, Any]]:
    """The reads the connector sent (REST first pages and Bulk jobs), COUNT() probes aside."""
    out: list[dict[str, Any]] = []
    for i, r in enumerate(requests):
        path = r.path.rstrip("/")
        if r.method == "GET" and path.endswith(("/query", "/queryAll")) and \
                not r.query.get("q", "").upper().startswith("SELECT COUNT()"):
            endpoint = path.rsplit("/", 1)[1]
            locator = r.next_url.rsplit("/", 1)[1].split("-")[0] if r.next_url else None
            pages = 1 + sum(1 for later in requests[i + 1:]
                            if locator and f"/{locator}-" in later.path)
            out.append({"kind": "rest", "endpoint": endpoint, "q": r.query["q"],
                        "store": endpoint == "queryAll", "pages": pages})
        elif r.method == "POST" and path.endswith("/jobs/query"):
            body = json.loads(r.body)
            out.append({"kind": "bulk", "operation": body["operation"], "q": body["query"],
                        "store": True})
    return out


# -- the parent -------------------------------------------------------------------------------

def run_child(args: list[str], fake: Any) -> dict[str, float]:
    """Run a child: its seconds of work, wall seconds (with interpreter start and imports),
    peak RSS (MB), the API calls it made and the fake's CPU seconds meanwhile."""
    calls_before = len(fake.calls)
    cpu_before = time.process_time()
    start = time.perf_counter()
    env = {**os.environ, SESSION_ENV: fake.session_id}
    proc = subprocess.run([sys.executable, str(HERE), "--child", *args], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{args[:2]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    seconds_line, rss_line = proc.stdout.strip().splitlines()[-2:]
    return {"seconds": float(seconds_line.split("=")[1]), "wall": wall,
            "rss": int(rss_line.split("=")[1]) / 1024, "calls": len(fake.calls) - calls_before,
            "fake_cpu": time.process_time() - cpu_before, "fake_rss": status_kib("VmRSS") / 1024}


def config_file(work: Path, name: str, fake: Any, **settings: Any) -> str:
    db = work / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    extra = "".join(f"{k} = {v!r}\n" for k, v in settings.items())
    path = work / f"{name}.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{db}"\n[connections.bench]\n'
                    f'type = "salesforce"\ninstance_url = "{fake.instance_url}"\n'
                    f'session_id = "${{{SESSION_ENV}}}"\nca_bundle = "{fake.ca_bundle}"\n{extra}')
    return str(path)


def start_org(scale: float) -> tuple[Any, dict[str, int]]:
    from fakes.salesforce_org import FakeSalesforceOrg
    from fakes.sf_data import Dataset

    t0 = time.perf_counter()
    fake = FakeSalesforceOrg.start(dataset=Dataset.bench(
        scale, surveys=int(SURVEYS * scale), territories=True), api_max=100_000_000)
    fake.org.ahead.enabled = True
    counts = {obj: fake.org.tables[obj].spec.count for _, sources in RAW_MAP.items()
              for obj, _ in sources}
    counts.update({obj: fake.org.tables[obj].spec.count for obj in FLOOR_ONLY})
    print(f"\n== scale {scale:g}: {sum(counts.values()):,} records in {len(counts)} objects "
          f"(org built in {time.perf_counter() - t0:.1f} s)")
    return fake, counts


def minimum_calls(counts: dict[str, int], bulk: bool, polls: int = 1) -> int:
    """The fewest calls that read ``counts``: ``ceil(rows / 2000)`` per object (REST's page
    limit); on Bulk, per object above the threshold: create the job, the status polls the fake
    answers before ``JobComplete`` and ``ceil(rows / API_BULK_PAGE)`` result pages."""
    total = 0
    for n in counts.values():
        if bulk and n > BULK_THRESHOLD:
            total += 1 + polls + math.ceil(n / API_BULK_PAGE)
        else:
            total += max(1, math.ceil(n / REST_PAGE))
    return total


def line(label: str, rows: int, r: dict[str, float]) -> None:
    print(f"{label:<34} {r['seconds']:7.1f} s {rows / r['seconds']:10,.0f} rows/s  "
          f"peak RSS {r['rss']:5.0f} MB  calls {r['calls']:6,}  fake CPU {r['fake_cpu']:5.1f} s, "
          f"RSS {r['fake_rss']:4.0f} MB")


#: The stages a touched opportunity moves through (one OpportunityHistory row each).
NEW_STAGES = ("Value Proposition", "Id. Decision Makers", "Proposal/Price Quote",
              "Negotiation/Review")


def change_one_percent(fake: Any, counts: dict[str, int]) -> int:
    """Change 1 % of every object's records, as users working in the org would.

    Records are edited (a new SystemModstamp), except OpportunityHistory: Salesforce never
    edits those rows, it appends one for every stage, amount or close-date change. Its 1 % are
    new rows — each touched opportunity moves through four more stages (4 × 1 % of the
    opportunities = 1 % of the history rows) and ends in the last of them.
    """
    from fakes.sf_data import PREFIXES, make_id

    changed = 0
    for obj, n in counts.items():
        if obj == "OpportunityHistory":
            continue
        for i in range(0, n, 100):
            rid = make_id(PREFIXES[obj], i)
            if obj == "Opportunity":
                deal = fake.org.get(obj, rid)
                for stage in NEW_STAGES:
                    fake.org.insert("OpportunityHistory", OpportunityId=rid, StageName=stage,
                                    Amount=deal["Amount"], CloseDate=deal["CloseDate"],
                                    CreatedById=deal["OwnerId"])
                    changed += 1
                fake.org.update(obj, rid, StageName=NEW_STAGES[-1], IsClosed=False,
                                IsWon=False, Probability=90.0)
            else:
                fake.org.update(obj, rid)
            changed += 1
    return changed


def bench_full(scale: float, work: Path) -> dict[str, Any]:
    fake, counts = start_org(scale)
    rows = sum(counts.values())
    out: dict[str, Any] = {"rows": rows}
    try:
        for path, threshold in (("rest", 10**12), ("bulk", BULK_THRESHOLD)):
            cfg = config_file(work, f"crmsync-{path}-{scale:g}", fake, bulk_threshold=threshold)
            seen = len(fake.requests)
            r = run_child(["crmsync", cfg], fake)
            line(f"crmsync sync, {path.upper()} path", rows, r)
            queries = work / f"queries-{path}-{scale:g}.json"
            queries.write_text(json.dumps(data_queries(fake.requests[seen:])))
            raw = run_child(["raw", str(queries), fake.instance_url, fake.ca_bundle,
                             str(work / f"raw-{path}-{scale:g}.db")], fake)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{work / f'raw-{path}-{scale:g}.db'}{suffix}").unlink(missing_ok=True)
            line(f"raw requests+executemany, {path.upper()}", rows, raw)
            minimum = minimum_calls(counts, bulk=path == "bulk",
                                    polls=fake.bulk.polls_until_complete + 1)
            print(f"{'  ratio to the raw ceiling':<34} {raw['seconds'] / r['seconds']:7.2f}"
                  f"   (target >= 0.5)")
            print(f"{'  API calls vs the minimum':<34} {r['calls']:7,} / {minimum:,} = "
                  f"{r['calls'] / minimum:.3f}   (target <= 1.1)")
            out[path] = r
            out[f"raw-{path}"] = raw
            out[f"min-{path}"] = minimum
            out[f"cfg-{path}"] = cfg
        changed = change_one_percent(fake, counts)
        inc = run_child(["crmsync", out["cfg-bulk"]], fake)
        line(f"incremental after {changed:,} changes", changed, inc)
        for path in ("rest", "bulk"):
            print(f"{f'  ratio to the full sync ({path.upper()})':<34} "
                  f"{inc['seconds'] / out[path]['seconds']:7.3f}   (target <= 0.05)")
        out["incremental"] = inc
        out["changed"] = changed
    finally:
        fake.stop()
    return out


def bench_rss_only(scale: float, work: Path) -> dict[str, Any]:
    fake, counts = start_org(scale)
    try:
        cfg = config_file(work, f"crmsync-rest-{scale:g}", fake, bulk_threshold=10**12)
        r = run_child(["crmsync", cfg], fake)
        rows = sum(counts.values())
        line("crmsync sync, REST path", rows, r)
        return {"rows": rows, "rest": r}
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="dataset scale (1 = 100k opportunities; default 1)")
    parser.add_argument("--small", type=float, default=0.25,
                        help="the smaller scale for the RSS comparison, as a fraction of --scale")
    parser.add_argument("--workdir", help="keep the databases here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "crmsync":
            child_crmsync(args.child[1])
        else:
            child_raw(*args.child[1:])
        return
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="crmsync-sf-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, REST pages of "
          f"{REST_PAGE}, Bulk pages of the API's size ({API_BULK_PAGE:,}), work dir {work}")
    print(compile_crmsync())
    small = bench_rss_only(args.scale * args.small, work)
    full = bench_full(args.scale, work)
    print(f"\npeak RSS of crmsync sync (REST): {small['rest']['rss']:.0f} MB at "
          f"{small['rows']:,} records, {full['rest']['rss']:.0f} MB at {full['rows']:,} records "
          f"(x{full['rows'] / small['rows']:.1f} records)   (target < 200 MB, flat)")
    summary = {k: ({m: round(x, 2) for m, x in v.items()} if isinstance(v, dict) else v)
               for k, v in full.items() if not k.startswith("cfg-")}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
