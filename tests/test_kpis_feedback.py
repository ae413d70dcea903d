"""Survey KPIs (plugins/crmsync_kpis/feedback.py) on a hand-computed dataset, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import feedback

Q126, Q226 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)
AS_OF = dt.datetime(2026, 6, 30)


def fb(rid, kind, score, at, **kw):
    return {"remote_id": rid, "type": kind, "score": score, "responded_at": at, **kw}


DATA = {
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

# Attribution: U1 (East) owns contact K1; U2 (West) owns account A2 and contact K2, whose own
# owner is empty; U3 (West) is named on one response directly.
OWNERS = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "West"},
              {"remote_id": "U3", "team": "West"}],
    "accounts": [{"remote_id": "A1", "owner_id": "U1"}, {"remote_id": "A2", "owner_id": "U2"}],
    "contacts": [{"remote_id": "K1", "owner_id": "U1", "account_id": "A2"},
                 {"remote_id": "K2", "account_id": "A2"},
                 {"remote_id": "K3", "owner_id": "U3", "is_deleted": True}],
    "feedback": [
        fb("N1", "nps", 10, "2026-01-05T00:00:00", contact_id="K1"),         # K1 → U1
        fb("N2", "nps", 2, "2026-01-06T00:00:00", contact_id="K2"),          # K2 → A2 → U2
        fb("N3", "nps", 9, "2026-01-07T00:00:00", account_id="A2"),          # A2 → U2
        fb("N4", "nps", 9, "2026-01-08T00:00:00", contact_id="K1", owner_id="U3"),  # own
        fb("N5", "nps", 9, "2026-01-09T00:00:00", contact_id="K3"),          # deleted contact
        fb("N6", "nps", 9, "2026-01-10T00:00:00"),                           # no owner at all
    ],
}


def values(store, name, period="quarter", dimension=None):
    metric = next(cls() for cls in feedback.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(), period=period,
                     dimensions=(dimension,), as_of=AS_OF)
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_nps_csat_ces(store):
    load_records(store, DATA)
    assert values(store, "nps") == {(None, Q126): (25.0, 1, 4), (None, Q226): (-100.0, -1, 1)}
    assert values(store, "csat") == {(None, Q126): (0.5, 2, 4)}
    assert values(store, "ces") == {(None, Q126): (3.5, 7, 2)}


def test_feedback_scores_are_null_without_responses(store):
    assert values(store, "nps", period="all") == {(None, None): (None, None, None)}
    assert values(store, "csat", period="all") == {(None, None): (None, None, None)}
    assert values(store, "ces", period="all") == {(None, None): (None, None, None)}


def test_a_response_without_an_owner_belongs_to_its_contacts_else_its_accounts_owner(store):
    load_records(store, OWNERS)
    # U1: N1 (promoter); U2: N2 (detractor) and N3 (promoter); U3: N4 (promoter);
    # N5's contact is deleted and N6 names nobody: both have no owner.
    assert values(store, "nps", dimension="owner") == {
        ("U1", Q126): (100.0, 1, 1), ("U2", Q126): (0.0, 0, 2), ("U3", Q126): (100.0, 1, 1),
        (None, Q126): (100.0, 2, 2)}
    assert values(store, "nps", dimension="team") == {
        ("East", Q126): (100.0, 1, 1), ("West", Q126): (pytest.approx(100 / 3), 1, 3),
        (None, Q126): (100.0, 2, 2)}
