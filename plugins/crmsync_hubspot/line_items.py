"""Products and line items: HubSpot's ``products`` and ``line_items`` objects → ``products``
and ``opportunity_line_items`` (docs/connectors/hubspot.md, "Products and line items").

Both are read like the other CRM objects — search on ``hs_lastmodifieddate``, custom
properties into ``custom``, the ``archived=true`` pass for deletions — and line items with
their deal association (v4 batch read, 1,000 line items a call). Quirks handled here:

* **Scope.** Products and line items need the app's ``e-commerce`` scope; without it HubSpot
  answers 403 ``MISSING_SCOPES``. The entity is then skipped with one log line (no rows, no
  error): the rest of the sync goes on.
* **Recurring billing.** ``recurringbillingfrequency`` uses exactly the schema's values
  (``monthly``, ``annually``, ``per_six_months``…); empty means a one-time line.
  ``hs_recurring_billing_period`` is the term as an ISO 8601 duration (``P12M``, ``P1Y``,
  ``P36M``) and becomes ``term_months``; ``hs_recurring_billing_start_date`` is a date.
* **Amounts.** ``amount`` is the line's net amount per billing period (price × quantity −
  discounts); ``hs_total_discount`` the discount over the line (else ``discount`` per unit ×
  ``quantity``).
* **No deal.** A line item on a quote or an invoice only (no deal association) is not an
  opportunity line item: it is left out.
* **No product family.** HubSpot products have no standard product-line property: map one
  with ``field_map`` (``[connections.X.field_map.products] product_line = "family"``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from crmsync import Batch, ConnectorError
from crmsync_hubspot.values import _text, associated_ids, number, when

__all__ = ["product_to_product", "line_item_to_line_item", "term_months", "without_scope",
           "SCOPE", "OBJECT_TYPES"]

log = logging.getLogger(__name__)

#: The scope a private or OAuth app needs to read products and line items.
SCOPE = "e-commerce"
#: Schema table → HubSpot object type.
OBJECT_TYPES = {"products": "products", "opportunity_line_items": "line_items"}
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?", re.IGNORECASE)
_FORBIDDEN = re.compile(r"\bHTTP 403\b")


def term_months(props: Mapping[str, Any], name: str = "hs_recurring_billing_period"
                ) -> int | None:
    """An ISO 8601 duration property (``P12M``, ``P1Y``, ``P2Y6M``) in whole months (weeks and
    days are rounded to months of 30.44 days); ``None`` when empty or not a duration."""
    value = _text(props, name)
    match = _DURATION.fullmatch(value.strip()) if value else None
    if match is None or not any(match.groups()):
        return None
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    return years * 12 + months + round((weeks * 7 + days) / 30.44)


def _frequency(props: Mapping[str, Any]) -> str | None:
    value = _text(props, "recurringbillingfrequency")
    return value.strip().lower() if value else None


def _date(props: Mapping[str, Any], name: str) -> str | None:
    at = when(props, name)
    return at.date().isoformat() if at is not None else None


def _base(record: Mapping[str, Any]) -> dict[str, Any]:
    props = record.get("properties") or {}
    return {"remote_id": str(record["id"]),
            "remote_created_at": when(props, "createdate") or record.get("createdAt"),
            "remote_updated_at": when(props, "hs_lastmodifieddate") or record.get("updatedAt")}


def product_to_product(record: Mapping[str, Any]) -> dict[str, Any]:
    """A HubSpot product → ``products`` (live products are active; archived ones are
    deleted by the archived pass)."""
    props = record.get("properties") or {}
    frequency = _frequency(props)
    return {**_base(record), "name": _text(props, "name"), "code": _text(props, "hs_sku"),
            "description": _text(props, "description"), "is_active": True,
            "unit_price": number(props, "price"), "billing_frequency": frequency,
            "term_months": term_months(props) if frequency else None}


def line_item_to_line_item(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """A HubSpot line item → ``opportunity_line_items``; ``None`` without a deal."""
    deals = associated_ids(record, "deals")
    if not deals:
        return None
    props = record.get("properties") or {}
    quantity = number(props, "quantity")
    discount = number(props, "hs_total_discount")
    per_unit = number(props, "discount")
    if discount is None and per_unit is not None and quantity is not None:
        discount = per_unit * quantity
    frequency = _frequency(props)
    return {**_base(record), "opportunity_id": deals[0],
            "product_id": _text(props, "hs_product_id"), "name": _text(props, "name"),
            "quantity": quantity, "unit_price": number(props, "price"), "discount": discount,
            "amount": number(props, "amount"),
            "currency": _text(props, "hs_line_item_currency_code"),
            "billing_frequency": frequency or "one_time",
            "term_months": term_months(props) if frequency else None,
            "billing_start_date": (_date(props, "hs_recurring_billing_start_date")
                                   if frequency else None)}


def without_scope(read: Callable[[], Iterator[Batch]], *, connection: str, entity: str,
                  scope: str = SCOPE) -> Iterator[Batch]:
    """``read()``'s batches; a 403 (the app lacks ``scope``, by default ``e-commerce``)
    before the first batch ends the entity with one log line instead of an error."""
    first = True
    try:
        for batch in read():
            first = False
            yield batch
    except ConnectorError as exc:
        if not (first and _FORBIDDEN.search(str(exc))):
            raise
        log.warning("%s: skipping %s: the HubSpot app lacks the %r scope (%s)", connection,
                    entity, scope, exc)
