"""Deal outcome KPIs (plugins/crmsync_kpis/deals.py) on a hand-computed dataset, on SQLite and
PostgreSQL. Every expected number below is worked out by hand from DATA."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.registry import Registry

Q1, Q2, Q4 = dt.date(2026, 1, 1), dt.date(2026, 4, 1), dt.date(2026, 10, 1)


def opp(rid, owner, status, created, closed=None, amount=None, currency="USD", **kw):
    return {"remote_id": rid, "owner_id": owner, "status": status, "remote_created_at": created,
            "closed_at": closed, "amount": amount, "currency": currency, "account_id": "A1",
            **kw}


DATA = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "East"},
              {"remote_id": "U3", "team": "West"}],
    "accounts": [{"remote_id": "A1", "segment": "SMB"}],
    "currency_rates": [
        {"remote_id": "EUR-1", "currency": "EUR", "rate_to_base": 1.10,
         "valid_from": "2026-01-01", "valid_to": "2026-04-01"},
        {"remote_id": "EUR-2", "currency": "EUR", "rate_to_base": 1.20,
         "valid_from": "2026-04-01"},
    ],
    "opportunities": [
        # created Q1
        opp("D1", "U1", "won", "2026-01-01", "2026-01-11T00:00:00", 1000),           # 10 days
        opp("D2", "U1", "lost", "2026-01-10", "2026-02-01T00:00:00", 500),
        opp("D3", "U2", "won", "2026-02-01", "2026-03-03T00:00:00", 1000, "EUR"),    # 30 d, 1100
        opp("D4", "U3", "open", "2026-03-01", "2026-03-15T00:00:00", 700),  # reopened: open now
        opp("D10", "U2", "won", "2026-03-01", "2026-03-31T00:00:00", 4000),          # 30 days
        opp("D8", "U2", "won", "2026-01-01", "2026-01-05T00:00:00", 999999, is_deleted=True),
        # created Q2
        opp("D5", "U3", "won", "2026-04-01", "2026-04-21T00:00:00", 3000),           # 20 days
        opp("D6", "U3", "lost", "2026-04-05", "2026-05-01T00:00:00", 100),
        opp("D7", "U1", "open", "2026-05-01", None, 400),
        # nothing in Q3 (an empty period); created and won Q4
        opp("D9", "U1", "won", "2026-10-01", "2026-10-11T00:00:00", 2000),           # 10 days
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, metric, period="quarter", dimension=None, **cfg):
    """{(dimension_value, period_start): (value, numerator, denominator)}."""
    m = Registry().metric(metric)
    result = compute(store, [m], MetricsConfig(**cfg), period=period, dimensions=(dimension,))
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def approx(d):
    return {k: tuple(None if x is None else pytest.approx(x) for x in v) for k, v in d.items()}


def assert_rolls_up(by_team, by_owner, teams):
    """Each team's value is Σ numerator ÷ Σ denominator over its owners."""
    for (team, start), (value, _, _) in by_team.items():
        rows = [v for (owner, s), v in by_owner.items() if s == start and teams[owner] == team]
        assert value == pytest.approx(sum(r[1] for r in rows) / sum(r[2] for r in rows))


TEAMS = {"U1": "East", "U2": "East", "U3": "West"}


def test_win_rate_default_ignores_the_reopened_and_the_deleted_deal(loaded):
    assert approx(values(loaded, "win_rate")) == approx(
        {(None, Q1): (0.75, 3, 4), (None, Q2): (0.5, 1, 2), (None, Q4): (1.0, 1, 1)})


def test_win_rate_won_over_created_counts_by_creation_period(loaded):
    got = values(loaded, "win_rate", definitions={"win_rate": "won_over_created"})
    assert approx(got) == approx(
        {(None, Q1): (0.6, 3, 5), (None, Q2): (1 / 3, 1, 3), (None, Q4): (1.0, 1, 1)})


def test_win_rate_amount_weighted_uses_close_date_rates(loaded):
    got = values(loaded, "win_rate", definitions={"win_rate": "amount_weighted"})
    # Q1: won 1000 + 1000 EUR × 1.10 + 4000 = 6100 of closed 6100 + 500
    assert approx(got) == approx({(None, Q1): (6100 / 6600, 6100, 6600),
                                  (None, Q2): (3000 / 3100, 3000, 3100),
                                  (None, Q4): (1.0, 2000, 2000)})


def test_close_rate_is_won_over_created_by_creation_period(loaded):
    # Q1 created D1, D2, D3, D4, D10: won D1, D3, D10 (D2 lost, D4 reopened); Q2 D5 of 3
    assert approx(values(loaded, "close_rate")) == approx(
        {(None, Q1): (0.6, 3, 5), (None, Q2): (1 / 3, 1, 3), (None, Q4): (1.0, 1, 1)})


