"""``crmsync plugins`` lists the dimensions each plugin declares (docs/cli.md,
"crmsync plugins"; docs/writing-a-metric.md, "Declaring a dimension")."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from crmsync import Dimension, Metric, MetricContext, hookimpl
from crmsync.cli import cli
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry

BAND = Dimension("size_band", "Deal size band",
                 expression=lambda t: sa.case((t.c.amount >= 10_000, "large"), else_="small"),
                 applies_to=("win_rate",))


class BandPlugin:
    """Declares ``size_band`` from the hook."""

    @hookimpl
    def crmsync_register_dimensions(self) -> list[Dimension]:
        return [BAND]


class Territories(Metric):
    """Declares ``account_territory`` on the metric itself."""

    NAME = "territory_deals_test"
    title = "Deals by territory"
    declared_dimensions = (Dimension("account_territory", "Account territory",
                                     column="territory", via="account"),)

    def query(self, ctx: MetricContext) -> sa.Select:  # type: ignore[type-arg]
        raise NotImplementedError  # never computed here


class MetricPlugin:
    @hookimpl
    def crmsync_register_metrics(self) -> list[Metric]:
        return [Territories()]


class Clash:
    """Declares ``size_band`` differently from :class:`BandPlugin`."""

    @hookimpl
    def crmsync_register_dimensions(self) -> list[Dimension]:
        return [Dimension("size_band", "Size band (other)", column="amount")]


def registry_with(**plugins: object) -> Registry:
    pm = get_plugin_manager()
    for name, plugin in plugins.items():
        pm.register(plugin, name=name)
    return Registry(pm)


def listed(registry: Registry) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(cli, ["plugins", "--json"], obj=registry)
    assert result.exit_code == 0, result.output
    return {p["name"]: p for p in json.loads(result.output)}


def test_plugins_json_lists_the_dimensions_each_plugin_declares():
    plugins = listed(registry_with(band=BandPlugin(), terr=MetricPlugin()))
    assert plugins["kpis"]["dimensions"] == ["channel", "currency", "product_line"]
    assert plugins["band"]["dimensions"] == ["size_band"]
    assert plugins["terr"]["dimensions"] == ["account_territory"]
    assert plugins["terr"]["metrics"] == ["territory_deals_test"]
    assert plugins["files"]["dimensions"] == []


def test_plugins_shows_declared_dimensions_within_80_columns():
    result = CliRunner().invoke(cli, ["plugins"], env={"COLUMNS": "80"},
                                obj=registry_with(band=BandPlugin(), terr=MetricPlugin()))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), result.output
    rows = {line.split()[0]: line for line in lines[2:] if line.strip()}
    kpis = lines.index(rows["kpis"])  # its cell wraps too
    assert "--by currency" in " ".join(" ".join(lines[kpis:kpis + 2]).split())
    assert "metrics" in rows["kpis"]
    assert "--by size_band" in rows["band"]
    at = lines.index(rows["terr"])  # a long cell wraps onto the next line
    assert "territory_deals_test, --by account_territory" in " ".join(
        " ".join(lines[at:at + 2]).split())


def test_two_plugins_declaring_one_dimension_differently_are_listed_in_conflict():
    plugins = listed(registry_with(band=BandPlugin(), clash=Clash()))
    assert plugins["band"]["status"] == plugins["clash"]["status"] == "conflict"
    assert "dimension 'size_band' is registered by two plugins" in str(
        plugins["clash"]["reason"])
    assert plugins["kpis"]["status"] == "ok"
