"""The metric interface (docs/writing-a-metric.md): data plus SQL, never code that opens
connections.

A :class:`Metric` returns, from :meth:`Metric.query`, a SQLAlchemy ``Select``
(:data:`MetricSelect` in annotations) whose columns are the documented contract:

===================  =======================================================================
``subject_id``       what one value is about when it is not the whole population: the
                     record's remote id for record-level metrics (``subject = "opportunity"``…),
                     the stage id for per-stage metrics; ``NULL`` for aggregates
``dimension_value``  the value of the dimension the engine asked for (``ctx.dimension``: rep
                     id, team, segment…); ``NULL`` for the whole organisation
``period_start``     the first day of the period (``NULL`` for period ``all``)
``value``            the KPI (``NULL`` when undefined, e.g. a ratio over an empty population)
``numerator``        for ratios and means: the summed top (so roll-ups are exact)
``denominator``      the summed bottom, or the population size
===================  =======================================================================

The host builds the :class:`MetricContext` (period, dimension, time zone, base currency,
filters), runs the query on SQLite or PostgreSQL and stores the values in ``metric_values``.
"""

from __future__ import annotations

from typing import ClassVar

from crmsync.plugin.context import MetricContext, MetricSelect
from crmsync.plugin.dimensions import Dimension

__all__ = ["Metric", "MetricContext", "MetricSelect", "UNITS", "DIRECTIONS"]

#: How a metric's values read: ``ratio`` (a share, printed ``37.3%``), ``currency``, ``days``,
#: ``minutes``, ``count``, ``score`` (a plain number such as an NPS) and ``multiple`` (one
#: quantity as a multiple of another, printed ``3.0×``: pipeline coverage, LTV : CAC).
UNITS = ("ratio", "currency", "days", "minutes", "count", "score", "multiple")
DIRECTIONS = ("higher_is_better", "lower_is_better")


class Metric:
    """Base class of metric definitions. Subclass it, set the attributes, implement
    :meth:`query`, and return an instance from ``crmsync_register_metrics``."""

    #: Unique name, e.g. ``win_rate``.
    NAME: ClassVar[str] = ""
    #: Human title for tables.
    title: ClassVar[str] = ""
    #: One or two sentences: formula and population.
    description: ClassVar[str] = ""
    #: One of :data:`UNITS`.
    unit: ClassVar[str] = "count"
    #: One of :data:`DIRECTIONS`.
    direction: ClassVar[str] = "higher_is_better"
    #: What one value is about: ``org`` for aggregates, or a record entity.
    subject: ClassVar[str] = "org"
    #: Dimensions the metric can be broken down by (see :data:`crmsync.metrics.DIMENSIONS`):
    #: built-in ones, ones declared by any plugin, ``"custom"`` for every ``custom.<field>``.
    dimensions: ClassVar[tuple[str, ...]] = ("owner", "team")
    #: Dimensions this metric adds (:class:`crmsync.Dimension`: a name, a title and the SQL
    #: over the table the query hands to ``ctx.dimension_of``); the metric supports them
    #: without listing them in :attr:`dimensions`, and other metrics may list them.
    declared_dimensions: ClassVar[tuple[Dimension, ...]] = ()
    #: Periods the metric supports.
    periods: ClassVar[tuple[str, ...]] = ("day", "week", "month", "quarter", "year", "all")
    #: Bump when the definition changes; stored with every value.
    version: ClassVar[int] = 1
    #: Whether ``denominator`` counts the population (deals, leads, responses…) and so reads
    #: as the value's ``n``; false when it is an amount or another metric's value (quota,
    #: previous revenue, CAC).
    denominator_is_n: ClassVar[bool] = True
    #: Alternative definitions selectable in ``[metrics.definitions]`` (``ctx.variant``).
    variants: ClassVar[tuple[str, ...]] = ()
    #: Tables the metric has no value without, besides the deals, leads and activities every
    #: sync brings (``("quotas",)``, ``("feedback",)``): ``crmsync status`` names each empty
    #: one with the metrics it leaves empty (docs/cli.md, "crmsync status").
    inputs: ClassVar[tuple[str, ...]] = ()
    #: Where the full definition (formula, population, pitfalls) is documented: a URL or a
    #: path such as ``docs/metrics/deals.md#win_rate``; ``metrics show --explain`` prints it.
    docs: str = ""

    def query(self, ctx: MetricContext) -> MetricSelect:
        """Return the ``Select`` producing the column contract (module docstring)."""
        raise NotImplementedError

    def records(self, ctx: MetricContext) -> MetricSelect | None:
        """The records behind the value, for drill-down (the dashboard lists them), or
        ``None`` when the metric offers none (the default).

        The ``Select`` has the columns ``connection``, ``entity`` (the schema table, e.g.
        ``opportunities``), ``remote_id``, ``name``, ``owner_id`` and ``detail`` (a short
        reason, or ``NULL``), for the whole organisation in ``ctx``'s period containing
        ``ctx.as_of`` (period ``all``: now).
        """
        return None

    def __repr__(self) -> str:
        return f"<Metric {self.NAME}>"
