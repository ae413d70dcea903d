"""A broken plugin disables only what it registers (docs/plugins.md, "Blast radius").

Plugins are real entry points: dist-infos written into a folder that is on ``sys.path``
(in-process, through the registry) or on ``PYTHONPATH`` of ``crmsync`` subprocesses.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmsync import MetricError, PluginError, hookimpl
from crmsync.cli import cli
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from isolation_plugins import GOOD, HOOKS_RAISE, IMPORT_FAILS, crmsync, install, write_config


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path where tests install plugins."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield root
    for mod in [m for m in sys.modules if m.startswith("thirdparty_")]:
        del sys.modules[mod]


def infos(registry: Registry) -> dict[str, dict]:
    return {i.name: i.as_dict() for i in registry.plugins()}


# -- in-process, through the registry --------------------------------------------------------


def test_a_connector_hook_that_raises_loses_only_that_plugins_connectors(site: Path) -> None:
    install(site, "good", GOOD)
    install(site, "raises", HOOKS_RAISE)
    registry = Registry(get_plugin_manager())
    assert {"good", "files", "demo"} <= set(registry.connectors())
    info = infos(registry)["raises"]
    assert info["status"] == "broken"
    assert "crmsync_register_connectors: RuntimeError: vendor SDK missing" in info["reason"]


def test_a_metric_hook_that_raises_loses_only_that_plugins_metrics(site: Path) -> None:
    install(site, "good", GOOD)
    install(site, "raises", HOOKS_RAISE)
    registry = Registry(get_plugin_manager())
    metrics = registry.metrics()
    assert "good_accounts" in metrics and "win_rate" in metrics  # another plugin's, built-ins
    info = infos(registry)["raises"]
    assert info["status"] == "broken"  # never "conflict"
    assert "crmsync_register_metrics: RuntimeError: metric table missing" in info["reason"]
    assert infos(registry)["kpis"]["status"] == "ok"


def test_a_metric_of_a_plugin_whose_metric_hook_failed_names_the_plugin(site: Path) -> None:
    install(site, "raises", HOOKS_RAISE)
    registry = Registry(get_plugin_manager())
    with pytest.raises(MetricError) as err:
        registry.metric("deal_velocity")
    assert ("it may come from plugin 'raises' (entry point 'raises = thirdparty_raises', "
            "thirdparty-raises 1.0), whose crmsync_register_metrics raised RuntimeError: "
            "metric table missing") in str(err.value)


def test_a_plugin_registering_something_else_than_a_connector_is_broken_alone(
        site: Path) -> None:
    install(site, "confused", """
        from crmsync import hookimpl
        @hookimpl
        def crmsync_register_connectors():
            return [dict]
    """)
    registry = Registry(get_plugin_manager())
    assert "files" in registry.connectors()
    info = infos(registry)["confused"]
    assert info["status"] == "broken"
    assert "which is not a Connector subclass with a NAME" in info["reason"]


def test_a_plugin_that_exits_on_import_is_broken_and_crmsync_goes_on(site: Path) -> None:
    install(site, "exits", "import sys\nsys.exit('no licence key')\n")
    pm = get_plugin_manager()
    assert [(b.name, b.reason) for b in pm.broken] == [("exits", "SystemExit: no licence key")]
    assert "files" in Registry(pm).connectors()


def test_a_hook_asking_for_an_argument_the_hook_lacks_is_broken_not_fatal(site: Path) -> None:
    install(site, "badsig", """
        from crmsync import hookimpl
        @hookimpl
        def crmsync_register_connectors(config):
            return []
    """)
    pm = get_plugin_manager()
    [broken] = pm.broken
    assert broken.name == "badsig" and "PluginValidationError" in broken.reason
    assert "\n" not in broken.reason  # shown as one line
    assert pm.get_plugin("badsig") is None
    assert "files" in Registry(pm).connectors()


def test_a_command_hook_that_raises_loses_only_its_commands(site: Path) -> None:
    install(site, "cmds", """
        from crmsync import hookimpl
        @hookimpl
        def crmsync_register_commands(cli):
            raise RuntimeError("click too old")
    """)
    registry = Registry(get_plugin_manager())
    import click

    group = click.Group("crmsync")
    registry.register_commands(group)  # does not raise
    info = infos(registry)["cmds"]
    assert info["status"] == "broken"
    assert "crmsync_register_commands: RuntimeError: click too old" in info["reason"]


def test_a_connection_of_a_broken_plugin_names_the_plugin_entry_point_error_and_remedy(
        site: Path) -> None:
    install(site, "pipedrive", IMPORT_FAILS)
    registry = Registry(get_plugin_manager())
    with pytest.raises(Exception) as err:
        registry.connector("pipedrive")
    message = str(err.value)
    assert "no connector of type 'pipedrive'" in message
    assert ("plugin 'pipedrive' (entry point 'pipedrive = thirdparty_pipedrive', "
            "thirdparty-pipedrive 1.0), which failed to load: ModuleNotFoundError: No module "
            "named 'vendor_sdk_that_is_not_installed'") in message
    assert "pip uninstall thirdparty-pipedrive" in message
    assert "CRMSYNC_DISABLE_PLUGINS=pipedrive" in message


def test_plugins_json_shows_a_hook_failure_as_broken_with_the_error(site: Path) -> None:
    install(site, "raises", HOOKS_RAISE)
    result = CliRunner().invoke(cli, ["plugins", "--json"], obj=Registry(get_plugin_manager()))
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["raises"]["status"] == "broken"
    assert "RuntimeError: vendor SDK missing" in rows["raises"]["reason"]
    assert rows["files"]["status"] == "ok"


# -- the command line, in subprocesses ----------------------------------------------------------


@pytest.mark.slow
def test_sync_runs_the_other_connections_when_a_plugin_fails_to_import(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "good", GOOD)
    install(site, "pipedrive", IMPORT_FAILS)
    config = write_config(tmp_path, {"deals": "pipedrive", "crm": "good"})
    done = crmsync(config, site, "sync", "--json")
    assert done.returncode == 5, done.stderr  # partial failure
    report = json.loads(done.stdout)
    status = {(d["connection"], d["entity"]): d["status"] for d in report["details"]}
    assert status == {("deals", "*"): "failed", ("crm", "users"): "success",
                      ("crm", "accounts"): "success"}
    [error] = [d["error"] for d in report["details"] if d["connection"] == "deals"]
    assert "plugin 'pipedrive' (entry point 'pipedrive = thirdparty_pipedrive'" in error
    assert "ModuleNotFoundError" in error and "pip uninstall thirdparty-pipedrive" in error
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_check_runs_the_other_connections_when_a_registration_hook_raises(
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "good", GOOD)
    install(site, "raises", HOOKS_RAISE)
    config = write_config(tmp_path, {"deals": "pipedrive", "crm": "good"})
    done = crmsync(config, site, "check")
    assert done.returncode == 5, done.stderr
    lines = done.stdout.splitlines()
    assert "ok   crm (good): good CRM reached" in lines
    [failed] = [line for line in lines if line.startswith("FAIL deals")]
    assert "plugin 'raises'" in failed
    assert "crmsync_register_connectors raised RuntimeError: vendor SDK missing" in failed
    plugins = crmsync(config, site, "plugins", "--json")
    assert plugins.returncode == 0, plugins.stderr
    rows = {r["name"]: r for r in json.loads(plugins.stdout)}
    assert rows["raises"]["status"] == "broken"
    assert rows["good"]["status"] == "ok"


@pytest.mark.slow
def test_metrics_list_and_compute_work_when_a_metric_hook_raises(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "good", GOOD)
    install(site, "raises", HOOKS_RAISE)
    config = write_config(tmp_path, {"crm": "good"})
    listed = crmsync(config, site, "metrics", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {m["name"] for m in json.loads(listed.stdout)}
    assert {"good_accounts", "win_rate"} <= names
    assert crmsync(config, site, "sync").returncode == 0
    computed = crmsync(config, site, "metrics", "compute", "--metric", "good_accounts",
                       "--metric", "win_rate", "--period", "all", "--json")
    assert computed.returncode == 0, computed.stderr
    assert json.loads(computed.stdout)["values"] >= 1


@pytest.mark.slow
def test_a_table_of_a_broken_plugin_does_not_make_the_configuration_unreadable(
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "good", GOOD)
    install(site, "pipedrive", IMPORT_FAILS)
    config = write_config(tmp_path, {"crm": "good"}, "\n[pipedrive]\nfield_keys = true\n")
    done = crmsync(config, site, "check")
    assert done.returncode == 0, done.stderr
    assert "[pipedrive] is ignored" in done.stderr and "'pipedrive'" in done.stderr


def test_a_hand_registered_plugins_failing_hook_raises_and_is_listed_broken() -> None:
    class Raises:
        @hookimpl
        def crmsync_register_metrics(self) -> list:
            raise RuntimeError("boom")

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Raises(), name="mine")
    registry = Registry(pm)
    with pytest.raises(PluginError, match="plugin 'mine' failed in crmsync_register_metrics"):
        registry.metrics()
    assert infos(registry)["mine"]["status"] == "broken"  # not "conflict"
