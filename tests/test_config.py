"""crmsync.toml: discovery, validation with file/section/key, ${ENV} secrets, redaction."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from crmsync import ConfigError
from crmsync.api import connect, load_config, show_config
from crmsync.cli import cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(text)
    return path


def test_no_file_gives_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMSYNC_CONFIG", raising=False)
    cfg = load_config()
    assert (cfg.path, cfg.store_url, cfg.connections) == (None, "sqlite:///crmsync.db", {})


def test_the_file_in_the_working_directory_is_found(tmp_path, monkeypatch):
    write(tmp_path, '[connections.d]\ntype = "demo"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMSYNC_CONFIG", raising=False)
    assert list(load_config().connections) == ["d"]


def test_crmsync_config_environment_variable_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[connections.x]\ntype = "demo"\n')
    monkeypatch.setenv("CRMSYNC_CONFIG", str(path))
    assert list(load_config().connections) == ["x"]


def test_relative_sqlite_paths_are_relative_to_the_config_file(tmp_path):
    path = write(tmp_path, '[store]\nurl = "sqlite:///data/crm.db"\n')
    assert load_config(path).store_url == f"sqlite:///{tmp_path / 'data' / 'crm.db'}"


@pytest.mark.parametrize("text, section, key", [
    ('[stroe]\nurl = "x"\n', "stroe", None),
    ('[store]\nuri = "x"\n', "store", "uri"),
    ('[metrics]\nperiod = "fortnight"\n', "metrics", "period"),
    ('[metrics]\nfiscal_year_start_month = "april"\n', "metrics", "fiscal_year_start_month"),
    ('[metrics]\ntimezone = "Mars/Olympus"\n', "metrics", "timezone"),
    ('[connections.c]\nsize = "small"\n', "connections.c", "type"),
])
def test_bad_config_names_file_section_and_key(tmp_path, text, section, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert (err.value.file, err.value.section, err.value.key) == (str(path), section, key)
    assert str(path) in str(err.value) and f"[{section}]" in str(err.value)


def test_unknown_connector_setting_names_the_key(tmp_path, registry):
    path = write(tmp_path, '[connections.d]\ntype = "demo"\nsizee = "large"\n')
    with pytest.raises(ConfigError, match=r"\[connections.d\], key 'sizee': unknown setting"):
        connect(load_config(path), "d", registry)


def test_wrong_setting_type_names_the_key(tmp_path, registry):
    path = write(tmp_path, '[connections.f]\ntype = "files"\npath = "."\nbatch_size = "10"\n')
    with pytest.raises(ConfigError, match="key 'batch_size': expected int, got str"):
        connect(load_config(path), "f", registry)


def test_environment_references_are_resolved(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    path = write(tmp_path, '[connections.f]\ntype = "files"\npath = "${DATA_DIR}/in"\n')
    connector, _ = connect(load_config(path), "f", registry)
    assert connector.settings["path"] == f"{tmp_path}/in"


def test_a_missing_environment_variable_names_file_section_and_key(tmp_path, registry,
                                                                  monkeypatch):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write(tmp_path, '[connections.f]\ntype = "files"\npath = "${NOPE_NOT_SET}"\n')
    with pytest.raises(ConfigError, match=r"\[connections.f\], key 'path': environment "
                                          r"variable NOPE_NOT_SET is not set"):
        connect(load_config(path), "f", registry)


class SecretConnector:
    """Stands in for a CRM connector with a secret setting."""


@pytest.fixture
def secret_registry():
    from crmsync import Connector, Setting, hookimpl
    from crmsync.plugin.manager import get_plugin_manager
    from crmsync.plugin.registry import Registry

    class Vault(Connector):
        NAME = "vault"
        ENTITIES = ("users",)
        SETTINGS: ClassVar[dict[str, Setting]] = {
            "user": Setting(str, "login"), "password": Setting(str, "password", secret=True)}

    class Plugin:
        @hookimpl
        def crmsync_register_connectors(self):
            return [Vault]

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Plugin(), name="vault")
    return Registry(pm)


def test_a_literal_secret_in_the_file_is_refused(tmp_path, secret_registry):
    path = write(tmp_path, '[connections.v]\ntype = "vault"\nuser = "u"\npassword = "hunter22"\n')
    with pytest.raises(ConfigError, match="key 'password': secrets must be environment") as err:
        connect(load_config(path), "v", secret_registry)
    assert "hunter22" not in str(err.value)


def test_config_show_redacts_secrets(tmp_path, secret_registry, monkeypatch):
    monkeypatch.setenv("VAULT_PW", "hunter22")
    path = write(tmp_path, '[connections.v]\ntype = "vault"\nuser = "u"\n'
                           'password = "${VAULT_PW}"\n'
                           '[store]\nurl = "postgresql://app:dbpass99@db/crm"\n')
    shown = show_config(load_config(path), secret_registry)
    text = repr(shown)
    assert "hunter22" not in text and "dbpass99" not in text
    assert shown["connections"]["v"]["password"] == "***"
    assert shown["connections"]["v"]["user"] == "u"


def test_config_show_command_prints_effective_config(tmp_path):
    path = write(tmp_path, '[connections.d]\ntype = "demo"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    assert "[connections.d]" in result.output and 'size = "small"' in result.output


def test_invalid_toml_is_a_one_line_cli_error(tmp_path):
    path = write(tmp_path, "[store\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "not valid TOML" in result.output
    assert "Traceback" not in result.output


def test_relative_folder_settings_are_relative_to_the_config_file(tmp_path, registry,
                                                                  monkeypatch):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    path = write(conf_dir, '[connections.f]\ntype = "files"\npath = "exports/crm"\n')
    monkeypatch.chdir(tmp_path)
    connector, _ = connect(load_config(path), "f", registry)
    assert connector.settings["path"] == str(conf_dir / "exports" / "crm")
