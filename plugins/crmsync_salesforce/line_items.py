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
* **Revenue schedules.** A line with ``HasRevenueSchedule`` has installments in
  ``OpportunityLineItemSchedule`` (read for each page's scheduled lines, 150 lines a query,
  where the org has the object): the line bills every gap between installments (1 month →
  ``monthly``, 3 → ``quarterly``, 6 → ``per_six_months``, 12 → ``annually``), from the first
  ``ScheduleDate``, for installments × gap months, each period's amount the schedule's total ÷
  installments. A ``field_map`` target still wins. An installment edited by hand changes
  neither the line's nor the schedule's ``SystemModstamp`` the next incremental read goes by
  until the line itself changes.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crmsync_salesforce import soql
from crmsync_salesforce.mapping import MappingContext, Unmappable, base_record

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["MAPPERS", "STANDARD_FIELDS", "OPTIONAL_FIELDS", "number", "product", "line_item",
           "frequency_of", "attach_schedules", "SCHEDULE", "SCHEDULE_KEY"]

#: The object holding revenue-schedule installments.
SCHEDULE = "OpportunityLineItemSchedule"
#: Where :func:`attach_schedules` puts a line's installments in its raw row.
SCHEDULE_KEY = "_crmsync_schedule"
#: Months between installments → billing frequency.
_GAPS = {1: "monthly", 3: "quarterly", 6: "per_six_months", 12: "annually", 24: "per_two_years"}

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
    "OpportunityLineItem": ("CurrencyIsoCode", "HasRevenueSchedule"),
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


def number(value: Any, name: str) -> float | None:
    """``value`` as a number; None when empty; a value that is no number is rejected naming
    ``name``."""
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
    count = number(raw.get("NumberOfRevenueInstallments"), "NumberOfRevenueInstallments")
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


def attach_schedules(client: SalesforceClient, rows: Sequence[dict[str, Any]]) -> None:
    """Put each scheduled line's installments ``[(ScheduleDate, Revenue)]`` under
    :data:`SCHEDULE_KEY` in its row, in place: one query per 150 scheduled lines."""
    ids = [str(r["Id"]) for r in rows if r.get("HasRevenueSchedule") and not r.get("IsDeleted")]
    found: dict[str, list[tuple[str, float]]] = {i: [] for i in ids}
    for start in range(0, len(ids), soql.IDS_PER_QUERY):
        where = soql.in_ids("OpportunityLineItemId", ids[start:start + soql.IDS_PER_QUERY])
        text = soql.select(SCHEDULE, ["OpportunityLineItemId", "ScheduleDate", "Revenue"],
                           where=f"{where} AND Revenue != null",
                           order_by=("OpportunityLineItemId", "ScheduleDate"))
        for page in client.query_pages(text, what=f"query {SCHEDULE}", include_deleted=False):
            for r in page:
                found[str(r["OpportunityLineItemId"])].append(
                    (str(r["ScheduleDate"]), float(r["Revenue"])))
    for r in rows:
        if str(r.get("Id")) in found:
            r[SCHEDULE_KEY] = found[str(r["Id"])]


def _months_between(a: str, b: str) -> int:
    d1, d2 = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
    return (d2.year - d1.year) * 12 + d2.month - d1.month


def _from_schedule(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Billing columns from a line's installments (none: nothing)."""
    installments = raw.get(SCHEDULE_KEY) or []
    if len(installments) < 2:
        return {}
    gaps = sorted(_months_between(a[0], b[0]) for a, b in itertools.pairwise(installments))
    gap = gaps[len(gaps) // 2]
    if gap not in _GAPS:
        return {}
    total = sum(revenue for _, revenue in installments)
    return {"billing_frequency": _GAPS[gap], "term_months": gap * len(installments),
            "billing_start_date": installments[0][0],
            "amount": round(total / len(installments), 2)}


def line_item(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """OpportunityLineItem → opportunity_line_items (``TotalPrice`` is the net amount; a
    revenue schedule's installments give the billing columns)."""
    quantity = number(raw.get("Quantity"), "Quantity")
    price = number(raw.get("UnitPrice"), "UnitPrice")
    percent = number(raw.get("Discount"), "Discount")
    discount = None
    if percent is not None and price is not None and quantity is not None:
        discount = price * quantity * percent / 100.0
    return _with(raw, ctx, {
        "opportunity_id": raw.get("OpportunityId"), "product_id": raw.get("Product2Id"),
        "name": raw.get("Name"), "quantity": quantity, "unit_price": price,
        "discount": discount, "amount": number(raw.get("TotalPrice"), "TotalPrice"),
        "currency": raw.get("CurrencyIsoCode") if ctx.multi_currency else None,
        "billing_start_date": raw.get("ServiceDate"), **_from_schedule(raw),
    })


MAPPERS: Mapping[str, Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]] = {
    "Product2": product, "OpportunityLineItem": line_item,
}
