"""The built-in KPIs' ``currency`` dimension (plugins/crmsync_kpis/dimensions.py) on a synced
demo store, on SQLite and PostgreSQL: each value checked against a count by SQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crmsync.cli import cli
from crmsync.plugin.registry import Registry


@pytest.fixture
def demo_config(store_url: str, tmp_path: Path) -> str:
    """A crmsync.toml over ``store_url`` with the demo connection, synced."""
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "{store_url}"\n\n[connections.demo]\ntype = "demo"\n',
                   encoding="utf-8")
    synced = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert synced.exit_code == 0, synced.output
    return str(cfg)


def shown(cfg: str, metric: str, *options: str) -> list[dict[str, object]]:
    """``metrics compute`` then ``metrics show --json`` of ``metric`` by currency."""
    runner = CliRunner()
    args = ["--metric", metric, "--by", "currency", *options]
    computed = runner.invoke(cli, ["--config", cfg, "metrics", "compute", *args])
    assert computed.exit_code == 0, computed.output
    result = runner.invoke(cli, ["--config", cfg, "metrics", "show", *args, "--json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def by_sql(store_url: str, query: str) -> dict[str, tuple[int, int]]:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return {c: (int(top), int(bottom)) for c, top, bottom in conn.execute(sa.text(query))}
    finally:
        engine.dispose()


def test_win_rate_by_currency_on_the_demo_store_matches_a_count_by_sql(demo_config, store_url):
    rows = shown(demo_config, "win_rate", "--period", "all")
    counted = by_sql(store_url, """
        select currency, sum(case when status = 'won' then 1 else 0 end), count(*)
        from opportunities
        where not is_deleted and status in ('won', 'lost') and closed_at is not null
        group by currency""")
    assert len(counted) >= 2  # the demo's deals are in several currencies
    assert {r["label"]: (r["numerator"], r["denominator"]) for r in rows} == counted
    assert {r["dimension"] for r in rows} == {"currency"}
    for r in rows:
        won, closed = counted[str(r["label"])]
        assert r["value"] == pytest.approx(won / closed)


def test_close_rate_by_currency_counts_deals_by_creation(demo_config, store_url):
    rows = shown(demo_config, "close_rate", "--period", "all")
    counted = by_sql(store_url, """
        select currency, sum(case when status = 'won' then 1 else 0 end), count(*)
        from opportunities
        where not is_deleted and remote_created_at is not null
        group by currency""")
    assert {r["label"]: (r["numerator"], r["denominator"]) for r in rows} == counted


def test_the_deal_metrics_offer_currency_and_the_others_do_not():
    registry = Registry()
    result = CliRunner().invoke(cli, ["metrics", "list", "--json"], obj=registry)
    offered = {r["name"] for r in json.loads(result.output) if "currency" in r["dimensions"]}
    assert {"win_rate", "close_rate", "avg_deal_size", "revenue", "sales_cycle_days",
            "pipeline_value", "deal_slippage_rate"} <= offered
    assert not {"quota_attainment", "stage_conversion_rate", "sales_velocity",
                "calls"} & offered
