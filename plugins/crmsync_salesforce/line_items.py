"""Products and opportunity line items: ``Product2`` → ``products`` and
``OpportunityLineItem`` → ``opportunity_line_items`` (docs/connectors/salesforce.md,
"Products and line items").

Both are read like every other object (incremental on ``SystemModstamp``, ``queryAll`` for
soft deletes, getDeleted for purged rows, REST or Bulk by size). An org without Products
(the object is missing or this user cannot read it) is skipped with one log line, as every
object the org lacks is. Quirks handled here:

* **Discount** is a percentage on the line (``TotalPrice = UnitPrice × Quantity × (1 −
  Discount/100)``); the schema keeps the discount as an amount.
* **Billing frequency.** Standard Salesforce has no billing-frequency field on a line item.
  A product with a *repeating* revenue schedule (``RevenueScheduleType = Repeat``: the line's
  revenue recurs every installment) bills every ``RevenueInstallmentPeriod`` for
  ``NumberOfRevenueInstallments`` periods: that is the product's ``billing_frequency`` and
  ``term_months``, which lines without their own inherit. Orgs with a billing package (CPQ's
  ``SBQQ__BillingFrequency__c`` / ``SBQQ__SubscriptionTerm__c``, or their own fields) map
  them with ``field_map``; the usual labels (``Monthly``, ``Annual``, ``Semiannual``…) are
  normalised to the schema's values.
* **Service date.** ``ServiceDate`` (when the service starts) is the line's
  ``billing_start_date``.
* Revenue schedule *rows* (``OpportunityLineItemSchedule``) are not read: an installment
  edited by hand is not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crmsync_salesforce.mapping import MappingContext, Unmappable, base_record

__all__ = ["MAPPERS", "STANDARD_FIELDS", "OPTIONAL_FIELDS", "product", "line_item",
           "frequency_of"]

#: The standard fields each mapper reads.
STANDARD_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Product2": ("Name", "ProductCode", "Family", "Description", "IsActive"),
    "OpportunityLineItem": ("OpportunityId", "Product2Id", "Name", "Quantity", "UnitPrice",
                            "Discount", "TotalPrice", "ServiceDate"),
}
#: Read where the org has them (revenue schedules are a setting; currencies a feature).
OPTIONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Product2": ("CanUseRevenueSchedule", "RevenueScheduleType", "RevenueInstallmentPeriod",
                 "NumberOfRevenueInstallments", "CurrencyIsoCode"),
    "OpportunityLineItem": ("CurrencyIsoCode",),
}

#: Salesforce's revenue installment periods → (billing frequency, months per period).
_INSTALLMENTS = {"Weekly": ("weekly", 12 / 52), "Monthly": ("monthly", 1),
                 "Quarterly": ("quarterly", 3), "Yearly": ("annually", 12)}
#: Labels billing packages and admins use → the schema's billing frequencies.
_SYNONYMS = {"one-time": "one_time", "one time": "one_time", "onetime": "one_time",
             "once": "one_time", "week": "weekly", "bi-weekly": "biweekly", "month": "monthly",
             "quarter": "quarterly", "semiannual": "per_six_months",
             "semi-annual": "per_six_months", "semiannually": "per_six_months",
             "half-yearly": "per_six_months", "annual": "annually", "yearly": "annually",
             "year": "annually", "invoice plan": None}


def frequency_of(value: Any) -> str | None:
    """A billing frequency label as the schema spells it (unknown labels are kept, so the
    engine rejects them naming the field)."""
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    return _SYNONYMS.get(text, text.replace(" ", "_"))


def _float(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unmappable(name, f"expected a number, got {value!r}") from None


def _with(raw: Mapping[str, Any], ctx: MappingContext, columns: dict[str, Any]
          ) -> dict[str, Any]:
    record = base_record(raw, ctx)
    for key, value in columns.items():
        record.setdefault(key, value)  # a field_map target wins over the default mapping
    if "billing_frequency" in record:
        record["billing_frequency"] = frequency_of(record["billing_frequency"])
    return record


def _schedule(raw: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(billing frequency, term in months) of a product's repeating revenue schedule."""
    if not raw.get("CanUseRevenueSchedule") or raw.get("RevenueScheduleType") != "Repeat":
        return None, None
    period = _INSTALLMENTS.get(str(raw.get("RevenueInstallmentPeriod") or ""))
    if period is None:  # Daily installments: no monthly equivalent worth guessing
        return None, None
    count = _float(raw.get("NumberOfRevenueInstallments"), "NumberOfRevenueInstallments")
    return period[0], round(count * period[1]) if count else None


def product(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Product2 → products (``Family`` is the product line)."""
    frequency, term = _schedule(raw)
    return _with(raw, ctx, {
        "name": raw.get("Name"), "code": raw.get("ProductCode"), "family": raw.get("Family"),
        "description": raw.get("Description"), "is_active": raw.get("IsActive"),
        "currency": raw.get("CurrencyIsoCode") if ctx.multi_currency else None,
        "billing_frequency": frequency, "term_months": term,
    })


def line_item(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """OpportunityLineItem → opportunity_line_items (``TotalPrice`` is the net amount)."""
    quantity = _float(raw.get("Quantity"), "Quantity")
    price = _float(raw.get("UnitPrice"), "UnitPrice")
    percent = _float(raw.get("Discount"), "Discount")
    discount = None
    if percent is not None and price is not None and quantity is not None:
        discount = price * quantity * percent / 100.0
    return _with(raw, ctx, {
        "opportunity_id": raw.get("OpportunityId"), "product_id": raw.get("Product2Id"),
        "name": raw.get("Name"), "quantity": quantity, "unit_price": price,
        "discount": discount, "amount": _float(raw.get("TotalPrice"), "TotalPrice"),
        "currency": raw.get("CurrencyIsoCode") if ctx.multi_currency else None,
        "billing_start_date": raw.get("ServiceDate"),
    })


MAPPERS: Mapping[str, Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]] = {
    "Product2": product, "OpportunityLineItem": line_item,
}
