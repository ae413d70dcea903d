"""Benchmark: write-back of N changed values against the fake Salesforce org and the fake
HubSpot portal (tests/fakes/), through the real connectors.

For each CRM: sync N deals into a SQLite store, compute ``opportunity_age_days`` (one value per
deal), then

* **apply**: ``crmsync.api.writeback_apply`` creating the field and sending every value —
  write API calls (target: ceil(N/200) sObject Collections calls on Salesforce, or the Bulk API
  2.0 job's calls above ``bulk_threshold``; ceil(N/100) batch updates on HubSpot) and seconds;
* **raw ceiling**: the same values sent by calling the connector's ``write`` directly (no plan,
  no state), measured in the same run — the apply's seconds are given as a ratio to it;
* **re-apply**: the same apply again with nothing new (target: 0 write calls).

Usage::

    python bench/writeback.py                 # 10,000 values, Salesforce (Collections and
                                              # Bulk 2.0) and HubSpot
    python bench/writeback.py --n 1000 --crm hubspot   # a quick run
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crmsync import WriteUpdate, api
from crmsync.core.config import Config, ConnectionConfig
from crmsync.metrics import engine as metric_engine
from crmsync.plugin.connector import FieldSpec
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.writeback.mapping import parse_writeback

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fakes, imported where each CRM starts

METRIC = "opportunity_age_days"
AS_OF = dt.datetime(2027, 1, 1)


class Crm:
    """One fake CRM: how to start it, configure a connection and read its call log."""

    name: str
    per_call: int

    def __init__(self, n: int, **settings: Any) -> None:
        self.n = n
        self.settings = settings

    def raw(self) -> dict[str, Any]:
        raise NotImplementedError

    def calls(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class Salesforce(Crm):
    per_call = 200

    def __init__(self, n: int, **settings: Any) -> None:
        super().__init__(n, **settings)
        from fakes.salesforce_org import FakeSalesforceOrg
        from fakes.sf_data import Dataset

        self.fake = FakeSalesforceOrg.start(dataset=Dataset(
            opportunities=n, history_per_opportunity=1, activities=50, contacts=20, leads=20))
        bulk = settings.get("bulk_threshold")
        self.name = "salesforce " + ("(Collections)" if bulk and bulk > n else "(Bulk 2.0)")

    def raw(self) -> dict[str, Any]:
        import os

        os.environ["BENCH_SF_SESSION"] = self.fake.session_id
        return {"type": "salesforce", "instance_url": self.fake.instance_url,
                "session_id": "${BENCH_SF_SESSION}", "ca_bundle": self.fake.ca_bundle,
                **self.settings}

    def calls(self) -> list[tuple[str, str]]:
        return [(c[0], c[1]) for c in self.fake.calls]

    def reset(self) -> None:
        self.fake.reset_calls()

    def stop(self) -> None:
        self.fake.stop()


class HubSpot(Crm):
    name = "hubspot"
    per_call = 100

    def __init__(self, n: int, **settings: Any) -> None:
        super().__init__(n, **settings)
        from fakes.hs_data import Dataset
        from fakes.hubspot_portal import FakeHubSpotPortal

        self.fake = FakeHubSpotPortal.start(Dataset(deals=n, contacts=50, companies=50,
                                                    engagements=50, owners=6))
        # The portal's ten-second window (190 calls) would make the connector wait between
        # the raw run and the apply; this measures write-back, not HubSpot's rate limit.
        self.fake.portal.limits.max_per_interval = 1_000_000

    def raw(self) -> dict[str, Any]:
        import os

        os.environ["BENCH_HS_TOKEN"] = self.fake.access_token
        return {"type": "hubspot", "base_url": self.fake.base_url,
                "access_token": "${BENCH_HS_TOKEN}", "rate_limit": 1_000_000,
                "search_rate_limit": 1_000_000, **self.settings}

    def calls(self) -> list[tuple[str, str]]:
        return [(c.method, c.route) for c in self.fake.calls]

    def reset(self) -> None:
        self.fake.reset_calls()

    def stop(self) -> None:
        self.fake.stop()


def _writes(calls: list[tuple[str, str]]) -> collections.Counter[str]:
    """Calls other than reads, by endpoint (ids and job ids folded)."""
    out: collections.Counter[str] = collections.Counter()
    for method, path in calls:
        path = path.split("?")[0]
        if method == "GET" or path.endswith("/batch/read") or "/query" in path:
            continue
        parts = ["{id}" if any(ch.isdigit() for ch in p) and len(p) >= 15 else p
                 for p in path.split("/")]
        out[f"{method} {'/'.join(parts)}"] += 1
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def measure(crm: Crm, workdir: Path) -> dict[str, Any]:
    registry = Registry()
    store = Store(f"sqlite:///{workdir / (crm.name.split()[0] + str(id(crm)) + '.db')}")
    config = Config(store_url=store.url, connections={"crm": ConnectionConfig(
        name="crm", type=crm.raw()["type"], raw=crm.raw())})
    config.sections["writeback"] = parse_writeback(
        [{"metric": METRIC, "connection": "crm", "object": "opportunity",
          "create_field": True}], file=None, connections=config.connections)
    try:
        synced, sync_s = _timed(lambda: api.sync(config, registry, entities=["opportunities"],
                                                 store=store))
        assert synced.ok, synced.error
        values = metric_engine.compute(store, [registry.metric(METRIC)], config.metrics,
                                       period="all", connection="crm", as_of=AS_OF).values
        n = sum(v.value is not None for v in values)

        # raw ceiling: the connector alone, same values, into a field of its own
        connector, _ = api.connect(config, "crm", registry)
        info = connector.ensure_field("opportunities", FieldSpec(
            name="crmsync_bench_raw", type="number", label="bench raw", scale=0))
        updates = [WriteUpdate(v.subject_id, {info.name: math.floor(v.value)})
                   for v in values if v.value is not None]
        crm.reset()
        results, raw_s = _timed(lambda: list(connector.write("opportunities", updates)))
        raw_calls = sum(_writes(crm.calls()).values())
        connector.close()
        assert all(r.ok for r in results), [r for r in results if not r.ok][:3]

        plan, plan_s = _timed(lambda: api.writeback_plan(config, registry, store=store))
        crm.reset()
        report, apply_s = _timed(lambda: api.writeback_apply(config, registry, store=store))
        apply_writes, apply_total = _writes(crm.calls()), len(crm.calls())
        crm.reset()
        again, again_s = _timed(lambda: api.writeback_apply(config, registry, store=store))
        again_writes = _writes(crm.calls())
        return {"crm": crm.name, "n": n, "sync_s": sync_s, "plan_s": plan_s,
                "planned": plan.updates, "apply": report.details[0], "apply_s": apply_s,
                "apply_writes": apply_writes, "apply_total": apply_total, "raw_s": raw_s,
                "raw_calls": raw_calls,
                "again": again.details[0], "again_s": again_s, "again_writes": again_writes,
                "per_call": crm.per_call}
    finally:
        store.dispose()


def report(r: dict[str, Any]) -> None:
    n, per_call = r["n"], r["per_call"]
    field_calls = {k: v for k, v in r["apply_writes"].items()
                   if "batch/update" not in k and "composite/sobjects" not in k
                   and "/jobs/ingest" not in k}
    value_calls = sum(v for k, v in r["apply_writes"].items() if k not in field_calls)
    print(f"\n== {r['crm']}: {n:,} changed values (sync of the deals: {r['sync_s']:.1f} s)")
    print(f"{'plan':<46} {r['plan_s']:8.2f} s   {r['planned']:,} updates planned")
    bulk = any("/jobs/ingest" in k for k in r["apply_writes"])
    target = ("one Bulk 2.0 ingest job (create, upload, close)" if bulk
              else f"ceil(n/{per_call}) = {math.ceil(n / per_call):,}")
    print(f"{'apply: value write calls':<46} {value_calls:8,d}     target {target}")
    for endpoint, count in sorted(r["apply_writes"].items()):
        print(f"   {endpoint:<60} {count:6,d}")
    print(f"{'apply: field creation calls':<46} {sum(field_calls.values()):8,d}")
    print(f"{'apply: all API calls (describe, job polls…)':<46} {r['apply_total']:8,d}")
    print(f"{'apply: seconds':<46} {r['apply_s']:8.2f} s   sent {r['apply']['sent']:,}, "
          f"failed {r['apply']['failed'] + r['apply']['parked']:,}")
    print(f"{'raw ceiling: connector.write alone':<46} {r['raw_s']:8.2f} s   "
          f"({r['raw_calls']:,} write calls)")
    print(f"{'ratio apply / raw ceiling':<46} {r['apply_s'] / max(r['raw_s'], 1e-9):8.2f}")
    print(f"{'re-apply, nothing new: write calls':<46} {sum(r['again_writes'].values()):8,d}"
          f"     target 0 (sent {r['again']['sent']}, unchanged {r['again']['unchanged']:,})")
    print(f"{'re-apply: seconds':<46} {r['again_s']:8.2f} s   ratio to apply "
          f"{r['again_s'] / max(r['apply_s'], 1e-9):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="deals (changed values)")
    parser.add_argument("--crm", choices=("salesforce", "hubspot", "all"), default="all")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; fakes on loopback; store SQLite; "
          f"metric {METRIC}")
    crms: list[Callable[[], Crm]] = []
    if args.crm in ("salesforce", "all"):
        crms.append(lambda: Salesforce(args.n, bulk_threshold=args.n * 10))
        crms.append(lambda: Salesforce(args.n, bulk_threshold=2_000))
    if args.crm in ("hubspot", "all"):
        crms.append(lambda: HubSpot(args.n))
    with tempfile.TemporaryDirectory(prefix="crmsync-bench-wb-") as tmp:
        for make in crms:
            crm = make()
            try:
                report(measure(crm, Path(tmp)))
            finally:
                crm.stop()


if __name__ == "__main__":
    main()
