"""``crmsync.toml`` and the environment (docs/configuration.md).

Found at ``--config FILE``, else ``$CRMSYNC_CONFIG``, else ``./crmsync.toml``; without a file
the defaults apply (a SQLite store in the working directory, no connections). Strings may hold
``${ENV_VAR}`` references; settings a connector declares secret must be such references. Any
unknown key, wrong type or missing variable is one :class:`~crmsync.ConfigError` naming the file,
section and key.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from crmsync.core.errors import ConfigError
from crmsync.core.periods import is_period
from crmsync.core.redact import REDACTED
from crmsync.metrics.targets import Target, parse_targets
from crmsync.orchestration.distributed.settings import CelerySettings, parse_celery
from crmsync.orchestration.jobs import Job, parse_schedule
from crmsync.orchestration.notify import NotifyConfig, parse_notify
from crmsync.plugin.connector import Connector
from crmsync.plugin.context import METRIC_OPTIONS
from crmsync.store.business_hours import parse_hours
from crmsync.writeback.mapping import WritebackMapping, parse_writeback

__all__ = ["Config", "ConnectionConfig", "MetricsConfig", "load_config", "find_config_file",
           "CONFIG_ENV", "DEFAULT_STORE_URL", "PERIODS"]

CONFIG_ENV = "CRMSYNC_CONFIG"
DEFAULT_FILE = "crmsync.toml"
DEFAULT_STORE_URL = "sqlite:///crmsync.db"
PERIODS = ("day", "week", "month", "quarter", "year", "all")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECTIONS = ("store", "connections", "metrics", "writeback", "targets", "schedule", "notify",
             "celery", "sync")


def _interpolate(value: Any, *, file: str | None, section: str, key: str,
                 secrets: set[str]) -> Any:
    """Replace ``${VAR}`` references with environment values (recursively)."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"environment variable {name} is not set", file=file,
                                  section=section, key=key)
            secrets.add(os.environ[name])
            return os.environ[name]
        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [_interpolate(v, file=file, section=section, key=key, secrets=secrets)
                for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, file=file, section=section, key=f"{key}.{k}", secrets=secrets)
                for k, v in value.items()}
    return value


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

    def resolve(self, cls: type[Connector]) -> tuple[dict[str, Any], set[str]]:
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
            base = Path(self.file).resolve().parent
            for key, spec in cls.SETTINGS.items():
                value = settings.get(key)
                if spec.path and isinstance(value, str) and value and \
                        not Path(value).expanduser().is_absolute():
                    settings[key] = str(base / value)
        for key in secret_keys:
            if isinstance(settings.get(key), str):
                secrets.add(settings[key])
        return settings, secrets

    def secret_values(self, cls: type[Connector]) -> set[str]:
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

    def redacted(self, cls: type[Connector] | None) -> dict[str, Any]:
        """The settings as written, with secrets hidden, for ``config show``."""
        secret_keys = cls.secret_settings() if cls else frozenset()
        out: dict[str, Any] = {"type": self.type}
        for key, value in self.raw.items():
            if key == "type":
                continue
            out[key] = REDACTED if key in secret_keys else value
        return out


@dataclass
class MetricsConfig:
    """The ``[metrics]`` table."""

    period: str = "month"
    timezone: str = "UTC"
    base_currency: str = "USD"
    fiscal_year_start_month: int = 1
    definitions: dict[str, str] = field(default_factory=dict)
    #: Settings individual metrics read (``crmsync.plugin.context.METRIC_OPTIONS``).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyncConfig:
    """The ``[sync]`` table (``docs/configuration.md#sync``)."""

    #: An entity whose rejected share of the records read passes this ends ``failed``.
    max_reject_ratio: float = 0.1


def _sync(raw: Mapping[str, Any], file: str | None) -> SyncConfig:
    out = SyncConfig()
    for key, value in raw.items():
        if key != "max_reject_ratio":
            raise ConfigError("unknown key (known: max_reject_ratio)", file=file,
                              section="sync", key=key)
        ratio = float(_expect(value, (int, float), file=file, section="sync", key=key))
        if not 0 <= ratio <= 1:
            raise ConfigError(f"expected a share from 0 to 1 (e.g. 0.1 for 10%), got {value!r}",
                              file=file, section="sync", key=key)
        out.max_reject_ratio = ratio
    return out


@dataclass
class Config:
    """The effective configuration."""

    path: Path | None = None
    store_url: str = DEFAULT_STORE_URL
    connections: dict[str, ConnectionConfig] = field(default_factory=dict)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    writeback: list[WritebackMapping] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    #: ``[schedule]``: jobs by name (:mod:`crmsync.orchestration.jobs`).
    schedule: dict[str, Job] = field(default_factory=dict)
    #: ``[notify]`` (:mod:`crmsync.orchestration.notify`), None when absent.
    notify: NotifyConfig | None = None
    #: ``[celery]`` (:mod:`crmsync.orchestration.distributed.settings`).
    celery: CelerySettings = field(default_factory=CelerySettings)
    #: ``[sync]``.
    sync: SyncConfig = field(default_factory=SyncConfig)

    @property
    def file(self) -> str | None:
        """The config file's path as a string, for messages."""
        return str(self.path) if self.path else None


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


