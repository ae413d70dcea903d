"""What Celery tasks use in one worker process: the config, the plugins and an open store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from celery.signals import worker_process_init

from crmsync.core.config import CONFIG_ENV, Config
from crmsync.orchestration.admin import load_config
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["WorkerContext", "context", "set_context"]


@dataclass
class WorkerContext:
    """What tasks use in one worker process: the config, plugins and an open store."""

    config: Config
    registry: Registry
    _store: Store | None = None

    @property
    def store(self) -> Store:
        """The store, opened on first use in this process (never across a fork)."""
        if self._store is None:
            self._store = Store(self.config.store_url)
        return self._store

    def forget_store(self) -> None:
        """Drop a store inherited through ``fork`` (its connections belong to the parent)."""
        self._store = None


_context: WorkerContext | None = None


def context() -> WorkerContext:
    """This process's :class:`WorkerContext` (the config from ``$CRMSYNC_CONFIG`` if no
    :func:`create_app` call set one)."""
    global _context
    if _context is None:
        registry = Registry()
        _context = WorkerContext(load_config(os.environ.get(CONFIG_ENV), registry=registry),
                                 registry)
    return _context


def set_context(ctx: WorkerContext) -> None:
    """Use ``ctx`` in this process (:func:`crmsync.orchestration.distributed.app.create_app`)."""
    global _context
    _context = ctx


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    if _context is not None:
        _context.forget_store()
