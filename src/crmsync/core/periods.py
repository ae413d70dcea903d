"""Period bucketing in SQL, per dialect, and period arithmetic in Python."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from crmsync.core.errors import MetricError

__all__ = ["period_start_sql", "period_end_sql", "period_end", "previous_period_start", "as_date",
           "rolling_days", "is_period"]

_ROLLING = re.compile(r"last_(\d{1,4})d")
CALENDAR = ("day", "week", "month", "quarter", "year", "all")


def rolling_days(period: str) -> int | None:
    """``N`` for a rolling ``last_Nd`` period, else ``None``."""
    m = _ROLLING.fullmatch(period)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def is_period(period: str) -> bool:
    """A calendar period name or a rolling ``last_Nd`` window."""
    return period in CALENDAR or rolling_days(period) is not None


def _months(n: int) -> str:
    return f"{n:+d} months"


def period_start_sql(dialect: str, period: str, column: Any,
                     fiscal_year_start_month: int = 1) -> ColumnElement[Any]:
    """An expression giving the first day of the period containing ``column`` (naive UTC).

    Quarters and years follow ``fiscal_year_start_month``; weeks are ISO (Monday).
    """
    shift = fiscal_year_start_month - 1
    if period == "all":
        return sa.null()
    if dialect == "sqlite":
        if period == "day":
            return sa.func.date(column)
        if period == "week":
            return sa.func.date(column, "weekday 0", "-6 days")
        if period == "month":
            return sa.func.date(column, "start of month")
        shifted = sa.func.date(column, "start of month", _months(-shift))
        if period == "quarter":
            start = sa.func.printf("%04d-%02d-01", sa.func.strftime("%Y", shifted),
                                   (sa.cast(sa.func.strftime("%m", shifted), sa.Integer) - 1)
                                   // 3 * 3 + 1)
        elif period == "year":
            start = sa.func.date(shifted, "start of year")
        else:
            raise MetricError(f"unknown period '{period}'")
        return sa.func.date(start, _months(shift)) if shift else start
    if dialect == "postgresql":
        if period in ("day", "week", "month"):
            return sa.cast(sa.func.date_trunc(period, column), sa.Date)
        if period not in ("quarter", "year"):
            raise MetricError(f"unknown period '{period}'")
        if not shift:
            return sa.cast(sa.func.date_trunc(period, column), sa.Date)
        interval = sa.text(f"interval '{shift} months'")
        return sa.cast(sa.func.date_trunc(period, column - interval) + interval, sa.Date)
    raise MetricError(f"metrics do not support the {dialect} dialect")


def period_end_sql(dialect: str, period: str, start: Any) -> ColumnElement[Any]:
    """An expression for the first day after the period starting at ``start`` (the SQL twin
    of :func:`period_end`); ``NULL`` for period ``all``."""
    if period == "all":
        return sa.null()
    days = rolling_days(period)
    step = {"day": (1, "day"), "week": (7, "day"), "month": (1, "month"),
            "quarter": (3, "month"), "year": (12, "month")}.get(period)
    if days is not None:
        step = (days, "day")
    if step is None:
        raise MetricError(f"unknown period '{period}'")
    n, unit = step
    if dialect == "sqlite":
        return sa.func.date(start, f"+{n} {unit}s")
    return sa.cast(sa.cast(start, sa.Date) + sa.text(f"interval '{n} {unit}s'"), sa.Date)


def as_date(value: Any) -> dt.date | None:
    """Normalise what a driver returns for a period start to a ``date``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def period_end(period: str, start: dt.date | None) -> dt.date | None:
    """The first day after the period starting at ``start``."""
    if start is None:
        return None
    days = rolling_days(period)
    if days is not None:
        return start + dt.timedelta(days=days)
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return _add_months(start, 1)
    if period == "quarter":
        return _add_months(start, 3)
    if period == "year":
        return _add_months(start, 12)
    raise MetricError(f"unknown period '{period}'")


def previous_period_start(period: str, start: dt.date) -> dt.date:
    """The start of the period before the one starting at ``start``."""
    days = rolling_days(period)
    if days is not None:
        return start - dt.timedelta(days=days)
    if period == "day":
        return start - dt.timedelta(days=1)
    if period == "week":
        return start - dt.timedelta(days=7)
    return _add_months(start, {"month": -1, "quarter": -3, "year": -12}[period])
