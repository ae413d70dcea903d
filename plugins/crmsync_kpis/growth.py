"""Period-over-period change of a metric's values: the growth KPIs (``revenue_growth``,
``traffic_growth``) share it.

The previous value is the one of the *immediately preceding* period of the same dimension
value — the period containing the day before this period's start. A period whose preceding
period has no value gets no growth (never a change from zero).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.selectable import Subquery

from crmsync import MetricContext
from crmsync_kpis.results import result

__all__ = ["period_over_period"]


def period_over_period(ctx: MetricContext, values: Subquery) -> sa.Select[Any]:
    """``(value − previous) ÷ previous`` per dimension value and period of ``values`` (a
    subquery with the contract's ``dimension_value``, ``period_start`` and ``value``):
    numerator the change, denominator the previous period's value."""
    by, order = values.c.dimension_value, values.c.period_start
    lagged = sa.select(
        values.c.dimension_value, values.c.period_start, values.c.value,
        sa.func.lag(values.c.period_start).over(partition_by=by, order_by=order)
        .label("prev_start"),
        sa.func.lag(values.c.value).over(partition_by=by, order_by=order)
        .label("prev_value"),
    ).subquery("lagged")
    day_before: sa.ColumnElement[Any]
    if ctx.dialect == "sqlite":
        day_before = sa.func.date(lagged.c.period_start, "-1 day")
    else:
        day_before = lagged.c.period_start - sa.literal(1)
    previous = sa.case((lagged.c.prev_start == ctx.period_start(day_before),
                        lagged.c.prev_value), else_=None)
    change = lagged.c.value - previous
    return result(value=change / sa.func.nullif(previous, 0), numerator=change,
                  denominator=previous, dimension=lagged.c.dimension_value,
                  period=lagged.c.period_start)
