"""Website analytics of the fake portal: HubSpot's Analytics API v2 sources report by day,
``GET /analytics/v2/reports/sources/daily?start=YYYYMMDD&end=YYYYMMDD``.

The answer is HubSpot's shape for a time period other than ``total``: an object keyed by day
(``YYYY-MM-DD``), each holding the breakdowns (one per traffic source that had activity that
day) with the report's numbers as JSON numbers — ``visits`` (sessions), ``rawViews`` (page
views), ``contacts`` (new contacts), ``visitors``, ``leads`` and the rates. A day without any
activity is not a key. Reading needs the ``business-intelligence`` scope: without it, 403
``MISSING_SCOPES`` as HubSpot answers. ``start``/``end`` missing or not dates: 400.

The traffic is a pure function of ``(seed, day, source)`` for the :attr:`WebTraffic.days`
days ending at :attr:`WebTraffic.last_day` (weekends quieter, sources that come and go);
tests change or remove one day's source with :meth:`WebTraffic.set` (late-attributed
analytics).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["SCOPE", "SOURCES", "LAST_DAY", "WebTraffic", "sources_report"]

SCOPE = "business-intelligence"
#: breakdown → (mean sessions on a weekday, share of days it appears on, contacts per session)
SOURCES: dict[str, tuple[int, float, float]] = {
    "organic": (120, 1.0, 0.02), "direct": (60, 1.0, 0.015), "referrals": (25, 1.0, 0.03),
    "social": (20, 0.9, 0.01), "email": (30, 0.8, 0.04), "paid": (45, 1.0, 0.035),
    "paid-social": (15, 0.5, 0.02), "other": (8, 0.4, 0.02), "offline": (0, 0.3, 0.0)}
#: The last day with traffic, unless a test moves it.
LAST_DAY = dt.date(2026, 11, 30)


def _mix(*parts: int) -> int:
    from fakes.hs_data import mix

    h = 0
    for p in parts:
        h = mix(p, h & 0xFFFF_FFFF)
    return h


class WebTraffic:
    """The portal's daily traffic per source."""

    def __init__(self, seed: int = 7, days: int = 28, last_day: dt.date = LAST_DAY) -> None:
        self.seed = seed
        self.days = days
        self.last_day = last_day
        #: (day, breakdown) → numbers that replace the generated ones, or None (no traffic)
        self.changes: dict[tuple[dt.date, str], dict[str, Any] | None] = {}

    @property
    def first_day(self) -> dt.date:
        """The first day with traffic."""
        return self.last_day - dt.timedelta(days=self.days - 1)

    def set(self, day: dt.date, breakdown: str, numbers: dict[str, Any] | None) -> None:
        """Replace ``breakdown``'s numbers on ``day`` (``None``: it had no traffic)."""
        self.changes[(day, breakdown)] = numbers

    def generated(self, day: dt.date, breakdown: str) -> dict[str, Any] | None:
        """The generated row of ``breakdown`` on ``day``, ``None`` when it had no traffic."""
        if not self.first_day <= day <= self.last_day:
            return None
        mean, share, rate = SOURCES[breakdown]
        h = _mix(self.seed, day.toordinal(), sum(map(ord, breakdown)))
        if (h % 1000) / 1000 >= share:
            return None
        weekday = 0.55 if day.weekday() >= 5 else 1.0
        visits = int(mean * weekday * (0.8 + ((h >> 12) % 400) / 1000))
        contacts = int(visits * rate + ((h >> 24) % 100) / 100) + (1 if mean == 0 else 0)
        views = int(visits * (1.5 + ((h >> 32) % 150) / 100))
        visitors = int(visits * 0.85)
        return {"breakdown": breakdown, "visits": visits, "rawViews": views,
                "visitors": visitors, "contacts": contacts, "leads": contacts // 2,
                "subscribers": 0, "marketingQualifiedLeads": contacts // 3,
                "salesQualifiedLeads": contacts // 5, "opportunities": 0, "customers": 0,
                "pageviewsPerSession": round(views / visits, 4) if visits else 0,
                "bounceRate": round(0.3 + ((h >> 40) % 300) / 1000, 4),
                "timePerSession": round(60 + (h >> 44) % 240, 1),
                "newVisitorSessionRate": round(0.5 + ((h >> 48) % 400) / 1000, 4),
                "sessionToContactRate": round(contacts / visits, 6) if visits else 0,
                "contactToCustomerRate": 0}

    def row(self, day: dt.date, breakdown: str) -> dict[str, Any] | None:
        """``breakdown`` on ``day`` as the report gives it (changes applied)."""
        if (day, breakdown) in self.changes:
            numbers = self.changes[(day, breakdown)]
            return None if numbers is None else {"breakdown": breakdown, **numbers}
        return self.generated(day, breakdown)

    def report(self, start: dt.date, end: dt.date) -> dict[str, list[dict[str, Any]]]:
        """The daily sources report for ``start``–``end`` (both included)."""
        out: dict[str, list[dict[str, Any]]] = {}
        day = start
        while day <= end:
            rows = [r for b in SOURCES if (r := self.row(day, b)) is not None]
            if rows:
                out[day.isoformat()] = rows
            day += dt.timedelta(days=1)
        return out


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(value or "", "%Y%m%d").date()
    except ValueError:
        return None


def sources_report(portal: Any, req: Any, time_period: str) -> tuple[int, dict[str, Any]]:
    """``GET /analytics/v2/reports/sources/<time_period>``: ``daily`` only."""
    from fakes.hs_api import error

    if SCOPE not in portal.scopes:
        return error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes "
                     "to make this call. Read more about required scopes here: "
                     "https://developers.hubspot.com/scopes.",
                     errors=[{"message": "One or more of the following scopes are required.",
                              "context": {"requiredGranularScopes": [SCOPE]}}])
    start, end = _day(req.q("start")), _day(req.q("end"))
    if time_period != "daily" or start is None or end is None or end < start:
        return error(400, "VALIDATION_ERROR", "start and end must be dates as YYYYMMDD, "
                     "start not after end; time period: daily")
    return 200, portal.web.report(start, end)
