"""Money metrics aggregate each deal's base amount computed once (``crmsync_kpis.results.once``):
on SQLite a ``MATERIALIZED`` common table expression, so the rate lookup of a converted deal
runs once per deal, not once per aggregate naming the amount; PostgreSQL's SQL keeps a plain
one. Values are unchanged (tests/test_kpis_deals.py, test_kpis_pipeline.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from crmsync import MetricContext
from crmsync.metrics.engine import metric_select
from crmsync.plugin.registry import Registry

CASES = [("avg_deal_size", "won"), ("revenue", "won"), ("revenue_growth", "won"),
         ("pipeline_value", "open_deals"), ("weighted_pipeline_value", "open_deals")]


def sql(metric: str, dialect: str) -> str:
    ctx = MetricContext(dialect=dialect, period="month", dimension="owner")
    compiler = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
    return str(metric_select(Registry().metric(metric), ctx).compile(dialect=compiler))


@pytest.mark.parametrize("metric, name", CASES)
def test_sqlite_computes_each_deal_amount_once(metric, name):
    text = sql(metric, "sqlite")
    assert text.startswith(f"WITH {name} AS MATERIALIZED")
    assert text.count("SELECT fx.rate_to_base") == 1


@pytest.mark.parametrize("metric, name", CASES)
def test_postgresql_plans_the_amounts_as_before(metric, name):
    text = sql(metric, "postgresql")
    assert text.startswith(f"WITH {name} AS \n")
    assert "MATERIALIZED" not in text
