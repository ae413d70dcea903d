"""The plugin manager: loads plugins from the ``crmsync`` entry-point group.

Nothing is loaded at import time; call :func:`get_plugin_manager`. Built-in plugins are
registered through the same entry-point group as third-party ones.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import traceback
from dataclasses import dataclass

import pluggy

from crmsync.plugin import hookspecs

__all__ = ["hookimpl", "BrokenPlugin", "PluginSource", "CrmsyncPluginManager", "get_plugin_manager",
           "ENTRY_POINT_GROUP", "DISABLE_ENV"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "crmsync"
DISABLE_ENV = "CRMSYNC_DISABLE_PLUGINS"

hookimpl = pluggy.HookimplMarker("crmsync")


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin whose entry point failed to import."""

    name: str
    distribution: str | None
    version: str | None
    reason: str
    traceback: str


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin loaded from an entry point came from."""

    entry_point: str
    distribution: str | None
    version: str | None


class CrmsyncPluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that remembers plugins that failed to load."""

    def __init__(self) -> None:
        super().__init__("crmsync")
        self.add_hookspecs(hookspecs)
        self.broken: list[BrokenPlugin] = []
        self.sources: dict[str, PluginSource] = {}
        self.disabled: list[str] = []

    def load_entrypoints(self, group: str = ENTRY_POINT_GROUP) -> int:
        """Import and register every plugin of ``group``.

        A plugin that fails to import is recorded in :attr:`broken` with the reason and a
        warning is logged; the other plugins still load. Plugins named in the environment
        variable ``CRMSYNC_DISABLE_PLUGINS`` (comma-separated) are skipped.

        :return: the number of plugins registered.
        """
        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        count = 0
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=group):
            if ep.name in seen:
                continue  # the same distribution visible twice on sys.path
            seen.add(ep.name)
            if ep.name in disabled:
                self.disabled.append(ep.name)
                continue
            if self.get_plugin(ep.name) is not None or self.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                dist = getattr(ep, "dist", None)
                reason = f"{type(exc).__name__}: {exc}"
                self.broken.append(BrokenPlugin(
                    name=ep.name,
                    distribution=dist.name if dist else None,
                    version=dist.version if dist else None,
                    reason=reason,
                    traceback=traceback.format_exc(),
                ))
                log.warning("crmsync plugin '%s' (%s) failed to load: %s",
                            ep.name, ep.value, reason)
                continue
            self.register(plugin, name=ep.name)
            dist = getattr(ep, "dist", None)
            self.sources[ep.name] = PluginSource(
                entry_point=f"{ep.name} = {ep.value}",
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )
            count += 1
        return count

    def quarantine_invalid(self) -> None:
        """Unregister entry-point plugins that implement hooks crmsync does not define (a
        misspelled hook) and list them in :attr:`broken`, so one bad plugin cannot stop every
        command; plugins registered by hand still fail loudly in ``check_pending``."""
        while True:
            try:
                self.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.get_name(exc.plugin) or repr(exc.plugin)
                self.unregister(exc.plugin)
                source = self.sources.pop(name, None)
                self.broken.append(BrokenPlugin(
                    name=name, distribution=source.distribution if source else None,
                    version=source.version if source else None,
                    reason=f"invalid hook: {exc}", traceback=""))
                log.warning("crmsync plugin '%s' disabled: %s", name, exc)


def get_plugin_manager(*, load_entrypoints: bool = True) -> CrmsyncPluginManager:
    """Create a plugin manager with crmsync's hookspecs and, by default, every installed plugin.

    :param load_entrypoints: load the ``crmsync`` entry-point group (tests pass ``False`` and
        register plugins themselves).
    :raises pluggy.PluginValidationError: when a plugin implements a hook crmsync does not
        define (a misspelled hook fails loudly rather than being ignored).
    """
    pm = CrmsyncPluginManager()
    if load_entrypoints:
        pm.load_entrypoints()
        pm.quarantine_invalid()
    pm.check_pending()
    return pm
