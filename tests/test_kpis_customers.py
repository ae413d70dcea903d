"""Customer KPIs on a hand-computed dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import customers

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
    metric = next(cls() for cls in customers.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(**cfg), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


# Retention on its own dataset: B1, B2 are SMB, B3, B4, B5 ENT. Wins: B1 2025-01-15 and
# 2026-01-10, B2 2025-02-20, B5 2025-06-30 12:00, B3 2025-08-01, B4 2025-12-05 and 2026-05-01.
RETENTION = {
    "accounts": [{"remote_id": "B1", "segment": "SMB"}, {"remote_id": "B2", "segment": "SMB"},
                 {"remote_id": "B3", "segment": "ENT"}, {"remote_id": "B4", "segment": "ENT"},
                 {"remote_id": "B5", "segment": "ENT"}],
    "opportunities": [
        won("R1", "B1", "2025-01-15T00:00:00", 100), won("R2", "B1", "2026-01-10T00:00:00", 300),
        won("R3", "B2", "2025-02-20T00:00:00", 200), won("R4", "B5", "2025-06-30T12:00:00", 700),
        won("R5", "B3", "2025-08-01T00:00:00", 400), won("R6", "B4", "2025-12-05T00:00:00", 500),
        won("R7", "B4", "2026-05-01T00:00:00", 600),
        won("R8", "B2", "2026-02-01T00:00:00", 900, is_deleted=True),     # deleted
        {**won("R9", "B3", "2026-02-01T00:00:00", 50), "status": "lost"},  # lost
    ],
}


@pytest.fixture
def cohorts(store):
    load_records(store, RETENTION)
    return store


def test_retention_rate_keeps_customers_active_over_the_trailing_twelve_months(cohorts):
    # Customers at the start of Q2'25 {B1, B2}, Q3'25 {B1, B2, B5}, Q4'25 {+B3}, Q1'26 {+B4}:
    # all still won within the 12 months before each quarter's end except B2 by 2026-04-01.
    # Q2'26 starts with {B1, B3, B4, B5} and is measured up to now (2026-06-30 00:00), when
    # B5's win of 2025-06-30 12:00 is still inside the window: kept so far.
    assert values(cohorts, "retention_rate") == {
        (None, Q225): (1.0, 2, 2), (None, Q325): (1.0, 3, 3), (None, Q425): (1.0, 4, 4),
        (None, Q126): (0.8, 4, 5), (None, Q226): (1.0, 4, 4)}


def test_churn_rate_is_the_customers_that_lapsed_and_splits_by_segment(cohorts):
    assert values(cohorts, "churn_rate") == {
        (None, Q225): (0.0, 0, 2), (None, Q325): (0.0, 0, 3), (None, Q425): (0.0, 0, 4),
        (None, Q126): (0.2, 1, 5), (None, Q226): (0.0, 0, 4)}
    got = values(cohorts, "churn_rate", dimension="segment")
    assert got[("SMB", Q126)] == (0.5, 1, 2) and got[("ENT", Q126)] == (0.0, 0, 3)


def test_churn_rate_by_year_counts_the_lapses_within_the_year(cohorts):
    # 2026 starts with all five; by now only B2 has no win in the trailing 12 months
    assert values(cohorts, "churn_rate", period="year") == {(None, Q126): (0.2, 1, 5)}


def test_retention_window_is_configurable(cohorts):
    # 6 months: customers at 2026-01-01 are B3 and B4; by 2026-04-01 only B4 won since 2025-10
    got = values(cohorts, "retention_rate", options={"retention_window_months": 6})
    assert got[(None, Q126)] == (0.5, 1, 2)


def test_retention_window_out_of_range_is_an_error(cohorts):
    from crmsync import MetricError

    with pytest.raises(MetricError, match="retention_window_months must be 1 to 120"):
        values(cohorts, "retention_rate", options={"retention_window_months": 0})


def test_repeat_purchase_rate_is_the_customers_that_won_again_in_the_period(cohorts):
    # Q1'26: B1 won again (B2's second win is deleted, B3's deal was lost); Q2'26: B4
    assert values(cohorts, "repeat_purchase_rate") == {
        (None, Q225): (0.0, 0, 2), (None, Q325): (0.0, 0, 3), (None, Q425): (0.0, 0, 4),
        (None, Q126): (0.2, 1, 5), (None, Q226): (0.25, 1, 4)}


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
    # first wins: A1 Q2'25 (no spend that quarter: no value), A2 Q4'25, A3 and A4 Q1'26;
    # S4 is deleted.
    assert values(loaded, "cac") == {
        (None, Q225): (None, None, 1), (None, Q425): (500.0, 500.0, 1),
        (None, Q126): (2250.0, 4500.0, 2), (None, Q226): (None, 1000.0, 0)}
    assert values(loaded, "cac", period="all") == {(None, None): (1500.0, 6000.0, 4)}


def test_cac_without_spend_data_has_no_value(store):
    load_records(store, {k: v for k, v in DATA.items() if k != "spend"})
    assert values(store, "cac") == {
        (None, Q225): (None, None, 1), (None, Q425): (None, None, 1),
        (None, Q126): (None, None, 2)}
    assert values(store, "cac", period="all") == {(None, None): (None, None, 4)}


def test_ltv_to_cac_divides_the_two(loaded):
    assert values(loaded, "ltv_to_cac") == {
        (None, Q225): (None, pytest.approx(1000), None),
        (None, Q425): (pytest.approx(3), pytest.approx(1500), 500.0),
        (None, Q126): (pytest.approx(4600 / 3 / 2250), pytest.approx(4600 / 3), 2250.0),
        (None, Q226): (None, pytest.approx(1600), None)}
    assert values(loaded, "ltv_to_cac", period="all") == {
        (None, None): (pytest.approx(1600 / 1500), pytest.approx(1600), 1500.0)}


def test_ltv_to_cac_is_a_multiple():
    assert customers.LtvToCac.unit == "multiple"


def test_customer_lifetime_value_estimate_is_arpa_times_margin_over_churn(cohorts):
    # ARPA by quarter (won revenue ÷ accounts won in it): Q2'25 700, Q3'25 400, Q4'25 500,
    # Q1'26 300, Q2'26 600 (Q1'25 has no cohort). Churn (above) is 0 except Q1'26 (0.2): the
    # estimate is unbounded, so NULL, without churn. With margin 0.5: 300 × 0.5 / 0.2 = 750.
    got = values(cohorts, "customer_lifetime_value",
                 definitions={"customer_lifetime_value": "estimate"}, options={"margin": 0.5})
    assert got == {(None, Q225): (None, pytest.approx(350), 0.0),
                   (None, Q325): (None, pytest.approx(200), 0.0),
                   (None, Q425): (None, pytest.approx(250), 0.0),
                   (None, Q126): (pytest.approx(750), pytest.approx(150), pytest.approx(0.2)),
                   (None, Q226): (None, pytest.approx(300), 0.0)}


def test_customer_lifetime_value_estimate_needs_a_margin(loaded):
    from crmsync import MetricError

    with pytest.raises(MetricError, match=r"needs \[metrics\] margin"):
        values(loaded, "customer_lifetime_value",
               definitions={"customer_lifetime_value": "estimate"})
