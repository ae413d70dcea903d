"""Business-hours arithmetic: minutes between two instants that fall inside working hours.

One definition, two homes: :func:`business_minutes` is the Python reference, registered as the
SQLite function ``crmsync_business_minutes``; migration 0005 creates the same function in SQL
on PostgreSQL. Both take naive-UTC timestamps, an IANA zone, the working day as minutes from
midnight (``start``, ``end``) and the working ISO weekdays (1 = Monday) as ``"1,2,3,4,5"``.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from crmsync.core.hours import parse_hours

__all__ = ["business_minutes", "parse_hours", "SQL_FUNCTION"]



@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _parse(value: str | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def business_minutes(start: str | dt.datetime | None, end: str | dt.datetime | None, zone: str,
                     day_start: int, day_end: int, days: str) -> float | None:
    """Minutes of ``[start, end)`` inside working hours, in ``zone``'s wall-clock time."""
    if start is None or end is None:
        return None
    tz = _zone(zone)
    utc = dt.timezone.utc
    a = _parse(start).replace(tzinfo=utc).astimezone(tz).replace(tzinfo=None)
    b = _parse(end).replace(tzinfo=utc).astimezone(tz).replace(tzinfo=None)
    if b <= a:
        return 0.0
    working = {int(d) for d in days.split(",") if d.strip()}
    total = 0.0
    day = dt.datetime(a.year, a.month, a.day)
    while day <= b:
        if day.isoweekday() in working:
            lo = max(a, day + dt.timedelta(minutes=day_start))
            hi = min(b, day + dt.timedelta(minutes=day_end))
            if hi > lo:
                total += (hi - lo).total_seconds() / 60
        day += dt.timedelta(days=1)
    return total


#: The PostgreSQL twin of :func:`business_minutes` (created by migration 0005).
SQL_FUNCTION = """
CREATE OR REPLACE FUNCTION crmsync_business_minutes(
    t1 timestamp, t2 timestamp, zone text, day_start int, day_end int, days text)
RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t1 IS NULL OR t2 IS NULL THEN NULL ELSE COALESCE((
        SELECT sum(GREATEST(0, extract(epoch FROM
                   LEAST(x.l2, d + make_interval(mins => day_end))
                   - GREATEST(x.l1, d + make_interval(mins => day_start))) / 60.0))
        FROM (SELECT timezone(zone, timezone('UTC', t1)) AS l1,
                     timezone(zone, timezone('UTC', t2)) AS l2) AS x,
             generate_series(date_trunc('day', x.l1), date_trunc('day', x.l2),
                             interval '1 day') AS d
        WHERE x.l2 > x.l1
          AND extract(isodow FROM d)::int = ANY (string_to_array(days, ',')::int[])
    ), 0) END
$$
"""
