"""``MetricContext.median`` (src/crmsync/plugin/context.py) groups only by the keys its facts
vary: a key they leave ``NULL`` (no subject, the organisation, period ``all``) is one group.
Medians stay exact per group, and ``compute`` hands back the values it stored, period ends
included (``run_values`` reads them as stored)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from conftest import load_records
from crmsync import Metric, MetricContext
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute

JAN, FEB = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


class DealDays(Metric):
    """Median days from creation to close of won deals (a test metric)."""

    NAME = "test_deal_days"
    title = "Deal days"
    description = "Median days from creation to close."
    unit = "days"
    dimensions = ("owner",)

    def query(self, ctx: MetricContext) -> sa.Select[Any]:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        facts = sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                          ctx.period_start(o.c.closed_at).label("period_start"),
                          ctx.days_between(o.c.remote_created_at, o.c.closed_at).label("x")
                          ).select_from(frm).where(ctx.live(o), o.c.status == "won")
        return ctx.median(facts)


def won(rid: str, owner: str, created: str, closed: str) -> dict[str, Any]:
    return {"remote_id": rid, "owner_id": owner, "status": "won", "remote_created_at": created,
            "closed_at": closed}


DATA = {"opportunities": [
    won("D1", "U1", "2026-01-01", "2026-01-03T00:00:00"),   # 2 days, January
    won("D2", "U1", "2026-01-01", "2026-01-05T00:00:00"),   # 4
    won("D3", "U1", "2026-01-01", "2026-01-21T00:00:00"),   # 20
    won("D4", "U2", "2026-01-01", "2026-01-11T00:00:00"),   # 10
    won("D5", "U2", "2026-01-01", "2026-01-13T00:00:00"),   # 12
    won("D6", "U1", "2026-02-01", "2026-02-07T00:00:00"),   # 6, February
]}


def medians(store, period: str, dimension: str | None) -> dict[Any, tuple[Any, Any, Any]]:
    result = compute(store, [DealDays()], MetricsConfig(), period=period,
                     dimensions=(dimension,))
    return {(v.dimension_value, v.period_start): (v.value, v.denominator, v.period_end)
            for v in result.values}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def test_median_by_owner_and_month_is_exact_per_group(loaded):
    assert medians(loaded, "month", "owner") == {
        ("U1", JAN): (pytest.approx(4.0), 3.0, FEB),
        ("U2", JAN): (pytest.approx(11.0), 2.0, FEB),
        ("U1", FEB): (pytest.approx(6.0), 1.0, dt.date(2026, 3, 1)),
    }


def test_median_of_the_organisation_by_month_groups_by_month_alone(loaded):
    assert medians(loaded, "month", None) == {
        (None, JAN): (pytest.approx(10.0), 5.0, FEB),
        (None, FEB): (pytest.approx(6.0), 1.0, dt.date(2026, 3, 1)),
    }


def test_median_with_every_key_null_is_one_value_over_all_facts(loaded):
    assert medians(loaded, "all", None) == {(None, None): (pytest.approx(8.0), 6.0, None)}


def test_median_with_every_key_null_and_no_facts_has_no_value(store):
    assert medians(store, "all", None) == {}


def test_median_sql_partitions_only_by_the_keys_the_facts_vary():
    sql = str(DealDays().query(MetricContext(dialect="sqlite", period="month",
                                             dimension="owner"))
              .compile(dialect=sqlite.dialect()))
    assert "PARTITION BY facts.dimension_value, facts.period_start ORDER BY facts.x" in sql
    assert "facts.subject_id," not in sql.split("PARTITION BY", 1)[1]
    assert sql.rstrip().endswith("GROUP BY ranked.dimension_value, ranked.period_start")


@pytest.mark.parametrize("period, start, end", [
    ("day", dt.date(2026, 1, 21), dt.date(2026, 1, 22)),
    ("week", dt.date(2026, 1, 19), dt.date(2026, 1, 26)),
    ("quarter", JAN, dt.date(2026, 4, 1)),
    ("year", JAN, dt.date(2027, 1, 1)),
    ("last_30d", dt.date(2026, 1, 2), dt.date(2026, 2, 1)),
])
def test_values_compute_returns_carry_the_stored_period_end(store, period, start, end):
    load_records(store, {"opportunities": [won("D3", "U1", "2026-01-01",
                                                "2026-01-21T00:00:00")]})
    result = compute(store, [DealDays()], MetricsConfig(), period=period,
                     as_of=dt.datetime(2026, 2, 1))
    assert [(v.period, v.period_start, v.period_end, v.value) for v in result.values] == \
        [(period, start, end, pytest.approx(20.0))]
