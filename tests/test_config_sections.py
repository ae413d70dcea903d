"""Configuration sections registered by their owners (docs/plugins.md#configuration-sections)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from crmsync import ConfigError, Section, SectionContext
from crmsync.api import load_config, redactor_for
from crmsync.core.config import Config, check_sections, registered_sections
from crmsync.core.config import load_config as core_load_config
from crmsync.plugin.registry import Registry

_names = (f"audit{i}" for i in itertools.count())


def audit_section(secret: bool = False) -> Section[dict[str, Any]]:
    """A fresh section (a new table name each time: the registry is process-wide)."""
    name = next(_names)

    def parse(raw: Any, ctx: SectionContext) -> dict[str, Any]:
        table = ctx.expect(raw, dict, name, name)
        if set(table) - {"path", "token"}:
            raise ctx.error("unknown key (known: path, token)", name, sorted(table)[0])
        return {k: ctx.interpolate(v, name, k) for k, v in table.items()}

    return Section(name, parse, default=dict,
                   secrets=(lambda v: [v["token"]] if "token" in v else []) if secret else None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_registered_section_is_parsed_and_read_through_its_accessor(tmp_path: Path) -> None:
    section = audit_section()
    config = load_config(write(tmp_path, f'[{section.name}]\npath = "a.log"\n'))
    assert section.get(config) == {"path": "a.log"}
    assert section.name in registered_sections()


def test_an_absent_section_has_its_default(tmp_path: Path) -> None:
    section = audit_section()
    assert section.get(load_config(write(tmp_path, "[metrics]\n"))) == {}


def test_a_table_read_before_its_owner_registers_is_parsed_on_first_use(tmp_path: Path) -> None:
    name = f"late{next(_names)}"
    config = core_load_config(write(tmp_path, f'[{name}]\npath = "late.log"\n'))
    assert config.pending == {name: {"path": "late.log"}}
    late: Section[str] = Section(name, lambda raw, ctx: str(raw["path"]), default=str)
    assert late.get(config) == "late.log"
    assert config.pending == {}


def test_a_table_nobody_owns_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[aduit]\npath = "x"\n')
    with pytest.raises(ConfigError, match=r"\[aduit\].*unknown section \(known: store, "
                                          r"connections, metrics, sync, .*writeback"):
        load_config(path, registry=Registry())
    config = core_load_config(path)  # the core alone keeps it for its owner …
    with pytest.raises(ConfigError, match="unknown section"):
        check_sections(config)  # … until every owner is known


def test_a_bad_value_names_the_file_section_and_key(tmp_path: Path) -> None:
    section = audit_section()
    with pytest.raises(ConfigError, match=rf"crmsync.toml.*\[{section.name}\].*'colour'"):
        load_config(write(tmp_path, f'[{section.name}]\ncolour = "red"\n'))


def test_a_sections_secrets_are_redacted_like_connection_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_TOKEN", "s3cr3t-audit-token")
    section = audit_section(secret=True)
    config = load_config(write(tmp_path, f'[{section.name}]\ntoken = "${{AUDIT_TOKEN}}"\n'))
    redactor = redactor_for(config, Registry())
    assert "s3cr3t-audit-token" not in redactor.text("failed with s3cr3t-audit-token")


def test_set_replaces_the_value_and_a_second_owner_of_a_name_is_refused() -> None:
    section = audit_section()
    config = Config()
    section.set(config, {"path": "b.log"})
    assert section.get(config) == {"path": "b.log"}
    with pytest.raises(ConfigError, match="already defined"):
        Section(section.name, lambda raw, ctx: raw, default=dict)
    with pytest.raises(ConfigError, match="already defined"):
        Section("metrics", lambda raw, ctx: raw, default=dict)
