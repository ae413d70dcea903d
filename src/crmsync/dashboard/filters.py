"""The dashboard's filters: what the URL query string holds (docs/dashboard.md).

Every page reads the same filters from its query string, so a view can be shared as a link.
Values that name nothing known (a team that does not exist, a date that is not ISO) are
dropped with a message for the page, never an error page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

__all__ = ["Filters", "PERIODS", "SCOPES", "parse_filters"]

#: Period granularities a page can show (values must have been computed for them).
PERIODS = ("day", "week", "month", "quarter", "year")
#: Filters that pick whose values a page shows, most specific first, with their dimension.
SCOPES = (("rep", "owner"), ("team", "team"), ("pipeline", "pipeline"),
          ("segment", "segment"), ("region", "region"), ("industry", "industry"))


@dataclass(frozen=True)
class Filters:
    """One page view's filters (all optional but ``period``)."""

    period: str = "quarter"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    team: str | None = None
    rep: str | None = None
    pipeline: str | None = None
    segment: str | None = None
    region: str | None = None
    industry: str | None = None
    metric: str | None = None
    #: Show the values as they read at the end of this day (docs/dashboard.md, "As of a
    #: past date"), not the latest ones.
    as_of: dt.date | None = None

    @property
    def scope(self) -> tuple[str | None, str | None]:
        """``(dimension, value)`` of the most specific scope filter, ``(None, None)`` for
        the whole organisation."""
        for name, dimension in SCOPES:
            value = getattr(self, name)
            if value:
                return dimension, value
        return None, None

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-empty filters as query parameters (``changes`` applied first)."""
        current = replace(self, **changes) if changes else self
        out = {}
        for f in fields(current):
            value = getattr(current, f.name)
            if value is None or value == "":
                continue
            key = {"date_from": "from", "date_to": "to"}.get(f.name, f.name)
            out[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out

    def query(self, **changes: Any) -> str:
        """The filters as a query string (without ``?``)."""
        return urlencode(self.params(**changes))

    def in_range(self, start: dt.date | None) -> bool:
        """Whether a period starting at ``start`` lies in the ``from``–``to`` range."""
        if start is None:
            return True
        if self.date_from is not None and start < self.date_from:
            return False
        return not (self.date_to is not None and start > self.date_to)


def _date(raw: str, name: str, messages: list[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        messages.append(f"'{raw}' is not a date (YYYY-MM-DD) for '{name}': ignored")
        return None


def _period(query: Mapping[str, str], default_period: str, messages: list[str]) -> str:
    """The ``period`` parameter, or ``default_period`` when it is missing or unknown."""
    period = (query.get("period") or "").strip() or default_period
    if period not in PERIODS:
        messages.append(f"unknown period '{period}' (one of {', '.join(PERIODS)}): "
                        f"showing {default_period}")
        period = default_period
    return period


def _date_range(query: Mapping[str, str], messages: list[str]) -> dict[str, dt.date | None]:
    """``date_from`` and ``date_to`` from ``from`` and ``to``; neither when reversed."""
    values: dict[str, dt.date | None] = {}
    for key, name in (("from", "date_from"), ("to", "date_to")):
        raw = (query.get(key) or "").strip()
        values[name] = _date(raw, key, messages) if raw else None
    start, end = values["date_from"], values["date_to"]
    if start and end and start > end:
        messages.append("'from' is after 'to': the date range is ignored")
        values["date_from"] = values["date_to"] = None
    return values


def parse_filters(query: Mapping[str, str], *, default_period: str,
                  known: Mapping[str, Mapping[str, str]]) -> tuple[Filters, list[str]]:
    """Read the filters from a query string; unknown values are dropped with a message.

    :param query: the request's query parameters.
    :param default_period: the period when none (or an unknown one) is given.
    :param known: for ``team``, ``rep``, ``pipeline``, ``segment``, ``region``, ``industry``
        and ``metric``: the known values (value → display name).
    :return: the filters and the messages to show.
    """
    messages: list[str] = []
    values: dict[str, Any] = {"period": _period(query, default_period, messages),
                              **_date_range(query, messages)}
    raw_as_of = (query.get("as_of") or "").strip()
    if raw_as_of:
        values["as_of"] = _date(raw_as_of, "as_of", messages)
    for key in ("team", "rep", "pipeline", "segment", "region", "industry", "metric"):
        raw = (query.get(key) or "").strip()
        if not raw:
            continue
        if raw not in known.get(key, {}):
            messages.append(f"unknown {key} '{raw}': filter ignored")
            continue
        values[key] = raw
    filters = Filters(**values)
    scoped = [name for name, _ in SCOPES if getattr(filters, name)]
    if len(scoped) > 1:
        messages.append(f"values are stored per dimension: showing {scoped[0]} "
                        f"(ignoring {', '.join(scoped[1:])})")
    return filters, messages
