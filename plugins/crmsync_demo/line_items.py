"""Products and opportunity line items of the demo CRM (docs/connectors/demo.md).

The catalogue has a subscription, a monthly plan and an add-on per product line, and, for
Services, a one-time onboarding package and a yearly support plan. Every deal sells its
product line (``DealPlan.product_line``), so ``--by product_line`` agrees with the deal's name:

* **New Business**: the line's subscription — billed annually (about two deals in three) or
  monthly, for a 12-month term (some 24) starting the day the deal closes (or is expected
  to) — and, on a third of them, a one-time onboarding package worth 15 % of the deal.
* **Renewal**: the subscription again for a new term, at the renewal's amount (higher or lower
  than before: expansion or contraction when it takes over).
* **Expansion**: monthly add-on seats, for the rest of a 12-month term.

Lost and open deals carry line items too (what was quoted). Won subscriptions that are not
renewed by the end of their term churn, so MRR shows new, expansion, contraction and churned
revenue over the two years. Everything is a pure function of the deal's plan and index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmsync_demo.deal_plan import DealPlan
from crmsync_demo.leads import opportunity_id
from crmsync_demo.seeding import rng_for
from crmsync_demo.timeline import to_date, to_datetime
from crmsync_demo.vocabulary import PRODUCT_LINES

__all__ = ["PRODUCTS", "product_records", "LineItemRecords", "line_item_id"]

#: Seeding family of line items (seeding.py's families stop at 11).
_LINE_ITEM = 21
#: (remote id, name, family, billing frequency, term months, unit price per period in USD)
PRODUCTS: tuple[tuple[str, str, str, str, int | None, float], ...] = (
    *((f"PR-{k}1", f"{family} Subscription", family, "annually", 12, 12_000.0)
      for k, (family, _) in enumerate(PRODUCT_LINES[:3])),
    *((f"PR-{k}2", f"{family} Monthly", family, "monthly", None, 1_000.0)
      for k, (family, _) in enumerate(PRODUCT_LINES[:3])),
    *((f"PR-{k}3", f"{family} Add-on Seats", family, "monthly", None, 50.0)
      for k, (family, _) in enumerate(PRODUCT_LINES[:3])),
    ("PR-31", "Onboarding Package", "Services", "one_time", None, 5_000.0),
    ("PR-32", "Premium Support", "Services", "annually", 12, 6_000.0),
)
_BY_FAMILY = {(p[2], p[1].rsplit(" ", 1)[-1]): p for p in PRODUCTS}
#: (product, amount per billing period, billing frequency, term months) of one line.
Line = tuple[tuple[str, str, str, str, int | None, float], float, str, int | None]


def product_records(created: dt.datetime) -> list[dict[str, Any]]:
    """The catalogue as ``products`` records, created with the CRM."""
    return [{"remote_id": rid, "remote_created_at": created, "remote_updated_at": created,
             "name": name, "code": f"SKU-{rid[3:]}", "family": family,
             "description": f"{name} ({family})", "is_active": True, "unit_price": price,
             "currency": "USD", "billing_frequency": frequency, "term_months": term}
            for rid, name, family, frequency, term, price in PRODUCTS]


def line_item_id(deal: int, position: int) -> str:
    """The remote id of line ``position`` of deal ``deal``."""
    return f"LI{deal:07d}-{position}"


def _product(family: str, kind: str) -> tuple[str, str, str, str, int | None, float]:
    if family == "Services":
        return _BY_FAMILY[("Services", "Package" if kind == "Onboarding" else "Support")]
    return _BY_FAMILY[(family, kind)]


class LineItemRecords:
    """Builds the line items of deals from their plans.

    :param seed: the dataset's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _lines(self, plan: DealPlan) -> list[Line]:
        """(product, amount per billing period, frequency, term) of each line of ``plan``."""
        rng = rng_for(self.seed, _LINE_ITEM, plan.index)
        family, amount = plan.product_line, plan.amount
        if plan.kind == "Expansion":
            return [(_product(family, "Seats"), round(amount / 12, 2), "monthly", 12)]
        lines: list[Line] = []
        if plan.kind == "New Business" and rng.random() < 1 / 3:
            onboarding = _product("Services", "Onboarding")
            services = round(amount * 0.15, 2)
            lines.append((onboarding, services, "one_time", None))
            amount -= services
        term = 24 if rng.random() < 0.15 else 12
        if family != "Services" and rng.random() < 0.35:
            lines.insert(0, (_product(family, "Monthly"), round(amount / 12, 2), "monthly",
                             term))
        else:
            lines.insert(0, (_product(family, "Subscription"), round(amount, 2), "annually",
                             term))
        return lines

    def count(self, plan: DealPlan) -> int:
        """How many line items ``plan`` has."""
        return len(self._lines(plan))

    def for_deal(self, plan: DealPlan) -> list[dict[str, Any]]:
        """The ``opportunity_line_items`` records of ``plan``."""
        start = to_date(plan.closed_at if plan.closed_at is not None else plan.expected_close)
        created = to_datetime(plan.created)
        out = []
        for k, (product, amount, frequency, term) in enumerate(self._lines(plan)):
            rid, name, _, _, _, price = product
            quantity = max(1, round(amount / price)) if price else 1
            out.append({
                "remote_id": line_item_id(plan.index, k), "remote_created_at": created,
                "remote_updated_at": created, "opportunity_id": opportunity_id(plan.index),
                "product_id": rid, "name": name, "quantity": float(quantity),
                "unit_price": round(amount / quantity, 2), "discount": 0.0, "amount": amount,
                "currency": plan.currency, "amount_base": None,
                "billing_frequency": frequency, "term_months": term,
                "billing_start_date": start if frequency != "one_time" else None,
            })
        return out
