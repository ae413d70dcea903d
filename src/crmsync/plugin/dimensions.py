"""Dimensions beyond the built-in ones: declared by a metric or a plugin, and ``custom.<field>``
(docs/writing-a-metric.md, "Declaring a dimension").

A :class:`Dimension` names a breakdown and the SQL behind it: a column, or an expression over the
table a metric groups by (the *fact* table it hands to
:meth:`~crmsync.MetricContext.dimension_of`), optionally reached through the fact's owner
(``users``) or account (``accounts``). A metric declares dimensions in its
``declared_dimensions``; a plugin declares them from ``crmsync_register_dimensions``. Names are
unique across the built-in dimensions and every plugin.

``custom.<field>`` reads a key of the fact table's ``custom`` JSON object. Keys are whatever the
CRM calls its fields (Pipedrive's 40-hex keys, ``Deal Source``, quotes, dots, brackets, any
script); the key is always a bound parameter, never part of the SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from crmsync.core.errors import DuplicateNameError, MetricError, PluginError
from crmsync.core.schema import SYNCED_TABLES

__all__ = ["Dimension", "VIA", "CUSTOM_PREFIX", "MAX_DIMENSION_NAME", "custom_key",
           "custom_value", "reach", "offered_dimensions", "declared_dimensions",
           "collect_dimensions"]

#: ``--by custom.product_line`` breaks down by a key of the fact table's ``custom`` object.
CUSTOM_PREFIX = "custom."
#: A dimension's name is stored with each value (``metric_values.dimension``, 64 characters).
MAX_DIMENSION_NAME = 64
#: How a declared dimension's table is reached from the fact table: the fact table itself, its
#: owner (``users`` by ``owner_id``) or its account (``accounts`` by ``account_id``).
VIA = ("fact", "owner", "account")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: The SQL of a declared dimension: given the table reached (see :data:`VIA`), its value.
Expression = Callable[[FromClause], ColumnElement[Any]]


@dataclass(frozen=True)
class Dimension:
    """A breakdown a metric or a plugin adds to the built-in ones.

    :param name: what ``--by`` takes: lower-case letters, digits and ``_`` (e.g. ``currency``).
    :param title: how people read it (``Deal currency``).
    :param column: a column of the table reached (``currency``); or give ``expression``.
    :param expression: a function of the table reached returning the SQL value, e.g.
        ``lambda t: sa.case((t.c.amount >= 10_000, "large"), else_="small")``.
    :param via: ``fact`` (default), ``owner`` or ``account`` (:data:`VIA`).
    :param labels: a synced table whose ``remote_id`` the values are (``accounts``): reports
        show that record's name instead of the id.
    :param applies_to: names of metrics (of any plugin) that support this dimension without
        listing it in their ``dimensions`` — how a plugin adds a breakdown to a built-in metric
        (``applies_to=("win_rate",)``). The dimension's SQL must fit their fact table.
    """

    name: str
    title: str
    column: str | None = None
    expression: Expression | None = None
    via: str = "fact"
    labels: str | None = None
    applies_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise MetricError(f"dimension name {self.name!r}: lower-case letters, digits and _, "
                              "starting with a letter, at most 64 characters")
        if not self.title:
            raise MetricError(f"dimension '{self.name}' needs a title")
        if (self.column is None) == (self.expression is None):
            raise MetricError(f"dimension '{self.name}' needs exactly one of column and "
                              "expression")
        if self.via not in VIA:
            raise MetricError(f"dimension '{self.name}': via must be one of {', '.join(VIA)}, "
                              f"not {self.via!r}")
        if self.labels is not None and self.labels not in SYNCED_TABLES:
            raise MetricError(f"dimension '{self.name}': labels must name a synced table, not "
                              f"{self.labels!r}")

    def value_of(self, fact: FromClause) -> tuple[FromClause, ColumnElement[Any]]:
        """Join what the dimension needs onto ``fact``; return the joined FROM and the value."""
        joined, table = reach(fact, self.via, self.name)
        if self.expression is not None:
            return joined, self.expression(table)
        assert self.column is not None  # __post_init__: one of the two
        if self.column not in table.c:
            raise MetricError(f"dimension '{self.name}' needs column {self.column} "
                              f"({'the fact table' if self.via == 'fact' else self.via})")
        return joined, table.c[self.column]


def reach(fact: FromClause, via: str, name: str) -> tuple[FromClause, FromClause]:
    """``fact`` joined to what ``via`` names (nothing for ``fact``), and the table reached."""
    if via == "fact":
        return fact, fact
    ref_col, target = ("owner_id", "users") if via == "owner" else ("account_id", "accounts")
    if ref_col not in fact.c:
        raise MetricError(f"dimension '{name}' needs column {ref_col}")
    other = SYNCED_TABLES[target].alias(f"dim_{target}")
    joined = fact.outerjoin(other, sa.and_(other.c.connection == fact.c.connection,
                                           other.c.remote_id == fact.c[ref_col]))
    return joined, other


def custom_key(dimension: str) -> str | None:
    """The custom-field key of a ``custom.<field>`` dimension, ``None`` for another name.

    :raises MetricError: the key is empty, holds a control character or makes the name longer
        than :data:`MAX_DIMENSION_NAME`.
    """
    if not dimension.startswith(CUSTOM_PREFIX):
        return None
    key = dimension[len(CUSTOM_PREFIX):]
    if not key or _CONTROL.search(key) or len(dimension) > MAX_DIMENSION_NAME:
        raise MetricError(f"dimension {dimension!r}: custom.<field> takes a key of 1-"
                          f"{MAX_DIMENSION_NAME - len(CUSTOM_PREFIX)} characters without "
                          "control characters")
    return key


def custom_value(dialect: str, fact: FromClause, key: str) -> ColumnElement[Any]:
    """The value under ``key`` in ``fact``'s ``custom`` object, as SQL (``NULL`` if absent).

    PostgreSQL: ``custom ->> :key``. SQLite: ``json_extract`` takes a *path*, which cannot
    spell every key (a ``"`` or a non-ASCII key stored escaped never matches), so the key is
    looked up in ``json_each(custom)``, whose ``key`` column is the decoded key. Either way
    the key is a bound parameter.
    """
    if dialect == "postgresql":
        value: ColumnElement[Any] = fact.c.custom[key].as_string()  # bound: ``->> %(p)s``
        return value
    pairs = sa.func.json_each(fact.c.custom).table_valued("key", "value").alias("custom_kv")
    return (sa.select(pairs.c.value).where(pairs.c.key == sa.bindparam(None, key, sa.String()))
            .limit(1).scalar_subquery())


def offered_dimensions(metric: Any, declared: Mapping[str, Dimension]) -> list[str]:
    """The dimensions ``metric`` can be broken down by: those it lists (``custom`` standing for
    every ``custom.<field>``), those it declares and declared ones that apply to it."""
    names = [*metric.dimensions, *(d.name for d in metric.declared_dimensions)]
    names += [d.name for d in declared.values() if metric.NAME in d.applies_to]
    return list(dict.fromkeys(names))


def declared_dimensions(metrics: Iterable[Any]) -> dict[str, Dimension]:
    """The dimensions ``metrics`` declare (``declared_dimensions``), by name; the first wins
    (:func:`collect_dimensions` is where clashes are errors)."""
    found: dict[str, Dimension] = {}
    for metric in metrics:
        for dim in getattr(metric, "declared_dimensions", ()):
            found.setdefault(dim.name, dim)
    return found


def collect_dimensions(registered: Iterable[tuple[str, list[Any]]],
                       metrics: Mapping[str, tuple[str, Any]],
                       builtin: Iterable[str]) -> dict[str, tuple[str, Dimension]]:
    """Every declared dimension by name, with the plugin declaring it.

    :param registered: ``(plugin, returned list)`` of ``crmsync_register_dimensions``.
    :param metrics: metric name → ``(plugin, metric)``; their ``declared_dimensions`` count.
    :param builtin: the built-in dimension names.
    :raises PluginError: something that is not a :class:`Dimension`, or a name of a built-in
        dimension; :class:`DuplicateNameError` for a name two plugins declare differently.
    """
    reserved = set(builtin)
    sources = list(registered) + [(plugin, list(getattr(m, "declared_dimensions", ())))
                                  for plugin, m in metrics.values()]
    found: dict[str, tuple[str, Dimension]] = {}
    for plugin, dims in sources:
        for dim in dims:
            if not isinstance(dim, Dimension):
                raise PluginError(f"plugin '{plugin}' declared {dim!r}, which is not a "
                                  "crmsync.Dimension", plugin=plugin)
            if dim.name in reserved:
                raise PluginError(f"plugin '{plugin}' declares dimension '{dim.name}', which "
                                  f"is a built-in dimension ('{dim.name}' of crmsync)",
                                  plugin=plugin)
            first = found.get(dim.name)
            if first is not None and first[1] != dim:
                if first[0] == plugin:
                    raise PluginError(f"plugin '{plugin}' declares dimension '{dim.name}' "
                                      "twice, differently", plugin=plugin)
                raise DuplicateNameError("dimension", dim.name, first[0], plugin)
            found.setdefault(dim.name, (plugin, dim))
    return found