def _expect(value: Any, types: type | tuple[type, ...], *, file: str | None, section: str,
            key: str) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,))):
        names = (" or ".join(t.__name__ for t in types) if isinstance(types, tuple)
                 else types.__name__)
        raise ConfigError(f"expected {names}, got {type(value).__name__} {value!r}",
                          file=file, section=section, key=key)
    return value


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


def _metrics(raw: Mapping[str, Any], file: str | None) -> MetricsConfig:
    m = MetricsConfig()
    for key, value in raw.items():
        if key == "period":
            m.period = _expect(value, str, file=file, section="metrics", key=key)
            if not is_period(m.period):
                raise ConfigError(f"expected one of {', '.join(PERIODS)} or last_<N>d, "
                                  f"got {value!r}", file=file, section="metrics", key=key)
        elif key == "timezone":
            m.timezone = _expect(value, str, file=file, section="metrics", key=key)
            try:
                ZoneInfo(m.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"unknown time zone {value!r}", file=file, section="metrics",
                                  key=key) from None
        elif key == "base_currency":
            m.base_currency = _expect(value, str, file=file, section="metrics", key=key).upper()
            if not re.fullmatch(r"[A-Z]{3}", m.base_currency):
                raise ConfigError(f"expected an ISO 4217 code such as USD, got {value!r}",
                                  file=file, section="metrics", key=key)
        elif key == "fiscal_year_start_month":
            m.fiscal_year_start_month = _expect(value, int, file=file, section="metrics", key=key)
            if not 1 <= m.fiscal_year_start_month <= 12:
                raise ConfigError(f"expected a month 1–12, got {value!r}", file=file,
                                  section="metrics", key=key)
        elif key == "definitions":
            defs = _expect(value, dict, file=file, section="metrics", key=key)
            for name, variant in defs.items():
                _expect(variant, str, file=file, section="metrics.definitions", key=name)
            m.definitions = dict(defs)
        elif key == "business_hours":
            _expect(value, str, file=file, section="metrics", key=key)
            try:
                parse_hours(value)
            except ValueError as exc:
                raise ConfigError(str(exc), file=file, section="metrics", key=key) from None
            m.options[key] = value
        elif key == "business_days":
            days = _expect(value, list, file=file, section="metrics", key=key)
            if not days or not all(isinstance(d, int) and not isinstance(d, bool)
                                   and 1 <= d <= 7 for d in days):
                raise ConfigError("expected ISO weekdays 1 (Monday) to 7 (Sunday), e.g. "
                                  "[1, 2, 3, 4, 5]", file=file, section="metrics", key=key)
            m.options[key] = tuple(sorted(set(days)))
        elif key in METRIC_OPTIONS:
            expected = (int, float) if key == "margin" else int
            m.options[key] = _expect(value, expected, file=file, section="metrics", key=key)
        else:
            known = ", ".join(["period", "timezone", "base_currency", "fiscal_year_start_month",
                               "definitions", *METRIC_OPTIONS])
            raise ConfigError(f"unknown key (known: {known})", file=file,
                              section="metrics", key=key)
    return m


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
    for section in data:
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section (known: {', '.join(_SECTIONS)})", file=file,
                              section=section)
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
    cfg.metrics = _metrics(_expect(data.get("metrics", {}), dict, file=file, section="metrics",
                                   key="metrics"), file)
    cfg.writeback = parse_writeback(data.get("writeback", []), file=file,
                                    connections=cfg.connections)
    cfg.targets = parse_targets(_expect(data.get("targets", {}), dict, file=file,
                                        section="targets", key="targets"), file=file)
    cfg.schedule = parse_schedule(_expect(data.get("schedule", {}), dict, file=file,
                                          section="schedule", key="schedule"), file)
    cfg.notify = parse_notify(
        _expect(data.get("notify", {}), dict, file=file, section="notify", key="notify"), file,
        lambda value, key: _interpolate(value, file=file, section="notify", key=key,
                                        secrets=set()))
    cfg.celery = parse_celery(
        _expect(data.get("celery", {}), dict, file=file, section="celery", key="celery"), file,
        lambda value, key: _interpolate(value, file=file, section="celery", key=key,
                                        secrets=set()))
    cfg.sync = _sync(_expect(data.get("sync", {}), dict, file=file, section="sync", key="sync"),
                     file)
    return cfg
