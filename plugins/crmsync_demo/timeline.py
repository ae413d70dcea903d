"""The dataset's calendar: its "now", its history window and business hours.

Generators work in integer epoch seconds (UTC) and convert to :class:`datetime.datetime` once,
when a record is built: integer arithmetic is much cheaper than datetime arithmetic in the inner
loops that produce millions of activities.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

__all__ = ["DAY", "HOUR", "MINUTE", "GROWTH_PER_YEAR", "OPEN", "CLOSE", "HISTORY_DAYS",
           "REPORTING_QUARTERS", "Timeline", "to_datetime", "to_date", "epoch_of",
           "epoch_of_instant", "next_month"]

MINUTE = 60
HOUR = 3600
DAY = 86400

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_SECONDS = dt.timedelta(seconds=1)

#: The local working day: 08:30 to 17:30.
OPEN = 8 * HOUR + 30 * MINUTE
CLOSE = 17 * HOUR + 30 * MINUTE
#: Yearly growth of the business: recent months see more leads and deals than older ones.
GROWTH_PER_YEAR = 0.35
#: Length of the generated history: the two reporting years (see
#: :meth:`Timeline.reporting_quarters`) and a lead-in, so that the first reported quarter
#: already closes deals that were opened before it, as in a CRM that has been in use for years.
HISTORY_DAYS = 850
#: Calendar quarters with quotas and spend: the one holding ``as_of`` and the seven before.
REPORTING_QUARTERS = 8


def to_datetime(t: int) -> dt.datetime:
    """The naive UTC datetime of epoch second ``t``."""
    return _EPOCH + _SECONDS * t


def to_date(t: int) -> dt.date:
    """The UTC calendar date of epoch second ``t``."""
    return dt.date.fromordinal(_EPOCH_ORDINAL + t // DAY)


def epoch_of_instant(instant: dt.datetime) -> int:
    """Epoch second of the naive UTC datetime ``instant`` (fractions of a second dropped)."""
    return (instant - _EPOCH) // _SECONDS


def epoch_of(day: dt.date) -> int:
    """Epoch second of midnight UTC at the start of ``day``."""
    return (day.toordinal() - _EPOCH_ORDINAL) * DAY


def _weekday(day_number: int) -> int:
    """Monday = 0 for a count of days since 1970-01-01 (a Thursday)."""
    return (day_number + 3) % 7


class Timeline:
    """The time frame of one dataset.

    :param as_of: the dataset's "today". Everything happens before midnight UTC at its start,
        within :data:`HISTORY_DAYS` days of it.
    """

    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of
        #: Epoch second of the dataset's "now": midnight UTC starting ``as_of``.
        self.now = epoch_of(as_of)
        #: Epoch second where the generated history begins.
        self.start = self.now - HISTORY_DAYS * DAY
        self._span = self.now - self.start
        self._rate = math.log1p(GROWTH_PER_YEAR) / (365 * DAY)
        self._growth_total = math.expm1(self._rate * self._span)

    def grown_time(self, fraction: float) -> int:
        """The moment a ``fraction`` (0…1) of the window's business has happened.

        Business grows by :data:`GROWTH_PER_YEAR`, so equal fractions map to shorter spans
        later in the window; records created at ``(i + u) / n`` follow that curve by index.
        """
        offset = math.log1p(fraction * self._growth_total) / self._rate
        return self.start + min(int(offset), self._span - 1)

    @staticmethod
    def next_business_time(t: int, tz: int, jitter: float) -> int:
        """``t`` if it falls within local working hours, else early in the next working day.

        :param tz: the local offset from UTC in seconds.
        :param jitter: 0…1, how far into the first working hour to land.
        """
        day, sec = divmod(t + tz, DAY)
        weekday = _weekday(day)
        if weekday < 5 and OPEN <= sec < CLOSE:
            return t
        if weekday < 5 and sec >= CLOSE:
            day += 1
            weekday = _weekday(day)
        if weekday >= 5:
            day += 7 - weekday
        return day * DAY + OPEN + int(jitter * HOUR) - tz

    @staticmethod
    def business_time_on_day(t: int, tz: int, jitter: float) -> int:
        """A working-hours moment on the local day of ``t`` (weekends move to Friday/Monday).

        :param jitter: 0…1, where in the working day to land.
        """
        day = (t + tz) // DAY
        weekday = _weekday(day)
        if weekday >= 5:
            # Spread weekend moments evenly over that week's working days.
            scaled = jitter * 5
            day += int(scaled) - weekday
            jitter = scaled - int(scaled)
        return day * DAY + OPEN + int(jitter * (CLOSE - OPEN)) - tz

    def month_starts(self, first: dt.date | None = None) -> Iterator[dt.date]:
        """First days of the months from ``first``'s (default: the history start's) on.

        The last is the month holding ``as_of``.
        """
        first = first or to_date(self.start)
        year, month = first.year, first.month
        while (year, month) <= (self.as_of.year, self.as_of.month):
            yield dt.date(year, month, 1)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    @property
    def reporting_start(self) -> dt.date:
        """First day of the first reporting quarter."""
        quarters_back = REPORTING_QUARTERS - 1
        index = self.as_of.year * 4 + (self.as_of.month - 1) // 3 - quarters_back
        return dt.date(index // 4, index % 4 * 3 + 1, 1)

    def reporting_quarters(self) -> list[dt.date]:
        """First days of the :data:`REPORTING_QUARTERS` quarters up to ``as_of``'s."""
        return [day for day in self.month_starts(self.reporting_start) if day.month % 3 == 1]


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return dt.date(day.year + 1, 1, 1) if day.month == 12 else dt.date(day.year, day.month + 1, 1)
