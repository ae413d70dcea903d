"""ISO 8601 timestamps and dates from text: the one parser the sync engine and connectors share.

:func:`parse_datetime` returns an aware UTC ``datetime``; the store keeps naive UTC
(docs/schema.md), which :func:`naive_utc` makes of it. Accepted: what
:meth:`datetime.datetime.fromisoformat` reads (``2025-03-15``, ``2025-03-15T13:45:00``,
``2025-03-15 13:45:00.250+02:00``…), plus a ``Z`` suffix and offsets without a colon
(``+0000``, as Salesforce writes them), on every supported Python (3.10's ``fromisoformat``
reads neither). A value without an offset is UTC already.
"""

from __future__ import annotations

import datetime as dt

from crmsync.core.errors import CrmsyncError

__all__ = ["TimestampError", "parse_datetime", "parse_date", "naive_utc"]

UTC = dt.timezone.utc

#: What the errors show as the expected forms.
TIMESTAMP_EXAMPLE = "2025-03-15T13:45:00Z or 2025-03-15"
DATE_EXAMPLE = "2025-03-15"


class TimestampError(CrmsyncError, ValueError):
    """A value that is not an ISO 8601 timestamp (or date); the message names the value.

    A :class:`ValueError` too, so code that catches the standard library's parse errors
    catches it as well.
    """

    def __init__(self, value: object, *, kind: str = "timestamp") -> None:
        self.value = value
        example = DATE_EXAMPLE if kind == "date" else TIMESTAMP_EXAMPLE
        if isinstance(value, str):
            message = f"not an ISO 8601 {kind}: {value!r} (expected e.g. {example})"
        else:
            message = f"expected a {kind}, got {type(value).__name__} {value!r}"
        super().__init__(message)


def _normalised(text: str) -> str:
    """``text`` with a ``Z`` suffix as ``+00:00`` and a ``±HHMM`` offset as ``±HH:MM``."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        return text[:-1] + "+00:00"
    if len(text) > 16 and text[-5] in "+-" and text[-4:].isdigit():
        return f"{text[:-2]}:{text[-2:]}"
    return text


def _aware(parsed: dt.datetime) -> dt.datetime:
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_datetime(value: str | dt.datetime | dt.date) -> dt.datetime:
    """An aware UTC datetime from ISO 8601 text, a ``datetime`` (naive means UTC) or a
    ``date`` (its midnight UTC).

    :raises TimestampError: (a :class:`ValueError`) naming a value in no accepted form.
    """
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise TimestampError(value)
    try:  # the common, well-formed case, in C
        return _aware(dt.datetime.fromisoformat(value))
    except ValueError:
        pass
    try:
        return _aware(dt.datetime.fromisoformat(_normalised(value)))
    except ValueError:
        raise TimestampError(value) from None


def parse_date(value: str | dt.date) -> dt.date:
    """A date from ISO 8601 text (a full timestamp is cut to its UTC date) or a ``date``
    (a ``datetime`` gives its UTC date).

    :raises TimestampError: (a :class:`ValueError`) naming a value in no accepted form.
    """
    if isinstance(value, dt.datetime):
        return _aware(value).date()
    if isinstance(value, dt.date):
        return value if type(value) is dt.date else dt.date(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise TimestampError(value, kind="date")
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return parse_datetime(text).date()
    except ValueError:
        raise TimestampError(value, kind="date") from None


def naive_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as the store keeps times: naive UTC (a naive ``value`` is UTC already)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
