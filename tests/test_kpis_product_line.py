"""``--by product_line``: a deal counts for the family of its largest line item (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.registry import Registry
from crmsync_kpis import deals

AS_OF = dt.datetime(2026, 6, 30)


def deal(rid, status, amount=100.0):
    return {"remote_id": rid, "status": status, "amount": amount,
            "closed_at": "2026-02-01T00:00:00"}


def line(rid, deal_id, product, amount, **kw):
    return {"remote_id": rid, "opportunity_id": deal_id, "product_id": product,
            "amount": amount, **kw}


DATA = {
    "products": [{"remote_id": "P1", "family": "Analytics"},
                 {"remote_id": "P2", "family": "Platform"},
                 {"remote_id": "P3", "family": None}],
    "opportunities": [deal("D1", "won"), deal("D2", "lost"), deal("D3", "won"),
                      deal("D4", "won"), deal("D5", "lost")],
    "opportunity_line_items": [
        line("L1", "D1", "P1", 900), line("L2", "D1", "P2", 100),   # Analytics
        line("L3", "D2", "P2", 50), line("L4", "D2", "P1", 40),     # Platform
        line("L5", "D3", "P2", 500),                                 # Platform
        line("L6", "D3", "P1", 5000, is_deleted=True),               # deleted: ignored
        line("L7", "D4", "P1", 70), line("L8", "D4", "P2", 70),     # tie: lowest id, L7
        # D5 has no line items: no product line
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def win_rates(store, registry):
    metric = next(cls() for cls in deals.METRICS if cls.NAME == "win_rate")
    result = compute(store, [metric], MetricsConfig(), period="all",
                     dimensions=("product_line",), as_of=AS_OF,
                     declared=registry.dimensions())
    return {v.dimension_value: (v.numerator, v.denominator) for v in result.values}


def test_win_rate_breaks_down_by_the_largest_line_items_family(loaded, registry: Registry
                                                                ) -> None:
    assert win_rates(loaded, registry) == {"Analytics": (2, 2), "Platform": (1, 2),
                                           None: (0, 1)}
