"""Activity KPIs on a hand-computed dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import activity

Q1, Q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
AS_OF = dt.datetime(2026, 6, 1)


def act(rid, kind, owner, at, **kw):
    return {"remote_id": rid, "type": kind, "owner_id": owner, "occurred_at": at, **kw}


DATA = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "East"},
              {"remote_id": "U3", "team": "West"}],
    "opportunities": [
        {"remote_id": "O1", "owner_id": "U2", "status": "won",
         "closed_at": "2026-03-15T00:00:00"},
        {"remote_id": "O2", "owner_id": "U3", "status": "lost",
         "closed_at": "2026-02-01T00:00:00"},                        # no activity: 0
        {"remote_id": "O3", "owner_id": "U1", "status": "open"},     # open: never counts
        {"remote_id": "O4", "owner_id": "U1", "status": "won",
         "closed_at": "2026-05-01T00:00:00", "is_deleted": True},
        {"remote_id": "O5", "owner_id": "U3", "status": "won",
         "closed_at": "2026-05-20T00:00:00"},
    ],
    "activities": [
        act("A1", "call", "U1", "2026-01-05T00:00:00", outcome="Connected",
            duration_seconds=300, direction="outbound"),
        act("A2", "call", "U1", "2026-01-06T00:00:00", outcome="Left voicemail"),
        act("A3", "call", "U2", "2026-02-01T00:00:00", outcome="connected "),
        act("A4", "call", "U3", "2026-04-02T00:00:00", outcome="No answer",
            opportunity_id="O5"),
        act("A5", "call", "U3", "2026-04-03T00:00:00", outcome="CONNECTED",
            is_automated=True),                                      # automated
        act("A6", "call", "U1", "2026-02-02T00:00:00", outcome="Connected",
            opportunity_id="O5", is_deleted=True),                   # deleted
        act("A7", "email", "U1", "2026-01-10T00:00:00", direction="outbound",
            opportunity_id="O4", is_automated=False),
        act("A8", "email", "U1", "2026-01-11T00:00:00", direction="inbound"),
        act("A9", "email", "U2", "2026-02-10T00:00:00", direction="outbound",
            is_automated=True, opportunity_id="O1"),                 # automated
        act("A10", "email", "U3", "2026-05-01T00:00:00", direction="outbound",
            opportunity_id="O5"),
        act("A11", "meeting", "U2", "2026-03-01T00:00:00", opportunity_id="O1"),
        act("A12", "task", "U3", "2026-05-02T00:00:00", opportunity_id="O5"),
        act("A13", "note", "U1", "2026-01-20T00:00:00", opportunity_id="O3"),
        act("A14", "task", "U1", "2026-06-10T00:00:00"),             # after as_of
        act("A15", "note", "U2", "2026-03-20T12:00:00", opportunity_id="O1"),  # after close
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, name, period="quarter", dimension=None, **cfg):
    metric = next(cls() for cls in activity.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(**cfg), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_counts_leave_out_automated_deleted_and_inbound_emails(loaded):
    assert values(loaded, "calls") == {(None, Q1): (3, 3, None), (None, Q2): (1, 1, None)}
    assert values(loaded, "emails") == {(None, Q1): (1, 1, None), (None, Q2): (1, 1, None)}
    assert values(loaded, "meetings") == {(None, Q1): (1, 1, None)}
    assert values(loaded, "tasks") == {(None, Q2): (2, 2, None)}  # is_automated unset counts


def test_counts_by_team_and_empty_months(loaded):
    assert values(loaded, "calls", dimension="team") == {("East", Q1): (3, 3, None),
                                                         ("West", Q2): (1, 1, None)}
    by_month = values(loaded, "calls", period="month")
    assert by_month == {(None, dt.date(2026, 1, 1)): (2, 2, None),
                        (None, dt.date(2026, 2, 1)): (1, 1, None),
                        (None, dt.date(2026, 4, 1)): (1, 1, None)}  # March: no calls, no row


def test_call_connect_rate_matches_connected_case_insensitively(loaded):
    assert values(loaded, "call_connect_rate") == {(None, Q1): (pytest.approx(2 / 3), 2, 3),
                                                   (None, Q2): (0.0, 0, 1)}
    assert values(loaded, "call_connect_rate", dimension="owner") == {
        ("U1", Q1): (0.5, 1, 2), ("U2", Q1): (1.0, 1, 1), ("U3", Q2): (0.0, 0, 1)}


def test_call_connect_rate_leaves_out_calls_without_an_outcome(loaded):
    load_records(loaded, {"activities": [
        act("B1", "call", "U1", "2026-01-07T00:00:00"),                     # no outcome
        act("B2", "call", "U3", "2026-04-05T00:00:00", outcome="  ")]})    # blank
    assert values(loaded, "calls") == {(None, Q1): (4, 4, None), (None, Q2): (2, 2, None)}
    assert values(loaded, "call_connect_rate") == {(None, Q1): (pytest.approx(2 / 3), 2, 3),
                                                   (None, Q2): (0.0, 0, 1)}


def test_call_connect_rate_is_null_when_no_call_has_an_outcome(store):
    load_records(store, {"activities": [act("B1", "call", "U1", "2026-01-07T00:00:00")]})
    assert values(store, "call_connect_rate") == {(None, Q1): (None, 0, 0)}


def test_activities_per_opportunity_counts_work_up_to_the_close(loaded):
    # O1: A11 (A9 automated, A15 after close); O2: none; O5: A4, A10, A12 (A6 deleted)
    assert values(loaded, "activities_per_opportunity") == {(None, Q1): (0.5, 1, 2),
                                                            (None, Q2): (3.0, 3, 1)}
    assert values(loaded, "activities_per_opportunity", period="all") == {
        (None, None): (pytest.approx(4 / 3), 4, 3)}


def test_activities_per_opportunity_is_null_without_activity_data(store):
    load_records(store, {k: v for k, v in DATA.items() if k != "activities"})
    assert values(store, "activities_per_opportunity") == {(None, Q1): (None, None, 0),
                                                           (None, Q2): (None, None, 0)}


def test_activities_per_opportunity_leaves_out_connections_without_activity_data(loaded):
    load_records(loaded, {"opportunities": DATA["opportunities"]}, connection="no_activities")
    assert values(loaded, "activities_per_opportunity") == {(None, Q1): (0.5, 1, 2),
                                                            (None, Q2): (3.0, 3, 1)}


def test_days_since_last_activity_ignores_future_and_automated_activities(loaded):
    assert values(loaded, "days_since_last_activity", period="all") == {
        (None, None): (pytest.approx(30), None, 11)}
    assert values(loaded, "days_since_last_activity", period="all", dimension="owner") == {
        ("U1", None): (pytest.approx(132), None, 5),       # A13 on Jan 20; A14 is after as_of
        ("U2", None): (pytest.approx(72.5), None, 3),      # A15, Mar 20 12:00
        ("U3", None): (pytest.approx(30), None, 3)}        # A12, May 2 (A5 automated)
    assert values(loaded, "days_since_last_activity", period="all", dimension="team") == {
        ("East", None): (pytest.approx(72.5), None, 8),
        ("West", None): (pytest.approx(30), None, 3)}


def test_days_since_last_activity_is_null_without_activities_and_only_for_all(store):
    assert values(store, "days_since_last_activity", period="all") == {(None, None):
                                                                       (None, None, 0)}
    metric = activity.DaysSinceLastActivity()
    result = compute(store, [metric], MetricsConfig(), period="month", as_of=AS_OF)
    assert result.values == [] and result.skipped == ["days_since_last_activity: no period 'month'"]


def test_activity_counts_break_down_by_the_accounts_territory(store):
    load_records(store, {
        "accounts": [{"remote_id": "AC1", "territory": "DACH", "segment": "SMB"},
                     {"remote_id": "AC2", "territory": "Nordics", "segment": "SMB"}],
        "activities": [
            act("C1", "call", "U1", "2026-01-05T00:00:00", account_id="AC1", outcome="connected"),
            act("C2", "call", "U1", "2026-01-06T00:00:00", account_id="AC2", outcome="no answer"),
            act("C3", "call", "U2", "2026-01-07T00:00:00", account_id="AC2", outcome="connected"),
            act("C4", "call", "U2", "2026-01-08T00:00:00"),  # no account: empty value
        ],
    })
    assert values(store, "calls", dimension="territory") == {
        ("DACH", Q1): (1, 1, None), ("Nordics", Q1): (2, 2, None), (None, Q1): (1, 1, None)}
    assert values(store, "call_connect_rate", dimension="territory") == {
        ("DACH", Q1): (1.0, 1, 1), ("Nordics", Q1): (0.5, 1, 2), (None, Q1): (None, 0, 0)}
    # by segment both accounts are one group; the org total is unchanged
    assert values(store, "calls", dimension="segment")[("SMB", Q1)] == (3, 3, None)
    assert values(store, "calls") == {(None, Q1): (4, 4, None)}
