"""``product_line``: the product family a deal sells most of (docs/metrics.md, "Dimensions").

A deal's product line is the ``family`` of the product on its largest line item (by
``amount``; ties go to the lowest line ``remote_id``, so the choice is stable across runs and
databases). A deal without line items, or whose largest line has no product or a product
without a family, has no product line (grouped under the empty value). One indexed probe per
deal: ``opportunity_line_items`` is indexed by (connection, opportunity_id).

Declared for the metrics whose fact table is ``opportunities`` (the deal outcomes, open
pipeline, slippage), like ``currency``; the whole deal counts for its product line — a deal is
not split across the families of its lines.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from crmsync import SYNCED_TABLES, Dimension

__all__ = ["PRODUCT_LINE", "largest_line_family"]


def largest_line_family(deals: FromClause) -> ColumnElement[Any]:
    """The family of the product on the largest live line item of each row of ``deals``."""
    li = SYNCED_TABLES["opportunity_line_items"].alias("pl_line")
    p = SYNCED_TABLES["products"].alias("pl_product")
    return (
        sa.select(p.c.family)
        .select_from(li.outerjoin(p, sa.and_(p.c.connection == li.c.connection,
                                             p.c.remote_id == li.c.product_id,
                                             p.c.is_deleted == sa.false())))
        .where(li.c.connection == deals.c.connection,
               li.c.opportunity_id == deals.c.remote_id, li.c.is_deleted == sa.false())
        .order_by(li.c.amount.desc().nulls_last(), li.c.remote_id)
        .limit(1)
        .scalar_subquery()
    )


#: ``--by product_line``: the family of the deal's largest line item.
PRODUCT_LINE = Dimension(
    "product_line", "Product line (largest line item)", expression=largest_line_family,
    applies_to=("win_rate", "close_rate", "decision_rate", "avg_deal_size", "median_deal_size",
                "revenue", "revenue_growth", "sales_cycle_days", "sales_cycle_days_mean",
                "pipeline_value", "weighted_pipeline_value", "deal_slippage_rate"))
