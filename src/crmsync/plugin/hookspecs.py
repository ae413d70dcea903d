"""Every hook crmsync calls. This module is the plugin manual.

Hooks are grouped by lifecycle: *registration* hooks are called when the registry is first
asked for connectors, metrics or commands; *run* hooks are called after work is done.
Implement them with the :data:`crmsync.hookimpl` marker in a module registered under the
``crmsync`` entry-point group::

    [project.entry-points.crmsync]
    myplugin = "my_package.plugin"

Hooks grow additively: a new argument never breaks an implementation that does not ask for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from crmsync.core.config import Config
    from crmsync.core.reports import RunReport
    from crmsync.plugin.analyser import TextAnalyser
    from crmsync.plugin.connector import Connector
    from crmsync.plugin.dimensions import Dimension
    from crmsync.plugin.metric import Metric
    from crmsync.plugin.panel import DashboardPanel
    from crmsync.plugin.results import RunResults

__all__ = [
    "hookspec",
    "crmsync_register_connectors",
    "crmsync_register_metrics",
    "crmsync_register_dimensions",
    "crmsync_register_commands",
    "crmsync_dashboard_panels",
    "crmsync_after_run",
    "crmsync_coaching_rules",
    "crmsync_register_analysers",
]

hookspec = pluggy.HookspecMarker("crmsync")


# -- registration -----------------------------------------------------------------------------


@hookspec
def crmsync_register_connectors() -> list[type[Connector]]:
    """Register connector classes.

    Called once per plugin manager, the first time the registry is asked for connectors.

    :return: a list of :class:`crmsync.Connector` subclasses. Each carries a unique ``NAME``
        (the ``type`` users write in ``[connections.X]``). A name registered by two plugins is
        an error naming both.

    .. versionadded:: 0.1
    """


@hookspec
def crmsync_register_metrics() -> list[Metric]:
    """Register metric definitions.

    Called once per plugin manager, the first time the registry is asked for metrics.

    :return: a list of :class:`crmsync.Metric` instances, each with a unique ``NAME``.
        A name registered by two plugins is an error naming both.

    .. versionadded:: 0.1
    """


@hookspec
def crmsync_register_dimensions() -> list[Dimension]:
    """Register dimensions metrics can be broken down by, beyond the built-in ones.

    Called once per registry, the first time it is asked for dimensions (a ``compute`` run).
    A metric can also declare dimensions itself (``Metric.declared_dimensions``); this hook is
    for dimensions several metrics share.

    :return: a list of :class:`crmsync.Dimension`, each with a unique ``name``, a ``title``
        and the SQL behind it (a ``column`` or an ``expression`` of the table a metric groups
        by, reached ``via`` the fact table, its owner or its account). A metric offers it when
        it lists the name in ``dimensions``. A name of a built-in dimension, or one another
        plugin declares differently, is an error naming both.

    .. versionadded:: 0.2
    """


@hookspec
def crmsync_register_commands(cli: click.Group) -> None:
    """Add commands to the ``crmsync`` command line.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(...)`` or decorate
        with ``@cli.command()``. Commands should call :mod:`crmsync.api` functions.
    :return: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec
def crmsync_dashboard_panels() -> list[DashboardPanel]:
    """Add panels to the dashboard and the HTML report.

    Called once per registry, the first time the dashboard (or ``crmsync report``) asks
    for panels.

    :return: a list of :class:`crmsync.DashboardPanel`, each with a unique ``name``. A
        panel joins the built-in page named by its ``page`` (``overview``, ``rep``…) or,
        for any other slug, a page of its own listed in the navigation. Its ``rows``
        callable receives a :class:`crmsync.PanelContext` (configuration, read-only store,
        the page's filters, the stored values as report rows) and returns rows that are
        rendered as an escaped table. A failing ``rows`` shows an error in the panel; the
        page still renders. A name registered twice is an error naming both plugins.

    .. versionadded:: 0.2
    """


# -- run ----------------------------------------------------------------------------------------


@hookspec
def crmsync_after_run(report: RunReport, config: Config | None, results: RunResults | None) -> Any:
    """Called after a sync, a metrics computation or a write-back finishes (or fails).

    Use it for notifications and audit trails. An exception raised here is logged and does
    not change the outcome of the run.

    :param report: a :class:`crmsync.RunReport`: ``kind`` (``"sync"``, ``"metrics"``,
        ``"writeback"``), ``status``, ``started_at``, ``ended_at``, ``details`` (per
        connection/entity counts) and ``error``.
    :param config: the run's configuration (a plugin reads its own table through its
        :class:`crmsync.Section`), or None when the caller had none to give.
    :param results: what the run left in the store, for plugins that report on it
        (:class:`crmsync.RunResults`: e.g. ``results.below_target()``), or None.
    :return: ignored.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1 ``config`` and ``results`` added (implementations that do not ask
        for them are unaffected).
    """


# -- coaching -----------------------------------------------------------------------------------


@hookspec
def crmsync_coaching_rules() -> list[dict[str, Any]]:
    """Add coaching rules to the built-in pack.

    Called each time coaching findings are evaluated (``crmsync coach``,
    ``crmsync.api.coach``).

    :return: a list of rule tables in the shape of ``[[coach.rules]]`` in crmsync.toml
        (``id``, ``title``, ``area``, ``when``, optional ``min_n``, ``severity_kpi``,
        ``advice``, ``enabled``; docs/coaching.md). A plugin's rule replaces a built-in rule
        of the same id, and a rule of crmsync.toml replaces a plugin's. An invalid rule is a
        ``ConfigError`` naming the plugin, the rule and the key.

    .. versionadded:: 0.2
    """


# -- themes -------------------------------------------------------------------------------------


@hookspec
def crmsync_register_analysers() -> list[type[TextAnalyser]]:
    """Register text analysers: what turns survey comments, won and lost reasons and call
    outcomes into themes and a sentiment.

    Called once per registry, the first time it is asked for analysers (``crmsync themes``,
    ``crmsync.api.analyse_texts``).

    :return: a list of :class:`crmsync.TextAnalyser` subclasses, each with a unique ``NAME``
        (what users pick in ``[themes] analyser``). crmsync builds the class with the
        taxonomy in force and ``[themes.options]``, and calls ``analyse(texts)`` with the
        texts that are new or changed (every text for an analyser that is not
        ``incremental``); it returns one :class:`crmsync.Analysis` per text, in order. A name
        registered by two plugins is an error naming both.

    .. versionadded:: 0.2
    """
