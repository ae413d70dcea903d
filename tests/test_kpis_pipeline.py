"""Pipeline KPIs (plugins/crmsync_kpis/pipeline.py) on a hand-computed dataset, on SQLite and
PostgreSQL. Every expected number below is worked out by hand from DATA."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.registry import Registry

Q1, Q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
AS_OF = dt.datetime(2026, 5, 1)
TEAMS = {"U1": "East", "U2": "East", "U3": "West"}


def opp(rid, owner, status, amount, currency="USD", **kw):
    return {"remote_id": rid, "owner_id": owner, "status": status, "amount": amount,
            "currency": currency, "account_id": "A1", "pipeline_id": "PL", **kw}


def quota(rid, owner, start, end, amount, team=None, **kw):
    return {"remote_id": rid, "owner_id": owner, "team": team or TEAMS.get(owner),
            "period_start": start, "period_end": end, "amount": amount, **kw}


DATA = {
    "users": [{"remote_id": u, "team": t} for u, t in TEAMS.items()],
    "accounts": [{"remote_id": "A1", "segment": "SMB"}],
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": [{"remote_id": "S1", "pipeline_id": "PL", "label": "Qualify", "probability": 0.2},
               {"remote_id": "S2", "pipeline_id": "PL", "label": "Propose", "probability": 0.6},
               {"remote_id": "S3", "pipeline_id": "PL", "label": "Custom"}],
    "currency_rates": [
        {"remote_id": "EUR-1", "currency": "EUR", "rate_to_base": 1.10,
         "valid_from": "2026-01-01", "valid_to": "2026-04-01"},
        {"remote_id": "EUR-2", "currency": "EUR", "rate_to_base": 1.20,
         "valid_from": "2026-04-01"},
    ],
    "opportunities": [
        # open pipeline
        opp("P1", "U1", "open", 1000, stage_id="S1", expected_close_date="2026-02-15"),
        opp("P2", "U2", "open", 1000, "EUR", stage_id="S2",  # latest rate: 1200
            expected_close_date="2026-03-20"),
        opp("P3", "U3", "open", 2000, stage_id="S3", probability=0.5,  # stage has none
            expected_close_date="2026-05-10"),
        opp("P4", "U1", "open", 500, stage_id="S2", expected_close_date="2026-04-01",
            is_deleted=True),
        opp("P5", "U1", "open", 800, stage_id="S1"),  # no expected close date
        opp("W6", "U1", "open", 300, stage_id="S1", closed_at="2026-03-10T00:00:00",
            expected_close_date="2026-06-30"),  # reopened: closed once, open now
        # closed deals
        opp("W1", "U1", "won", 1000, "EUR", remote_created_at="2026-01-31",  # 1100, 10 days
            closed_at="2026-02-10T00:00:00"),
        opp("W2", "U2", "won", 2000, remote_created_at="2026-02-09",  # 20 days
            closed_at="2026-03-01T00:00:00"),
        opp("W3", "U3", "won", 5000, remote_created_at="2026-03-16",  # 30 days
            closed_at="2026-04-15T00:00:00"),
        opp("W4", "U1", "won", 9999, remote_created_at="2026-01-01",
            closed_at="2026-01-20T00:00:00", is_deleted=True),
        opp("W5", "U2", "lost", 700, remote_created_at="2026-01-01",
            closed_at="2026-02-01T00:00:00"),
    ],
    "quotas": [
        quota("QU1", "U1", "2026-01-01", "2026-03-31", 4000),
        quota("QU2", "U2", "2026-01-01", "2026-03-31", 2000),
        quota("QU3", "U3", "2026-01-01", "2026-03-31", 1000),
        quota("QU4", "U1", "2026-04-01", "2026-06-30", 1000),
        quota("QU5", "U3", "2026-04-01", "2026-06-30", 4000),
        quota("QU6", None, "2026-01-01", "2026-03-31", 100000, team="East"),  # team-level
        quota("QU7", "U2", "2026-04-01", "2026-06-30", 5000, is_deleted=True),
        # not the base currency: 500 EUR at Q1's 1.10 = 550 USD
        quota("QU8", "U1", "2026-01-01", "2026-03-31", 500, currency="EUR"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, metric, period="quarter", dimension=None, as_of=None, **cfg):
    """{(dimension_value, period_start): (value, numerator, denominator)}."""
    m = Registry().metric(metric)
    result = compute(store, [m], MetricsConfig(**cfg), period=period, dimensions=(dimension,),
                     as_of=as_of)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def approx(d):
    return {k: tuple(None if x is None else pytest.approx(x) for x in v) for k, v in d.items()}


def assert_rolls_up(by_team, by_owner):
    """Each team's numerator and denominator are the sums of its owners'."""
    for (team, start), (_, num, den) in by_team.items():
        rows = [v for (owner, s), v in by_owner.items() if s == start and TEAMS[owner] == team]
        assert (num, den) == (pytest.approx(sum(r[1] for r in rows)),
                              pytest.approx(sum(r[2] for r in rows)))


def test_pipeline_value_sums_open_deals_at_the_latest_rate(loaded):
    # Q1: P1 1000 + P2 1000 EUR × 1.20; Q2: P3 2000 + reopened W6 300; P4 deleted, P5 undated
    assert approx(values(loaded, "pipeline_value")) == approx(
        {(None, Q1): (2200, 2200, 2), (None, Q2): (2300, 2300, 2)})


def test_pipeline_value_by_owner(loaded):
    assert approx(values(loaded, "pipeline_value", dimension="owner")) == approx(
        {("U1", Q1): (1000, 1000, 1), ("U2", Q1): (1200, 1200, 1),
         ("U1", Q2): (300, 300, 1), ("U3", Q2): (2000, 2000, 1)})


def test_weighted_pipeline_value_uses_stage_then_deal_probability(loaded):
    # Q1: 1000 × 0.2 + 1200 × 0.6; Q2: 2000 × 0.5 (deal's) + 300 × 0.2
    assert approx(values(loaded, "weighted_pipeline_value")) == approx(
        {(None, Q1): (920, 920, 2), (None, Q2): (1060, 1060, 2)})


def test_quota_attainment_by_owner(loaded):
    assert approx(values(loaded, "quota_attainment", dimension="owner")) == approx(
        {("U1", Q1): (1100 / 4550, 1100, 4550), ("U2", Q1): (1.0, 2000, 2000),
         ("U3", Q1): (0.0, 0, 1000),  # a quota and no revenue
         ("U1", Q2): (0.0, 0, 1000), ("U3", Q2): (1.25, 5000, 4000)})


def test_quota_attainment_team_and_org_roll_up_from_reps(loaded):
    by_team = values(loaded, "quota_attainment", dimension="team")
    assert approx(by_team) == approx(
        {("East", Q1): (3100 / 6550, 3100, 6550), ("West", Q1): (0.0, 0, 1000),
         ("East", Q2): (0.0, 0, 1000), ("West", Q2): (1.25, 5000, 4000)})
    assert_rolls_up(by_team, values(loaded, "quota_attainment", dimension="owner"))
    assert approx(values(loaded, "quota_attainment")) == approx(
        {(None, Q1): (3100 / 7550, 3100, 7550), (None, Q2): (1.0, 5000, 5000)})


def test_quota_attainment_sums_quotas_starting_in_a_longer_period(loaded):
    assert approx(values(loaded, "quota_attainment", period="year")) == approx(
        {(None, dt.date(2026, 1, 1)): (8100 / 12550, 8100, 12550)})


def test_a_quota_without_a_rate_makes_its_totals_unknown_not_smaller(loaded):
    load_records(loaded, {"quotas": [quota("QU9", "U3", "2026-04-01", "2026-06-30", 100,
                                           currency="GBP")]})  # no GBP rate
    by_owner = values(loaded, "quota_attainment", dimension="owner")
    assert by_owner[("U3", Q2)] == (None, 5000, None)
    assert by_owner[("U1", Q2)] == pytest.approx((0.0, 0, 1000))  # other reps unchanged
    assert values(loaded, "quota_attainment", dimension="team")[("West", Q2)] == \
        (None, 5000, None)
    assert values(loaded, "quota_attainment")[(None, Q2)] == (None, 5000, None)


def test_pipeline_coverage_by_owner_is_null_once_the_quota_is_met(loaded):
    assert approx(values(loaded, "pipeline_coverage", dimension="owner")) == approx(
        {("U1", Q1): (1000 / 3450, 1000, 3450), ("U2", Q1): (None, 1200, 0),
         ("U3", Q1): (0.0, 0, 1000), ("U1", Q2): (0.3, 300, 1000),
         ("U3", Q2): (None, 2000, -1000)})


def test_pipeline_coverage_team_and_org(loaded):
    by_team = values(loaded, "pipeline_coverage", dimension="team")
    assert approx(by_team) == approx(
        {("East", Q1): (2200 / 3450, 2200, 3450), ("West", Q1): (0.0, 0, 1000),
         ("East", Q2): (0.3, 300, 1000), ("West", Q2): (None, 2000, -1000)})
    assert_rolls_up(by_team, values(loaded, "pipeline_coverage", dimension="owner"))
    assert approx(values(loaded, "pipeline_coverage")) == approx(
        {(None, Q1): (2200 / 4450, 2200, 4450), (None, Q2): (None, 2300, 0)})


def test_sales_velocity_over_the_trailing_window(loaded):
    # 90 days before 2026-05-01: W1, W2, W3 won, W5 lost; 5 open deals (P4 deleted)
    # 5 × 2700 × 0.75 ÷ 20 days
    assert approx(values(loaded, "sales_velocity", period="all", as_of=AS_OF)) == approx(
        {(None, None): (506.25, None, 4)})


def test_sales_velocity_by_owner_and_window_option(loaded):
    assert approx(values(loaded, "sales_velocity", period="all", dimension="owner",
                         as_of=AS_OF)) == approx(
        {("U1", None): (3 * 1100 * 1.0 / 10, None, 1),
         ("U2", None): (1 * 2000 * 0.5 / 20, None, 2),
         ("U3", None): (1 * 5000 * 1.0 / 30, None, 1)})
    # a 60-day window starts 2026-03-02: only W3 (5000, 30 days) is left
    got = values(loaded, "sales_velocity", period="all", as_of=AS_OF,
                 options={"velocity_window_days": 60})
    assert approx(got) == approx({(None, None): (5 * 5000 / 30, None, 1)})


def test_sales_velocity_is_a_snapshot_only(loaded):
    m = Registry().metric("sales_velocity")
    result = compute(loaded, [m], MetricsConfig(), period="month")
    assert result.values == [] and result.skipped == ["sales_velocity: no period 'month'"]


def test_empty_store_gives_no_values(store):
    for name in ("pipeline_value", "weighted_pipeline_value", "quota_attainment",
                 "pipeline_coverage"):
        assert values(store, name) == {}
    # an org-wide snapshot is one row; over nothing its value is undefined, never an error
    assert values(store, "sales_velocity", period="all", as_of=AS_OF) == {
        (None, None): (None, None, 0)}


def test_quota_metrics_have_no_value_without_quotas(store):
    load_records(store, {k: v for k, v in DATA.items() if k != "quotas"})
    assert values(store, "quota_attainment", dimension="owner") == {}
    assert values(store, "pipeline_coverage", dimension="owner") == {}


def test_quota_metrics_are_unknown_when_amounts_do_not_convert(store):
    # U1 won only a JPY deal (no rate) and its only open deal is in JPY too: neither its
    # attainment nor its coverage is 0, both are unknown
    load_records(store, {
        "users": DATA["users"],
        "opportunities": [
            opp("J1", "U1", "won", 1000, "JPY", closed_at="2026-02-01T00:00:00"),
            opp("J2", "U1", "open", 5000, "JPY", expected_close_date="2026-03-01")],
        "quotas": [quota("QJ", "U1", "2026-01-01", "2026-03-31", 4000)]})
    assert values(store, "quota_attainment", dimension="owner") == {
        ("U1", Q1): (None, None, 4000)}
    assert values(store, "pipeline_coverage", dimension="owner") == {
        ("U1", Q1): (None, None, None)}
