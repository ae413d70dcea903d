"""The plugin host: entry points, broken and disabled plugins, duplicates, hooks."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import click
import pluggy
import pytest
from click.testing import CliRunner

from crmsync import Connector, DuplicateNameError, Metric, PluginError, hookimpl
from crmsync.cli import cli
from crmsync.core.reports import RunReport
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry


def fake_distribution(root: Path, name: str, entry_points: dict[str, str],
                      modules: dict[str, str]) -> None:
    """Write an installed-looking distribution (dist-info + modules) under ``root``."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[crmsync]\n{eps}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path where tests install fake distributions."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield root
    for mod in [m for m in sys.modules if m.startswith("thirdparty_")]:
        del sys.modules[mod]


class ConnA(Connector):
    NAME = "same"
    ENTITIES = ("users",)


class ConnB(Connector):
    NAME = "same"
    ENTITIES = ("users",)


class ConnectorPlugin:
    def __init__(self, *classes: type[Connector]) -> None:
        self.classes = classes

    @hookimpl
    def crmsync_register_connectors(self):
        return list(self.classes)


def test_builtin_plugins_load_through_the_entry_point_group(registry):
    infos = {i.name: i for i in registry.plugins()}
    assert {"files", "demo", "kpis"} <= set(infos)
    assert infos["files"].distribution == "crmsync"
    assert infos["files"].source == "files = crmsync_files"
    assert "files" in infos["files"].connectors
    assert {"win_rate", "avg_deal_size", "sales_cycle_days"} <= set(infos["kpis"].metrics)


def test_a_third_party_distribution_is_discovered(site):
    fake_distribution(site, "thirdparty-crm", {"tp": "thirdparty_crm"}, {"thirdparty_crm": """
        from crmsync import Connector, hookimpl
        class TP(Connector):
            NAME = "tp"
            ENTITIES = ("users",)
        @hookimpl
        def crmsync_register_connectors():
            return [TP]
    """})
    registry = Registry(get_plugin_manager())
    assert registry.connector("tp").NAME == "tp"
    info = next(i for i in registry.plugins() if i.name == "tp")
    assert (info.distribution, info.version, info.status) == ("thirdparty-crm", "1.0", "ok")


def test_a_plugin_that_fails_to_import_is_listed_as_broken_and_others_load(site, caplog):
    fake_distribution(site, "thirdparty-broken", {"broken": "thirdparty_broken"},
                      {"thirdparty_broken": "import a_module_that_does_not_exist\n"})
    pm = get_plugin_manager()
    assert [b.name for b in pm.broken] == ["broken"]
    assert "a_module_that_does_not_exist" in pm.broken[0].reason
    assert "crmsync plugin 'broken'" in caplog.text
    registry = Registry(pm)
    assert "files" in registry.connectors()
    result = CliRunner().invoke(cli, ["plugins", "--json"], obj=registry)
    assert result.exit_code == 0
    assert '"status": "broken"' in result.output and "a_module_that_does_not_exist" in result.output


def test_disabled_plugins_are_not_loaded(monkeypatch):
    monkeypatch.setenv("CRMSYNC_DISABLE_PLUGINS", "demo, kpis")
    registry = Registry(get_plugin_manager())
    assert "demo" not in registry.connectors()
    assert registry.metrics() == {}
    assert {i.name: i.status for i in registry.plugins()}["demo"] == "disabled"


def test_two_plugins_with_one_connector_name_fail_naming_both():
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(ConnectorPlugin(ConnA), name="alpha")
    pm.register(ConnectorPlugin(ConnB), name="beta")
    with pytest.raises(DuplicateNameError) as err:
        Registry(pm).connectors()
    assert "'alpha'" in str(err.value) and "'beta'" in str(err.value)
    assert err.value.plugins == ("alpha", "beta")


def test_two_plugins_with_one_metric_name_fail_naming_both():
    class M(Metric):
        NAME = "win_rate"

    class MetricPlugin:
        @hookimpl
        def crmsync_register_metrics(self):
            return [M()]

    pm = get_plugin_manager()
    pm.register(MetricPlugin(), name="copycat")
    with pytest.raises(DuplicateNameError, match="'kpis' and 'copycat'"):
        Registry(pm).metrics()


def test_a_misspelled_hook_fails_loudly():
    class Typo:
        @hookimpl
        def crmsync_register_conectors(self):
            return []

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Typo(), name="typo")
    with pytest.raises(pluggy.PluginValidationError, match="crmsync_register_conectors"):
        pm.check_pending()


def test_registering_something_that_is_not_a_connector_is_an_error():
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(ConnectorPlugin(dict), name="confused")  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="'confused'"):
        Registry(pm).connectors()


def test_plugins_can_add_cli_commands():
    class Commands:
        @hookimpl
        def crmsync_register_commands(self, cli):
            @cli.command("hello")
            def hello():
                click.echo("hello from a plugin")

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Commands(), name="cmds")
    group = click.Group("crmsync")
    Registry(pm).register_commands(group)
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"


def test_after_run_receives_the_report_and_a_failing_plugin_is_not_fatal(caplog):
    seen = []

    class Audit:
        @hookimpl
        def crmsync_after_run(self, report):
            seen.append(report.kind)

    class Broken:
        @hookimpl
        def crmsync_after_run(self, report):
            raise RuntimeError("notifier down")

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Audit(), name="audit")
    pm.register(Broken(), name="broken")
    Registry(pm).after_run(RunReport(kind="sync"))
    assert seen == ["sync"]
    assert "plugin 'broken' failed in crmsync_after_run" in caplog.text


def test_unknown_connector_type_names_what_is_available(registry):
    with pytest.raises(Exception, match=r"no connector of type 'nope'.*files"):
        registry.connector("nope")


def test_an_installed_plugin_with_a_misspelled_hook_is_listed_broken_not_fatal(site):
    fake_distribution(site, "thirdparty-typo", {"typo": "thirdparty_typo"}, {"thirdparty_typo": """
        from crmsync import hookimpl
        @hookimpl
        def crmsync_register_conectors():
            return []
    """})
    registry = Registry(get_plugin_manager())
    broken = {i.name: i for i in registry.plugins() if i.status == "broken"}
    assert "crmsync_register_conectors" in broken["typo"].reason
    assert "files" in registry.connectors()


def test_plugins_still_lists_everything_when_two_plugins_conflict():
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(ConnectorPlugin(ConnA), name="alpha")
    pm.register(ConnectorPlugin(ConnB), name="beta")
    infos = {i.name: i for i in Registry(pm).plugins()}
    assert infos["alpha"].status == infos["beta"].status == "conflict"
    assert "registered by two plugins" in infos["beta"].reason
