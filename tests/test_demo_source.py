"""``crmsync demo`` finds its dataset through the plugin API, naming no plugin
(``Connector.DEMO_AS_OF``; docs/writing-a-connector.md)."""

from __future__ import annotations

import types
from typing import Any, ClassVar

import pytest

from crmsync import ConfigError, Connector, hookimpl
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry


class SandboxCrm(Connector):
    NAME: ClassVar[str] = "sandbox"
    ENTITIES: ClassVar[tuple[str, ...]] = ("accounts",)
    DEMO_AS_OF: ClassVar[str | None] = "2025-01-31"

    def read(self, entity: str, cursor: Any) -> Any:
        return iter(())


class RealCrm(Connector):
    NAME: ClassVar[str] = "real"
    ENTITIES: ClassVar[tuple[str, ...]] = ("accounts",)

    def read(self, entity: str, cursor: Any) -> Any:
        return iter(())


def registry_of(*classes: type[Connector]) -> Registry:
    plugin = types.SimpleNamespace(
        crmsync_register_connectors=hookimpl(lambda: list(classes)))
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(plugin, name="third_party")
    return Registry(pm)


def test_a_third_party_demo_dataset_is_found_without_the_built_in_one() -> None:
    assert registry_of(RealCrm, SandboxCrm).demo_connector() is SandboxCrm


def test_without_any_demo_dataset_the_error_says_where_one_comes_from() -> None:
    with pytest.raises(ConfigError, match="no plugin provides a demo dataset"):
        registry_of(RealCrm).demo_connector()


def test_the_built_in_demo_connector_declares_its_dataset_day(registry: Registry) -> None:
    cls = registry.demo_connector()
    assert cls.NAME == "demo"
    assert cls.SETTINGS["as_of"].default == cls.DEMO_AS_OF
