"""``crmsync.toml`` and the environment (docs/configuration.md).

Found at ``--config FILE``, else ``$CRMSYNC_CONFIG``, else ``./crmsync.toml``; without a file
the defaults apply (a SQLite store in the working directory, no connections). Strings may hold
``${ENV_VAR}`` references; settings a connector declares secret must be such references. Any
unknown key, wrong type or missing variable is one :class:`~crmsync.ConfigError` naming the file,
section and key.

This module knows only the core tables (``[store]``, ``[connections]``, ``[metrics]``,
``[sync]``). Every other table is a :class:`Section` registered by the module (or plugin) that
owns it — write-back mappings, targets, the schedule, Celery, notifications — so the lowest layer
imports nothing above it (docs/architecture.md). A table whose owner is not imported yet is kept
as written and parsed when its owner first reads it; :func:`check_sections` reports tables no
owner registered.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from crmsync.core.config_tables import (
    METRIC_OPTIONS,
    PERIODS,
    MetricsConfig,
    SyncConfig,
    parse_metrics,
    parse_sync,
)
from crmsync.core.config_values import ENV_REF as _ENV_REF
from crmsync.core.config_values import expect as _expect
from crmsync.core.config_values import interpolate as _interpolate
from crmsync.core.errors import ConfigError
from crmsync.core.redact import REDACTED

__all__ = ["Config", "ConnectionConfig", "MetricsConfig", "SyncConfig", "Section",
           "SectionContext", "load_config", "find_config_file", "check_sections",
           "registered_sections", "CONFIG_ENV", "DEFAULT_STORE_URL", "PERIODS", "METRIC_OPTIONS"]

CONFIG_ENV = "CRMSYNC_CONFIG"
DEFAULT_FILE = "crmsync.toml"
DEFAULT_STORE_URL = "sqlite:///crmsync.db"
#: The tables this module parses itself; every other one is a registered :class:`Section`.
CORE_SECTIONS = ("store", "connections", "metrics", "sync")


class SettingsSpec(Protocol):
    """What :class:`ConnectionConfig` needs of a connector class (:class:`crmsync.Connector`
    is one): its declared settings, which of them are secret, and their validation."""

    SETTINGS: ClassVar[Mapping[str, Any]]

    @classmethod
    def secret_settings(cls) -> frozenset[str]: ...

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any], *, file: str | None = None,
                          section: str | None = None) -> dict[str, Any]: ...


@dataclass
class ConnectionConfig:
    """One ``[connections.NAME]`` table, as written (``${ENV}`` not yet resolved)."""

    name: str
    type: str
    raw: dict[str, Any]
    file: str | None = None

    @property
    def section(self) -> str:
        """The TOML section, for messages."""
        return f"connections.{self.name}"

    def resolve(self, cls: builtins.type[SettingsSpec]) -> tuple[dict[str, Any], set[str]]:
        """Validate against the connector's settings and resolve ``${ENV}`` references.

        :return: the settings and the set of secret values (to redact everywhere).
        """
        secret_keys = cls.secret_settings()
        for key in secret_keys:
            value = self.raw.get(key)
            if value is not None and not (isinstance(value, str)
                                          and _ENV_REF.fullmatch(value.strip())):
                raise ConfigError(
                    "secrets must be environment references such as \"${MY_SECRET}\", "
                    "never literal values in the file", file=self.file, section=self.section,
                    key=key)
        secrets: set[str] = set()
        resolved = {k: _interpolate(v, file=self.file, section=self.section, key=k,
                                    secrets=secrets if k in secret_keys else set())
                    for k, v in self.raw.items() if k != "type"}
        settings = cls.validate_settings(resolved, file=self.file, section=self.section)
        if self.file:
            self._anchor_paths(cls, settings, Path(self.file).resolve().parent)
        for key in secret_keys:
            if isinstance(settings.get(key), str):
                secrets.add(settings[key])
        return settings, secrets

    @staticmethod
    def _anchor_paths(cls: builtins.type[SettingsSpec], settings: dict[str, Any],
                      base: Path) -> None:
        """Path settings written relative are relative to the config file's directory."""
        for key, spec in cls.SETTINGS.items():
            value = settings.get(key)
            if spec.path and isinstance(value, str) and value and \
                    not Path(value).expanduser().is_absolute():
                settings[key] = str(base / value)

    def secret_values(self, cls: builtins.type[SettingsSpec]) -> set[str]:
        """The resolved values of the connector's secret settings, for redaction; never
        raises (a secret written literally or a variable not set is reported by
        :meth:`resolve` when the connection is used, not here)."""
        values: set[str] = set()
        for key in cls.secret_settings():
            value = self.raw.get(key)
            if isinstance(value, str):
                names = _ENV_REF.findall(value)
                values.update(os.environ[name] for name in names if os.environ.get(name))
                if not names:  # written literally (refused on use): still a secret
                    values.add(value)
        return values

    def redacted(self, cls: builtins.type[SettingsSpec] | None) -> dict[str, Any]:
        """The settings as written, with secrets hidden, for ``config show``."""
        secret_keys = cls.secret_settings() if cls else frozenset()
        out: dict[str, Any] = {"type": self.type}
        for key, value in self.raw.items():
            if key == "type":
                continue
            out[key] = REDACTED if key in secret_keys else value
        return out


