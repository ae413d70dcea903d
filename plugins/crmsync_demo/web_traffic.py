"""Website traffic of the demo CRM: ``web_traffic`` rows per day and channel
(docs/connectors/demo.md).

The traffic is drawn to agree with the leads the demo creates: on any day, the new contacts the
website brings (all channels but ``paid_social``) are about the leads with source ``Web`` that
arrive then, and ``paid_social``'s about the ``Paid Social`` leads — the expected number of
such leads a day follows from the lead count and the business's growth curve
(:meth:`crmsync_demo.timeline.Timeline.grown_time`). Each channel converts its sessions at its
own rate (e-mail and referrals best, social worst), so sessions are the contacts ÷ that rate;
page views are a few per session. Weekends are quieter, December and August dip, January and
September pick up; a channel-day without sessions or contacts has no row. Days run from the
first reporting quarter to the day before ``as_of``; a day's row is created at its last second
(the report is complete), so a cut dataset holds only the days finished by the cut.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from crmsync_demo.seeding import rng_for
from crmsync_demo.timeline import DAY, GROWTH_PER_YEAR, Timeline, epoch_of, to_datetime
from crmsync_demo.vocabulary import LEAD_SOURCES

__all__ = ["CHANNELS", "WebTraffic"]

#: Seeding family of web traffic (seeding.py's families stop at 11; line items use 21).
_WEB = 22
#: channel → (lead source it brings, share of that source's contacts, contacts per session,
#: page views per session)
CHANNELS: dict[str, tuple[str, float, float, float]] = {
    "organic_search": ("Web", 0.36, 0.022, 2.6),
    "direct": ("Web", 0.13, 0.015, 3.1),
    "referrals": ("Web", 0.10, 0.035, 2.4),
    "email": ("Web", 0.15, 0.040, 1.9),
    "paid_search": ("Web", 0.18, 0.030, 2.2),
    "organic_social": ("Web", 0.04, 0.008, 1.6),
    "other_campaigns": ("Web", 0.04, 0.020, 2.0),
    "paid_social": ("Paid Social", 1.0, 0.012, 1.5),
}
_SOURCE_SHARE = {name: share / sum(s for _, s, _ in LEAD_SOURCES)
                 for name, share, _ in LEAD_SOURCES}
#: Month → traffic relative to the year's average.
_SEASON = {1: 1.1, 7: 0.95, 8: 0.9, 9: 1.1, 12: 0.8}
#: Weekday and weekend traffic, relative to the week's average day.
_WEEKDAY, _WEEKEND = 7 / 6.1, 0.55 * 7 / 6.1


class WebTraffic:
    """The demo's ``web_traffic`` stream.

    :param leads: how many leads the dataset creates over its history (``LeadBook.count``).
    """

    def __init__(self, seed: int, timeline: Timeline, leads: int) -> None:
        self.seed = seed
        self.timeline = timeline
        self.leads = leads
        span = timeline.now - timeline.start
        self._rate = math.log1p(GROWTH_PER_YEAR) / (365 * DAY)
        self._per_second = leads * self._rate / math.expm1(self._rate * span)

    def leads_per_day(self, day: dt.date) -> float:
        """Expected leads created on ``day`` (all sources; the growth curve's density)."""
        t = epoch_of(day) + DAY // 2 - self.timeline.start
        return self._per_second * DAY * math.exp(self._rate * t)

    def days(self) -> Iterator[dt.date]:
        """The days with traffic: the first reporting quarter's first to ``as_of``'s eve."""
        day = self.timeline.reporting_start
        while day < self.timeline.as_of:
            yield day
            day += dt.timedelta(days=1)

    def for_day(self, day: dt.date) -> list[dict[str, Any]]:
        """The day's rows, one per channel that had sessions or contacts."""
        base = self.leads_per_day(day) * _SEASON.get(day.month, 1.0)
        base *= _WEEKEND if day.weekday() >= 5 else _WEEKDAY
        done = to_datetime(epoch_of(day) + DAY - 1)  # the day's last second
        rows = []
        for k, (channel, (source, share, per_session, views)) in enumerate(CHANNELS.items()):
            r = rng_for(self.seed, _WEB, day.toordinal() * 16 + k).random
            expected = base * _SOURCE_SHARE[source] * share * (0.85 + 0.3 * r())
            contacts = int(expected + r())
            sessions = round(expected / per_session * (0.9 + 0.2 * r()))
            if not sessions and not contacts:
                continue
            rows.append({"remote_id": f"{day.isoformat()}:{channel}", "date": day,
                         "channel": channel, "sessions": sessions,
                         "page_views": round(sessions * views * (0.9 + 0.2 * r())),
                         "new_contacts": contacts,
                         "remote_created_at": done, "remote_updated_at": done})
        return rows

    def records_from(self, offset: int) -> Iterator[dict[str, Any]]:
        """Every row, day by day, from position ``offset`` on."""
        skip = offset
        for day in self.days():
            rows = self.for_day(day)
            if skip >= len(rows):
                skip -= len(rows)
                continue
            yield from rows[skip:]
            skip = 0
