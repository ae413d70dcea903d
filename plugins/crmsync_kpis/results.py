"""The one shape every built-in metric returns: the six labelled columns of the column contract
(docs/writing-a-metric.md, "The column contract"), built here instead of by hand in each query.

``result(value=…, numerator=…, denominator=…, dimension=dim, period=period)`` is
``SELECT NULL AS subject_id, dim AS dimension_value, period AS period_start, … AS value,
… AS numerator, … AS denominator``; callers add ``select_from``, ``where`` and ``group_by``.
:func:`observations` is the one-value-per-row input of ``ctx.median``. A part left as
``None`` is SQL ``NULL`` (an aggregate has no subject, a median no numerator, the organisation
no dimension value, period ``all`` no period start). The expressions are used as given, so a
metric's SQL, and its values, are what it writes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["CONTRACT", "observations", "once", "result", "result_columns", "share"]

#: The contract's columns, in the order the built-in metrics select them.
CONTRACT = ("subject_id", "dimension_value", "period_start", "value", "numerator",
            "denominator")


def _sql(part: Any) -> Any:
    """``part`` as a SQL expression: ``None`` is ``NULL``."""
    return sa.null() if part is None else part


def result_columns(*, value: Any, numerator: Any = None, denominator: Any = None,
                   subject: Any = None, dimension: Any = None,
                   period: Any = None) -> list[sa.Label[Any]]:
    """The contract columns, labelled and in :data:`CONTRACT` order."""
    parts = (subject, dimension, period, value, numerator, denominator)
    return [_sql(part).label(name) for name, part in zip(CONTRACT, parts, strict=True)]


def result(*, value: Any, numerator: Any = None, denominator: Any = None,
           subject: Any = None, dimension: Any = None, period: Any = None) -> sa.Select[Any]:
    """``SELECT`` of the contract columns (:func:`result_columns`)."""
    return sa.select(*result_columns(value=value, numerator=numerator, denominator=denominator,
                                     subject=subject, dimension=dimension, period=period))


def observations(x: Any, *, subject: Any = None, dimension: Any = None,
                 period: Any = None) -> sa.Select[Any]:
    """``SELECT`` of one observation ``x`` per row with its ``subject_id``,
    ``dimension_value`` and ``period_start``: the input of ``ctx.median``."""
    return sa.select(_sql(subject).label("subject_id"), _sql(dimension).label("dimension_value"),
                     _sql(period).label("period_start"), _sql(x).label("x"))


def share(top: Any, bottom: Any) -> ColumnElement[Any]:
    """``top ÷ bottom`` as a real number (``top * 1.0``: integer counts do not truncate),
    ``NULL`` when ``bottom`` is 0 (never a division by zero)."""
    ratio: ColumnElement[Any] = top * 1.0 / sa.func.nullif(bottom, 0)
    return ratio


def once(facts: sa.Select[Any], name: str) -> sa.CTE:
    """``facts`` as a named table whose rows are each computed once, for queries that
    aggregate a costly column several times (a deal's base amount, with its rate lookup, in
    a sum and a count). SQLite inlines a plain subquery into its outer aggregate query and
    evaluates such a column once per aggregate naming it; a ``MATERIALIZED`` common table
    expression keeps it to once per row (SQLite only: PostgreSQL plans it as before)."""
    return facts.cte(name).prefix_with("MATERIALIZED", dialect="sqlite")
