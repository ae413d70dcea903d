"""``crmsync init`` writes a config with no active connection (the demo is commented out);
``crmsync config show`` prints TOML that parses back to what the file says."""

from __future__ import annotations

import json
import re

import tomllib
from click.testing import CliRunner

from crmsync.cli import cli
from crmsync.core.config import load_config


def run(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"})


def test_init_leaves_the_demo_connection_commented_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init").exit_code == 0
    path = tmp_path / "crmsync.toml"
    assert load_config(str(path)).connections == {}
    text = path.read_text()
    assert "remove the\n# \"# \" in front of the next three lines" in text
    enabled = re.sub(r"(?m)^# (\[connections\.demo\]|type = \"demo\"|size = \"small\")",
                     r"\1", text)
    path.write_text(enabled)
    connections = load_config(str(path)).connections
    assert list(connections) == ["demo"] and connections["demo"].type == "demo"


def test_config_show_prints_toml_that_parses_to_the_written_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMSYNC_TEST_SECRET", "s3cr3t-value")
    path = tmp_path / "crmsync.toml"
    path.write_text(
        '[store]\nurl = "postgresql://crm:pw@db.example.com/crm"\n'
        f'[connections.sheets]\ntype = "files"\npath = "{tmp_path}"\n'
        '[connections.hub]\ntype = "hubspot"\naccess_token = "${CRMSYNC_TEST_SECRET}"\n'
        '[metrics]\nperiod = "quarter"\nbase_currency = "EUR"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.output)
    written = tomllib.loads(path.read_text())
    assert shown["connections"]["sheets"]["path"] == str(tmp_path)
    assert shown["connections"]["sheets"]["type"] == "files"
    assert shown["connections"]["hub"]["type"] == "hubspot"
    assert shown["metrics"]["period"] == written["metrics"]["period"] == "quarter"
    assert shown["metrics"]["base_currency"] == "EUR"
    assert "s3cr3t-value" not in result.output and ":pw@" not in result.output
    as_json = json.loads(CliRunner().invoke(cli, ["--config", str(path), "config", "show",
                                                  "--json"]).output)
    assert shown["store"] == as_json["store"]