@dataclass
class Config:
    """The effective configuration."""

    path: Path | None = None
    store_url: str = DEFAULT_STORE_URL
    connections: dict[str, ConnectionConfig] = field(default_factory=dict)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    #: Registered sections' parsed values by table name (read them through their
    #: :class:`Section`: ``WRITEBACK.get(config)``).
    sections: dict[str, Any] = field(default_factory=dict)
    #: Tables as written whose owner had not registered when the file was read.
    pending: dict[str, Any] = field(default_factory=dict)
    #: ``[sync]``.
    sync: SyncConfig = field(default_factory=SyncConfig)

    @property
    def file(self) -> str | None:
        """The config file's path as a string, for messages."""
        return str(self.path) if self.path else None


T = TypeVar("T")
_REGISTRY: dict[str, Section[Any]] = {}


@dataclass(frozen=True)
class SectionContext:
    """What a section's parser gets besides its table: the file (for messages), the
    connections (for sections that name one) and ``${ENV}`` resolution."""

    file: str | None
    connections: Mapping[str, ConnectionConfig]

    def error(self, message: str, section: str, key: str | None = None) -> ConfigError:
        """A :class:`~crmsync.ConfigError` naming this file, ``section`` and ``key``."""
        return ConfigError(message, file=self.file, section=section, key=key)

    def expect(self, value: Any, types: type | tuple[type, ...], section: str, key: str) -> Any:
        """``value`` if it has one of ``types`` (a bool is not an int), else a ConfigError."""
        return _expect(value, types, file=self.file, section=section, key=key)

    def interpolate(self, value: Any, section: str, key: str) -> Any:
        """``value`` with ``${ENV}`` references resolved (a missing variable is an error)."""
        return _interpolate(value, file=self.file, section=section, key=key, secrets=set())


