"""Benchmark: API calls to read products and line items, per 1,000 records, against the API's
minimum, on the fake Salesforce org and the fake HubSpot portal (tests/fakes).

For each CRM and entity it reads everything once (a full read) and again after 1 % of the
records changed (an incremental read), counting the calls the connector made
(``connector.api_calls``), and prints them next to the fewest calls the API allows:

* **Salesforce**: ``ceil(rows / 2000)`` queryAll pages per object (2,000 rows is the most a REST
  page holds) plus one describe; for line items also ``ceil(installments / 2000)`` pages of
  their revenue schedules (``OpportunityLineItemSchedule`` read whole); an incremental read
  also needs one getDeleted call.
* **HubSpot**: ``ceil(rows / 200)`` search pages (200 is the search API's most per page) plus,
  for line items, ``ceil(rows / 1000)`` v4 association batch reads (search returns no
  associations; 1,000 ids per call), plus one archived-list page for deletions.

Usage::

    python bench/line_items_calls.py            # 10,000 line items, 1,000 products
    python bench/line_items_calls.py --scale 0.1
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))  # the fakes live with the tests

from crmsync_hubspot import HubSpotConnector  # noqa: E402
from crmsync_hubspot.throttle import Throttle  # noqa: E402
from crmsync_salesforce import SalesforceConnector  # noqa: E402
from fakes.hs_data import Dataset as HsDataset  # noqa: E402
from fakes.hubspot_portal import FakeHubSpotPortal  # noqa: E402
from fakes.salesforce_org import FakeSalesforceOrg  # noqa: E402
from fakes.sf_data import PREFIXES, make_id  # noqa: E402
from fakes.sf_data import Dataset as SfDataset  # noqa: E402

SF_PAGE, HS_SEARCH_PAGE, HS_ASSOC_BATCH = 2000, 200, 1000


def _read(make: Callable[[], Any], entity: str, cursor: Any) -> tuple[int, int, Any]:
    """(records, calls, last cursor) of one read of ``entity``."""
    connector = make()
    rows, last = 0, cursor
    for batch in connector.read(entity, cursor):
        rows += len(batch.records)
        last = batch.cursor
    calls = connector.api_calls.total
    connector.close()
    return rows, calls, last


def _line(crm: str, entity: str, kind: str, rows: int, calls: int, minimum: int) -> None:
    per_1k = calls * 1000 / rows if rows else float("nan")
    print(f"{crm:<10} {entity:<22} {kind:<11} {rows:>7} rows {calls:>5} calls "
          f"{per_1k:>6.1f} /1k   minimum {minimum:>5}   ratio {calls / max(minimum, 1):.2f}")


def salesforce(scale: float) -> None:
    """Product2 and OpportunityLineItem on the fake org."""
    ds = SfDataset(opportunities=int(5000 * scale), activities=10, contacts=10, leads=10,
                   products=int(1000 * scale), multi_currency=False)
    installments = next(spec.count for spec in ds.build()
                        if spec.name == "OpportunityLineItemSchedule")
    with FakeSalesforceOrg.start(dataset=ds) as fake:
        def make() -> SalesforceConnector:
            return SalesforceConnector("sf", SalesforceConnector.validate_settings(
                {"instance_url": fake.instance_url, "session_id": fake.session_id,
                 "ca_bundle": fake.ca_bundle, "lookback_seconds": 0,
                 "objects": ["products", "opportunity_line_items"]}))
        for entity, obj in (("products", "Product2"),
                            ("opportunity_line_items", "OpportunityLineItem")):
            rows, calls, cursor = _read(make, entity, None)
            # describe (one composite call) + the pages (+ the schedules' pages)
            schedules = math.ceil(installments / SF_PAGE) if obj == "OpportunityLineItem" else 0
            _line("salesforce", entity, "full", rows, calls,
                  1 + math.ceil(rows / SF_PAGE) + schedules)
            for i in range(max(1, rows // 100)):
                values = {"Description": "changed"} if obj == "Product2" else {"Quantity": 7.0}
                fake.org.update(obj, make_id(PREFIXES[obj], i), **values)
            changed, calls, _ = _read(make, entity, cursor)
            _line("salesforce", entity, "incremental", changed, calls,
                  1 + math.ceil(max(changed, 1) / SF_PAGE) + 1)


def hubspot(scale: float) -> None:
    """Products and line items on the fake portal."""
    ds = HsDataset(deals=int(5000 * scale), contacts=10, companies=10, engagements=0,
                   products=int(1000 * scale), line_items=int(10_000 * scale))
    fake = FakeHubSpotPortal.start(ds, record_calls=False)
    try:
        def make() -> HubSpotConnector:
            return HubSpotConnector("hs", HubSpotConnector.validate_settings(
                {"access_token": fake.access_token, "base_url": fake.base_url,
                 "lookback_seconds": 0}), throttle=Throttle(10_000, 10_000,
                                                            sleep=lambda s: None))
        for entity, object_type in (("products", "products"),
                                    ("opportunity_line_items", "line_items")):
            rows, calls, cursor = _read(make, entity, None)
            assoc = math.ceil(rows / HS_ASSOC_BATCH) if object_type == "line_items" else 0
            # the search pages, the associations, one archived page, one properties read
            floor = math.ceil(rows / HS_SEARCH_PAGE) + assoc + 1 + 1
            _line("hubspot", entity, "full", rows, calls, floor)
            ids = fake.portal.ids(object_type)
            for rid in ids[: max(1, len(ids) // 100)]:
                fake.portal.update(object_type, rid, {"name": "changed"})
            changed, calls, _ = _read(make, entity, cursor)
            assoc = math.ceil(changed / HS_ASSOC_BATCH) if object_type == "line_items" else 0
            _line("hubspot", entity, "incremental", changed, calls,
                  math.ceil(max(changed, 1) / HS_SEARCH_PAGE) + assoc + 1 + 1)
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="1: 1,000 products and 10,000 line items per CRM")
    args = parser.parse_args()
    salesforce(args.scale)
    hubspot(args.scale)


if __name__ == "__main__":
    main()
