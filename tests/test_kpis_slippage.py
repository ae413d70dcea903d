"""Slippage KPIs (plugins/crmsync_kpis/slippage.py) on the hand-built history of
tests/pipeline_changes_data.py, SQLite and PostgreSQL.

As of 1 August 2026 the open deals with a close date are P1 (Aug 15, never pushed), P2 (Oct 15,
pushed 3 times: +17, +50, +25 days), P3 (Sep 1, pulled in: no push), P6 (Sep 10), P7 (Aug 1),
P8 (Sep 1), P11 (Jan 15 2027) and P13 (Oct 20, pushed once by 35 days); P10 is deleted. The
metrics read the deals as they are now (P12, created on 5 August, closing Aug 20, counts too);
only the pushes are cut at as_of. By quarter: Q3 holds P1, P3, P6, P7, P8, P12; Q4 holds P2
and P13; 2027-Q1 holds P11.
"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.store import Store
from crmsync_kpis.slippage import CloseDatePushDays, DealsPushed3Plus
from pipeline_changes_data import HAND, change

AS_OF = dt.datetime(2026, 8, 1)
Q3, Q4, Q1_27 = dt.date(2026, 7, 1), dt.date(2026, 10, 1), dt.date(2027, 1, 1)


@pytest.fixture
def loaded(store: Store) -> Store:
    load_records(store, HAND)
    return store


def values(store: Store, metric: object, period: str = "quarter",
           dimension: str | None = None, as_of: dt.datetime = AS_OF) -> dict:
    result = compute(store, [metric], MetricsConfig(), period=period,
                     dimensions=(dimension,), as_of=as_of)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_deals_pushed_3plus_is_the_share_of_open_deals_pushed_three_times(loaded):
    assert DealsPushed3Plus.NAME == "deals_pushed_3plus"
    assert values(loaded, DealsPushed3Plus()) == {
        (None, Q3): (0.0, 0, 6), (None, Q4): (0.5, 1, 2), (None, Q1_27): (0.0, 0, 1)}


def test_deals_pushed_3plus_counts_only_pushes_up_to_as_of(loaded):
    # on 1 July P2 had been pushed twice (its third push came on 10 July)
    got = values(loaded, DealsPushed3Plus(), period="all", as_of=dt.datetime(2026, 7, 1))
    assert got[(None, None)][1] == 0


def test_moving_a_close_date_earlier_is_not_a_push(store):
    data = {**HAND, "opportunity_field_history": [
        change("P1", "expected_close_date", "2026-05-01T00:00:00", "2026-09-01", "2026-10-01"),
        change("P1", "expected_close_date", "2026-05-02T00:00:00", "2026-10-01", "2026-09-01"),
        change("P1", "expected_close_date", "2026-05-03T00:00:00", "2026-09-01", "2026-10-01"),
        change("P1", "expected_close_date", "2026-05-04T00:00:00", "2026-10-01", "2026-08-15"),
        change("P1", "expected_close_date", "2026-05-05T00:00:00", None, "2026-08-15"),
    ]}
    load_records(store, data)
    assert values(store, DealsPushed3Plus(), period="all")[(None, None)][1] == 0
    assert values(store, CloseDatePushDays(), period="all")[(None, None)][1] == 30 + 30


def test_close_date_push_days_is_the_mean_days_pushed_per_open_deal(loaded):
    assert CloseDatePushDays.NAME == "close_date_push_days"
    got = values(loaded, CloseDatePushDays())
    assert got[(None, Q4)] == (pytest.approx((92 + 35) / 2), 127, 2)
    assert got[(None, Q3)] == (0.0, 0, 6)


def test_deals_pushed_3plus_by_owner_rolls_up(loaded):
    by_owner = values(loaded, DealsPushed3Plus(), dimension="owner")
    assert by_owner[("U1", Q4)] == (1.0, 1, 1)  # P2
    assert by_owner[("U2", Q4)] == (0.0, 0, 1)  # P13
