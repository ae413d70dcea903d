"""Lead KPIs (plugins/crmsync_kpis/leads.py) on a hand-computed dataset, SQLite and PostgreSQL.

January 2026 (4 live leads):

* L1 (U1, web) Jan 5 09:00: automated e-mail 09:01 and inbound e-mail 09:10 (neither counts),
  outbound call 09:30 (first touch, 30 min), meeting without direction Jan 8 (2nd touch);
  converted to O1 (won).
* L2 (U1, web) Jan 10 08:00: touched only through its converted contact C2: call Jan 9 (before
  the lead existed, ignored), e-mail Jan 10 10:00 (120 min), call Jan 20 (10 days later);
  converted to O2 (open).
* L3 (U2, event) Jan 20 12:00: nothing.
* L4 (U2, event) Jan 25 00:00: e-mail 00:45 (45 min), call Jan 26, inbound meeting Jan 27
  (an appointment, not a touch); converted to O3, which is deleted.
* L5: deleted lead, answered in 5 minutes; never counts.

February: no leads. March: L6 (U2, web; automated e-mail, inbound call, a deleted outbound call)
and L7 (U1, web; an outbound task only): no touches at all.
"""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.testing import compute_metric
from crmsync_kpis.leads import (
    AppointmentRate,
    FollowUpRate,
    LeadConversionRate,
    LeadResponseMinutes,
    LeadResponseSlaRate,
    LeadToOpportunityRate,
)

JAN, MAR = dt.date(2026, 1, 1), dt.date(2026, 3, 1)


def lead(rid, owner, source, created, contact=None, opportunity=None, **kw):
    return {"remote_id": rid, "owner_id": owner, "lead_source": source,
            "remote_created_at": created, "converted_contact_id": contact,
            "converted_opportunity_id": opportunity, **kw}


def act(rid, type_, at, direction="outbound", lead_id=None, contact=None, **kw):
    return {"remote_id": rid, "type": type_, "occurred_at": at, "direction": direction,
            "lead_id": lead_id, "contact_id": contact, **kw}


