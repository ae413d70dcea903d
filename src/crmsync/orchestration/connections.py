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
from crmsync.plugin.manager import one_line
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


def set_aside_orphans(config: Config, registry: Registry) -> None:
    """Drop the tables of ``config`` that no host module or loaded plugin reads, with a
    warning, when some plugin is broken (the table may be its own): a broken plugin must not
    make the configuration unreadable for every other plugin. Without a broken plugin they
    stay, and :func:`crmsync.core.config.check_sections` reports them."""
    broken = registry.broken()
    if not broken:
        return
    owned = registered_sections()
    names = ", ".join(f"'{b.name}'" for b in broken)
    for table in [t for t in config.pending if t not in owned]:
        del config.pending[table]
        log.warning("%s: [%s] is ignored: nothing installed reads it, and it may belong to "
                    "the broken plugin %s (see `crmsync plugins`)", config.file, table, names)


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


def failure_line(config: Config, registry: Registry, name: str, what: str,
                 exc: BaseException, *, connector_only: bool = True) -> str:
    """One line for a connection stopped by a bug (an exception that is not a
    :class:`~crmsync.CrmsyncError`): the connection, its connector type and plugin, the
    exception; the traceback goes to the debug log (docs/plugins.md, "Blast radius").

    :param connector_only: the exception came from the connector's own code (creating it,
        ``check()``), so the plugin is to blame; else it may be crmsync's too.
    """
    log.debug("connection '%s' %s", name, what, exc_info=exc)
    conn_type = config.connections[name].type
    try:
        plugin = registry.plugin_of(conn_type)
    except CrmsyncError:
        plugin = None
    owner = f" (plugin '{plugin}')" if plugin else ""
    blame = ("a bug in the plugin, not in your configuration: report it to its authors"
             if connector_only else "a bug in the plugin or in crmsync: please report it")
    return (f"connection '{name}': connector '{conn_type}'{owner} {what}: {one_line(exc)}; "
            f"{blame} (traceback: crmsync -vv)")


def close_quietly(connector: Connector) -> None:
    """``connector.close()``; a failure is logged, never raised (the run's outcome stands)."""
    try:
        connector.close()
    except Exception:
        log.warning("connection '%s': closing its connector failed", connector.name,
                    exc_info=True)


def check(config: Config, registry: Registry, names: Sequence[str] = ()) -> list[CheckResult]:
    """Probe authentication and permissions of each connection (default: all). A connection
    that cannot even be set up (a configuration error), or whose connector fails with a bug,
    is a failed result like any other, so every connection is reported."""
    if not names and not config.connections:
        raise ConfigError("no connections configured; add a [connections.NAME] table "
                          "(crmsync init writes an example)", file=config.file)
    names = list(names) or list(config.connections)
    for name in names:
        connection_config(config, name)  # an unknown name is a usage error: nothing is probed
    return [_check_one(config, registry, name) for name in names]


def _check_one(config: Config, registry: Registry, name: str) -> CheckResult:
    conn_type = config.connections[name].type
    try:
        connector, redactor = connect(config, name, registry)
    except CrmsyncError as exc:
        return CheckResult(name, conn_type, False, redactor_for(config, registry).text(str(exc)))
    except Exception as exc:
        return CheckResult(name, conn_type, False, redactor_for(config, registry).text(
            failure_line(config, registry, name, "failed to start", exc)))
    try:
        return CheckResult(name, conn_type, True, connector.check())
    except CrmsyncError as exc:
        return CheckResult(name, conn_type, False, redactor.text(str(exc)))
    except Exception as exc:
        return CheckResult(name, conn_type, False, redactor.text(
            failure_line(config, registry, name, "failed its check", exc)))
    finally:
        close_quietly(connector)
