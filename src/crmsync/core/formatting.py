"""Formatting of metric values, changes and periods for people (the CLI and the dashboard)."""

from __future__ import annotations

import datetime as dt

__all__ = ["format_change", "format_value", "period_label"]

def period_label(period: str, start: dt.date | None) -> str:
    """``2026-Q3``, ``2026-09``, ``2026-W36``, ``2026`` or ``all time``."""
    if start is None:
        return "all time"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if period == "month":
        return start.strftime("%Y-%m")
    if period == "year":
        return str(start.year)
    if period == "week":
        y, w, _ = start.isocalendar()
        return f"{y}-W{w:02d}"
    return start.isoformat()

def format_value(value: float | None, unit: str, currency: str | None = "USD") -> str:
    """A value formatted for its unit: ``18.2%``, ``1,015,244 USD``, ``38.5 d``, ``1.3×``…
    (``currency`` ``None``: an amount without its currency code)."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "currency":
        return f"{value:,.0f} {currency}" if currency else f"{value:,.0f}"
    if unit == "days":
        return f"{value:,.1f} d"
    if unit == "minutes":
        return f"{value:,.0f} min"
    if unit == "score":
        return f"{value:,.1f}"
    if unit == "multiple":
        return f"{value:,.1f}×"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"

def format_change(change: float | None, kind: str) -> str:
    """A change against the previous period: ``+3.1 pts`` for ratios (a change in percentage
    points), ``+12.0%`` otherwise (a relative change)."""
    if change is None:
        return "–"
    return f"{change * 100:+.1f} pts" if kind == "points" else f"{change:+.1%}"
