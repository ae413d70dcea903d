"""Dimensions metrics and plugins declare, on SQLite and PostgreSQL (docs/writing-a-metric.md,
"Declaring a dimension")."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import load_records
from crmsync import Dimension, DuplicateNameError, Metric, MetricError, PluginError, hookimpl
from crmsync.cli import cli
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.testing import compute_metric

CURRENCY = Dimension("deal_currency", "Deal currency (a third-party plugin)", column="currency",
                     applies_to=("win_rate",))


def opp(rid: str, status: str, currency: str = "USD", **kw: object) -> dict[str, object]:
    return {"remote_id": rid, "owner_id": "U1", "status": status, "currency": currency,
            "closed_at": "2026-02-01T00:00:00", "amount": 100, "account_id": "A1", **kw}


DEALS = {
    "users": [{"remote_id": "U1", "name": "Ada", "team": "East", "email": "ada@example.com"}],
    "accounts": [{"remote_id": "A1", "name": "Acme", "region": "EMEA"}],
    "opportunities": [opp("O1", "won"), opp("O2", "lost"), opp("O3", "won", "EUR"),
                      opp("O4", "won", "EUR", amount=50_000), opp("O5", "lost", "EUR")],
}


class CurrencyPlugin:
    """A third-party plugin adding a breakdown (the deal currency, under another name than the
    built-in `currency`) to the built-in win rate."""

    @hookimpl
    def crmsync_register_dimensions(self) -> list[Dimension]:
        return [CURRENCY]


def registry_with(*plugins: object) -> Registry:
    pm = get_plugin_manager()
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"test_plugin_{i}")
    return Registry(pm)


class ClosedDeals(Metric):
    """Closed deals, by a dimension it declares (a size band: an expression) and one reached
    through the deal's account."""

    NAME = "closed_deals_test"
    title = "Closed deals"
    dimensions = ("owner",)
    declared_dimensions = (
        Dimension("size_band", "Deal size band",
                  expression=lambda t: sa.case((t.c.amount >= 10_000, "large"), else_="small")),
        Dimension("account_region", "Account region", column="region", via="account"),
    )

    def query(self, ctx):  # type: ignore[no-untyped-def]
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)
        n = sa.func.count()
        return (sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                          sa.null().label("period_start"), n.label("value"),
                          n.label("numerator"), n.label("denominator"))
                .select_from(frm).where(ctx.live(o)).group_by(*ctx.group_keys(dim)))


@pytest.fixture
def deals(store):  # type: ignore[no-untyped-def]
    load_records(store, DEALS)
    return store


def _config_file(tmp_path, store) -> str:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "{store.url}"\n')
    return str(cfg)


def test_a_plugin_dimension_breaks_the_builtin_win_rate_down_by_currency(deals, tmp_path):
    registry = registry_with(CurrencyPlugin())
    cfg = _config_file(tmp_path, deals)
    runner = CliRunner()
    computed = runner.invoke(cli, ["--config", cfg, "metrics", "compute", "--metric",
                                   "win_rate", "--by", "deal_currency", "--period", "all"],
                             obj=registry)
    assert computed.exit_code == 0, computed.output
    shown = runner.invoke(cli, ["--config", cfg, "metrics", "show", "--metric", "win_rate",
                                "--by", "deal_currency", "--period", "all", "--json"], obj=registry)
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert {(r["dimension"], r["label"]): r["value"] for r in rows} == {
        ("deal_currency", "USD"): 0.5, ("deal_currency", "EUR"): pytest.approx(2 / 3)}


def test_a_metric_declares_a_dimension_from_an_expression(deals):
    values = compute_metric(deals, ClosedDeals(), period="all", dimension="size_band")
    assert {v.dimension_value: v.value for v in values} == {"small": 4, "large": 1}


def test_a_declared_dimension_reaches_the_deal_account(deals):
    values = compute_metric(deals, ClosedDeals(), period="all", dimension="account_region")
    assert [(v.dimension, v.dimension_value, v.value) for v in values] == [
        ("account_region", "EMEA", 5)]


def test_a_metric_that_does_not_offer_a_declared_dimension_is_skipped(deals):
    registry = registry_with(CurrencyPlugin())
    result = compute(deals, [registry.metric("close_rate")], MetricsConfig(), period="all",
                     dimensions=("deal_currency",), declared=registry.dimensions())
    assert result.skipped == ["close_rate: no dimension 'deal_currency'"]


