"""The command line: output, exit codes, one-line user errors."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from crmsync.cli import cli


def run(*args: str, obj=None):
    return CliRunner().invoke(cli, list(args), obj=obj)


def test_init_writes_a_config_that_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init").exit_code == 0
    text = (tmp_path / "crmsync.toml").read_text()
    assert "# [connections.demo]" in text  # commented out: a first sync adds no fake deals
    result = run("config", "show", "--json")
    assert json.loads(result.output)["connections"] == {}


def test_init_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run("init")
    result = run("init")
    assert result.exit_code == 2 and "already exists" in result.output


def test_sync_without_connections_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMSYNC_CONFIG", raising=False)
    result = run("sync")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: no connections")


def test_syncing_an_unknown_connection_names_the_configured_ones(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                   f'path = "{tmp_path}"\n')
    result = run("--config", str(cfg), "sync", "hubspot")
    assert result.exit_code == 2
    assert "unknown connection 'hubspot' (configured: sheet)" in result.output


def test_sync_json_reports_each_entity(tmp_path):
    (tmp_path / "users.csv").write_text("remote_id,name\nU1,Ann\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                   f'path = "{tmp_path}"\n')
    result = run("--config", str(cfg), "sync", "--entity", "users", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "success"
    assert [(d["entity"], d["rows_upserted"]) for d in report["details"]] == [("users", 1)]


def test_a_failed_sync_exits_non_zero(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                   f'path = "{tmp_path / "missing"}"\n')
    result = run("--config", str(cfg), "sync", "--entity", "users")
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_metrics_list_names_the_builtin_kpis():
    result = run("metrics", "list", "--json")
    names = {m["name"] for m in json.loads(result.output)}
    assert {"win_rate", "avg_deal_size", "sales_cycle_days"} <= names


def test_the_console_script_runs_as_a_real_process():
    out = subprocess.run([sys.executable, "-c", "from crmsync.cli import main; main()",
                          "plugins", "--json"], capture_output=True, text=True, check=True)
    assert {"files", "kpis"} <= {p["name"] for p in json.loads(out.stdout)}


def test_a_bad_store_url_is_a_one_line_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "nonsense"\n')
    result = run("--config", str(cfg), "status")
    assert result.exit_code != 0 and result.output.startswith("error: ")
    assert "Traceback" not in result.output


def test_check_without_connections_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMSYNC_CONFIG", raising=False)
    result = run("check")
    assert result.exit_code == 2 and result.output.startswith("error: no connections")


def test_a_missing_files_folder_is_one_error_for_the_connection(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                   'path = "missing"\n')
    result = run("--config", str(cfg), "sync")
    assert result.exit_code == 2
    assert result.output.count("does not exist") == 1 and "Traceback" not in result.output


def test_export_json_reports_rows_per_table(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "users.csv").write_text("remote_id,name\nU1,Ann\nU2,Bo\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "sqlite:///s.db"\n[connections.sheet]\ntype = "files"\n'
                   'path = "in"\n')
    assert run("--config", str(cfg), "sync").exit_code == 0
    result = run("--config", str(cfg), "export", str(tmp_path / "out"), "--json")
    data = json.loads(result.output)
    assert data["rows"]["users"] == 2 and data["rows"]["accounts"] == 0


class _QuotaPlugin:
    """Registers a connector whose second page hits the API quota budget."""

    @staticmethod
    def connector_class():
        from crmsync import Batch, Connector, QuotaExhausted

        class QuotaConnector(Connector):
            NAME = "quota_test"
            ENTITIES = ("users",)

            def read(self, entity, cursor):
                yield Batch(records=[{"remote_id": "U1", "name": "Ann"}], cursor={"page": 1})
                raise QuotaExhausted("quota_run_percent reached: 50% of the remaining daily "
                                     "requests used", connection=self.name, entity=entity)

        return QuotaConnector

    @staticmethod
    def plugin():
        from crmsync import hookimpl

        cls = _QuotaPlugin.connector_class()

        class Plugin:
            @hookimpl
            def crmsync_register_connectors(self):
                return [cls]

        return Plugin()


def test_a_sync_stopped_on_the_api_quota_exits_3_and_says_the_state_is_kept(tmp_path):
    from crmsync.plugin.manager import get_plugin_manager
    from crmsync.plugin.registry import Registry

    pm = get_plugin_manager()
    pm.register(_QuotaPlugin.plugin(), name="quota-test")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\nurl = "sqlite:///s.db"\n[connections.crm]\ntype = "quota_test"\n')
    result = run("--config", str(cfg), "sync", obj=Registry(pm))
    assert result.exit_code == 3, result.output
    assert "stopped on the API quota (state kept; the next sync resumes)" in result.output
    assert "crm/users: quota_run_percent reached" in result.output
    result = run("--config", str(cfg), "sync", "--json", obj=Registry(pm))
    assert result.exit_code == 3
    report = json.loads(result.output)
    assert report["status"] == "stopped: api quota"
    assert [d["status"] for d in report["details"]] == ["stopped: api quota"]
