"""Data-quality KPIs on a hand-computed dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import data_quality

AS_OF = dt.datetime(2026, 6, 15, 12, 0)


def deal(rid, status, owner="U1", **kw):
    return {"remote_id": rid, "status": status, "owner_id": owner, **kw}


DATA = {
    "users": [{"remote_id": "U1", "team": "East"},
              {"remote_id": "U2", "team": "West", "is_deleted": True}],
    "currency_rates": [{"remote_id": "GBP", "currency": "GBP", "rate_to_base": 1.25,
                        "valid_from": "2026-03-01"}],
    "opportunities": [
        deal("D1", "open", expected_close_date="2026-06-01", amount=100, currency="USD"),
        deal("D2", "open", expected_close_date="2026-06-15"),             # due today, no amount
        deal("D3", "open", "U2", amount=500, currency="EUR"),             # owner deleted, no rate
        deal("D4", "won", closed_at="2026-03-01T00:00:00"),               # won without amount
        deal("D5", "won", None, closed_at="2026-04-01T00:00:00", amount=1000, currency="JPY",
             amount_base=7),
        deal("D6", "lost", "U9", closed_at="2026-02-01T00:00:00", amount=300,
             currency="GBP"),                                             # rate starts later
        deal("D7", "open", expected_close_date="2020-01-01", is_deleted=True),
        deal("D8", "open", expected_close_date="2026-01-01", amount=200, currency="GBP"),
    ],
    "activities": [
        {"remote_id": "X1", "type": "call", "occurred_at": "2026-06-01T00:00:00",
         "opportunity_id": "D1"},
        {"remote_id": "X2", "type": "email", "occurred_at": "2026-06-10T00:00:00",
         "opportunity_id": "D2", "is_automated": True},
        {"remote_id": "X3", "type": "meeting", "occurred_at": "2026-05-01T00:00:00",
         "opportunity_id": "D3"},
        {"remote_id": "X4", "type": "task", "occurred_at": "2026-06-20T00:00:00",
         "opportunity_id": "D8"},                                         # after as_of
        {"remote_id": "X5", "type": "call", "occurred_at": "2026-06-01T00:00:00",
         "opportunity_id": "D8", "is_deleted": True},
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, name, dimension=None, **cfg):
    metric = next(cls() for cls in data_quality.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(**cfg), period="all",
                     dimensions=(dimension,), as_of=AS_OF)
    return {v.dimension_value: (v.value, v.numerator, v.denominator) for v in result.values}


@pytest.mark.parametrize("name, expected", [
    ("dq_past_close_date_open", (2, 2, 4)),     # D1, D8 of D1 D2 D3 D8
    ("dq_missing_amount", (2, 2, 6)),           # D2, D4 of open and won
    ("dq_missing_owner", (3, 3, 7)),            # D3 (deleted user), D5 (none), D6 (unknown)
    ("dq_stale_opportunities", (3, 3, 4)),      # D2 (automated), D3 (old), D8 (future/deleted)
    ("dq_unconverted_currency", (2, 2, 5)),     # D3 (no EUR rate), D6 (GBP rate too late)
])
def test_data_quality_counts(loaded, name, expected):
    assert values(loaded, name) == {None: expected}


def test_stale_days_option_and_owner_dimension(loaded):
    assert values(loaded, "dq_stale_opportunities", options={"stale_days": 50}) == {
        None: (2, 2, 4)}                        # D3's meeting on May 1 is recent enough now
    assert values(loaded, "dq_past_close_date_open", dimension="owner") == {
        "U1": (2, 2, 3), "U2": (0, 0, 1)}


def test_data_quality_is_null_on_an_empty_store_and_a_snapshot_only(store):
    assert values(store, "dq_missing_amount") == {None: (None, None, 0)}
    result = compute(store, [data_quality.MissingAmount()], MetricsConfig(), period="month",
                     as_of=AS_OF)
    assert result.skipped == ["dq_missing_amount: no period 'month'"]


def test_stale_opportunities_has_no_value_without_activity_data(store):
    load_records(store, {k: v for k, v in DATA.items() if k != "activities"})
    assert values(store, "dq_stale_opportunities") == {None: (None, None, 0)}


def test_missing_owner_without_synced_users_counts_only_empty_owners(store):
    # no users synced: D5 has no owner_id (missing); the others' owners cannot be judged
    load_records(store, {k: v for k, v in DATA.items() if k != "users"})
    assert values(store, "dq_missing_owner") == {None: (1, 1, 1)}