DATA = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "West"}],
    "opportunities": [
        {"remote_id": "O1", "status": "won", "closed_at": "2026-02-01T00:00:00"},
        {"remote_id": "O2", "status": "open"},
        {"remote_id": "O3", "status": "won", "closed_at": "2026-02-01T00:00:00",
         "is_deleted": True},
    ],
    "leads": [
        lead("L1", "U1", "web", "2026-01-05T09:00:00", "C1", "O1"),
        lead("L2", "U1", "web", "2026-01-10T08:00:00", "C2", "O2"),
        lead("L3", "U2", "event", "2026-01-20T12:00:00"),
        lead("L4", "U2", "event", "2026-01-25T00:00:00", opportunity="O3"),
        lead("L5", "U1", "web", "2026-01-03T00:00:00", is_deleted=True),
        lead("L6", "U2", "web", "2026-03-02T10:00:00"),
        lead("L7", "U1", "web", "2026-03-10T09:00:00"),
    ],
    "activities": [
        act("A1", "email", "2026-01-05T09:01:00", lead_id="L1", is_automated=True),
        act("A2", "email", "2026-01-05T09:10:00", "inbound", lead_id="L1"),
        act("A3", "call", "2026-01-05T09:30:00", lead_id="L1", is_automated=False),
        act("A4", "meeting", "2026-01-08T10:00:00", None, lead_id="L1"),
        act("A5", "call", "2026-01-09T10:00:00", contact="C2"),  # before L2 was created
        act("A6", "email", "2026-01-10T10:00:00", contact="C2"),
        act("A7", "call", "2026-01-20T10:00:00", contact="C2"),
        act("A8", "email", "2026-01-25T00:45:00", lead_id="L4"),
        act("A9", "call", "2026-01-26T00:00:00", lead_id="L4"),
        act("A10", "meeting", "2026-01-27T00:00:00", "inbound", lead_id="L4"),
        act("A11", "call", "2026-01-03T00:05:00", lead_id="L5"),
        act("A12", "email", "2026-03-02T10:01:00", lead_id="L6", is_automated=True),
        act("A13", "call", "2026-03-02T10:02:00", "inbound", lead_id="L6"),
        act("A14", "call", "2026-03-02T10:05:00", lead_id="L6", is_deleted=True),
        act("A15", "task", "2026-03-10T10:00:00", lead_id="L7"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, metric, dimension=None, period="month", **cfg):
    """{(dimension_value, period_start): (value, numerator, denominator)}."""
    result = compute(store, [metric], MetricsConfig(**cfg), period=period,
                     dimensions=(dimension,), as_of=dt.datetime(2026, 4, 1))
    assert all(v.subject_id is None for v in result.values)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


# -- lead_response_minutes ------------------------------------------------------------------------

def test_lead_response_minutes_is_the_median_first_human_outbound_touch(loaded):
    assert LeadResponseMinutes.NAME == "lead_response_minutes"
    # 30 (L1, not the automated 1 or inbound 10), 120 (L2 via its contact), 45 (L4);
    # March has leads but no touches, February no leads: no values
    assert values(loaded, LeadResponseMinutes()) == {(None, JAN): (pytest.approx(45), None, 3)}


def test_lead_response_minutes_by_owner_and_lead_source(loaded):
    assert values(loaded, LeadResponseMinutes(), "owner") == {
        ("U1", JAN): (pytest.approx(75), None, 2), ("U2", JAN): (pytest.approx(45), None, 1)}
    assert values(loaded, LeadResponseMinutes(), "lead_source") == {
        ("web", JAN): (pytest.approx(75), None, 2), ("event", JAN): (pytest.approx(45), None, 1)}


# -- lead_response_sla_rate -----------------------------------------------------------------------

def test_lead_response_sla_rate_counts_unanswered_leads_as_missed(loaded):
    assert values(loaded, LeadResponseSlaRate()) == {
        (None, JAN): (0.5, 2, 4),  # L1 (30), L4 (45); L2 (120) late, L3 never answered
        (None, MAR): (0.0, 0, 2),
    }
    assert values(loaded, LeadResponseSlaRate(), options={"response_sla_minutes": 120})[
        (None, JAN)] == (0.75, 3, 4)


def test_lead_response_sla_rate_by_team(loaded):
    assert values(loaded, LeadResponseSlaRate(), "team") == {
        ("East", JAN): (0.5, 1, 2), ("West", JAN): (0.5, 1, 2),
        ("East", MAR): (0.0, 0, 1), ("West", MAR): (0.0, 0, 1)}


def test_lead_rates_over_touches_are_null_without_activity_data(store):
    # a connection that syncs no activities: touches are unknown, not missing
    load_records(store, {k: v for k, v in DATA.items() if k != "activities"})
    for metric in (LeadResponseSlaRate(), FollowUpRate(), AppointmentRate()):
        assert values(store, metric) == {(None, JAN): (None, 0, 0), (None, MAR): (None, 0, 0)}
    assert values(store, LeadToOpportunityRate())[(None, JAN)] == (0.75, 3, 4)


# -- lead_to_opportunity_rate / lead_conversion_rate ----------------------------------------------

def test_lead_to_opportunity_rate(loaded):
    assert values(loaded, LeadToOpportunityRate()) == {
        (None, JAN): (0.75, 3, 4),  # L1, L2, L4 (its opportunity's deletion does not matter)
        (None, MAR): (0.0, 0, 2),
    }
    assert [(v.value, v.numerator, v.denominator) for v in compute_metric(
        loaded, LeadToOpportunityRate(), period="all")] == [(pytest.approx(3 / 6), 3, 6)]


def test_lead_conversion_rate_needs_a_live_won_opportunity(loaded):
    assert LeadConversionRate.NAME == "lead_conversion_rate"
    assert values(loaded, LeadConversionRate()) == {
        (None, JAN): (0.25, 1, 4),  # L1 → O1 won; O2 open, O3 deleted
        (None, MAR): (0.0, 0, 2),
    }
    assert values(loaded, LeadConversionRate(), "owner") == {
        ("U1", JAN): (0.5, 1, 2), ("U2", JAN): (0.0, 0, 2),
        ("U1", MAR): (0.0, 0, 1), ("U2", MAR): (0.0, 0, 1)}


# -- follow_up_rate -------------------------------------------------------------------------------

def test_follow_up_rate_counts_touches_within_the_window(loaded):
    assert FollowUpRate.NAME == "follow_up_rate"
    assert values(loaded, FollowUpRate()) == {
        (None, JAN): (0.5, 2, 4),  # L1 (call + meeting), L4 (e-mail + call); L2's call: day 10
        (None, MAR): (0.0, 0, 2),
    }
    assert values(loaded, FollowUpRate(), options={"follow_up_days": 14})[(None, JAN)] == (
        0.75, 3, 4)
    assert values(loaded, FollowUpRate(), options={"follow_up_touches": 1})[(None, JAN)] == (
        0.75, 3, 4)


# -- appointment_rate -----------------------------------------------------------------------------

def test_appointment_rate_is_met_over_touched_and_null_when_none_touched(loaded):
    assert AppointmentRate.NAME == "appointment_rate"
    assert values(loaded, AppointmentRate()) == {
        (None, JAN): (pytest.approx(2 / 3), 2, 3),  # L1, L4 met; L2 touched only; L3 untouched
        (None, MAR): (None, 0, 0),                  # nobody touched: undefined
    }


def test_metrics_are_registered_under_their_names(registry):
    for name in ("lead_response_minutes", "lead_response_sla_rate", "lead_to_opportunity_rate",
                 "lead_conversion_rate", "follow_up_rate", "appointment_rate"):
        assert name == registry.metric(name).NAME
