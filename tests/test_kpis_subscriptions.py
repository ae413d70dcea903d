"""Subscription KPIs (MRR and its movements) on a hand-computed dataset, on SQLite and
PostgreSQL: start + new + expansion − contraction − churn = end, in every period."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import subscriptions

AS_OF = dt.datetime(2026, 6, 15, 12)
JAN, FEB, MAR, APR, MAY, JUN = (dt.date(2026, m, 1) for m in range(1, 7))
Q1, Q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)


def won(rid, account, closed, status="won", **kw):
    return {"remote_id": rid, "account_id": account, "status": status,
            "closed_at": f"{closed}T09:00:00", "amount": 1, **kw}


def line(rid, deal, amount, frequency=None, start=None, term=None, **kw):
    return {"remote_id": rid, "opportunity_id": deal, "amount": amount,
            "billing_frequency": frequency, "billing_start_date": start, "term_months": term,
            **kw}


# Hand-computed MRR (boundary = the first day after the month; June: the day after as_of):
#   A1: 100 from 15 Jan (L1, no term) + 50 from 5 Mar (L3)
#   A2: 2400/yr = 200 (L2, term 12 from its product) + 100 EUR × 1.10 = 110 (L9), from 1 Feb
#   A3: 900/quarter = 300 from 10 Feb to 10 May (L4), renewed at 600/quarter = 200 (L5)
#   A4: 80 from 1 Mar to 1 May (L6, two months), not renewed
DATA = {
    "accounts": [{"remote_id": "A1", "segment": "SMB"}, {"remote_id": "A2", "segment": "SMB"},
                 {"remote_id": "A3", "segment": "ENT"}, {"remote_id": "A4", "segment": "ENT"}],
    "currency_rates": [{"remote_id": "EUR", "currency": "EUR", "rate_to_base": 1.10,
                        "valid_from": "2026-01-01"}],
    "products": [
        {"remote_id": "P1", "name": "Analytics seat", "family": "Analytics",
         "billing_frequency": "monthly"},
        {"remote_id": "P2", "name": "Platform", "family": "Platform",
         "billing_frequency": "annually", "term_months": 12},
        {"remote_id": "P3", "name": "Onboarding", "family": "Services",
         "billing_frequency": "one_time"},
    ],
    "opportunities": [
        won("D1", "A1", "2026-01-10"), won("D2", "A2", "2026-01-20"),
        won("D3", "A1", "2026-03-05"), won("D4", "A3", "2026-02-10"),
        won("D5", "A3", "2026-05-01"), won("D6", "A4", "2026-03-01"),
        won("D7", "A4", "2026-03-01", status="lost"),
        won("D8", "A4", "2026-04-01"),
        won("D9", None, "2026-04-01"),
        won("D10", "A2", "2026-02-01", is_deleted=True),
    ],
    "opportunity_line_items": [
        line("L1", "D1", 100, product_id="P1", start="2026-01-15"),
        line("L2", "D2", 2400, product_id="P2", start="2026-02-01"),
        line("L9", "D2", 100, "monthly", "2026-02-01", currency="EUR"),
        line("L3", "D3", 50, "monthly"),
        line("L4", "D4", 900, "quarterly", term=3),
        line("L5", "D5", 600, "quarterly", "2026-05-10", 3),
        line("L6", "D6", 80, "monthly", term=2),
        # never MRR: a lost deal, a one-time line, a deleted line, a deal without an account,
        # a deleted deal
        line("X1", "D7", 999, "monthly"), line("X2", "D8", 5000, product_id="P3"),
        line("X3", "D1", 999, "monthly", is_deleted=True), line("X4", "D9", 999, "monthly"),
        line("X5", "D10", 999, "monthly"),
    ],
}

# month → (start, new, expansion, contraction, churn, end)
MOVEMENTS = {
    JAN: (0, 100, 0, 0, 0, 100),
    FEB: (100, 610, 0, 0, 0, 710),
    MAR: (710, 80, 50, 0, 0, 840),
    APR: (840, 0, 0, 0, 0, 840),
    MAY: (840, 0, 0, 100, 80, 660),
    JUN: (660, 0, 0, 0, 0, 660),
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, name, period="month", dimension=None):
    metric = next(cls() for cls in subscriptions.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def series(store, name, period="month"):
    return {p: round(v[0], 6) if v[0] is not None else None
            for (d, p), v in values(store, name, period).items() if d is None}


def test_mrr_follows_the_hand_computed_subscriptions(loaded) -> None:
    assert series(loaded, "mrr") == {m: float(row[5]) for m, row in MOVEMENTS.items()}


def test_mrr_movements_are_the_hand_computed_ones(loaded) -> None:
    got = {m: (series(loaded, "new_mrr")[m], series(loaded, "expansion_mrr")[m],
               series(loaded, "contraction_mrr")[m], series(loaded, "churned_mrr")[m])
           for m in MOVEMENTS}

    assert got == {m: tuple(float(x) for x in row[1:5]) for m, row in MOVEMENTS.items()}


def test_start_plus_movements_is_the_end_in_every_period(loaded) -> None:
    for period in ("month", "quarter"):
        end = series(loaded, "mrr", period)
        new, exp = series(loaded, "new_mrr", period), series(loaded, "expansion_mrr", period)
        con, churn = (series(loaded, "contraction_mrr", period),
                      series(loaded, "churned_mrr", period))
        starts = sorted(end)
        for before, p in zip([None, *starts], starts, strict=False):
            start = end[before] if before else 0.0
            assert start + new[p] + exp[p] - con[p] - churn[p] == pytest.approx(end[p], abs=1e-9)


def test_quarters_net_the_months(loaded) -> None:
    assert series(loaded, "mrr", "quarter") == {Q1: 840.0, Q2: 660.0}
    assert series(loaded, "churned_mrr", "quarter") == {Q1: 0.0, Q2: 80.0}
    assert series(loaded, "contraction_mrr", "quarter") == {Q1: 0.0, Q2: 100.0}


def test_arr_is_twelve_times_mrr(loaded) -> None:
    assert series(loaded, "arr")[MAY] == 660.0 * 12


def test_mrr_counts_paying_accounts_as_n(loaded) -> None:
    assert values(loaded, "mrr")[(None, MAR)][2] == 4
    assert values(loaded, "mrr")[(None, MAY)][2] == 3


def test_net_revenue_retention_includes_expansion(loaded) -> None:
    value, numerator, denominator = values(loaded, "net_revenue_retention")[(None, MAR)]

    # A1 150 + A2 310 + A3 300 of the 710 paying at the start (A4's 80 is new, not retained)
    assert (numerator, denominator) == pytest.approx((760.0, 710.0))
    assert value == pytest.approx(760 / 710)


def test_gross_revenue_retention_leaves_expansion_out(loaded) -> None:
    assert values(loaded, "gross_revenue_retention")[(None, MAR)][0] == pytest.approx(1.0)
    _, numerator, denominator = values(loaded, "gross_revenue_retention")[(None, MAY)]
    assert (numerator, denominator) == pytest.approx((660.0, 840.0))


def test_logo_churn_counts_accounts_not_money(loaded) -> None:
    assert values(loaded, "logo_churn_rate")[(None, MAY)] == pytest.approx((0.25, 1, 4))


def test_retention_has_no_value_before_anyone_paid(loaded) -> None:
    assert values(loaded, "net_revenue_retention")[(None, JAN)][0] is None
    assert values(loaded, "logo_churn_rate")[(None, JAN)][0] is None


def test_mrr_breaks_down_by_account_segment(loaded) -> None:
    got = {k: v[0] for k, v in values(loaded, "mrr", dimension="segment").items()
           if k[1] == MAY}

    assert got == {("SMB", MAY): pytest.approx(460.0), ("ENT", MAY): pytest.approx(200.0)}


def test_no_recurring_line_items_give_no_value(store) -> None:
    load_records(store, {"opportunities": [won("D1", "A1", "2026-01-10")],
                         "opportunity_line_items": [line("X", "D1", 100, "one_time")]})

    for metric in subscriptions.METRICS:
        assert values(store, metric.NAME) == {}, metric.NAME


def test_movements_add_up_for_each_segment_too(loaded) -> None:
    def by_segment(name):
        return {k: v[0] for k, v in values(loaded, name, dimension="segment").items()}

    end, new, exp = by_segment("mrr"), by_segment("new_mrr"), by_segment("expansion_mrr")
    con, churn = by_segment("contraction_mrr"), by_segment("churned_mrr")
    for segment in ("SMB", "ENT"):
        months = sorted(p for d, p in end if d == segment)
        previous = 0.0
        for p in months:
            k = (segment, p)
            assert previous + new[k] + exp[k] - con[k] - churn[k] == pytest.approx(end[k])
            previous = end[k]
