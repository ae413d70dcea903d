"""CAC and LTV:CAC by acquisition channel and segment (crmsync_kpis.acquisition) on a
hand-computed dataset, on SQLite and PostgreSQL.

Customers (first live won deal; channel: the primary campaign's spend channel, else the deal's
lead source, else its converted lead's; segment: the account's):

======== ========== =============== ========== ====================== ==========
account  first win  via             channel    later wins             segment
======== ========== =============== ========== ====================== ==========
A1       O1 Q1'26   campaign C1     Webinar    O5 Q2'26 (800)         SMB
A2       O2 Q1'26   lead_source     Web        (O8 earlier: deleted)  SMB
A3       O3 Q1'26   campaign C2     Email                             ENT
A4       O4 Q1'26   converted lead  Partner Referral                  ENT
A5       O6 Q2'26   campaign C3     Webinar                           —
A6       O9 Q1'26   lead_source (C9 has no spend row)  Web            —
======== ========== =============== ========== ====================== ==========

Spend: C1 Webinar/SMB 1000 (Q1), C2 Email/ENT 600 EUR = 660 (Q1), C4 Advertisement/SMB 900
JPY (no rate: no amount), X1 no channel or segment 300 (Q1), C3 Webinar/ENT 400 (Q2).
"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import customers

Q126, Q226 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
AS_OF = dt.datetime(2026, 6, 30)


def won(rid, account, closed, amount, **kw):
    return {"remote_id": rid, "account_id": account, "status": "won",
            "closed_at": f"{closed}T00:00:00", "amount": amount, **kw}


def spend(rid, start, amount, channel, segment, **kw):
    return {"remote_id": rid, "category": "marketing", "period_start": start,
            "period_end": start, "amount": amount, "channel": channel, "segment": segment,
            **kw}


DATA = {
    "accounts": [{"remote_id": "A1", "segment": "SMB"}, {"remote_id": "A2", "segment": "SMB"},
                 {"remote_id": "A3", "segment": "ENT"}, {"remote_id": "A4", "segment": "ENT"},
                 {"remote_id": "A5"}],
    "currency_rates": [{"remote_id": "EUR", "currency": "EUR", "rate_to_base": 1.10,
                        "valid_from": "2026-01-01"}],
    "leads": [{"remote_id": "L1", "lead_source": "Partner Referral",
               "remote_created_at": "2025-11-02T00:00:00", "converted_at": "2026-03-15T00:00:00",
               "converted_opportunity_id": "O4"}],
    "opportunities": [
        won("O1", "A1", "2026-01-20", 1000, campaign_id="C1", lead_source="Web"),
        won("O2", "A2", "2026-02-10", 2000, lead_source="Web"),
        won("O3", "A3", "2026-03-01", 3000, campaign_id="C2"),
        won("O4", "A4", "2026-03-15", 500),
        won("O5", "A1", "2026-04-20", 800, campaign_id="C3"),
        won("O6", "A5", "2026-05-01", 1200, campaign_id="C3"),
        won("O8", "A2", "2025-12-01", 5000, campaign_id="C3", is_deleted=True),
        won("O9", "A6", "2026-02-20", 700, campaign_id="C9", lead_source="Web"),
        {**won("O7", "A7", "2026-02-01", 90, campaign_id="C1"), "status": "lost"},
    ],
    "spend": [
        spend("C1", "2026-01-10", 1000, "Webinar", "SMB"),
        spend("C2", "2026-02-01", 600, "Email", "ENT", currency="EUR"),
        spend("C4", "2026-01-05", 900, "Advertisement", "SMB", currency="JPY"),
        spend("X1", "2026-03-01", 300, None, None),
        spend("C3", "2026-04-01", 400, "Webinar", "ENT"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, name, period="quarter", dimension=None):
    metric = next(cls() for cls in customers.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    assert result.skipped == []
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_cac_by_channel_divides_each_channels_spend_by_the_customers_it_brought(loaded):
    assert values(loaded, "cac", dimension="channel") == {
        ("Webinar", Q126): (1000.0, 1000.0, 1), ("Webinar", Q226): (400.0, 400.0, 1),
        ("Email", Q126): (pytest.approx(660.0), pytest.approx(660.0), 1),
        ("Advertisement", Q126): (None, None, 0),  # JPY without a rate: no amount, not 900
        ("Web", Q126): (None, None, 2),  # customers without spend: no value, never 0
        ("Partner Referral", Q126): (None, None, 1),
        (None, Q126): (None, 300.0, 0)}


def test_cac_by_segment_uses_the_accounts_and_the_spends_segments(loaded):
    assert values(loaded, "cac", dimension="segment") == {
        ("SMB", Q126): (500.0, 1000.0, 2),
        ("ENT", Q126): (pytest.approx(330.0), pytest.approx(660.0), 2),
        (None, Q126): (300.0, 300.0, 1),
        ("ENT", Q226): (None, 400.0, 0), (None, Q226): (None, None, 1)}


def test_cac_for_the_organisation_converts_spend_to_the_base_currency(loaded):
    assert values(loaded, "cac") == {
        (None, Q126): (pytest.approx(1960 / 5), pytest.approx(1960.0), 5),
        (None, Q226): (400.0, 400.0, 1)}
    assert values(loaded, "cac", period="all", dimension="channel")[("Webinar", None)] == \
        (700.0, 1400.0, 2)


def test_ltv_to_cac_by_channel_compares_the_customers_of_each_channel(loaded):
    # LTV to each quarter's end: Webinar {A1} 1000, then {A1, A5} (1800 + 1200) / 2;
    # Web {A2, A6} 2700 / 2; Email {A3} 3000; Partner Referral {A4} 500.
    assert values(loaded, "ltv_to_cac", dimension="channel") == {
        ("Webinar", Q126): (1.0, 1000.0, 1000.0),
        ("Webinar", Q226): (3.75, 1500.0, 400.0),
        ("Email", Q126): (pytest.approx(3000 / 660), 3000.0, pytest.approx(660.0)),
        ("Web", Q126): (None, 1350.0, None),
        ("Partner Referral", Q126): (None, 500.0, None)}


def test_ltv_to_cac_by_segment(loaded):
    # LTV: SMB {A1, A2} 3000 / 2, then 3800 / 2; ENT {A3, A4} 3500 / 2; none {A6}, {A5, A6}.
    assert values(loaded, "ltv_to_cac", dimension="segment") == {
        ("SMB", Q126): (3.0, 1500.0, 500.0),
        ("ENT", Q126): (pytest.approx(1750 / 330), 1750.0, pytest.approx(330.0)),
        (None, Q126): (pytest.approx(700 / 300), 700.0, 300.0),
        ("ENT", Q226): (None, 1750.0, None),
        (None, Q226): (None, 950.0, None)}


def test_channel_is_offered_by_cac_and_ltv_to_cac_only():
    assert [d.name for d in customers.Cac.declared_dimensions] == ["channel"]
    assert customers.LtvToCac.declared_dimensions == customers.Cac.declared_dimensions
    assert not customers.CustomerLifetimeValue.declared_dimensions


def test_cac_by_channel_as_of_an_instant_reads_the_tables_as_they_stood(loaded):
    metric = customers.Cac()
    got = compute(loaded, [metric], MetricsConfig(), period="quarter", dimensions=("channel",),
                  as_of=AS_OF, rebuilt=True)
    now = compute(loaded, [metric], MetricsConfig(), period="quarter", dimensions=("channel",),
                  as_of=AS_OF)

    assert got.skipped == [] and got.values
    assert {(v.dimension_value, v.period_start, v.value) for v in got.values} == \
        {(v.dimension_value, v.period_start, v.value) for v in now.values}
