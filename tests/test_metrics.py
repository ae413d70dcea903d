"""Built-in KPIs on a hand-computed dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from conftest import load_records, make_config
from crmsync import MetricError
from crmsync.api import compute_metrics, metric_values
from crmsync.cli import cli
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.registry import Registry

Q1, Q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)


def opp(rid, owner, status, closed=None, amount=None, currency="USD", created="2026-01-01",
        **kw):
    return {"remote_id": rid, "owner_id": owner, "status": status, "closed_at": closed,
            "amount": amount, "currency": currency, "remote_created_at": created,
            "account_id": "A1", **kw}


DATA = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "East"},
              {"remote_id": "U3", "team": "West"}],
    "accounts": [{"remote_id": "A1", "segment": "SMB"}],
    "currency_rates": [
        {"remote_id": "EUR-1", "currency": "EUR", "rate_to_base": 1.10,
         "valid_from": "2026-01-01", "valid_to": "2026-04-01"},
        {"remote_id": "EUR-2", "currency": "EUR", "rate_to_base": 1.20,
         "valid_from": "2026-04-01"},
    ],
    "opportunities": [
        opp("O1", "U1", "won", "2026-01-11T10:00:00", 1000),                     # 10 days
        opp("O2", "U1", "lost", "2026-02-01T10:00:00", 500),
        opp("O3", "U2", "won", "2026-03-02T00:00:00", 1000, "EUR"),              # 60 d, 1100
        opp("O4", "U3", "won", "2026-04-10T00:00:00", 3000, created="2026-03-01"),  # 40 d
        opp("O5", "U3", "lost", "2026-04-20T00:00:00", 100),
        opp("O6", "U3", "lost", "2026-05-01T00:00:00", 100),
        opp("O7", "U1", "won", "2026-05-15T00:00:00", 500, "EUR", created="2026-05-01"),  # 600
        opp("O8", "U2", "won", "2026-01-05T00:00:00", 999999, is_deleted=True),
        opp("O9", "U1", "open", None, 700),
        opp("O10", "U2", "won", "2026-02-10T00:00:00", 100000, "JPY", created="2026-02-01"),
    ],
}


@pytest.fixture
def loaded(store):
    load_records(store, DATA)
    return store


def values(store, metric, period="quarter", dimension=None, **cfg):
    from crmsync.plugin.registry import Registry

    m = Registry().metric(metric)
    result = compute(store, [m], MetricsConfig(**cfg), period=period, dimensions=(dimension,))
    return {(v.dimension_value, v.period_start): (v.value, v.numerator, v.denominator)
            for v in result.values}


def test_win_rate_is_won_over_closed_by_close_period(loaded):
    assert values(loaded, "win_rate") == {(None, Q1): (0.75, 3, 4), (None, Q2): (0.5, 2, 4)}


def test_win_rate_by_team_rolls_up_exactly(loaded):
    by_team = values(loaded, "win_rate", dimension="team")
    assert by_team == {("East", Q1): (0.75, 3, 4), ("East", Q2): (1.0, 1, 1),
                       ("West", Q2): (pytest.approx(1 / 3), 1, 3)}
    org = values(loaded, "win_rate")
    for period in (Q1, Q2):
        num = sum(v[1] for k, v in by_team.items() if k[1] == period)
        den = sum(v[2] for k, v in by_team.items() if k[1] == period)
        assert num / den == org[(None, period)][0]


def test_avg_deal_size_converts_at_the_close_date_rate_and_skips_unknown_currencies(loaded):
    got = values(loaded, "avg_deal_size")
    assert got[(None, Q1)] == (pytest.approx(1050), pytest.approx(2100), 2)  # 1000 + 1000×1.10
    assert got[(None, Q2)] == (pytest.approx(1800), pytest.approx(3600), 2)  # 3000 + 500×1.20


def test_sales_cycle_days_is_the_median_of_won_deals(loaded):
    got = values(loaded, "sales_cycle_days")
    assert got[(None, Q1)][0] == pytest.approx(10 + 10 / 24)  # 9, 10.4, 60 days → middle one
    assert got[(None, Q2)][0] == pytest.approx((40 + 14) / 2)  # even count → mean of middle two
    assert got[(None, Q2)][2] == 2


def test_deleted_and_open_deals_never_count(loaded):
    assert values(loaded, "win_rate", period="all") == {(None, None): (0.625, 5, 8)}


def test_fiscal_quarters_follow_the_fiscal_year_start(loaded):
    got = values(loaded, "win_rate", fiscal_year_start_month=2)
    assert set(got) == {(None, dt.date(2025, 11, 1)), (None, dt.date(2026, 2, 1)),
                        (None, dt.date(2026, 5, 1))}
    assert got[(None, dt.date(2026, 2, 1))] == (pytest.approx(3 / 5), 3, 5)


@pytest.mark.parametrize("period, start", [("month", dt.date(2026, 1, 1)),
                                           ("week", dt.date(2026, 1, 5)),
                                           ("day", dt.date(2026, 1, 11)),
                                           ("year", dt.date(2026, 1, 1))])
def test_periods_bucket_a_sunday_close(store, period, start):
    load_records(store, {"opportunities": [opp("O1", "U1", "won", "2026-01-11T23:00:00", 1)]})
    assert list(values(store, "win_rate", period=period)) == [(None, start)]


def test_unknown_dimension_is_an_error(loaded):
    with pytest.raises(MetricError, match="unknown dimension 'colour'"):
        values(loaded, "win_rate", dimension="colour")


def test_values_are_stored_and_the_latest_run_is_shown(loaded, registry):
    cfg = make_config(loaded.url)
    compute_metrics(cfg, registry, ["win_rate"], period="quarter", store=loaded)
    compute_metrics(cfg, registry, ["win_rate"], period="quarter", store=loaded)
    shown = metric_values(cfg, metric="win_rate", period="quarter", store=loaded)
    assert [(v.period_start, v.value) for v in shown] == [(Q1, 0.75), (Q2, 0.5)]


def test_the_run_reports_how_many_values_it_stored(loaded):
    result = compute(loaded, [Registry().metric("win_rate")], MetricsConfig(), period="quarter",
                     keep_values=False)
    assert result.values == [] and result.stored == 2  # Q1 and Q2, as in the test above


def test_metrics_show_json_has_the_documented_keys(loaded, tmp_path):
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "{loaded.url}"\n[metrics]\nperiod = "quarter"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(cfg), "metrics", "compute", "--by", "owner"]
                         ).exit_code == 0
    result = runner.invoke(cli, ["--config", str(cfg), "metrics", "show", "--metric",
                                 "win_rate", "--by", "owner", "--json"])
    rows = json.loads(result.output)
    assert {"metric", "period_start", "period_end", "dimension", "dimension_value", "value",
            "numerator", "denominator"} <= set(rows[0])
    u3 = [r for r in rows if r["dimension_value"] == "U3"]
    assert u3 == [{**u3[0], "period_start": "2026-04-01", "period_end": "2026-07-01",
                   "dimension": "owner", "value": pytest.approx(1 / 3)}]


@pytest.mark.parametrize("zone, quarter", [("UTC", Q1), ("Europe/Paris", Q2),
                                           ("America/New_York", Q1)])
def test_time_zones_move_deals_across_period_edges(store, zone, quarter):
    # 23:30 UTC on 31 March is already 1 April in Paris (UTC+2 in summer time)
    load_records(store, {"opportunities": [opp("O1", "U1", "won", "2026-03-31T23:30:00Z", 1)]})
    assert list(values(store, "win_rate", timezone=zone)) == [(None, quarter)]


def test_a_new_york_evening_stays_on_its_local_day(store):
    load_records(store, {"opportunities": [opp("O1", "U1", "won", "2026-04-01T02:00:00Z", 1)]})
    assert list(values(store, "win_rate", period="day", timezone="America/New_York")) == [
        (None, dt.date(2026, 3, 31))]


def test_a_rolling_window_counts_only_deals_inside_it(loaded):
    from crmsync.plugin.registry import Registry

    result = compute(loaded, [Registry().metric("win_rate")], MetricsConfig(),
                     period="last_30d", as_of=dt.datetime(2026, 5, 20))
    # window [2026-04-20, 2026-05-20): O5 lost (the first instant counts), O6 lost, O7 won
    assert [(v.period_start, v.period_end, v.value, v.numerator, v.denominator)
            for v in result.values] == [
        (dt.date(2026, 4, 20), dt.date(2026, 5, 20), pytest.approx(1 / 3), 1, 3)]


def test_custom_fields_are_dimensions_for_metrics_that_opt_in(store):
    import sqlalchemy as sa

    from crmsync import Metric

    class OpenDeals(Metric):
        NAME = "open_deals_test"
        dimensions = ("owner", "custom")

        def query(self, ctx):
            o = ctx.table("opportunities")
            frm, dim = ctx.dimension_of(o)
            n = sa.func.count()
            return (sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                              sa.null().label("period_start"), n.label("value"),
                              n.label("numerator"), sa.null().label("denominator"))
                    .select_from(frm).where(ctx.live(o)).group_by(dim))

    load_records(store, {"opportunities": [
        opp("O1", "U1", "open", custom={"product_line": "Analytics"}),
        opp("O2", "U1", "open", custom={"product_line": "Analytics"}),
        opp("O3", "U2", "open", custom={"product_line": "Core"}),
        opp("O4", "U2", "open")]})
    result = compute(store, [OpenDeals()], MetricsConfig(), period="all",
                     dimensions=("custom.product_line",))
    assert sorted((v.dimension_value or "", v.value) for v in result.values) == [
        ("", 1), ("Analytics", 2), ("Core", 1)]
    with pytest.raises(MetricError, match=r"custom\.<field> takes a key of 1-57 characters"):
        compute(store, [OpenDeals()], MetricsConfig(), period="all",
                dimensions=("custom.bad\nname",))


def test_deals_without_a_rate_are_named_as_findings(loaded):
    from crmsync.plugin.registry import Registry

    result = compute(loaded, [Registry().metric("avg_deal_size")], MetricsConfig(),
                     period="quarter")
    assert [(f.remote_id, f.problem) for f in result.findings] == [
        ("O10", "no JPY→USD rate for the rate on 2026-02-10; left out of money metrics")]


def test_metrics_compute_warns_about_left_out_deals(loaded, tmp_path):
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "{loaded.url}"\n')
    result = CliRunner().invoke(cli, ["--config", str(cfg), "metrics", "compute", "--metric",
                                      "avg_deal_size"])
    assert "warning: crm/opportunities record O10: no JPY→USD rate" in result.output


def test_filters_keep_only_deals_of_the_chosen_pipeline_and_type(store):
    from crmsync.plugin.registry import Registry

    load_records(store, {"opportunities": [
        opp("N1", "U1", "won", "2026-02-01T00:00:00", 1, pipeline_id="new", type="New"),
        opp("N2", "U1", "lost", "2026-02-02T00:00:00", 1, pipeline_id="new", type="New"),
        opp("N3", "U1", "lost", "2026-02-03T00:00:00", 1, pipeline_id="new", type="Upsell"),
        opp("R1", "U1", "won", "2026-02-04T00:00:00", 1, pipeline_id="renew", type="New")]})
    win_rate = Registry().metric("win_rate")

    def rate(**filters):
        [v] = compute(store, [win_rate], MetricsConfig(), period="all", **filters).values
        return v.numerator, v.denominator

    assert rate() == (2, 4)
    assert rate(pipelines=["new"]) == (1, 3)
    assert rate(deal_types=["New"]) == (2, 3)
    assert rate(pipelines=["new"], deal_types=["New"]) == (1, 2)


def test_deal_metrics_break_down_by_a_custom_field(store):
    from crmsync.plugin.registry import Registry

    load_records(store, {"opportunities": [
        opp("A", "U1", "won", "2026-02-01T00:00:00", 1, custom={"product_line": "Analytics"}),
        opp("B", "U1", "lost", "2026-02-02T00:00:00", 1, custom={"product_line": "Analytics"}),
        opp("C", "U1", "won", "2026-02-03T00:00:00", 1, custom={"product_line": "Core"})]})
    result = compute(store, [Registry().metric("win_rate")], MetricsConfig(), period="all",
                     dimensions=("custom.product_line",))
    assert {v.dimension_value: v.value for v in result.values} == {"Analytics": 0.5, "Core": 1.0}


def test_stored_values_record_the_definition_variant(loaded):
    import sqlalchemy as sa

    from crmsync.core.schema import metric_values as mv
    from crmsync.plugin.registry import Registry

    cfg = MetricsConfig(definitions={"win_rate": "won_over_created"})
    compute(loaded, [Registry().metric("win_rate")], cfg, period="all")
    with loaded.engine.connect() as conn:
        assert conn.execute(sa.select(mv.c.metric, mv.c.variant, mv.c.version)).all() == [
            ("win_rate", "won_over_created", 1)]


def test_shared_fact_sets_are_built_once_per_run_and_dropped(store):
    import sqlalchemy as sa

    from crmsync import Metric

    built = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cur, stmt, *a: built.append(stmt.split(" AS ")[0])
                    if stmt.startswith("CREATE TEMPORARY") else None)

    class CountsFromShared(Metric):
        dimensions = ("owner",)

        def query(self, ctx):
            o = ctx.table("opportunities")
            facts = ctx.shared("open_deals", sa.select(o.c.connection, o.c.owner_id)
                               .where(ctx.live(o), o.c.status == "open")).alias("f")
            frm, dim = ctx.dimension_of(facts)
            n = sa.func.count()
            return (sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                              sa.null().label("period_start"), n.label("value"),
                              n.label("numerator"), sa.null().label("denominator"))
                    .select_from(frm).group_by(*ctx.group_keys(dim)))

    class A(CountsFromShared):
        NAME = "a_test"

    class B(CountsFromShared):
        NAME = "b_test"

    load_records(store, {"opportunities": [opp("O1", "U1", "open"), opp("O2", "U2", "open"),
                                           opp("O3", "U2", "won", "2026-01-01T00:00:00")]})
    result = compute(store, [A(), B()], MetricsConfig(), period="all",
                     dimensions=(None, "owner"))
    assert sorted((v.metric, v.dimension_value or "", v.value) for v in result.values) == [
        ("a_test", "", 2), ("a_test", "U1", 1), ("a_test", "U2", 1),
        ("b_test", "", 2), ("b_test", "U1", 1), ("b_test", "U2", 1)]
    assert len(built) == 1 and built[0].startswith("CREATE TEMPORARY TABLE")  # built once
    built.clear()
    compute(store, [A()], MetricsConfig(), period="all")
    single = "VIEW" if store.dialect == "sqlite" else "TABLE"  # used once: free on SQLite
    assert len(built) == 1 and built[0].startswith(f"CREATE TEMPORARY {single}")
    with store.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
    assert not [n for n in names if n.startswith("crmsync_tmp_")]


def test_a_metrics_run_gives_the_sqlite_connection_back_with_its_page_cache(sqlite_store):
    load_records(sqlite_store, {"opportunities": [opp("O1", "U1", "won",
                                                      "2026-01-11T23:00:00", 1)]})
    with sqlite_store.engine.connect() as conn:
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    compute(sqlite_store, [Registry().metric("win_rate")], MetricsConfig(), period="month")
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before == -32768