def test_close_rate_equals_the_won_over_created_win_rate(loaded):
    got = values(loaded, "win_rate", definitions={"win_rate": "won_over_created"})
    assert values(loaded, "close_rate") == got


def test_close_rate_by_team_rolls_up_from_owners(loaded):
    by_team = values(loaded, "close_rate", dimension="team")
    by_owner = values(loaded, "close_rate", dimension="owner")
    # East Q1: D1, D3, D10 won of D1, D2, D3, D10; West Q1: D4 reopened → 0 of 1;
    # East Q2: D7 open → 0 of 1; West Q2: D5 won, D6 lost → 1 of 2
    assert approx(by_team) == approx({("East", Q1): (0.75, 3, 4), ("West", Q1): (0.0, 0, 1),
                                      ("East", Q2): (0.0, 0, 1), ("West", Q2): (0.5, 1, 2),
                                      ("East", Q4): (1.0, 1, 1)})
    assert_rolls_up(by_team, by_owner, TEAMS)


def test_decision_rate_is_won_or_lost_over_created(loaded):
    assert approx(values(loaded, "decision_rate")) == approx(
        {(None, Q1): (0.8, 4, 5), (None, Q2): (2 / 3, 2, 3), (None, Q4): (1.0, 1, 1)})


def test_decision_rate_by_team_rolls_up_from_owners(loaded):
    by_team = values(loaded, "decision_rate", dimension="team")
    by_owner = values(loaded, "decision_rate", dimension="owner")
    assert approx(by_team) == approx({("East", Q1): (1.0, 4, 4), ("West", Q1): (0.0, 0, 1),
                                      ("East", Q2): (0.0, 0, 1), ("West", Q2): (1.0, 2, 2),
                                      ("East", Q4): (1.0, 1, 1)})
    assert_rolls_up(by_team, by_owner, TEAMS)


def test_median_deal_size_is_the_middle_won_amount(loaded):
    got = values(loaded, "median_deal_size")
    assert approx(got) == approx({(None, Q1): (1100, None, 3), (None, Q2): (3000, None, 1),
                                  (None, Q4): (2000, None, 1)})


def test_revenue_sums_won_amounts_at_the_close_date_rate(loaded):
    assert approx(values(loaded, "revenue")) == approx(
        {(None, Q1): (6100, 6100, 3), (None, Q2): (3000, 3000, 1), (None, Q4): (2000, 2000, 1)})


def test_revenue_by_team_rolls_up_from_owners(loaded):
    by_team = values(loaded, "revenue", dimension="team")
    by_owner = values(loaded, "revenue", dimension="owner")
    assert approx(by_team) == approx({("East", Q1): (6100, 6100, 3),
                                      ("West", Q2): (3000, 3000, 1),
                                      ("East", Q4): (2000, 2000, 1)})
    for (team, start), (value, _, _) in by_team.items():
        assert value == pytest.approx(sum(v[1] for (o, s), v in by_owner.items()
                                          if s == start and TEAMS[o] == team))


def test_revenue_growth_compares_with_the_immediately_preceding_period_only(loaded):
    got = values(loaded, "revenue_growth")
    # Q1 has no previous period; Q4's previous (Q3) had no revenue: both undefined
    assert approx(got) == approx({(None, Q1): (None, None, None),
                                  (None, Q2): (-3100 / 6100, -3100, 6100),
                                  (None, Q4): (None, None, None)})


def test_revenue_growth_by_month_skips_a_gap_month(loaded):
    got = values(loaded, "revenue_growth", period="month")
    mar, apr = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    # January 1000, February nothing, March 1100 + 4000, April 3000, October 2000
    assert got[(None, mar)] == (None, None, None)
    assert approx({k: got[k] for k in [(None, apr)]}) == approx(
        {(None, apr): ((3000 - 5100) / 5100, -2100, 5100)})
    assert got[(None, dt.date(2026, 10, 1))] == (None, None, None)


def test_revenue_growth_has_no_all_period(loaded):
    m = Registry().metric("revenue_growth")
    result = compute(loaded, [m], MetricsConfig(), period="all")
    assert result.values == [] and result.skipped == ["revenue_growth: no period 'all'"]


def test_sales_cycle_days_mean_carries_sum_and_count(loaded):
    got = values(loaded, "sales_cycle_days_mean")
    assert approx(got) == approx({(None, Q1): (70 / 3, 70, 3), (None, Q2): (20, 20, 1),
                                  (None, Q4): (10, 10, 1)})
    by_team = values(loaded, "sales_cycle_days_mean", dimension="team")
    by_owner = values(loaded, "sales_cycle_days_mean", dimension="owner")
    assert_rolls_up(by_team, by_owner, TEAMS)


def test_empty_store_gives_no_values(store):
    for name in ("close_rate", "decision_rate", "median_deal_size", "revenue", "revenue_growth",
                 "sales_cycle_days_mean"):
        assert values(store, name) == {}