class Section(Generic[T]):
    """A top-level table of ``crmsync.toml`` owned by the module or plugin that reads it.

    Create one at module level; the instance is the typed accessor::

        WRITEBACK = Section("writeback", parse_writeback, default=list)
        mappings = WRITEBACK.get(config)

    :param parse: ``parse(raw, ctx)`` → the parsed value; raises :class:`~crmsync.ConfigError`.
    :param default: the value when the table is absent.
    :param secrets: the secret strings a parsed value holds (redacted from logs and errors).
    """

    def __init__(self, name: str, parse: Callable[[Any, SectionContext], T],
                 default: Callable[[], T], *,
                 secrets: Callable[[T], Iterable[str]] | None = None) -> None:
        known = _REGISTRY.get(name)
        if name in CORE_SECTIONS or (known is not None and known.parse is not parse):
            raise ConfigError(f"the configuration section [{name}] is already defined")
        self.name: str = name
        self.parse: Callable[[Any, SectionContext], T] = parse
        self.default: Callable[[], T] = default
        self._secrets: Callable[[T], Iterable[str]] | None = secrets
        _REGISTRY[name] = self

    def get(self, config: Config) -> T:
        """This section's value in ``config`` (parsed on first use when the file was read
        before this section was registered)."""
        if self.name not in config.sections:
            if self.name in config.pending:
                raw = config.pending.pop(self.name)
                ctx = SectionContext(config.file, config.connections)
                config.sections[self.name] = self.parse(raw, ctx)
            else:
                config.sections[self.name] = self.default()
        value: T = config.sections[self.name]
        return value

    def set(self, config: Config, value: T) -> None:
        """Replace this section's value (for programs and tests that build a Config)."""
        config.pending.pop(self.name, None)
        config.sections[self.name] = value

    def secrets(self, config: Config) -> builtins.set[str]:
        """The secret strings this section's value holds in ``config``."""
        if self._secrets is None or (self.name not in config.sections
                                     and self.name not in config.pending):
            return set()
        return set(self._secrets(self.get(config)))


def registered_sections() -> dict[str, Section[Any]]:
    """Every registered section by table name."""
    return dict(_REGISTRY)


def check_sections(config: Config) -> None:
    """Parse every table read from the file; a table no owner registered is an error (call it
    once every owner — host modules and plugins — is imported)."""
    for name in list(config.pending):
        if name not in _REGISTRY:
            known = ", ".join([*CORE_SECTIONS, *sorted(_REGISTRY)])
            raise ConfigError(f"unknown section (known: {known})", file=config.file,
                              section=name)
        _REGISTRY[name].get(config)


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``explicit``, else ``$CRMSYNC_CONFIG``, else ``./crmsync.toml`` if it exists."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (from ${CONFIG_ENV})")
        return path
    path = Path(DEFAULT_FILE)
    return path if path.is_file() else None


def _store_url(raw: Mapping[str, Any], file: str | None, base: Path | None) -> str:
    for key in raw:
        if key != "url":
            raise ConfigError("unknown key (known: url)", file=file, section="store", key=key)
    if "url" not in raw:
        url = DEFAULT_STORE_URL
    else:
        url = _interpolate(_expect(raw["url"], str, file=file, section="store", key="url"),
                           file=file, section="store", key="url", secrets=set())
    # A relative SQLite path is relative to the config file, so scheduled runs from another
    # working directory find the same store.
    prefix = "sqlite:///"
    if base is not None and url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix):]
        if rest and not rest.startswith(":memory:"):
            url = prefix + str((base / rest).resolve())
    return url


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the configuration (see the module docstring for the search order)."""
    found = find_config_file(path)
    if found is None:
        return Config()
    file = str(found)
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    cfg = Config(path=found.resolve())
    cfg.store_url = _store_url(_expect(data.get("store", {}), dict, file=file, section="store",
                                       key="url"), file, found.resolve().parent)
    conns = _expect(data.get("connections", {}), dict, file=file, section="connections",
                    key="connections")
    for name, table in conns.items():
        section = f"connections.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError("connection names may use letters, digits, '_' and '-'",
                              file=file, section=section)
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=file, section=section)
        if "type" not in table:
            raise ConfigError("every connection needs a type (e.g. type = \"salesforce\")",
                              file=file, section=section, key="type")
        ctype = _expect(table["type"], str, file=file, section=section, key="type")
        cfg.connections[name] = ConnectionConfig(name=name, type=ctype, raw=dict(table), file=file)
    cfg.metrics = parse_metrics(_expect(data.get("metrics", {}), dict, file=file, section="metrics",
                                   key="metrics"), file)
    cfg.sync = parse_sync(_expect(data.get("sync", {}), dict, file=file, section="sync",
                                  key="sync"), file)
    ctx = SectionContext(file, cfg.connections)
    for name, raw in data.items():
        if name in CORE_SECTIONS:
            continue
        if name in _REGISTRY:
            cfg.sections[name] = _REGISTRY[name].parse(raw, ctx)
        else:
            cfg.pending[name] = raw
    return cfg
