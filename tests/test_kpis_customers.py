"""Customer KPIs on a hand-computed dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from crmsync.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import customers

from conftest import load_records

Q225, Q325, Q425 = dt.date(2025, 4, 1), dt.date(2025, 7, 1), dt.date(2025, 10, 1)
Q126, Q226 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
AS_OF = dt.datetime(2026, 6, 30)


def won(rid, account, closed, amount, currency="USD", **kw):
    return {"remote_id": rid, "account_id": account, "status": "won", "closed_at": closed,
            "amount": amount, "currency": currency, **kw}


def spend(rid, start, end, amount, **kw):
    return {"remote_id": rid, "category": "marketing", "period_start": start,
            "period_end": end, "amount": amount, **kw}


def fb(rid, kind, score, at, **kw):
    return {"remote_id": rid, "type": kind, "score": score, "responded_at": at, **kw}


DATA = {
    "accounts": [{"remote_id": "A1", "segment": "SMB"}, {"remote_id": "A2", "segment": "SMB"},
                 {"remote_id": "A3", "segment": "ENT"}, {"remote_id": "A4", "segment": "ENT"}],
    "currency_rates": [{"remote_id": "EUR", "currency": "EUR", "rate_to_base": 1.10,
                        "valid_from": "2026-01-01"}],
    "opportunities": [
        won("W1", "A1", "2025-05-10T00:00:00", 1000),
        won("W2", "A2", "2025-11-20T00:00:00", 2000),
        won("W3", "A3", "2026-02-01T00:00:00", 1000, "EUR"),              # 1100
        won("W4", "A1", "2026-02-15T00:00:00", 500),
        won("W5", "A4", "2026-03-01T00:00:00", 300, "JPY"),               # no rate
        won("W6", "A2", "2026-05-05T00:00:00", 400, is_deleted=True),     # deleted
        {**won("W7", "A3", "2026-04-10T00:00:00", 50), "status": "lost"},
        {"remote_id": "W8", "account_id": "A2", "status": "open", "amount": 70},
        won("W9", "A3", "2026-04-02T00:00:00", 200),
        won("W10", None, "2026-01-03T00:00:00", 999),                     # no account
    ],
    "spend": [
        spend("S1", "2026-01-01", "2026-02-01", 3000),
        spend("S2", "2026-02-01", "2026-03-01", 1500, category="sales"),
        spend("S3", "2026-04-01", "2026-07-01", 1000),
        spend("S4", "2026-01-01", "2026-02-01", 9999, is_deleted=True),
        spend("S5", "2025-10-01", "2025-11-01", 500),
    ],
    "feedback": [
        fb("F1", "nps", 10, "2026-01-05T00:00:00"), fb("F2", "nps", 9, "2026-01-06T00:00:00"),
        fb("F3", "nps", 7, "2026-02-01T00:00:00"), fb("F4", "nps", 3, "2026-03-01T00:00:00"),
        fb("F5", "nps", 0, "2026-03-02T00:00:00", is_deleted=True),
        fb("F6", "nps", 6, "2026-04-01T00:00:00"),
        fb("C1", "csat", 5, "2026-01-05T00:00:00"), fb("C2", "csat", 4, "2026-01-05T00:00:00"),
        fb("C3", "csat", 3, "2026-02-05T00:00:00"), fb("C4", "csat", 1, "2026-03-05T00:00:00"),
        fb("E1", "ces", 2, "2026-01-05T00:00:00"), fb("E2", "ces", 5, "2026-02-05T00:00:00"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, name, period="quarter", dimension=None, **cfg):
    metric = next(cls() for cls in customers.METRICS if cls.NAME == name)
    result = compute(store, [metric], MetricsConfig(**cfg), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_retention_rate_follows_last_years_customers(loaded):
    # cohorts: Q3'25 {A1}, Q4'25 {A1}, Q1'26 {A1, A2}, Q2'26 {A1, A2, A3, A4}; won again:
    # Q1'26 A1 (W4), Q2'26 A3 (W9; A2's W6 is deleted). Periods after as_of are not shown.
    assert values(loaded, "retention_rate") == {
        (None, Q325): (0.0, 0, 1), (None, Q425): (0.0, 0, 1), (None, Q126): (0.5, 1, 2),
        (None, Q226): (0.25, 1, 4)}


def test_churn_rate_is_one_minus_retention_and_splits_by_segment(loaded):
    assert values(loaded, "churn_rate") == {
        (None, Q325): (1.0, 1, 1), (None, Q425): (1.0, 1, 1), (None, Q126): (0.5, 1, 2),
        (None, Q226): (0.75, 3, 4)}
    assert values(loaded, "retention_rate", dimension="segment") == {
        ("SMB", Q325): (0.0, 0, 1), ("SMB", Q425): (0.0, 0, 1), ("SMB", Q126): (0.5, 1, 2),
        ("SMB", Q226): (0.0, 0, 2), ("ENT", Q226): (0.5, 1, 2)}


def test_retention_has_no_period_all(loaded):
    metric = customers.RetentionRate()
    result = compute(loaded, [metric], MetricsConfig(), period="all", as_of=AS_OF)
    assert result.values == [] and result.skipped == ["retention_rate: no period 'all'"]


def test_customer_lifetime_value_is_cumulative_revenue_per_customer(loaded):
    # W5 (JPY, no rate) drops out with its account; W10 has no account.
    assert values(loaded, "customer_lifetime_value") == {
        (None, Q225): (pytest.approx(1000), pytest.approx(1000), 1),
        (None, Q425): (pytest.approx(1500), pytest.approx(3000), 2),
        (None, Q126): (pytest.approx(4600 / 3), pytest.approx(4600), 3),
        (None, Q226): (pytest.approx(1600), pytest.approx(4800), 3)}
    assert values(loaded, "customer_lifetime_value", period="all") == {
        (None, None): (pytest.approx(1600), pytest.approx(4800), 3)}
    assert values(loaded, "customer_lifetime_value", dimension="segment") == {
        ("SMB", Q225): (pytest.approx(1000), pytest.approx(1000), 1),
        ("SMB", Q425): (pytest.approx(1500), pytest.approx(3000), 2),
        ("SMB", Q126): (pytest.approx(1750), pytest.approx(3500), 2),
        ("SMB", Q226): (pytest.approx(1750), pytest.approx(3500), 2),
        ("ENT", Q126): (pytest.approx(1100), pytest.approx(1100), 1),
        ("ENT", Q226): (pytest.approx(1300), pytest.approx(1300), 1)}


def test_cac_is_spend_over_new_customers(loaded):
    # first wins: A1 Q2'25, A2 Q4'25, A3 and A4 Q1'26; S4 is deleted.
    assert values(loaded, "cac") == {
        (None, Q225): (0.0, 0.0, 1), (None, Q425): (500.0, 500.0, 1),
        (None, Q126): (2250.0, 4500.0, 2), (None, Q226): (None, 1000.0, 0)}
    assert values(loaded, "cac", period="all") == {(None, None): (1500.0, 6000.0, 4)}


def test_ltv_to_cac_divides_the_two(loaded):
    assert values(loaded, "ltv_to_cac") == {
        (None, Q225): (None, pytest.approx(1000), 0.0),
        (None, Q425): (pytest.approx(3), pytest.approx(1500), 500.0),
        (None, Q126): (pytest.approx(4600 / 3 / 2250), pytest.approx(4600 / 3), 2250.0),
        (None, Q226): (None, pytest.approx(1600), None)}
    assert values(loaded, "ltv_to_cac", period="all") == {
        (None, None): (pytest.approx(1600 / 1500), pytest.approx(1600), 1500.0)}


def test_nps_csat_ces(loaded):
    assert values(loaded, "nps") == {(None, Q126): (25.0, 1, 4), (None, Q226): (-100.0, -1, 1)}
    assert values(loaded, "csat") == {(None, Q126): (0.5, 2, 4)}
    assert values(loaded, "ces") == {(None, Q126): (3.5, 7, 2)}


def test_feedback_scores_are_null_without_responses(store):
    assert values(store, "nps", period="all") == {(None, None): (None, None, None)}


def test_customer_lifetime_value_estimate_is_arpa_times_margin_over_churn(loaded):
    # ARPA by quarter (won revenue ÷ accounts won in it): Q4'25 2000/1; Q1'26 (1100 + 500)/2
    # = 800 (W5 has no rate, W10 no account); Q2'26 200/1. Churn (above): 1.0, 0.5, 0.75.
    # With margin 0.5: 2000×0.5/1 = 1000; 800×0.5/0.5 = 800; 200×0.5/0.75 = 133.3.
    got = values(loaded, "customer_lifetime_value",
                 definitions={"customer_lifetime_value": "estimate"}, options={"margin": 0.5})
    assert got == {(None, Q425): (pytest.approx(1000), pytest.approx(1000), pytest.approx(1.0)),
                   (None, Q126): (pytest.approx(800), pytest.approx(400), pytest.approx(0.5)),
                   (None, Q226): (pytest.approx(400 / 3), pytest.approx(100),
                                  pytest.approx(0.75))}


def test_customer_lifetime_value_estimate_needs_a_margin(loaded):
    from crmsync import MetricError

    with pytest.raises(MetricError, match=r"needs \[metrics\] margin"):
        values(loaded, "customer_lifetime_value",
               definitions={"customer_lifetime_value": "estimate"})
