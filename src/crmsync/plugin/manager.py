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
           "ENTRY_POINT_GROUP", "DISABLE_ENV", "one_line"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "crmsync"
DISABLE_ENV = "CRMSYNC_DISABLE_PLUGINS"

hookimpl = pluggy.HookimplMarker("crmsync")


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed: its entry point did not import or register, or one of its
    registration hooks raised (docs/plugins.md, "Blast radius").

    :param entry_point: ``name = module`` as installed, when the plugin came from one.
    :param hook: the registration hook that failed, or ``None`` when the plugin did not load.
    """

    name: str
    distribution: str | None
    version: str | None
    reason: str
    traceback: str
    entry_point: str | None = None
    hook: str | None = None

    def remedy(self) -> str:
        """What the user can do about it, naming the distribution when known."""
        dist = self.distribution
        fix = (f"reinstall it (pip install --force-reinstall {dist}) or uninstall it "
               f"(pip uninstall {dist})" if dist else "reinstall or uninstall it")
        return f"{fix}, or set {DISABLE_ENV}={self.name}"

    def describe(self) -> str:
        """``plugin 'x' (entry point 'x = mod', dist 1.0), which failed to load: error``."""
        where = ", ".join(p for p in (
            f"entry point '{self.entry_point}'" if self.entry_point else None,
            f"{self.distribution} {self.version or ''}".strip() if self.distribution
            else None) if p)
        what = f"whose {self.hook} raised" if self.hook else "which failed to load:"
        return f"plugin '{self.name}'{f' ({where})' if where else ''}, {what} {self.reason}"


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

        A plugin that fails to import (any exception, ``SystemExit`` included) or to register
        (a hook implementation asking for an argument the hook does not offer) is recorded in
        :attr:`broken` with the reason and a warning is logged; the other plugins still load.
        Plugins named in the environment variable ``CRMSYNC_DISABLE_PLUGINS``
        (comma-separated) are skipped.

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
            dist = getattr(ep, "dist", None)
            source = PluginSource(entry_point=f"{ep.name} = {ep.value}",
                                  distribution=dist.name if dist else None,
                                  version=dist.version if dist else None)
            try:
                # SystemExit too: a module calling sys.exit() on import must not end crmsync
                self.register(ep.load(), name=ep.name)
            except (Exception, SystemExit) as exc:  # a broken plugin must not take others down
                self._record_broken(ep.name, source, exc)
                continue
            self.sources[ep.name] = source
            count += 1
        return count

    def _record_broken(self, name: str, source: PluginSource, exc: BaseException) -> None:
        """List a plugin whose entry point failed to import or register in :attr:`broken`
        (pluggy validates a plugin before registering any of it: nothing is left behind)."""
        broken = BrokenPlugin(name=name, distribution=source.distribution,
                              version=source.version, reason=one_line(exc),
                              traceback=traceback.format_exc(), entry_point=source.entry_point)
        self.broken.append(broken)
        log.warning("crmsync %s; the other plugins work; %s", broken.describe(),
                    broken.remedy())
        log.debug("plugin '%s' failed to load", name, exc_info=exc)

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
                    reason=" ".join(f"invalid hook: {exc}".split()), traceback="",
                    entry_point=source.entry_point if source else None))
                log.warning("crmsync plugin '%s' disabled: %s", name, exc)


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (an error shown to the user is one line)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


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
