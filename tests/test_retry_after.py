"""``Retry-After`` as connectors read it (:func:`crmsync.parse_retry_after`)."""

from __future__ import annotations

import email.utils

import pytest

from crmsync import parse_retry_after

NOW = 1_790_000_000.0


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


@pytest.mark.parametrize("value,expected", [("120", 120.0), (" 2.5 ", 2.5), ("0", 0.0),
                                            ("-3", 0.0)])
def test_seconds_are_read_as_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=lambda: NOW) == expected


def test_an_http_date_is_the_seconds_until_it() -> None:
    assert parse_retry_after(http_date(NOW + 42), now=lambda: NOW) == 42.0


def test_an_http_date_already_past_means_now() -> None:
    assert parse_retry_after(http_date(NOW - 3600), now=lambda: NOW) == 0.0


def test_the_obsolete_asctime_form_is_a_gmt_date() -> None:
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", now=lambda: 784111777.0 - 5) == 5.0


@pytest.mark.parametrize("value", [None, "", "soon", "Thu, 99 Foo 2026"])
def test_a_missing_or_unreadable_header_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=lambda: NOW) is None
