"""A typed facade over the plugin hooks: the rest of crmsync calls this, never ``pm.hook``."""

from __future__ import annotations

import difflib
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmsync.core.errors import ConfigError, DuplicateNameError, MetricError, PluginError
from crmsync.plugin.analyser import TextAnalyser
from crmsync.plugin.connector import Connector
from crmsync.plugin.context import DIMENSIONS
from crmsync.plugin.dimensions import Dimension, collect_dimensions
from crmsync.plugin.manager import (
    BrokenPlugin,
    CrmsyncPluginManager,
    get_plugin_manager,
    one_line,
)
from crmsync.plugin.metric import Metric
from crmsync.plugin.panel import DashboardPanel

if TYPE_CHECKING:
    import click

    from crmsync.core.config import Config
    from crmsync.core.reports import RunReport
    from crmsync.plugin.results import RunResults

__all__ = ["Registry", "PluginInfo"]

log = logging.getLogger(__name__)


@dataclass
class PluginInfo:
    """One row of ``crmsync plugins``."""

    name: str
    status: str  # "ok", "conflict", "broken" or "disabled"
    source: str | None = None
    distribution: str | None = None
    version: str | None = None
    connectors: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    #: The dimensions it declares (``crmsync_register_dimensions`` and its metrics'
    #: ``declared_dimensions``; docs/writing-a-metric.md, "Declaring a dimension").
    dimensions: list[str] = field(default_factory=list)
    #: The text analysers it registers (``crmsync_register_analysers``; docs/themes.md).
    analysers: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dict(self.__dict__)


