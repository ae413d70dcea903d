"""Product2 (``01t``) and OpportunityLineItem (``00k``) of the fake Salesforce org, behind
``Dataset(products=N)`` (0: neither object exists, as in an org that never enabled Products or
whose user cannot read them).

Fields as Salesforce's object reference lists them: a product's ``Family`` (picklist),
``ProductCode``, ``IsActive`` and revenue-schedule settings (``CanUseRevenueSchedule``,
``RevenueScheduleType`` ``Repeat``/``Divide``, ``RevenueInstallmentPeriod``,
``NumberOfRevenueInstallments``); a line item's ``Quantity``, ``UnitPrice``, ``Discount`` (a
percentage), ``TotalPrice`` (net), ``ServiceDate`` and, in multi-currency orgs,
``CurrencyIsoCode``. Line item ``i`` belongs to opportunity ``i // line_items_per_opportunity``
and is looked up by ``OpportunityId``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from array import array
from typing import Any

from .sf_data_sales import standard_fields
from .sf_schema import F, ObjectSpec

__all__ = ["ProductObjects", "FAMILIES", "CATALOGUE", "PERIOD_MONTHS"]

PERIOD_MONTHS = {"Monthly": 1, "Quarterly": 3, "Yearly": 12}

FAMILIES = ("Analytics", "Platform", "Services")
#: (name, family, list price, revenue schedule: (type, period, installments) or None)
CATALOGUE = (("Analytics Pro", "Analytics", 120.0, ("Repeat", "Monthly", 12)),
             ("Analytics Enterprise", "Analytics", 9600.0, ("Repeat", "Yearly", 3)),
             ("Platform Core", "Platform", 1500.0, ("Repeat", "Quarterly", 4)),
             ("Platform Add-on", "Platform", 40.0, ("Divide", "Monthly", 12)),
             ("Onboarding", "Services", 5000.0, None),
             ("Premium Support", "Services", 2400.0, ("Repeat", "Yearly", 1)))


class ProductObjects:
    """Product2 and OpportunityLineItem specs (a mixin of the dataset builder; expects
    ``ds``, ``born``, ``ref``, ``cur`` and ``mc``)."""

    ds: Any
    born: Any
    ref: Any
    cur: Any
    mc: Any

    def product2(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, family, _, schedule = CATALOGUE[i % len(CATALOGUE)]
            _, created, stamp = self.born(40, i)
            kind, period, count = schedule or (None, None, None)
            rec = {"Id": self.ref("Product2", i), "IsDeleted": False,
                   "Name": name if i < len(CATALOGUE) else f"{name} {i}",
                   "ProductCode": f"SKU-{i:04d}", "Family": family,
                   "Description": f"{name} plan", "IsActive": i % 11 != 10,
                   "CanUseRevenueSchedule": schedule is not None,
                   "RevenueScheduleType": kind, "RevenueInstallmentPeriod": period,
                   "NumberOfRevenueInstallments": count,
                   **self._dates(created, stamp)}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = "USD"
            return rec
        fields = self.mc(standard_fields(
            F("Name", "string"), F("ProductCode", "string"),
            F("Family", "picklist", picklist=FAMILIES), F("Description", "textarea"),
            F("IsActive", "boolean"), F("CanUseRevenueSchedule", "boolean"),
            F("RevenueScheduleType", "picklist", picklist=("Repeat", "Divide")),
            F("RevenueInstallmentPeriod", "picklist",
              picklist=("Daily", "Weekly", "Monthly", "Quarterly", "Yearly")),
            F("NumberOfRevenueInstallments", "int")))
        return ObjectSpec("Product2", "01t", "Product", "Products", fields, self.ds.products,
                          make, lambda i: self.born(40, i)[2])

    def line_item(self) -> ObjectSpec:
        per = max(1, self.ds.line_items_per_opportunity)
        n = self.ds.opportunities * per

        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(41, i)
            p = h % self.ds.products
            name, _, price, _ = CATALOGUE[p % len(CATALOGUE)]
            quantity = 1 + (h >> 8) % 20
            discount = ((h >> 16) % 3) * 5.0
            installments = self.installments(i)
            total = round(quantity * price * (1 - discount / 100), 2)
            rec = {"Id": self.ref("OpportunityLineItem", i), "IsDeleted": False,
                   "OpportunityId": self.ref("Opportunity", i // per),
                   "Product2Id": self.ref("Product2", p), "Name": name,
                   "Quantity": float(quantity), "UnitPrice": price, "Discount": discount,
                   "TotalPrice": round(sum(r for _, r in installments), 2) if installments
                   else total, "HasRevenueSchedule": bool(installments),
                   "ServiceDate": self._day(created), **self._dates(created, stamp)}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = self.cur(h >> 40)
            return rec

        def children(opp_id: str) -> list[int]:
            from .sf_ids import parse_id

            parsed = parse_id(opp_id)
            if not parsed or parsed[0] != "006" or parsed[1] >= self.ds.opportunities:
                return []
            return list(range(parsed[1] * per, parsed[1] * per + per))
        fields = self.mc(standard_fields(
            F("OpportunityId", "reference", reference_to=("Opportunity",), updateable=False),
            F("Product2Id", "reference", reference_to=("Product2",), updateable=False),
            F("Name", "string", updateable=False), F("Quantity", "double"),
            F("UnitPrice", "currency"), F("Discount", "percent"),
            F("TotalPrice", "currency"), F("ServiceDate", "date"),
            F("HasRevenueSchedule", "boolean", updateable=False)))
        return ObjectSpec("OpportunityLineItem", "00k", "Opportunity Product",
                          "Opportunity Product", fields, n if self.ds.products else 0, make,
                          lambda i: self.born(41, i)[2], {"OpportunityId": children})

    def installments(self, i: int) -> list[tuple[str, float]]:
        """``(ScheduleDate, Revenue)`` of line item ``i``'s revenue schedule (its product's:
        ``Repeat`` installments of the line's price, ``Divide`` ones splitting it)."""
        h, created, _ = self.born(41, i)
        _, _, price, schedule = CATALOGUE[(h % self.ds.products) % len(CATALOGUE)]
        if schedule is None:
            return []
        kind, period, count = schedule
        quantity, discount = 1 + (h >> 8) % 20, ((h >> 16) % 3) * 5.0
        line = round(quantity * price * (1 - discount / 100), 2)
        each = line if kind == "Repeat" else round(line / count, 2)
        start = dt.date.fromisoformat(self._day(created))
        out = []
        for k in range(count):
            m = start.month - 1 + k * PERIOD_MONTHS[period]
            out.append((dt.date(start.year + m // 12, m % 12 + 1, min(start.day, 28))
                        .isoformat(), each))
        return out

    def line_item_schedule(self) -> ObjectSpec:
        per = max(1, self.ds.line_items_per_opportunity)
        n_lines = self.ds.opportunities * per
        rows_of = functools.lru_cache(maxsize=8192)(self.installments)
        starts = array("I", [0])
        for j in range(n_lines):
            starts.append(starts[-1] + len(rows_of(j)))

        def locate(i: int) -> tuple[int, int]:
            j = bisect.bisect_right(starts, i) - 1
            return j, i - starts[j]

        def make(i: int) -> dict[str, Any]:
            j, k = locate(i)
            day, revenue = rows_of(j)[k]
            _, created, stamp = self.born(41, j)
            return {"Id": self.ref("OpportunityLineItemSchedule", i), "IsDeleted": False,
                    "OpportunityLineItemId": self.ref("OpportunityLineItem", j),
                    "Type": "Revenue", "ScheduleDate": day, "Revenue": revenue,
                    "Quantity": None, **self._dates(created, stamp)}

        def children(line_id: str) -> list[int]:
            from .sf_ids import parse_id

            parsed = parse_id(line_id)
            if not parsed or parsed[0] != "00k" or parsed[1] >= n_lines:
                return []
            return list(range(starts[parsed[1]], starts[parsed[1] + 1]))
        fields = standard_fields(
            F("OpportunityLineItemId", "reference", reference_to=("OpportunityLineItem",),
              updateable=False),
            F("Type", "picklist", picklist=("Quantity", "Revenue", "Both")),
            F("ScheduleDate", "date"), F("Revenue", "currency"), F("Quantity", "double"))
        return ObjectSpec("OpportunityLineItemSchedule", "00o", "Opportunity Product Schedule",
                          "Opportunity Product Schedules", fields,
                          starts[-1] if self.ds.products else 0, make,
                          lambda i: self.born(41, locate(i)[0])[2],
                          {"OpportunityLineItemId": children})

    def _dates(self, created: int, stamp: int) -> dict[str, Any]:
        return self.dates(created, stamp)  # type: ignore[attr-defined,no-any-return]

    def _day(self, epoch: int) -> str:
        from .sf_ids import fmt_date

        return fmt_date(epoch)
