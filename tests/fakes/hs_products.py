"""Products and line items of the fake portal (HubSpot's ``products`` and ``line_items``
objects), generated like every other record: a pure function of ``(seed, index)``.

Shapes follow HubSpot's documented properties: ``price``, ``quantity``, ``amount`` and
``discount`` are number strings, ``recurringbillingfrequency`` one of HubSpot's values (empty
for one-time lines), ``hs_recurring_billing_period`` an ISO 8601 duration (``P12M``),
``hs_recurring_billing_start_date`` a date (midnight UTC). Every line item belongs to one deal
(association types 20 line item → deal, 19 deal → line item). Reading either object needs the
``e-commerce`` scope: without it, 403 ``MISSING_SCOPES`` as HubSpot answers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TYPES", "SCOPE", "PROPERTIES", "FAMILIES", "product", "line_item",
           "line_item_deal", "missing_scope"]

TYPES = ("products", "line_items")
SCOPE = "e-commerce"
FAMILIES = ("Analytics", "Platform", "Services")
#: (name, family, price, billing frequency or None, term)
_CATALOGUE = (("Analytics Pro", "Analytics", 120.0, "monthly", "P12M"),
              ("Analytics Enterprise", "Analytics", 9600.0, "annually", "P36M"),
              ("Platform Core", "Platform", 1500.0, "quarterly", "P12M"),
              ("Platform Add-on", "Platform", 40.0, "monthly", None),
              ("Onboarding", "Services", 5000.0, None, None),
              ("Premium Support", "Services", 2400.0, "per_six_months", "P1Y"))

S, N, DT, D, E = "string", "number", "datetime", "date", "enumeration"
#: name → (type, group, calculated) per object type, as hs_schema.SPECIFIC holds them.
PROPERTIES: dict[str, dict[str, tuple[str, str, bool]]] = {
    "products": {"name": (S, "productinformation", False),
                 "hs_sku": (S, "productinformation", False),
                 "description": (S, "productinformation", False),
                 "price": (N, "productinformation", False),
                 "recurringbillingfrequency": (E, "productinformation", False),
                 "hs_recurring_billing_period": (S, "productinformation", False)},
    "line_items": {"name": (S, "lineiteminformation", False),
                   "hs_product_id": (E, "lineiteminformation", False),
                   "quantity": (N, "lineiteminformation", False),
                   "price": (N, "lineiteminformation", False),
                   "discount": (N, "lineiteminformation", False),
                   "hs_total_discount": (N, "lineiteminformation", True),
                   "amount": (N, "lineiteminformation", True),
                   "hs_line_item_currency_code": (E, "lineiteminformation", False),
                   "recurringbillingfrequency": (E, "lineiteminformation", False),
                   "hs_recurring_billing_period": (S, "lineiteminformation", False),
                   "hs_recurring_billing_start_date": (D, "lineiteminformation", False),
                   "hs_mrr": (N, "lineiteminformation", True)},
}
#: Custom properties: HubSpot products have no standard product line.
CUSTOM = {"products": {"product_line": (E, "productinformation", FAMILIES, False)}}


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def product(gen: Any, i: int) -> dict[str, str | None]:
    """The generated properties of product ``i`` (the catalogue, repeated with suffixes)."""
    name, family, price, frequency, term = _CATALOGUE[i % len(_CATALOGUE)]
    suffix = f" {i // len(_CATALOGUE) + 1}" if i >= len(_CATALOGUE) else ""
    return {"name": name + suffix, "hs_sku": f"SKU-{i:04d}", "description": f"{name} plan",
            "price": _number(price), "recurringbillingfrequency": frequency,
            "hs_recurring_billing_period": term, "product_line": family}


def line_item(gen: Any, i: int) -> dict[str, str | None]:
    """The generated properties of line item ``i``: one catalogue product, 1-20 units."""
    from fakes.hs_data import DAY_MS, iso, mix

    h = mix(i, gen.salt + 300)
    n_products = max(gen.ds.count("products"), 1)
    p = h % n_products
    _, _, price, frequency, term = _CATALOGUE[p % len(_CATALOGUE)]
    quantity = 1 + (h >> 8) % 20
    per_unit = (price * ((h >> 16) % 3) * 5) / 100  # 0, 5 or 10 % off
    amount = quantity * (price - per_unit)
    start = gen.created_ms("line_items", i)
    return {"name": _CATALOGUE[p % len(_CATALOGUE)][0],
            "hs_product_id": str(ID_BASE + p * STRIDE), "quantity": str(quantity),
            "price": _number(price), "discount": _number(per_unit),
            "hs_total_discount": _number(per_unit * quantity), "amount": _number(amount),
            "hs_line_item_currency_code": "USD",
            "recurringbillingfrequency": frequency, "hs_recurring_billing_period": term,
            "hs_recurring_billing_start_date": (iso(start - start % DAY_MS) if frequency
                                                else None),
            "hs_mrr": None}


#: Product ids (line items name theirs in ``hs_product_id``).
ID_BASE, STRIDE = 1_500_000_001, 3


def line_item_deal(gen: Any, i: int) -> list[int]:
    """The deal index of line item ``i`` (two line items per deal on average)."""
    from fakes.hs_data import mix

    deals = gen.ds.count("deals")
    return [mix(i, gen.salt + 301) % deals] if deals else []


def missing_scope(portal: Any, args: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """HubSpot's 403 when a request touches products or line items without the scope."""
    touched = {args.get("type"), args.get("from_type"), args.get("to_type")}
    if SCOPE in portal.scopes or not touched & set(TYPES):
        return None
    from fakes.hs_api import error

    return error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to "
                 "make this call. Read more about required scopes here: "
                 "https://developers.hubspot.com/scopes.",
                 errors=[{"message": "One or more of the following scopes are required.",
                          "context": {"requiredGranularScopes": [SCOPE]}}],
                 links={"scopes": "https://developers.hubspot.com/scopes"})
