"""SOQL text for incremental reads.

Vendor quirk: SOQL datetime literals are **unquoted** (``SystemModstamp > 2024-01-02T03:04:05Z``);
a quoted one fails with ``INVALID_FIELD`` (see the recorded answer in
``reference/salesforce/error_400_invalid_field_soql_caret.json``).
Ids and strings are single-quoted with backslash escapes.

The incremental query pages on the compound cursor ``(SystemModstamp, Id)`` so that many rows
sharing one timestamp never make a page boundary skip or repeat records::

    SELECT … FROM Opportunity
    WHERE (SystemModstamp > :since OR (SystemModstamp = :since AND Id > ':id'))
      AND SystemModstamp <= :until
    ORDER BY SystemModstamp, Id
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from crmsync import parse_datetime  # Salesforce's …+0000 and …Z forms (aware UTC)

__all__ = ["datetime_literal", "quote", "incremental_where", "select", "after", "in_ids",
           "parse_datetime", "IDS_PER_QUERY"]

#: Ids per ``IN (…)`` list: Salesforce caps a string in a WHERE clause at 4,000 characters;
#: 150 quoted 18-character ids take about 3,300.
IDS_PER_QUERY = 150


def datetime_literal(value: dt.datetime) -> str:
    """An unquoted SOQL datetime literal in UTC, to the second: ``2024-01-02T03:04:05Z``.

    Salesforce stores SystemModstamp to the millisecond but filters literals to the second; the
    reader compensates with its lookback window and the compound cursor.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def quote(value: str) -> str:
    """A single-quoted SOQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def incremental_where(*, since: dt.datetime | None, after_id: str | None,
                      until: dt.datetime | None, field: str = "SystemModstamp") -> str:
    """The WHERE condition of one window of the compound cursor (empty when unbounded).

    :param since: rows changed after this time (or at it with an Id after ``after_id``).
    :param after_id: the Id of the last row read at ``since``; ``None`` reads from ``since``
        inclusive.
    :param until: rows changed at or before this time (the window's end), or unbounded.
    """
    parts = []
    if since is not None:
        lit = datetime_literal(since)
        if after_id:
            parts.append(f"({field} > {lit} OR ({field} = {lit} AND Id > {quote(after_id)}))")
        else:
            parts.append(f"{field} >= {lit}")
    if until is not None:
        parts.append(f"{field} <= {datetime_literal(until)}")
    return " AND ".join(parts)


def select(obj: str, fields: Sequence[str], *, where: str = "",
           order_by: Iterable[str] = ("SystemModstamp", "Id")) -> str:
    """``SELECT fields FROM obj [WHERE …] ORDER BY …``."""
    text = f"SELECT {', '.join(fields)} FROM {obj}"
    if where:
        text += f" WHERE {where}"
    order = ", ".join(order_by)
    if order:
        text += f" ORDER BY {order}"
    return text


def after(fields: Sequence[str], values: Sequence[str], kinds: Sequence[str | None]) -> str:
    """Rows ordered after ``values`` in the order ``fields`` (a lexicographic condition):
    ``(f1 > v1 OR (f1 = v1 AND (f2 > v2 OR (f2 = v2 AND …))))``.

    :param kinds: describe's type of each field: ``datetime`` values become unquoted literals,
        others quoted strings. A literal is cut to the second, which can only make rows of
        that second be read again, never skipped.
    """
    def literal(value: str, kind: str | None) -> str:
        return datetime_literal(parse_datetime(value)) if kind == "datetime" else quote(value)

    parts = list(zip(fields, values, kinds, strict=True))
    field, value, kind = parts[-1]
    text = f"{field} > {literal(value, kind)}"
    for field, value, kind in reversed(parts[:-1]):
        lit = literal(value, kind)
        text = f"({field} > {lit} OR ({field} = {lit} AND {text}))"
    return text


def in_ids(field: str, ids: Sequence[str]) -> str:
    """``field IN ('a', 'b')``."""
    return f"{field} IN ({', '.join(quote(i) for i in ids)})"
