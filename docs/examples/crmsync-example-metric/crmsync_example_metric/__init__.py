"""An example crmsync metric: ``open_pipeline_count``.

The number of open opportunities (not deleted), attributed to the period in which each was
created. It is data plus SQL: :meth:`OpenPipelineCount.query` returns a ``Select`` with the
column contract ``subject_id, dimension_value, period_start, value, numerator, denominator``; the host binds the
period, dimension and connection, runs it on SQLite or PostgreSQL and stores the values.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Select

from crmsync import Metric, MetricContext, hookimpl

__all__ = ["OpenPipelineCount", "crmsync_register_metrics"]


class OpenPipelineCount(Metric):
    """Open, non-deleted opportunities by the period of ``remote_created_at``."""

    NAME = "open_pipeline_count"
    title = "Open pipeline (deals)"
    description = ("Open opportunities that are not deleted, counted in the period they were "
                   "created in.")
    unit = "count"
    direction = "higher_is_better"
    subject = "org"
    dimensions = ("owner", "team", "pipeline", "segment", "region")

    def query(self, ctx: MetricContext) -> Select:
        o = ctx.table("opportunities")
        frm, dim = ctx.dimension_of(o)  # joins users/accounts when the dimension needs them
        period = ctx.period_start(o.c.remote_created_at)  # NULL for period "all"
        count = sa.func.count()
        return (
            sa.select(sa.null().label("subject_id"), dim.label("dimension_value"),
                      period.label("period_start"),
                      count.label("value"), sa.null().label("numerator"),
                      count.label("denominator"))
            .select_from(frm)
            .where(ctx.live(o), o.c.status == "open")
            .group_by(*ctx.group_keys(dim, period))  # constants (NULLs) are left out
        )


@hookimpl
def crmsync_register_metrics() -> list[Metric]:
    """Register the metric (an instance, not the class)."""
    return [OpenPipelineCount()]
