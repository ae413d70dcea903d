"""Administration: configuration files, migrations, export and the scheduler loop.

See docs/architecture.md.
"""


from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# The host's own configuration sections register when their owners are imported.
import crmsync.metrics.baselines
import crmsync.metrics.targets
import crmsync.orchestration.distributed.settings
import crmsync.orchestration.jobs
import crmsync.writeback.mapping  # noqa: F401
from crmsync.core.config import Config, check_sections
from crmsync.core.config import load_config as core_load_config
from crmsync.core.errors import ConfigError
from crmsync.metrics.targets import TARGETS
from crmsync.orchestration.connections import open_store, set_aside_orphans
from crmsync.orchestration.jobs import SCHEDULE
from crmsync.plugin.connector import Connector
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.database import redact_url
from crmsync.writeback.mapping import WRITEBACK

if TYPE_CHECKING:
    pass


def export(config: Config, directory: str | Path, fmt: str = "csv", *,
           connection: str | None = None) -> dict[str, int]:
    """Write the store's tables as CSV or JSONL files the ``files`` connector reads back."""
    from crmsync.orchestration.export import export_store

    store = open_store(config)
    try:
        return export_store(store.engine, directory, fmt, connection=connection)
    finally:
        store.dispose()


def upgrade(config: Config) -> list[str]:
    """Apply pending migrations; returns the revisions applied."""
    store = Store(config.store_url, upgrade=False)
    try:
        return store.upgrade()
    finally:
        store.dispose()


def show_config(config: Config, registry: Registry) -> dict[str, Any]:
    """The effective configuration with secrets redacted."""
    conns = {}
    for name, c in config.connections.items():
        try:
            cls: type[Connector] | None = registry.connector(c.type)
        except ConfigError:
            cls = None
        shown = c.redacted(cls)
        if cls is not None:
            for key, spec in cls.SETTINGS.items():
                if key not in shown and not spec.required:
                    shown[key] = spec.default
        conns[name] = shown
    return {
        "file": config.file,
        "store": {"url": redact_url(config.store_url)},
        "connections": conns,
        "metrics": dict(config.metrics.__dict__),
        "writeback": [m.as_dict() for m in WRITEBACK.get(config)],
        "targets": [dict(t.__dict__) for t in TARGETS.get(config)],
    }


def init_config(path: str | Path = "crmsync.toml", *, force: bool = False) -> Path:
    """Write a commented starter ``crmsync.toml``."""
    from crmsync.orchestration.config_template import TEMPLATE

    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (use --force to overwrite)")
    target.write_text(TEMPLATE, encoding="utf-8")
    return target


def serve_schedule(config: Config, registry: Registry, *, poll: float = 30.0) -> int:
    """Run the ``[schedule]`` jobs when due until SIGTERM/SIGINT
    (:mod:`crmsync.orchestration.scheduler`); returns the exit status."""
    from crmsync.orchestration.scheduler import Scheduler

    if not SCHEDULE.get(config):
        raise ConfigError("no jobs to run; add a [schedule.NAME] table with a cron "
                          "expression (docs/configuration.md)", file=config.file,
                          section="schedule")
    store = open_store(config)
    try:
        return Scheduler(config, registry, store=store, poll=poll).serve()
    finally:
        store.dispose()


def load_config(path: str | Path | None = None, *, registry: Registry | None = None) -> Config:
    """Load ``crmsync.toml`` (:func:`crmsync.core.config.load_config`) with every section
    owner registered: the host's (targets, write-back, schedule, Celery) are imported here,
    plugins' by loading them (``registry``, default a new one) when the file has a table no
    host module owns. A table nobody owns is a :class:`~crmsync.ConfigError`, unless a plugin
    is broken: then it may be that plugin's, and is set aside with a warning so the other
    plugins' connections still work (docs/plugins.md, "Blast radius")."""
    config = core_load_config(path)
    if config.pending:
        registry = registry or Registry()
        registry.connectors()  # imports every plugin: their sections register
        set_aside_orphans(config, registry)
        check_sections(config)
    return config