def test_an_unknown_dimension_error_lists_builtin_and_declared_ones(deals, tmp_path):
    registry = registry_with(CurrencyPlugin())
    with pytest.raises(MetricError, match=r"unknown dimension 'colour' \(known: owner, team, "
                                          r".*industry, territory, stage, currency, "
                                          r"product_line, channel, deal_currency, or custom"):
        compute(deals, [registry.metric("win_rate")], MetricsConfig(), period="all",
                dimensions=("colour",), declared=registry.dimensions())
    result = CliRunner().invoke(cli, ["--config", _config_file(tmp_path, deals), "metrics",
                                      "compute", "--by", "colour"], obj=registry)
    assert result.exit_code == 2
    assert "'colour' is not a dimension" in result.output
    assert "deal_currency" in result.output and "industry" in result.output


def test_a_dimension_named_like_a_builtin_is_an_error_naming_both():
    class Clash:
        @hookimpl
        def crmsync_register_dimensions(self) -> list[Dimension]:
            return [Dimension("team", "My team", column="owner_id")]

    with pytest.raises(PluginError, match=r"plugin 'test_plugin_0' declares dimension 'team', "
                                          r"which is a built-in dimension"):
        registry_with(Clash()).dimensions()


def test_two_plugins_declaring_one_dimension_name_fail_naming_both():
    class Other:
        @hookimpl
        def crmsync_register_dimensions(self) -> list[Dimension]:
            return [Dimension("deal_currency", "Currency (account)", column="currency",
                              via="account")]

    with pytest.raises(DuplicateNameError, match=r"dimension 'deal_currency' is registered by two "
                                                 r"plugins: 'test_plugin_0' and 'test_plugin_1'"):
        registry_with(CurrencyPlugin(), Other()).dimensions()


def test_a_metric_and_a_plugin_may_declare_the_very_same_dimension():
    class Declaring(ClosedDeals):
        NAME = "declaring_test"
        declared_dimensions = (CURRENCY,)

    class Metrics:
        @hookimpl
        def crmsync_register_metrics(self) -> list[Metric]:
            return [Declaring()]

    assert registry_with(CurrencyPlugin(), Metrics()).dimensions()["deal_currency"] is CURRENCY


@pytest.mark.parametrize("bad, message", [
    (dict(name="Currency", title="t", column="c"), "lower-case letters"),
    (dict(name="custom.x", title="t", column="c"), "lower-case letters"),
    (dict(name="x", title="", column="c"), "needs a title"),
    (dict(name="x", title="t"), "exactly one of column and expression"),
    (dict(name="x", title="t", column="c", via="manager"), "via must be one of"),
    (dict(name="x", title="t", column="c", labels="nope"), "labels must name a synced table"),
])
def test_a_malformed_dimension_is_refused_saying_why(bad, message):
    with pytest.raises(MetricError, match=message):
        Dimension(**bad)


def test_values_of_a_dimension_with_labels_show_the_record_names(deals, tmp_path):
    class ByAccount:
        @hookimpl
        def crmsync_register_dimensions(self) -> list[Dimension]:
            return [Dimension("account", "Account", column="account_id", labels="accounts",
                              applies_to=("win_rate",))]

    registry = registry_with(ByAccount())
    cfg = _config_file(tmp_path, deals)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", cfg, "metrics", "compute", "--metric", "win_rate",
                               "--by", "account", "--period", "all"],
                         obj=registry).exit_code == 0
    shown = runner.invoke(cli, ["--config", cfg, "metrics", "show", "--metric", "win_rate",
                                "--by", "account", "--period", "all", "--json"], obj=registry)
    [row] = json.loads(shown.output)
    assert (row["dimension_value"], row["label"], row["value"]) == ("A1", "Acme", 0.6)


def test_metrics_list_names_the_dimensions_a_metric_offers():
    result = CliRunner().invoke(cli, ["metrics", "list", "--json"],
                                obj=registry_with(CurrencyPlugin()))
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["win_rate"]["dimensions"][-1] == "deal_currency"
    assert "deal_currency" not in rows["close_rate"]["dimensions"]


def test_a_dimension_conflict_is_the_error_a_by_option_shows(tmp_path):
    class Other:
        @hookimpl
        def crmsync_register_dimensions(self) -> list[Dimension]:
            return [Dimension("deal_currency", "Account currency", column="currency",
                              via="account")]

    result = CliRunner().invoke(cli, ["metrics", "compute", "--by", "deal_currency"],
                                obj=registry_with(CurrencyPlugin(), Other()))
    assert result.exit_code == 2
    assert "dimension 'deal_currency' is registered by two plugins" in result.output
