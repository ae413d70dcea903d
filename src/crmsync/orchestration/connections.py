"""Connections: the store, connectors and the redactor every run uses.

See docs/architecture.md.
"""


from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core import logs
from crmsync.core.config import Config, ConnectionConfig, registered_sections
from crmsync.core.errors import ConfigError, CrmsyncError
from crmsync.core.redact import Redactor
from crmsync.plugin.connector import Connector
from crmsync.plugin.registry import Registry
from crmsync.store import Store

if TYPE_CHECKING:
    pass


log = logging.getLogger(__name__)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def open_store(config: Config) -> Store:
    """Open the configured store, applying pending migrations."""
    return Store(config.store_url)


def connection_config(config: Config, name: str) -> ConnectionConfig:
    try:
        return config.connections[name]
    except KeyError:
        known = ", ".join(config.connections) or "none configured"
        raise ConfigError(f"no connection named '{name}' (configured: {known})",
                          file=config.file, section="connections") from None


def redactor_for(config: Config, registry: Registry, extra: Iterable[str] = ()) -> Redactor:
    """One redactor for every secret the configuration holds: the secret settings of every
    configured connection (an error of one CRM may echo another's token), those of the
    registered configuration sections (the notification webhook URL), the store URL's
    password, and ``extra``. They are registered with logging too
    (:func:`crmsync.core.logs.register_secrets`). Connections whose type no plugin provides
    are skipped (their error is reported where they are used)."""
    secrets = set(extra)
    for conn_cfg in config.connections.values():
        try:
            cls = registry.connector(conn_cfg.type)
        except ConfigError:
            continue
        secrets |= conn_cfg.secret_values(cls)
    for section in registered_sections().values():  # e.g. [notify]'s webhook URL
        secrets |= section.secrets(config)
    try:
        password = sa.engine.make_url(config.store_url).password
    except sa.exc.ArgumentError:  # the store reports a malformed URL itself
        password = None
    if password:
        secrets.add(str(password))
    logs.register_secrets(secrets)
    return Redactor(secrets)


def connect(config: Config, name: str, registry: Registry) -> tuple[Connector, Redactor]:
    """Instantiate the connector of connection ``name`` with validated, resolved settings;
    with it, the redactor of every configured secret (:func:`redactor_for`), to apply to all
    that is stored, logged or reported."""
    conn_cfg = connection_config(config, name)
    cls = registry.connector(conn_cfg.type, file=conn_cfg.file, section=conn_cfg.section)
    settings, secrets = conn_cfg.resolve(cls)
    return cls(name, settings), redactor_for(config, registry, secrets)


@dataclass
class CheckResult:
    """The outcome of ``check`` for one connection."""

    connection: str
    type: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dict(self.__dict__)


def check(config: Config, registry: Registry, names: Sequence[str] = ()) -> list[CheckResult]:
    """Probe authentication and permissions of each connection (default: all). A connection
    that cannot even be set up (a configuration error) is a failed result like any other, so
    every connection is reported."""
    if not names and not config.connections:
        raise ConfigError("no connections configured; add a [connections.NAME] table "
                          "(crmsync init writes an example)", file=config.file)
    names = list(names) or list(config.connections)
    for name in names:
        connection_config(config, name)  # an unknown name is a usage error: nothing is probed
    results = []
    for name in names:
        conn_cfg = config.connections[name]
        try:
            connector, redactor = connect(config, name, registry)
        except CrmsyncError as exc:
            results.append(CheckResult(name, conn_cfg.type, False,
                                       redactor_for(config, registry).text(str(exc))))
            continue
        try:
            results.append(CheckResult(name, conn_cfg.type, True, connector.check()))
        except CrmsyncError as exc:
            results.append(CheckResult(name, conn_cfg.type, False, redactor.text(str(exc))))
        finally:
            connector.close()
    return results
