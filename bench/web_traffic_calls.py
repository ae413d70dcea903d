"""Benchmark: API calls to read HubSpot web traffic (the daily sources report,
plugins/crmsync_hubspot/web_analytics.py) per day read and per 1,000 rows, against the
minimum, on the fake portal (tests/fakes/hs_web.py).

A full read asks two years (``HISTORY_DAYS`` + 1 days) of the report; an incremental read the
days since the last one plus ``REREAD_DAYS`` again. The minimum is one call per
``WINDOW_DAYS`` days asked (HubSpot documents no page size for a daily report; a window bounds
one answer to a year of days) — the connector cannot read fewer days, as it must re-read the
late-attributed ones.

Usage::

    python bench/web_traffic_calls.py
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))  # the fakes live with the tests

from crmsync_hubspot import HubSpotConnector  # noqa: E402
from crmsync_hubspot.throttle import Throttle  # noqa: E402
from crmsync_hubspot.web_analytics import HISTORY_DAYS, REREAD_DAYS, calls_for_days  # noqa: E402
from fakes.hs_data import Dataset  # noqa: E402
from fakes.hs_web import LAST_DAY  # noqa: E402
from fakes.hubspot_portal import FakeHubSpotPortal  # noqa: E402


def _read(fake: FakeHubSpotPortal, today: dt.date, cursor: Any) -> tuple[int, int, Any]:
    """(rows, calls, last cursor) of one read of ``web_traffic`` as of ``today``."""
    connector = HubSpotConnector("hs", HubSpotConnector.validate_settings(
        {"access_token": fake.access_token, "base_url": fake.base_url}),
        throttle=Throttle(10_000, 10_000, sleep=lambda s: None))
    connector.web_traffic.today = lambda: today
    rows, last = 0, cursor
    for batch in connector.read("web_traffic", cursor):
        rows += len(batch.records)
        last = batch.cursor
    calls = connector.api_calls.total
    connector.close()
    return rows, calls, last


def _line(kind: str, days: int, rows: int, calls: int, minimum: int) -> None:
    print(f"{kind:<12} {days:>4} days {rows:>6} rows {calls:>3} calls  "
          f"{calls * 1000 / max(rows, 1):5.2f} /1k rows  {calls / days:6.4f} /day  "
          f"minimum {minimum}  ratio {calls / minimum:.2f}")


def main() -> None:
    fake = FakeHubSpotPortal.start(Dataset(deals=1, contacts=1, companies=1, engagements=0,
                                           products=0, line_items=0), record_calls=False)
    try:
        fake.portal.web.days = HISTORY_DAYS + 1 + 7
        fake.portal.web.last_day = LAST_DAY + dt.timedelta(days=7)
        days = HISTORY_DAYS + 1
        rows, calls, cursor = _read(fake, LAST_DAY, None)
        _line("full", days, rows, calls, calls_for_days(days))
        for later in (1, 7):
            today = LAST_DAY + dt.timedelta(days=later)
            rows, calls, _ = _read(fake, today, cursor)
            asked = later + REREAD_DAYS + 1
            _line(f"+{later} day(s)", asked, rows, calls, calls_for_days(asked))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
