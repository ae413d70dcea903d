"""Web traffic KPIs (plugins/crmsync_kpis/web_traffic.py) on a hand-computed dataset, on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis import web_traffic
from crmsync_kpis.dimensions import CHANNEL

Q126, Q326, Q426 = dt.date(2026, 1, 1), dt.date(2026, 7, 1), dt.date(2026, 10, 1)
AS_OF = dt.datetime(2026, 12, 31)


def day(date, channel, sessions, views=None, contacts=None, **kw):
    return {"remote_id": f"{date}:{channel}", "date": date, "channel": channel,
            "sessions": sessions, "page_views": views, "new_contacts": contacts, **kw}


# Q1: organic 10 (Q2 has no traffic at all: Q3's growth has no preceding period).
# Q3: organic 80 sessions / 2 contacts, paid 20 / 1 → 100 sessions, 3 contacts.
# Q4: organic 100 / 4, paid 50 / 3, direct 50 / unknown contacts, a deleted day of 999.
DATA = {"web_traffic": [
    day("2026-02-01", "organic_search", 10, 20, 0),
    day("2026-07-01", "organic_search", 80, 200, 2),
    day("2026-08-01", "paid_search", 20, 30, 1),
    day("2026-10-05", "organic_search", 100, 250, 4),
    day("2026-10-06", "paid_search", 50, 80, 3),
    day("2026-11-01", "direct", 50, 60),
    day("2026-11-02", "direct", 999, 999, 99, is_deleted=True),
]}


def values(store, name, period="quarter", dimension=None):
    metric = next(cls() for cls in web_traffic.METRICS if name == cls.NAME)
    result = compute(store, [metric], MetricsConfig(), period=period,
                     dimensions=(dimension,), as_of=AS_OF, declared={"channel": CHANNEL})
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_sessions_sum_live_days_by_quarter(store):
    load_records(store, {"web_traffic": DATA["web_traffic"]})
    assert values(store, "sessions") == {(None, Q126): (10, 10, None),
                                         (None, Q326): (100, 100, None),
                                         (None, Q426): (200, 200, None)}


def test_sessions_by_channel(store):
    load_records(store, DATA)
    assert values(store, "sessions", dimension="channel") == {
        ("organic_search", Q126): (10, 10, None), ("organic_search", Q326): (80, 80, None),
        ("paid_search", Q326): (20, 20, None), ("organic_search", Q426): (100, 100, None),
        ("paid_search", Q426): (50, 50, None), ("direct", Q426): (50, 50, None)}


def test_visit_to_lead_rate_counts_only_days_that_give_new_contacts(store):
    load_records(store, DATA)
    # Q4: the direct day gives no contact count, so its 50 sessions are left out: 7 ÷ 150
    assert values(store, "visit_to_lead_rate") == {(None, Q126): (0.0, 0, 10),
                                                   (None, Q326): (0.03, 3, 100),
                                                   (None, Q426): (7 / 150, 7, 150)}


def test_traffic_growth_needs_the_immediately_preceding_period(store):
    load_records(store, DATA)
    # Q3 follows a quarter without traffic: no growth, not growth from zero
    assert values(store, "traffic_growth") == {(None, Q126): (None, None, None),
                                               (None, Q326): (None, None, None),
                                               (None, Q426): (1.0, 100, 100)}


def test_traffic_growth_by_channel(store):
    load_records(store, DATA)
    got = values(store, "traffic_growth", dimension="channel")
    assert got[("organic_search", Q426)] == (0.25, 20, 80)
    assert got[("paid_search", Q426)] == (1.5, 30, 20)
    assert got[("direct", Q426)] == (None, None, None)


def test_no_traffic_data_gives_no_value_not_zero(store):
    load_records(store, {"leads": [{"remote_id": "L1",
                                    "remote_created_at": "2026-10-01T00:00:00"}]})
    for name in ("sessions", "visit_to_lead_rate"):
        assert values(store, name, period="all") == {(None, None): (None, None, None)}, name
    assert values(store, "traffic_growth") == {}
