"""The dimensions the built-in KPIs declare beyond the built-in ones (docs/metrics.md,
"Dimensions"; docs/writing-a-metric.md, "Declaring a dimension").

``currency``: a deal's own currency (``opportunities.currency``, as the CRM sent it). It
applies to the metrics whose fact table is ``opportunities`` — the deal outcomes of
docs/metrics/deals.md, open pipeline and slippage. Money stays in the base currency (each deal
converted at its rate), so ``revenue --by currency`` is how much of the base-currency revenue
came from deals in each currency. Not offered by the stage-history metrics (their fact rows
are stage visits), the quota metrics (quotas are converted to the base currency) or sales velocity.

``product_line``: the family of the deal's largest line item
(:mod:`crmsync_kpis.product_lines`), for the same metrics.

``channel``: the traffic source of a ``web_traffic`` row, for the web traffic metrics
(:mod:`crmsync_kpis.web_traffic`): their only breakdown, as traffic has no owner or account.
"""

from __future__ import annotations

from crmsync import Dimension
from crmsync_kpis.product_lines import PRODUCT_LINE

__all__ = ["CURRENCY", "PRODUCT_LINE", "CHANNEL", "DIMENSIONS"]

#: ``--by currency``: the deal's currency.
CURRENCY = Dimension(
    "currency", "Deal currency", column="currency",
    applies_to=("win_rate", "close_rate", "decision_rate", "avg_deal_size", "median_deal_size",
                "revenue", "revenue_growth", "sales_cycle_days", "sales_cycle_days_mean",
                "pipeline_value", "weighted_pipeline_value", "deal_slippage_rate"))

#: ``--by channel``: the traffic source of a ``web_traffic`` row; ``cac`` and ``ltv_to_cac``
#: declare it too (crmsync_kpis.acquisition): the campaign type or lead source a new customer
#: came from, and the channel of each spend row.
CHANNEL = Dimension("channel", "Channel", column="channel",
                    applies_to=("sessions", "visit_to_lead_rate", "traffic_growth"))

#: The dimensions ``crmsync_register_dimensions`` of the built-in KPIs returns.
DIMENSIONS: tuple[Dimension, ...] = (CURRENCY, PRODUCT_LINE, CHANNEL)
