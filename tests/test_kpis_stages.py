"""Stage KPIs (plugins/crmsync_kpis/stages.py) on a hand-computed dataset, SQLite and PostgreSQL.

Pipeline P1: S1 (1) → S2 (2) → S3 (3) → WON (4, closed won) / LOST (5, closed lost).

* D1 (U1): S1 Jan 1 → Jan 11 12:00 → S2 → Jan 21 → WON.
* D2 (U1): S1 Jan 5 → Jan 8 → LOST.
* D3 (U2), reopened: S1 Feb 1 → Feb 3 → S2 → Feb 13 → LOST → Apr 5 → S2 again → Apr 9 → S3.
* D4 (U2): S1 since Mar 1.
* D5: deleted deal (S1 → S2 in January); never counts.
* D6 (U1): S1 Apr 1 → Apr 3 → S2, but that S2 history row is deleted.
* D7 (U1): created straight into S2 on May 1 → May 6 → S3.
* D8 (U2): no history; won on its expected close date (slippage only).
"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis.stages import DealSlippageRate, StageConversionRate, TimeInStageDays

Q1, Q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
AS_OF = dt.datetime(2026, 4, 15, 12, 0)


def stage(rid, order, closed=False, won=False):
    return {"remote_id": rid, "pipeline_id": "P1", "label": rid, "display_order": order,
            "is_closed": closed, "is_won": won}


def visit(rid, deal, stage_id, entered, exited=None, **kw):
    return {"remote_id": rid, "opportunity_id": deal, "stage_id": stage_id,
            "entered_at": entered, "exited_at": exited, **kw}


def deal(rid, owner, status="open", closed=None, due=None, **kw):
    return {"remote_id": rid, "owner_id": owner, "status": status, "closed_at": closed,
            "expected_close_date": due, "pipeline_id": "P1", **kw}


DATA = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "West"}],
    "stages": [stage("S1", 1), stage("S2", 2), stage("S3", 3),
               stage("WON", 4, closed=True, won=True), stage("LOST", 5, closed=True)],
    "opportunities": [
        deal("D1", "U1", "won", "2026-01-21T00:00:00", "2026-01-31"),
        deal("D2", "U1", "lost", "2026-01-08T00:00:00", "2026-01-05"),
        deal("D3", "U2", due="2026-02-28"),
        deal("D4", "U2", due="2026-04-30"),
        deal("D5", "U1", due="2026-01-10", is_deleted=True),
        deal("D6", "U1", due="2026-04-02"),
        deal("D7", "U1"),
        deal("D8", "U2", "won", "2026-04-14T23:00:00", "2026-04-14"),
    ],
    "opportunity_stage_history": [
        visit("H1", "D1", "S1", "2026-01-01T00:00:00", "2026-01-11T12:00:00"),  # 10.5 d
        visit("H2", "D1", "S2", "2026-01-11T12:00:00", "2026-01-21T00:00:00"),  # 9.5 d
        visit("H3", "D1", "WON", "2026-01-21T00:00:00"),
        visit("H4", "D2", "S1", "2026-01-05T00:00:00", "2026-01-08T00:00:00"),  # 3 d
        visit("H5", "D2", "LOST", "2026-01-08T00:00:00"),
        visit("H6", "D3", "S1", "2026-02-01T00:00:00", "2026-02-03T00:00:00"),  # 2 d
        visit("H7", "D3", "S2", "2026-02-03T00:00:00", "2026-02-13T00:00:00"),  # 10 d
        visit("H8", "D3", "LOST", "2026-02-13T00:00:00", "2026-04-05T00:00:00"),  # 51 d
        visit("H9", "D3", "S2", "2026-04-05T00:00:00", "2026-04-09T00:00:00"),  # 4 d, revisit
        visit("H10", "D3", "S3", "2026-04-09T00:00:00"),
        visit("H11", "D4", "S1", "2026-03-01T00:00:00"),
        visit("H12", "D5", "S1", "2026-01-02T00:00:00", "2026-01-03T00:00:00"),  # deleted deal
        visit("H13", "D5", "S2", "2026-01-03T00:00:00"),
        visit("H14", "D6", "S1", "2026-04-01T00:00:00", "2026-04-03T00:00:00"),  # 2 d
        visit("H15", "D6", "S2", "2026-04-03T00:00:00", is_deleted=True),
        visit("H16", "D7", "S2", "2026-05-01T00:00:00", "2026-05-06T00:00:00"),  # 5 d
        visit("H17", "D7", "S3", "2026-05-06T00:00:00"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, metric, period="quarter", dimension=None, **cfg):
    """{(subject_id, dimension_value, period_start): (value, numerator, denominator)}."""
    result = compute(store, [metric], MetricsConfig(**cfg), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    return {(v.subject_id, v.dimension_value, v.period_start):
            (v.value, v.numerator, v.denominator) for v in result.values}


# -- stage_conversion_rate ------------------------------------------------------------------------

def test_stage_conversion_rate_counts_first_entries_moving_to_a_later_non_lost_stage(loaded):
    assert StageConversionRate.NAME == "stage_conversion_rate"
    assert values(loaded, StageConversionRate()) == {
        # S1 in Q1: D1 (→ S2), D3 (→ S2) convert; D2 (→ LOST only) and D4 (still there) do not
        ("S1", None, Q1): (0.5, 2, 4),
        # S2 in Q1: D1 (→ WON), D3 (→ S3 in April, after its reopening) convert
        ("S2", None, Q1): (1.0, 2, 2),
        # S1 in Q2: D6, whose move to S2 was deleted
        ("S1", None, Q2): (0.0, 0, 1),
        # S2 in Q2: D7 only; D3's April revisit of S2 is not a new entry
        ("S2", None, Q2): (1.0, 1, 1),
        ("S3", None, Q2): (0.0, 0, 2),  # D3, D7 still in S3; closed stages have no value
    }


def test_stage_conversion_rate_by_owner_rolls_up_exactly(loaded):
    by_owner = values(loaded, StageConversionRate(), dimension="owner")
    assert by_owner[("S1", "U1", Q1)] == (0.5, 1, 2)  # D1 yes, D2 no
    assert by_owner[("S1", "U2", Q1)] == (0.5, 1, 2)  # D3 yes, D4 no
    assert by_owner[("S3", "U1", Q2)] == (0.0, 0, 1)
    assert by_owner[("S3", "U2", Q2)] == (0.0, 0, 1)
    assert len(by_owner) == 8
    org = values(loaded, StageConversionRate())
    for key, (_, num, den) in org.items():
        parts = [v for k, v in by_owner.items() if (k[0], k[2]) == (key[0], key[2])]
        assert (sum(p[1] for p in parts), sum(p[2] for p in parts)) == (num, den)


def test_stage_conversion_rate_cumulative_is_reached_over_pipeline_entries(loaded):
    got = values(loaded, StageConversionRate(), definitions={"stage_conversion_rate":
                                                             "cumulative"})
    assert got == {
        # Q1 entries: D1, D2, D3, D4
        ("S1", None, Q1): (1.0, 4, 4),
        ("S2", None, Q1): (0.5, 2, 4),    # D1, D3
        ("S3", None, Q1): (0.5, 2, 4),    # D1 (went beyond, to WON), D3 (April)
        ("WON", None, Q1): (0.25, 1, 4),  # D1
        # Q2 entries: D6, D7 (created straight into S2)
        ("S1", None, Q2): (1.0, 2, 2),
        ("S2", None, Q2): (0.5, 1, 2),    # D7; D6's move was deleted
        ("S3", None, Q2): (0.5, 1, 2),
        ("WON", None, Q2): (0.0, 0, 2),
    }


def test_stage_conversion_rate_whole_history_and_empty_period(loaded):
    got = values(loaded, StageConversionRate(), period="all")
    assert got[("S1", None, None)] == (pytest.approx(2 / 5), 2, 5)
    assert got[("S2", None, None)] == (1.0, 3, 3)
    monthly = values(loaded, StageConversionRate(), period="month")
    assert not [k for k in monthly if k[2] == dt.date(2026, 6, 1)]  # June: no entries, no row


# -- time_in_stage_days ---------------------------------------------------------------------------

def test_time_in_stage_days_is_the_median_of_completed_visits_by_exit_period(loaded):
    assert TimeInStageDays.NAME == "time_in_stage_days"
    got = values(loaded, TimeInStageDays())
    assert got == {
        ("S1", None, Q1): (pytest.approx(3.0), None, 3),     # 10.5, 3, 2 (D5 deleted)
        ("S2", None, Q1): (pytest.approx(9.75), None, 2),    # 9.5, 10
        ("LOST", None, Q2): (pytest.approx(51.0), None, 1),  # D3, until reopened
        ("S1", None, Q2): (pytest.approx(2.0), None, 1),     # D6
        ("S2", None, Q2): (pytest.approx(4.5), None, 2),     # D3's revisit 4, D7 5
    }


def test_time_in_stage_days_by_team(loaded):
    got = values(loaded, TimeInStageDays(), dimension="team")
    assert got[("S1", "East", Q1)] == (pytest.approx(6.75), None, 2)  # D1 10.5, D2 3
    assert got[("S1", "West", Q1)] == (pytest.approx(2.0), None, 1)   # D3


# -- deal_slippage_rate ---------------------------------------------------------------------------

def test_deal_slippage_rate_counts_deals_late_or_still_open_after_their_due_date(loaded):
    assert DealSlippageRate.NAME == "deal_slippage_rate"
    assert values(loaded, DealSlippageRate()) == {
        # due in Q1: D1 closed before its date; D2 closed 3 days late; D3 still open
        (None, None, Q1): (pytest.approx(2 / 3), 2, 3),
        # due in Q2 before as_of: D6 open (late), D8 won on its due date (on time);
        # D4 is due after as_of and not judged yet
        (None, None, Q2): (0.5, 1, 2),
    }


def test_deal_slippage_rate_by_owner_and_as_of(loaded):
    assert values(loaded, DealSlippageRate(), dimension="owner") == {
        (None, "U1", Q1): (pytest.approx(1 / 2), 1, 2),
        (None, "U2", Q1): (1.0, 1, 1),
        (None, "U1", Q2): (1.0, 1, 1),
        (None, "U2", Q2): (0.0, 0, 1),
    }
    early = compute(loaded, [DealSlippageRate()], MetricsConfig(), period="quarter",
                    as_of=dt.datetime(2026, 1, 7))
    assert [(v.period_start, v.value, v.numerator, v.denominator) for v in early.values] == [
        (Q1, 1.0, 1, 1)]  # only D2 was due before Jan 7 (and closed on Jan 8)