class Registry:
    """What the installed plugins register.

    :param pm: a plugin manager; by default one loading every installed plugin.
    """

    def __init__(self, pm: CrmsyncPluginManager | None = None) -> None:
        self.pm = pm if pm is not None else get_plugin_manager()
        self._connectors: dict[str, tuple[str, type[Connector]]] | None = None
        self._metrics: dict[str, tuple[str, Metric]] | None = None
        self._panels: list[DashboardPanel] | None = None
        self._failures: list[BrokenPlugin] = []
        self._dimensions: dict[str, tuple[str, Dimension]] | None = None
        self._analysers: dict[str, tuple[str, type[TextAnalyser]]] | None = None

    # -- registration hooks -----------------------------------------------------------------

    def _collect(self, hook_name: str, accepts: Callable[[Any], bool], expected: str
                 ) -> list[tuple[str, list[Any]]]:
        """Call one registration hook plugin by plugin, in registration order.

        An installed plugin whose hook raises, returns something that is not a list, or
        lists something that is not ``expected`` loses what it registers through this hook
        only: it is listed as broken (:meth:`broken`) and the other plugins' registrations
        stand (docs/plugins.md, "Blast radius"). A plugin registered by hand (tests) fails
        loudly instead, with a :class:`~crmsync.PluginError`.
        """
        hook = getattr(self.pm.hook, hook_name)
        out = []
        for impl in hook.get_hookimpls():  # registration order
            try:
                items = _registered(impl.plugin_name, hook_name, impl.function(), accepts,
                                    expected)
            except Exception as exc:
                if impl.plugin_name not in self.pm.sources:
                    if isinstance(exc, PluginError):
                        raise
                    raise PluginError(f"plugin '{impl.plugin_name}' failed in {hook_name}: "
                                      f"{type(exc).__name__}: {exc}",
                                      plugin=impl.plugin_name) from exc
                self._hook_failed(impl.plugin_name, hook_name, exc)
                continue
            out.append((impl.plugin_name, items))
        return out

    def _hook_failed(self, plugin: str, hook_name: str, exc: Exception) -> None:
        """Record that ``plugin``'s ``hook_name`` failed; log it once."""
        if any(f.name == plugin and f.hook == hook_name for f in self._failures):
            return  # a registration collected again (after a conflict)
        src = self.pm.sources.get(plugin)
        failure = BrokenPlugin(
            name=plugin, distribution=src.distribution if src else None,
            version=src.version if src else None,
            reason=" ".join(str(exc).split()) if isinstance(exc, PluginError) else one_line(exc),
            traceback="".join(traceback.format_exception(exc)),
            entry_point=src.entry_point if src else None, hook=hook_name)
        self._failures.append(failure)
        log.warning("crmsync %s; what it registers through this hook is disabled, the other "
                    "plugins work; %s", failure.describe(), failure.remedy())
        log.debug("plugin '%s' failed in %s", plugin, hook_name, exc_info=exc)

    def broken(self, hook: str | None = None) -> list[BrokenPlugin]:
        """The plugins that failed to load, then those whose registration hook ``hook``
        (default: any) failed, among the hooks called so far."""
        return [*self.pm.broken,
                *(f for f in self._failures if hook is None or f.hook == hook)]

    def _connector_map(self) -> dict[str, tuple[str, type[Connector]]]:
        if self._connectors is None:
            found: dict[str, tuple[str, type[Connector]]] = {}
            for plugin, classes in self._collect(
                    "crmsync_register_connectors",
                    lambda c: isinstance(c, type) and issubclass(c, Connector) and bool(c.NAME),
                    "a Connector subclass with a NAME"):
                for cls in classes:
                    if cls.NAME in found:
                        raise DuplicateNameError("connector", cls.NAME, found[cls.NAME][0], plugin)
                    found[cls.NAME] = (plugin, cls)
            self._connectors = found
        return self._connectors

    def connectors(self) -> dict[str, type[Connector]]:
        """Connector classes by type name."""
        return {name: cls for name, (_, cls) in self._connector_map().items()}

    def demo_connector(self) -> type[Connector]:
        """The first connector that generates a demo dataset (:attr:`Connector.DEMO_AS_OF`)."""
        for cls in self.connectors().values():
            if cls.DEMO_AS_OF:
                return cls
        raise ConfigError("no plugin provides a demo dataset (the built-in one is "
                          "crmsync_demo; see `crmsync plugins`)")

    def connector(self, type_name: str, *, file: str | None = None,
                  section: str | None = None) -> type[Connector]:
        """The connector class for ``type_name``; a clear error if no plugin provides it."""
        try:
            return self._connector_map()[type_name][1]
        except KeyError:
            known = ", ".join(sorted(self._connector_map())) or "none installed"
            # The type may be one a broken plugin would have registered: say which is broken,
            # why, and what to do (docs/plugins.md, "Blast radius").
            hint = "".join(f"; it may come from {b.describe()}; {b.remedy()}"
                           for b in self.broken("crmsync_register_connectors"))
            raise ConfigError(f"no connector of type '{type_name}' (available: {known}){hint}",
                              file=file, section=section, key="type") from None

    def plugin_of(self, type_name: str) -> str | None:
        """The name of the plugin that registers connector type ``type_name``, if any."""
        entry = self._connector_map().get(type_name)
        return entry[0] if entry else None

    # -- metrics ----------------------------------------------------------------------------------

    def _metric_map(self) -> dict[str, tuple[str, Metric]]:
        if self._metrics is None:
            found: dict[str, tuple[str, Metric]] = {}
            for plugin, metrics in self._collect(
                    "crmsync_register_metrics",
                    lambda m: isinstance(m, Metric) and bool(m.NAME),
                    "a Metric instance with a NAME"):
                for metric in metrics:
                    if metric.NAME in found:
                        raise DuplicateNameError("metric", metric.NAME, found[metric.NAME][0],
                                                 plugin)
                    found[metric.NAME] = (plugin, metric)
            self._metrics = found
        return self._metrics

    def metrics(self) -> dict[str, Metric]:
        """Metric definitions by name."""
        return {name: m for name, (_, m) in self._metric_map().items()}

    def metric(self, name: str) -> Metric:
        """One metric by name; a clear error naming the available ones."""
        try:
            return self._metric_map()[name][1]
        except KeyError:
            names = sorted(self._metric_map())
            close = difflib.get_close_matches(name, names, n=3)
            hint = (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
            known = ", ".join(names) or "none installed"
            broken = "".join(f"; it may come from {b.describe()}; {b.remedy()}"
                             for b in self.broken("crmsync_register_metrics"))
            raise MetricError(f"no metric named '{name}': {hint}(available: {known}){broken}"
                              ) from None

    def dimensions(self) -> dict[str, Dimension]:
        """Dimensions metrics and plugins declare, by name (docs/writing-a-metric.md)."""
        if self._dimensions is None:
            self._dimensions = collect_dimensions(
                self._collect("crmsync_register_dimensions", lambda d: isinstance(d, Dimension),
                              "a crmsync.Dimension"),
                self._metric_map(), DIMENSIONS)
        return {name: dim for name, (_, dim) in self._dimensions.items()}

    # -- dashboard ------------------------------------------------------------------------------

    def dashboard_panels(self) -> list[DashboardPanel]:
        """The panels plugins add to the dashboard (``crmsync_dashboard_panels``)."""
        if self._panels is None:
            found: dict[str, tuple[str, DashboardPanel]] = {}
            for plugin, panels in self._collect(
                    "crmsync_dashboard_panels", lambda p: isinstance(p, DashboardPanel),
                    "a DashboardPanel"):
                for panel in panels:
                    if panel.name in found:
                        raise DuplicateNameError("dashboard panel", panel.name,
                                                 found[panel.name][0], plugin)
                    found[panel.name] = (plugin, panel)
            self._panels = [p for _, p in found.values()]
        return list(self._panels)

    # -- coaching -------------------------------------------------------------------------------

    def coaching_rules(self) -> list[tuple[str, list[Any]]]:
        """The rule tables each plugin adds (``crmsync_coaching_rules``), by plugin name."""
        return self._collect("crmsync_coaching_rules", lambda r: isinstance(r, Mapping),
                             "a rule table (a mapping)")

    def analysers(self) -> dict[str, type[TextAnalyser]]:
        """Text analyser classes by name (``crmsync_register_analysers``)."""
        if self._analysers is None:
            found: dict[str, tuple[str, type[TextAnalyser]]] = {}
            for plugin, classes in self._collect(
                    "crmsync_register_analysers",
                    lambda c: isinstance(c, type) and issubclass(c, TextAnalyser) and bool(c.NAME),
                    "a TextAnalyser subclass with a NAME"):
                for cls in classes:
                    if cls.NAME in found:
                        raise DuplicateNameError("text analyser", cls.NAME, found[cls.NAME][0],
                                                 plugin)
                    found[cls.NAME] = (plugin, cls)
            self._analysers = found
        return {name: cls for name, (_, cls) in self._analysers.items()}

    # -- commands and run hooks -----------------------------------------------------------------

    def register_commands(self, cli: click.Group) -> None:
        """Let plugins add CLI commands. An installed plugin whose hook raises loses its
        commands only (listed as broken); the other commands work."""
        for impl in self.pm.hook.crmsync_register_commands.get_hookimpls():
            try:
                impl.function(**{name: cli for name in impl.argnames})
            except Exception as exc:
                if impl.plugin_name not in self.pm.sources:
                    raise
                self._hook_failed(impl.plugin_name, "crmsync_register_commands", exc)

    def after_run(self, report: RunReport, config: Config | None = None,
                  results: RunResults | None = None) -> None:
        """Tell plugins a run ended; a failing plugin is logged, never fatal."""
        offered = {"report": report, "config": config, "results": results}
        for impl in self.pm.hook.crmsync_after_run.get_hookimpls():
            try:
                impl.function(**{name: offered[name] for name in impl.argnames})
            except Exception:
                log.exception("plugin '%s' failed in crmsync_after_run", impl.plugin_name)

    # -- introspection --------------------------------------------------------------------------

    def _dimension_map(self) -> dict[str, tuple[str, Dimension]]:
        """Declared dimension name → (plugin, dimension) (:meth:`dimensions`)."""
        self.dimensions()
        assert self._dimensions is not None
        return self._dimensions

    def _provided(self) -> tuple[dict[str, list[str]], dict[str, list[str]],
                                 dict[str, list[str]], dict[str, str]]:
        """Connector, metric and declared dimension names by plugin, and the conflict of each
        plugin that registers a name another plugin registers too: everything is still
        listed. Calls every registration hook, so that each failing one is known
        (:meth:`broken`)."""
        connectors: dict[str, list[str]] = {}
        metrics: dict[str, list[str]] = {}
        dimensions: dict[str, list[str]] = {}
        conflicts: dict[str, str] = {}
        maps: tuple[tuple[Callable[[], Mapping[str, tuple[str, Any]]], dict[str, list[str]]],
                    ...] = ((self._connector_map, connectors), (self._metric_map, metrics),
                            (self._dimension_map, dimensions))
        for mapping, found in maps:
            try:
                for item, (owner, _) in mapping().items():
                    found.setdefault(owner, []).append(item)
            except DuplicateNameError as exc:
                conflicts.update((culprit, str(exc)) for culprit in exc.plugins)
            except PluginError as exc:  # a plugin registered by hand: broken, not in conflict
                self._hook_failed(exc.plugin or "?", "registration", exc)
        try:
            self.dashboard_panels()
        except DuplicateNameError as exc:
            conflicts.update((culprit, str(exc)) for culprit in exc.plugins)
        except PluginError as exc:
            self._hook_failed(exc.plugin or "?", "crmsync_dashboard_panels", exc)
        return connectors, metrics, dimensions, conflicts

    def plugins(self) -> list[PluginInfo]:
        """Every plugin: loaded (``ok``), ``broken`` (with the reason: it failed to load or a
        registration hook of it failed), in ``conflict`` with another or ``disabled``."""
        connectors, metrics, dimensions, conflicts = self._provided()
        analysers: dict[str, list[str]] = {}
        try:
            self.analysers()
            for item, (owner, _) in (self._analysers or {}).items():
                analysers.setdefault(owner, []).append(item)
        except DuplicateNameError as exc:
            conflicts.update((culprit, str(exc)) for culprit in exc.plugins)
        failures: dict[str, list[str]] = {}
        for f in self._failures:
            failures.setdefault(f.name, []).append(f"{f.hook}: {f.reason}")
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            src = self.pm.sources.get(name)
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            reasons = [*failures.get(name, []), *([conflicts[name]] if name in conflicts else [])]
            status = "broken" if name in failures else "conflict" if name in conflicts else "ok"
            infos.append(PluginInfo(
                name=name, status=status, reason="; ".join(reasons) or None,
                source=src.entry_point if src else getattr(plugin, "__name__", repr(plugin)),
                distribution=src.distribution if src else None,
                version=src.version if src else None,
                connectors=sorted(connectors.get(name, [])),
                metrics=sorted(metrics.get(name, [])),
                dimensions=sorted(dimensions.get(name, [])),
                analysers=sorted(analysers.get(name, [])), hooks=hooks))
        for b in self.pm.broken:
            infos.append(PluginInfo(name=b.name, status="broken", source=b.entry_point,
                                    distribution=b.distribution, version=b.version,
                                    reason=b.reason))
        for d in self.pm.disabled:
            infos.append(PluginInfo(name=d, status="disabled",
                                    reason="listed in CRMSYNC_DISABLE_PLUGINS"))
        return sorted(infos, key=lambda i: i.name)


def _registered(plugin: str, hook_name: str, result: Any, accepts: Callable[[Any], bool],
                expected: str) -> list[Any]:
    """What one plugin's registration hook returned, as a list; a
    :class:`~crmsync.PluginError` naming the plugin when it is not a list of ``expected``."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise PluginError(f"plugin '{plugin}': {hook_name} must return a list, "
                          f"got {type(result).__name__}", plugin=plugin)
    for item in result:
        if not accepts(item):
            raise PluginError(f"plugin '{plugin}' registered {item!r} through {hook_name}, "
                              f"which is not {expected}", plugin=plugin)
    return list(result)
