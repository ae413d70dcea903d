"""Benchmark: API calls to read HubSpot's KPI inputs — goal targets (``quotas``), feedback
submissions (``feedback``) and marketing campaigns (``spend``) — per 1,000 records, against the
API's minimum, on the fake portal (tests/fakes).

For each entity it reads everything once (a full read) and again after 1 % of the records
changed (an incremental read), counting the connector's calls (``connector.api_calls``), and
prints them next to the fewest the API allows:

* **quotas**: ``ceil(n / 200)`` search pages, one properties read, one archived-list page, the
  owners (active and archived, 100 a page: read here because no ``users`` read ran first) and
  the portal's currency (one call);
* **feedback**: the same search pages, properties read and archived page, plus
  ``ceil(n / 1000)`` v4 batch reads of the contact associations (search returns none);
* **spend**: ``ceil(n / 100)`` campaign list pages, full or incremental alike: the list has no
  modified-since filter, and listing every campaign is how deleted ones are found.

Usage::

    python bench/hubspot_inputs_calls.py            # 10,000 goals and surveys, 1,000 campaigns
    python bench/hubspot_inputs_calls.py --scale 0.1
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))  # the fakes live with the tests

from crmsync_hubspot import HubSpotConnector  # noqa: E402
from crmsync_hubspot.throttle import Throttle  # noqa: E402
from fakes.hs_data import Dataset  # noqa: E402
from fakes.hubspot_portal import FakeHubSpotPortal  # noqa: E402

SEARCH_PAGE, ASSOC_BATCH, LIST_PAGE = 200, 1000, 100


def _read(fake: FakeHubSpotPortal, entity: str, cursor: Any) -> tuple[int, Any]:
    """(calls, last cursor) of one read of ``entity``."""
    connector = HubSpotConnector("hub", HubSpotConnector.validate_settings(
        {"base_url": fake.base_url, "access_token": fake.access_token, "lookback_seconds": 0,
         "rate_limit": 10**6, "search_rate_limit": 10**6}), throttle=Throttle(10**6, 10**6))
    last = cursor
    for batch in connector.read(entity, cursor):
        last = batch.cursor if batch.cursor is not None else last
    calls = connector.api_calls.total
    connector.close()
    return calls, last


def _minimum(entity: str, n: int, owners: int, incremental: bool) -> int:
    pages = max(1, math.ceil(n / SEARCH_PAGE))
    if entity == "spend":
        return max(1, math.ceil(n / LIST_PAGE))
    if entity == "quotas":
        return pages + 2 + 2 * max(1, math.ceil(owners / LIST_PAGE)) + 1
    return pages + 2 + max(1, math.ceil(n / ASSOC_BATCH))


def _change(fake: FakeHubSpotPortal, entity: str) -> None:
    """Change 1 % of ``entity``'s records."""
    portal = fake.portal
    if entity == "spend":
        for guid in list(portal.campaigns.records)[::100]:
            portal.campaigns.update(guid, {"hs_name": f"changed {guid}"})
        return
    object_type, prop = {"quotas": ("goal_targets", "hs_goal_name"),
                         "feedback": ("feedback_submissions", "hs_content")}[entity]
    for rid in portal.ids(object_type)[::100]:
        portal.update(object_type, rid, {prop: f"changed {rid}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    n_goals = int(10_000 * args.scale)
    ds = Dataset(deals=10, contacts=200, companies=10, engagements=0, owners=12, products=0,
                 line_items=0, goal_targets=n_goals, feedback_submissions=n_goals,
                 campaigns=int(1000 * args.scale))
    with FakeHubSpotPortal.start(ds, record_calls=False) as fake:
        fake.portal.limits.max_per_interval = fake.portal.limits.daily = 10**9
        sizes = {"quotas": n_goals, "feedback": n_goals,
                 "spend": len(fake.portal.campaigns.records)}
        for entity, n in sizes.items():
            calls, cursor = _read(fake, entity, None)
            _line(entity, "full", n, calls, _minimum(entity, n, len(fake.portal.owners), False))
            _change(fake, entity)
            calls, _ = _read(fake, entity, cursor)
            changed = -(-n // 100)
            _line(entity, "incremental", changed, calls,
                  _minimum(entity, n if entity == "spend" else changed,
                           len(fake.portal.owners), True))


def _line(entity: str, kind: str, n: int, calls: int, minimum: int) -> None:
    print(f"hubspot {entity:<9} {kind:<11} {n:>7} records {calls:>5} calls "
          f"{calls * 1000 / max(n, 1):>7.1f} /1k   minimum {minimum:>5}   "
          f"ratio {calls / max(minimum, 1):.2f}")


if __name__ == "__main__":
    main()
