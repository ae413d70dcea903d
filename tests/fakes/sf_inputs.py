"""Collaborative Forecasts quotas and Campaigns of the fake Salesforce org.

``Dataset(forecast_quarters=N)`` (0: the org has not enabled Collaborative Forecasts, so
ForecastingQuota, ForecastingType and Period do not exist) makes quarterly forecast
``Period`` rows (``026``, Type ``Quarter``, ``IsForecastPeriod``) from the dataset's start,
two ``ForecastingType`` rows (``0Db``: ``OpportunityRevenue``, an amount type, and
``OpportunityLineItemQuantity``, a quantity type) and a ``ForecastingQuota`` (``0J9``) for
every sales user, period and type. As in Salesforce, a quota has no ``IsDeleted`` (no recycle
bin: a deleted quota is gone, reported by getDeleted) and only a ``StartDate``: its end is its
``Period``'s.

``Dataset(campaigns=N)`` makes ``Campaign`` (``701``) rows with the standard ``Type`` picklist,
``StartDate``/``EndDate``, ``ActualCost`` (empty for every fifth: a campaign nobody costed),
``BudgetedCost``, a ``ParentId`` for some and a custom ``Segment__c``; and a third of the
opportunities name one as ``CampaignId`` (Primary Campaign Source).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .sf_data_sales import standard_fields
from .sf_ids import DAY, fmt_date
from .sf_schema import F, Field, ObjectSpec

__all__ = ["InputObjects", "CAMPAIGN_TYPES", "FORECAST_TYPES", "SEGMENTS"]

#: Salesforce's default Campaign Type picklist (a few of its values).
CAMPAIGN_TYPES = ("Advertisement", "Email", "Webinar", "Conference", "Partners", "Other")
#: (DeveloperName, IsAmount, IsQuantity) of the org's forecast types.
FORECAST_TYPES = (("OpportunityRevenue", True, False),
                  ("OpportunityLineItemQuantity", False, True))
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")


def _quarter_start(epoch: int, k: int) -> dt.date:
    first = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).date()
    m = (first.month - 1) // 3 * 3 + 3 * k
    return dt.date(first.year + m // 12, m % 12 + 1, 1)


class InputObjects:
    """Period, ForecastingType, ForecastingQuota and Campaign specs (a mixin of the dataset
    builder; expects ``ds``, ``born``, ``ref``, ``cur``, ``mc``, ``dates``, ``start`` and
    ``user_ids``)."""

    ds: Any
    born: Any
    ref: Any
    cur: Any
    mc: Any
    dates: Any
    start: int
    user_ids: list[str]

    def input_specs(self) -> list[ObjectSpec]:
        """The objects the dataset's switches turn on."""
        specs = []
        if self.ds.forecast_quarters:
            specs += [self.period(), self.forecasting_type(), self.forecasting_quota()]
        if self.ds.campaigns:
            specs.append(self.campaign())
        return specs

    def opportunity_campaign(self, j: int) -> dict[str, Any]:
        """Opportunity ``j``'s ``CampaignId`` (a third of them have one), if campaigns exist."""
        if not self.ds.campaigns:
            return {}
        h = self.born(60, j)[0]
        return {"CampaignId": self.ref("Campaign", h % self.ds.campaigns)
                if h % 3 == 0 else None}

    def opportunity_campaign_field(self) -> list[Field]:
        """``CampaignId`` on Opportunity, where the org has campaigns."""
        return [F("CampaignId", "reference", reference_to=("Campaign",))] \
            if self.ds.campaigns else []

    def period(self) -> ObjectSpec:
        stamp = self.start - 120 * DAY

        def make(k: int) -> dict[str, Any]:
            first = _quarter_start(self.start, k)
            after = _quarter_start(self.start, k + 1)
            return {"Id": self.ref("Period", k), "FiscalYearSettingsId": None,
                    "Type": "Quarter", "StartDate": first.isoformat(),
                    "EndDate": (after - dt.timedelta(days=1)).isoformat(),
                    "IsForecastPeriod": True, "Number": (first.month - 1) // 3 + 1,
                    "PeriodLabel": None, "QuarterLabel": None,
                    **self.dates(stamp, stamp)}
        fields = standard_fields(
            F("FiscalYearSettingsId", "reference", reference_to=("FiscalYearSettings",)),
            F("Type", "picklist", picklist=("Month", "Quarter", "Week", "Year")),
            F("StartDate", "date"), F("EndDate", "date"), F("IsForecastPeriod", "boolean"),
            F("Number", "int"), F("PeriodLabel", "picklist"), F("QuarterLabel", "picklist"),
            deleted=False)
        return ObjectSpec("Period", "026", "Period", "Periods", fields,
                          self.ds.forecast_quarters, make, lambda k: stamp)

    def forecasting_type(self) -> ObjectSpec:
        stamp = self.start - 120 * DAY

        def make(i: int) -> dict[str, Any]:
            name, amount, quantity = FORECAST_TYPES[i]
            return {"Id": self.ref("ForecastingType", i), "DeveloperName": name,
                    "MasterLabel": name, "IsActive": True, "IsAmount": amount,
                    "IsQuantity": quantity, **self.dates(stamp, stamp)}
        fields = standard_fields(
            F("DeveloperName", "string"), F("MasterLabel", "string"), F("IsActive", "boolean"),
            F("IsAmount", "boolean"), F("IsQuantity", "boolean"), deleted=False)
        return ObjectSpec("ForecastingType", "0Db", "Forecasting Type", "Forecasting Types",
                          fields, len(FORECAST_TYPES), make, lambda i: stamp)

    def forecasting_quota(self) -> ObjectSpec:
        reps = self.user_ids[1:]
        per_rep = self.ds.forecast_quarters * len(FORECAST_TYPES)

        def make(i: int) -> dict[str, Any]:
            rep, rest = divmod(i, per_rep)
            k, t = divmod(rest, len(FORECAST_TYPES))
            _, is_amount, is_quantity = FORECAST_TYPES[t]
            h, _, stamp = self.born(61, i)
            created = self.start - 60 * DAY + i * 60
            rec = {"Id": self.ref("ForecastingQuota", i), "QuotaOwnerId": reps[rep],
                   "StartDate": _quarter_start(self.start, k).isoformat(),
                   "PeriodId": self.ref("Period", k),
                   "ForecastingTypeId": self.ref("ForecastingType", t),
                   "IsAmount": is_amount, "IsQuantity": is_quantity,
                   "QuotaAmount": float(50_000 + (h % 20) * 5_000) if is_amount else None,
                   "QuotaQuantity": float(10 + h % 40) if is_quantity else None,
                   "ProductFamily": None, **self.dates(created, max(created, stamp))}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = "USD"
            return rec
        fields = self.mc(standard_fields(
            F("QuotaOwnerId", "reference", reference_to=("User",), relationship="QuotaOwner"),
            F("StartDate", "date"),
            F("PeriodId", "reference", reference_to=("Period",), relationship="Period"),
            F("ForecastingTypeId", "reference", reference_to=("ForecastingType",)),
            F("IsAmount", "boolean"), F("IsQuantity", "boolean"),
            F("QuotaAmount", "currency"), F("QuotaQuantity", "double"),
            F("ProductFamily", "picklist"), deleted=False))
        return ObjectSpec("ForecastingQuota", "0J9", "Forecasting Quota", "Forecasting Quotas",
                          fields, len(reps) * per_rep, make,
                          lambda i: max(self.start - 60 * DAY + i * 60, self.born(61, i)[2]))

    def campaign(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(62, i)
            begin = created + (h >> 8) % (20 * DAY)
            costed = i % 5 != 4
            budget = float(1_000 + (h >> 16) % 50 * 500)
            rec = {"Id": self.ref("Campaign", i), "IsDeleted": False,
                   "Name": f"{CAMPAIGN_TYPES[h % 6]} {fmt_date(begin)[:7]} #{i}",
                   "Type": CAMPAIGN_TYPES[h % 6],
                   "Status": ("Planned", "In Progress", "Completed")[(h >> 24) % 3],
                   "StartDate": fmt_date(begin),
                   "EndDate": fmt_date(begin + (7 + (h >> 28) % 60) * DAY),
                   "ActualCost": round(budget * (0.6 + (h >> 32) % 60 / 100), 2)
                   if costed else None, "BudgetedCost": budget,
                   "IsActive": True, "ParentId": self.ref("Campaign", (h >> 40) % i)
                   if i and h % 7 == 0 else None,
                   "Segment__c": SEGMENTS[(h >> 44) % 3], **self.dates(created, stamp)}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = self.cur(h >> 50)
            return rec
        fields = self.mc(standard_fields(
            F("Name", "string"), F("Type", "picklist", picklist=CAMPAIGN_TYPES),
            F("Status", "picklist", picklist=("Planned", "In Progress", "Completed",
                                              "Aborted")),
            F("StartDate", "date"), F("EndDate", "date"), F("ActualCost", "currency"),
            F("BudgetedCost", "currency"), F("IsActive", "boolean"),
            F("ParentId", "reference", reference_to=("Campaign",), relationship="Parent"),
            F("Segment__c", "picklist", picklist=SEGMENTS)))
        return ObjectSpec("Campaign", "701", "Campaign", "Campaigns", fields,
                          self.ds.campaigns, make, lambda i: self.born(62, i)[2])

