"""Record-level KPIs (plugins/crmsync_kpis/records.py) on a hand-computed dataset, on SQLite
and PostgreSQL. ``as_of`` is pinned to 2026-06-01 00:00 UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.registry import Registry

AS_OF = dt.datetime(2026, 6, 1)


def opp(rid, status, created="2026-05-01T00:00:00", closed=None, amount=None,
        currency="USD", account="A1", **kw):
    return {"remote_id": rid, "status": status, "remote_created_at": created,
            "closed_at": closed, "amount": amount, "currency": currency,
            "account_id": account, **kw}


def act(rid, occurred, kind="call", direction="outbound", automated=False, **links):
    return {"remote_id": rid, "type": kind, "direction": direction, "occurred_at": occurred,
            "is_automated": automated, **links}


DATA = {
    "accounts": [{"remote_id": "A1"}, {"remote_id": "A2"}, {"remote_id": "A3"},
                 {"remote_id": "AX", "is_deleted": True}],
    "currency_rates": [
        {"remote_id": "EUR-1", "currency": "EUR", "rate_to_base": 1.10,
         "valid_from": "2026-01-01", "valid_to": "2026-04-01"},
        {"remote_id": "EUR-2", "currency": "EUR", "rate_to_base": 1.20,
         "valid_from": "2026-04-01"},
    ],
    "opportunities": [
        # open, 31 days old; in its stage since 2026-05-21 12:00 (10.5 days)
        opp("O1", "open", amount=1000),
        # won: age = close − creation = 40 days; 1000 EUR at the March rate 1.10
        opp("O2", "won", created="2026-01-20T00:00:00", closed="2026-03-01T00:00:00",
            amount=1000, currency="EUR"),
        # lost, no activity
        opp("O3", "lost", created="2026-02-01T00:00:00", closed="2026-02-11T06:00:00",
            amount=50),
        # open EUR deal, latest rate 1.20 → 600; no activities at all
        opp("O4", "open", created="2026-05-31T00:00:00", amount=500, currency="EUR"),
        # open deal of account A2 in JPY (no rate: left out of the pipeline)
        opp("O5", "open", amount=100000, currency="JPY", account="A2"),
        # deleted: never a row, never counted in A1
        opp("OX", "won", closed="2026-05-10T00:00:00", amount=99999, is_deleted=True),
    ],
    "opportunity_stage_history": [
        {"remote_id": "H1", "opportunity_id": "O1", "stage_id": "S1",
         "entered_at": "2026-05-01T00:00:00", "exited_at": "2026-05-21T12:00:00"},
        {"remote_id": "H2", "opportunity_id": "O1", "stage_id": "S2",
         "entered_at": "2026-05-21T12:00:00"},
        # O2's only visit is closed: no current stage
        {"remote_id": "H3", "opportunity_id": "O2", "stage_id": "S1",
         "entered_at": "2026-01-20T00:00:00", "exited_at": "2026-03-01T00:00:00"},
        # a deleted open visit of O3 does not count
        {"remote_id": "H4", "opportunity_id": "O3", "stage_id": "S1",
         "entered_at": "2026-02-01T00:00:00", "is_deleted": True},
    ],
    "leads": [
        # created 09:00; first human outbound touch the e-mail at 09:45 → 45 min
        {"remote_id": "L1", "remote_created_at": "2026-05-10T09:00:00"},
        # converted to contact C2; touched only through the contact (a meeting, no direction)
        {"remote_id": "L2", "remote_created_at": "2026-05-12T00:00:00",
         "converted_contact_id": "C2", "converted_at": "2026-05-12T12:00:00"},
        # no touch at all
        {"remote_id": "L3", "remote_created_at": "2026-05-20T00:00:00"},
        {"remote_id": "LX", "remote_created_at": "2026-05-20T00:00:00", "is_deleted": True},
    ],
    "activities": [
        # O1: 2 human activities in the window (one inbound counts here), 1 older,
        # one automated (ignored), one deleted (ignored), one after as_of (ignored)
        act("X1", "2026-05-30T00:00:00", opportunity_id="O1", account_id="A1"),
        act("X2", "2026-05-02T12:00:00", "email", "inbound", opportunity_id="O1"),
        act("X3", "2026-05-02T00:00:00", opportunity_id="O1"),  # exactly 30 days: outside
        act("X4", "2026-05-31T00:00:00", "email", automated=True, opportunity_id="O1",
            account_id="A1"),
        act("X5", "2026-05-31T12:00:00", opportunity_id="O1", is_deleted=True),
        act("X6", "2026-06-05T00:00:00", opportunity_id="O1", account_id="A1"),
        # O2: one old activity
        act("X7", "2026-02-15T00:00:00", "meeting", None, opportunity_id="O2"),
        # A2: last human activity 2026-05-21 (the automated one later is ignored)
        act("X8", "2026-05-21T00:00:00", "note", None, account_id="A2"),
        act("X9", "2026-05-25T00:00:00", "email", automated=True, account_id="A2"),
        # L1: inbound call first (not a touch), automated e-mail (not a touch), a task (not a
        # touch), then the first human outbound e-mail at 09:45, and one more outbound call
        act("Y1", "2026-05-10T09:10:00", "call", "inbound", lead_id="L1"),
        act("Y2", "2026-05-10T09:20:00", "email", automated=True, lead_id="L1"),
        act("Y3", "2026-05-10T09:30:00", "task", None, lead_id="L1"),
        act("Y4", "2026-05-10T09:45:00", "email", lead_id="L1"),
        act("Y5", "2026-05-11T10:00:00", "call", lead_id="L1"),
        # L2 through its converted contact: a meeting without direction 2 h after creation;
        # a call linked both to the lead and the contact counts once; a touch of the contact
        # before the lead existed does not count
        act("Y6", "2026-05-12T02:00:00", "meeting", None, contact_id="C2"),
        act("Y7", "2026-05-13T00:00:00", "call", lead_id="L2", contact_id="C2"),
        act("Y8", "2026-05-01T00:00:00", "call", contact_id="C2"),
        # the deleted lead's touch
        act("Y9", "2026-05-20T01:00:00", "call", lead_id="LX"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, metric, **cfg):
    m = Registry().metric(metric)
    result = compute(store, [m], MetricsConfig(**cfg), period="all", as_of=AS_OF)
    assert all(v.period_start is None and v.dimension_value is None for v in result.values)
    return {v.subject_id: v.value for v in result.values}


def test_record_metrics_are_registered_with_period_all_only():
    metrics = Registry().metrics()
    for name, subject in [("opportunity_age_days", "opportunity"),
                          ("days_in_current_stage", "opportunity"),
                          ("activities_last_30d", "opportunity"),
                          ("opportunity_days_since_last_activity", "opportunity"),
                          ("account_won_revenue", "account"), ("account_win_rate", "account"),
                          ("account_open_pipeline", "account"),
                          ("account_days_since_last_activity", "account"),
                          ("response_minutes", "lead"), ("touches", "lead")]:
        assert metrics[name].subject == subject
        assert metrics[name].periods == ("all",) and metrics[name].dimensions == ()


def test_record_metrics_skip_other_periods(loaded):
    m = Registry().metric("touches")
    result = compute(loaded, [m], MetricsConfig(), period="month", as_of=AS_OF)
    assert result.values == [] and result.skipped == ["touches: no period 'month'"]


def test_opportunity_age_days_open_to_as_of_closed_to_close(loaded):
    assert values(loaded, "opportunity_age_days") == {
        "O1": pytest.approx(31), "O2": pytest.approx(40), "O3": pytest.approx(10.25),
        "O4": pytest.approx(1), "O5": pytest.approx(31)}


def test_days_in_current_stage_uses_the_open_visit(loaded):
    assert values(loaded, "days_in_current_stage") == {
        "O1": pytest.approx(10.5), "O2": None, "O3": None, "O4": None, "O5": None}


def test_activities_last_30d_counts_human_activities_in_the_window(loaded):
    # O1: X1 (in), X2 (inbound e-mail, in); X3 is exactly 30 days old (the window is open at
    # its start); X4 automated; X5 deleted; X6 after as_of. Deals without activities get 0.
    assert values(loaded, "activities_last_30d") == {"O1": 2, "O2": 0, "O3": 0, "O4": 0,
                                                     "O5": 0}


def test_opportunity_days_since_last_activity(loaded):
    # O1's latest human, live activity up to as_of is X1 (2026-05-30): the automated X4 and
    # the deleted X5 are later but do not count, nor does X6 (after as_of)
    assert values(loaded, "opportunity_days_since_last_activity") == {
        "O1": pytest.approx(2), "O2": pytest.approx(106), "O3": None, "O4": None, "O5": None}


def test_account_won_revenue_converts_at_the_close_date_rate(loaded):
    # A1: O2 1000 EUR × 1.10 (deleted OX left out); A2, A3 won nothing; AX deleted
    assert values(loaded, "account_won_revenue") == {
        "A1": pytest.approx(1100), "A2": 0, "A3": 0}


def test_account_win_rate_is_won_over_closed(loaded):
    m = Registry().metric("account_win_rate")
    result = compute(loaded, [m], MetricsConfig(), period="all", as_of=AS_OF)
    got = {v.subject_id: (v.value, v.numerator, v.denominator) for v in result.values}
    assert got == {"A1": (0.5, 1, 2), "A2": (None, 0, 0), "A3": (None, 0, 0)}


def test_account_open_pipeline_uses_the_latest_rate_and_skips_unknown_currencies(loaded):
    # A1: O1 1000 USD + O4 500 EUR × 1.20; A2: O5 in JPY has no rate, so its pipeline is
    # unknown (not 0); A3 has no open deal
    assert values(loaded, "account_open_pipeline") == {
        "A1": pytest.approx(1600), "A2": None, "A3": 0}


def test_account_sums_are_unknown_when_the_connection_syncs_no_deals(store):
    load_records(store, {"accounts": DATA["accounts"]})
    assert values(store, "account_won_revenue") == {"A1": None, "A2": None, "A3": None}
    assert values(store, "account_open_pipeline") == {"A1": None, "A2": None, "A3": None}


def test_account_won_revenue_is_unknown_when_no_won_amount_converts(store):
    load_records(store, {"accounts": [{"remote_id": "A1"}], "opportunities": [
        opp("W1", "won", closed="2026-05-01T00:00:00", amount=100, currency="JPY")]})
    assert values(store, "account_won_revenue") == {"A1": None}


def test_activity_counts_are_unknown_when_the_connection_syncs_no_activities(store):
    load_records(store, {k: v for k, v in DATA.items() if k != "activities"})
    assert set(values(store, "activities_last_30d").values()) == {None}
    assert values(store, "touches") == {"L1": None, "L2": None, "L3": None}


def test_account_days_since_last_activity(loaded):
    # A1: X1 on 2026-05-30 (X4 automated, X6 after as_of); A2: the note X8 (X9 automated)
    assert values(loaded, "account_days_since_last_activity") == {
        "A1": pytest.approx(2), "A2": pytest.approx(11), "A3": None}


def test_response_minutes_first_human_outbound_touch(loaded):
    # L1: Y4 at 09:45 (inbound Y1, automated Y2, task Y3 are no touches); L2: the meeting Y6
    # through its converted contact, 2 h after creation; L3: none yet
    assert values(loaded, "response_minutes") == {
        "L1": pytest.approx(45), "L2": pytest.approx(120), "L3": None}


def test_touches_count_lead_and_converted_contact_once_each(loaded):
    # L1: Y4, Y5; L2: Y6, Y7 (linked both ways, counted once), not Y8 (before the lead)
    assert values(loaded, "touches") == {"L1": 2, "L2": 2, "L3": 0}


def test_record_metrics_restrict_to_one_connection(store):
    load_records(store, DATA)
    load_records(store, {"leads": [{"remote_id": "L1",
                                    "remote_created_at": "2026-05-10T09:00:00"}],
                         "activities": [act("Z1", "2026-05-11T00:00:00", "task", None)]},
                 connection="other")
    m = Registry().metric("touches")
    both = compute(store, [m], MetricsConfig(), period="all", as_of=AS_OF)
    assert sorted((v.subject_id, v.value) for v in both.values) == [
        ("L1", 0), ("L1", 2), ("L2", 2), ("L3", 0)]
    one = compute(store, [m], MetricsConfig(), period="all", as_of=AS_OF, connection="other")
    assert [(v.subject_id, v.value) for v in one.values] == [("L1", 0)]
