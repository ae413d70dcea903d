"""The one ISO 8601 parser (crmsync.core.timeparse) the engine and connectors share."""

from __future__ import annotations

import datetime as dt

import pytest

from crmsync.core.errors import CrmsyncError
from crmsync.core.timeparse import TimestampError, naive_utc, parse_date, parse_datetime

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2026-05-01", dt.datetime(2026, 5, 1, tzinfo=UTC)),
    ("2026-05-01T13:45:00", dt.datetime(2026, 5, 1, 13, 45, tzinfo=UTC)),
    ("2026-05-01T13:45:00Z", dt.datetime(2026, 5, 1, 13, 45, tzinfo=UTC)),
    ("2026-05-01T13:45:00z", dt.datetime(2026, 5, 1, 13, 45, tzinfo=UTC)),
    (" 2026-05-01T13:45:00Z ", dt.datetime(2026, 5, 1, 13, 45, tzinfo=UTC)),
    ("2026-05-01T13:45:00.250+02:00", dt.datetime(2026, 5, 1, 11, 45, 0, 250000, tzinfo=UTC)),
    ("2024-01-02T03:04:05.000+0000", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05-0130", dt.datetime(2024, 1, 2, 4, 34, 5, tzinfo=UTC)),
    ("2026-05-01 13:45:00", dt.datetime(2026, 5, 1, 13, 45, tzinfo=UTC)),
])
def test_text_becomes_aware_utc(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)


def test_datetimes_and_dates_become_aware_utc():
    assert parse_datetime(dt.datetime(2026, 5, 1, 13, 45)) == \
        dt.datetime(2026, 5, 1, 13, 45, tzinfo=UTC)  # naive means UTC
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert parse_datetime(dt.datetime(2026, 5, 1, 13, 45, tzinfo=plus_two)).tzinfo is UTC
    assert parse_datetime(dt.date(2026, 5, 1)) == dt.datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "", "2026-05-01T25:00:00Z", 17])
def test_a_bad_value_is_named(value):
    with pytest.raises(TimestampError) as caught:
        parse_datetime(value)
    assert repr(value) in str(caught.value)
    # A user error, and still the ValueError callers of fromisoformat() expect.
    assert isinstance(caught.value, CrmsyncError) and isinstance(caught.value, ValueError)


def test_dates():
    assert parse_date("2026-05-01") == dt.date(2026, 5, 1)
    assert parse_date("2026-05-01T23:00:00-05:00") == dt.date(2026, 5, 2)  # the UTC date
    assert parse_date(dt.datetime(2026, 5, 1, 23, tzinfo=dt.timezone(-dt.timedelta(hours=5)))) \
        == dt.date(2026, 5, 2)
    with pytest.raises(TimestampError, match=r"not an ISO 8601 date: '05/01/2026'"):
        parse_date("05/01/2026")


def test_naive_utc_is_how_the_store_keeps_times():
    assert naive_utc(parse_datetime("2026-05-01T13:45:00+02:00")) == dt.datetime(2026, 5, 1, 11, 45)
    assert naive_utc(dt.datetime(2026, 5, 1)) == dt.datetime(2026, 5, 1)
