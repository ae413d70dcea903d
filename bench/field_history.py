"""Benchmark: API calls of reading ``opportunity_field_history`` (Salesforce and HubSpot),
against today's stage-history-only cost measured in the same run.

For each connector, against its fake server (tests/fakes) with field changes in the data:

* **baseline**: the history as read before field history existed, i.e. this connection with
  ``opportunity_field_history`` disabled: Salesforce reads ``opportunity_stage_history``;
  HubSpot reads ``opportunities`` then ``opportunity_stage_history`` (which replays the deal
  spool);
* **with field history**: the same plus ``opportunity_field_history``, in the connector's
  entity order.

Both on a full read of every deal, then on an incremental read after ``--changed`` deals
changed (Salesforce: a save changing amount and close date, writing OpportunityHistory and
field-history rows as Salesforce does; HubSpot: an amount change). Printed: calls of the
history entities per 1,000 deals (full) and per 1,000 changed deals (incremental), and the
extra calls field history costs. HubSpot's ``opportunities`` read is counted in neither (both
variants make it identically); its ``users`` read (the owners, field history's authors) is
made in both. The connectors run in this process; the counts are the connectors' own
(``api_calls``), the same the sync engine logs.

Usage::

    python bench/field_history.py                       # 5,000 deals, 1,000 changed
    python bench/field_history.py --deals 20000 --changed 2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))  # the fakes live with the tests

STAGES, FIELDS = "opportunity_stage_history", "opportunity_field_history"


def _read(connector: Any, entities: list[str], cursors: dict[str, Any]
          ) -> tuple[dict[str, int], dict[str, Any]]:
    """Read ``entities`` in order from ``cursors``: calls per entity, the new cursors."""
    calls: dict[str, int] = {}
    out = dict(cursors)
    for entity in entities:
        before = connector.api_calls.total
        for batch in connector.read(entity, cursors.get(entity)):
            if batch.cursor is not None:
                out[entity] = batch.cursor
        calls[entity] = connector.api_calls.total - before
    return calls, out


# -- Salesforce --------------------------------------------------------------------------------

def salesforce(deals: int, changed: int) -> dict[str, Any]:
    from crmsync_salesforce import SalesforceConnector
    from fakes.salesforce_org import FakeSalesforceOrg
    from fakes.sf_data import PREFIXES, Dataset, make_id
    from fakes.sf_field_history import save_with_history

    def connector(fake: Any, fields: bool) -> Any:
        return SalesforceConnector("sf", SalesforceConnector.validate_settings({
            "instance_url": fake.instance_url, "session_id": fake.session_id,
            "ca_bundle": fake.ca_bundle, "objects": {} if fields else {FIELDS: False}}))

    dataset = Dataset(opportunities=deals, activities=10, contacts=10, leads=10,
                      field_history=True, field_changes=True)
    out: dict[str, Any] = {}
    with FakeSalesforceOrg.start(dataset=dataset) as fake:
        cursors: dict[bool, dict[str, Any]] = {}
        for fields in (False, True):
            c = connector(fake, fields)
            calls, cursors[fields] = _read(c, [STAGES, FIELDS] if fields else [STAGES], {})
            out[("full", fields)] = calls
            c.close()
        step = max(1, deals // changed)
        for n in range(0, step * changed, step):
            opp = fake.org.get("Opportunity", make_id(PREFIXES["Opportunity"], n % deals))
            save_with_history(fake.org, opp["Id"], at=fake.org.now(), by=opp["OwnerId"],
                              Amount=float(opp["Amount"] or 0) + 500, CloseDate="2027-06-30")
        for fields in (False, True):
            c = connector(fake, fields)
            calls, _ = _read(c, [STAGES, FIELDS] if fields else [STAGES], cursors[fields])
            out[("incremental", fields)] = calls
            c.close()
    return out


# -- HubSpot -----------------------------------------------------------------------------------

def hubspot(deals: int, changed: int) -> dict[str, Any]:
    from crmsync_hubspot import HubSpotConnector
    from crmsync_hubspot.throttle import Throttle
    from fakes.hs_data import Dataset
    from fakes.hubspot_portal import FakeHubSpotPortal

    def connector(fake: Any, fields: bool) -> Any:
        entities = ["users", "opportunities", STAGES] + ([FIELDS] if fields else [])
        return HubSpotConnector("hs", HubSpotConnector.validate_settings({
            "base_url": fake.base_url, "access_token": fake.access_token,
            "lookback_seconds": 0, "objects": entities, "rate_limit": 1_000_000,
            "search_rate_limit": 1_000_000}), throttle=Throttle(1_000_000, 1_000_000,
                                                                 sleep=lambda s: None))

    dataset = Dataset(deals=deals, contacts=20, companies=10, engagements=20,
                      field_changes=True)
    out: dict[str, Any] = {}
    with FakeHubSpotPortal.start(dataset) as fake:
        fake.portal.limits.max_per_interval = fake.portal.limits.daily = 10**9
        cursors: dict[bool, dict[str, Any]] = {}
        for fields in (False, True):
            c = connector(fake, fields)
            calls, cursors[fields] = _read(c, list(c.ENTITIES), {})
            out[("full", fields)] = calls
            c.close()
        ids = [fake.portal.tables["deals"].id_of(i) for i in range(0, deals,
                                                                   max(1, deals // changed))]
        for k, deal in enumerate(ids[:changed]):
            fake.portal.update("deals", deal, {"amount": str(1000 + k)})
        for fields in (False, True):
            c = connector(fake, fields)
            calls, _ = _read(c, list(c.ENTITIES), cursors[fields])
            out[("incremental", fields)] = calls
            c.close()
    return out


def report(name: str, results: dict[Any, dict[str, int]], deals: int, changed: int) -> None:
    """Print one connector's figures."""
    print(f"\n{name}")
    for kind, n in (("full", deals), ("incremental", changed)):
        base = sum(v for k, v in results[(kind, False)].items() if k in (STAGES, FIELDS))
        new = sum(v for k, v in results[(kind, True)].items() if k in (STAGES, FIELDS))
        per = "deals" if kind == "full" else "changed deals"
        detail = ", ".join(f"{k.split('_')[1]} {v}" for k, v in results[(kind, True)].items()
                           if k in (STAGES, FIELDS))
        print(f"  {kind:<11} {n:>6} {per:<13} stage only {base:>5} calls "
              f"({1000 * base / n:6.1f}/1k)   with field history {new:>5} "
              f"({1000 * new / n:6.1f}/1k; {detail})   extra {1000 * (new - base) / n:+.1f}/1k")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=5000, help="deals in each fake")
    parser.add_argument("--changed", type=int, default=1000, help="deals changed before the "
                                                                  "incremental read")
    parser.add_argument("--only", choices=("salesforce", "hubspot"))
    args = parser.parse_args()
    if args.only != "hubspot":
        report("Salesforce", salesforce(args.deals, args.changed), args.deals, args.changed)
    if args.only != "salesforce":
        report("HubSpot", hubspot(args.deals, args.changed), args.deals, args.changed)


if __name__ == "__main__":
    main()
