"""A typed facade over the plugin hooks: the rest of crmsync calls this, never ``pm.hook``."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmsync.core.errors import ConfigError, DuplicateNameError, MetricError, PluginError
from crmsync.plugin.connector import Connector
from crmsync.plugin.manager import CrmsyncPluginManager, get_plugin_manager
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

    # -- connectors ---------------------------------------------------------------------------

    def _collect(self, hook_name: str) -> list[tuple[str, list[Any]]]:
        """Call one registration hook plugin by plugin, in registration order."""
        hook = getattr(self.pm.hook, hook_name)
        out = []
        for impl in hook.get_hookimpls():  # registration order
            try:
                result = impl.function()
            except Exception as exc:
                raise PluginError(f"plugin '{impl.plugin_name}' failed in {hook_name}: "
                                  f"{type(exc).__name__}: {exc}", plugin=impl.plugin_name) from exc
            if result is None:
                continue
            if not isinstance(result, (list, tuple)):
                raise PluginError(f"plugin '{impl.plugin_name}': {hook_name} must return a list, "
                                  f"got {type(result).__name__}", plugin=impl.plugin_name)
            out.append((impl.plugin_name, list(result)))
        return out

    def _connector_map(self) -> dict[str, tuple[str, type[Connector]]]:
        if self._connectors is None:
            found: dict[str, tuple[str, type[Connector]]] = {}
            for plugin, classes in self._collect("crmsync_register_connectors"):
                for cls in classes:
                    if not (isinstance(cls, type) and issubclass(cls, Connector)) or not cls.NAME:
                        raise PluginError(f"plugin '{plugin}' registered {cls!r}, which is not a "
                                          "Connector subclass with a NAME", plugin=plugin)
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
            hint = ""
            if self.pm.broken:
                hint = "; broken plugins: " + ", ".join(b.name for b in self.pm.broken)
            raise ConfigError(f"no connector of type '{type_name}' (available: {known}){hint}",
                              file=file, section=section, key="type") from None

    # -- metrics ----------------------------------------------------------------------------------

    def _metric_map(self) -> dict[str, tuple[str, Metric]]:
        if self._metrics is None:
            found: dict[str, tuple[str, Metric]] = {}
            for plugin, metrics in self._collect("crmsync_register_metrics"):
                for metric in metrics:
                    if not isinstance(metric, Metric) or not metric.NAME:
                        raise PluginError(f"plugin '{plugin}' registered {metric!r}, which is not "
                                          "a Metric instance with a NAME", plugin=plugin)
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
            raise MetricError(f"no metric named '{name}': {hint}(available: {known})"
                              ) from None

    # -- dashboard ------------------------------------------------------------------------------

    def dashboard_panels(self) -> list[DashboardPanel]:
        """The panels plugins add to the dashboard (``crmsync_dashboard_panels``)."""
        if self._panels is None:
            found: dict[str, tuple[str, DashboardPanel]] = {}
            for plugin, panels in self._collect("crmsync_dashboard_panels"):
                for panel in panels:
                    if not isinstance(panel, DashboardPanel):
                        raise PluginError(f"plugin '{plugin}' returned {panel!r} from "
                                          "crmsync_dashboard_panels, which is not a "
                                          "DashboardPanel", plugin=plugin)
                    if panel.name in found:
                        raise DuplicateNameError("dashboard panel", panel.name,
                                                 found[panel.name][0], plugin)
                    found[panel.name] = (plugin, panel)
            self._panels = [p for _, p in found.values()]
        return list(self._panels)

    # -- coaching -------------------------------------------------------------------------------

    def coaching_rules(self) -> list[tuple[str, list[Any]]]:
        """The rule tables each plugin adds (``crmsync_coaching_rules``), by plugin name."""
        return self._collect("crmsync_coaching_rules")

    # -- commands and run hooks -----------------------------------------------------------------

    def register_commands(self, cli: click.Group) -> None:
        """Let plugins add CLI commands."""
        self.pm.hook.crmsync_register_commands(cli=cli)

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

    def _provided(self) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
        """Connector and metric names by plugin, and the problem of each plugin at fault (a
        failing registration hook, a name two plugins register): everything is still listed."""
        connectors: dict[str, list[str]] = {}
        metrics: dict[str, list[str]] = {}
        problems: dict[str, str] = {}
        for mapping, found in ((self._connector_map, connectors),
                                (self._metric_map, metrics)):
            try:
                for item, (owner, _) in mapping().items():
                    found.setdefault(owner, []).append(item)
            except PluginError as exc:
                blamed = exc.plugins if isinstance(exc, DuplicateNameError) else (exc.plugin,)
                problems.update((culprit, str(exc)) for culprit in blamed if culprit)
        return connectors, metrics, problems

    def plugins(self) -> list[PluginInfo]:
        """Every plugin: loaded, broken (with the reason) or disabled."""
        connectors, metrics, problems = self._provided()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            src = self.pm.sources.get(name)
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            infos.append(PluginInfo(
                name=name, status="conflict" if name in problems else "ok",
                reason=problems.get(name),
                source=src.entry_point if src else getattr(plugin, "__name__", repr(plugin)),
                distribution=src.distribution if src else None,
                version=src.version if src else None,
                connectors=sorted(connectors.get(name, [])),
                metrics=sorted(metrics.get(name, [])), hooks=hooks))
        for b in self.pm.broken:
            infos.append(PluginInfo(name=b.name, status="broken", distribution=b.distribution,
                                    version=b.version, reason=b.reason))
        for d in self.pm.disabled:
            infos.append(PluginInfo(name=d, status="disabled",
                                    reason="listed in CRMSYNC_DISABLE_PLUGINS"))
        return sorted(infos, key=lambda i: i.name)
