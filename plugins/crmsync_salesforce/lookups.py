"""Small lookups read once per run: stage names → stage ids, currency conversion rates."""

from __future__ import annotations

import datetime as dt

from crmsync_salesforce import soql
from crmsync_salesforce.client import SalesforceClient
from crmsync_salesforce.describe import ObjectDescription

__all__ = ["stage_ids", "Rates"]


def stage_ids(client: SalesforceClient, describe: ObjectDescription | None
              ) -> tuple[dict[str, str], set[str]]:
    """``({StageName: OpportunityStage Id}, {closed stage names})``.

    Opportunity.StageName holds the stage's ``ApiName`` (equal to ``MasterLabel`` unless the
    label was translated or renamed); both are keys, ``ApiName`` winning.
    """
    ids: dict[str, str] = {}
    closed: set[str] = set()
    if describe is None:
        return ids, closed
    fields = [f for f in ("Id", "ApiName", "MasterLabel", "IsClosed") if describe.has(f)]
    text = soql.select("OpportunityStage", fields, order_by=("Id",))
    for rows in client.query_pages(text, what="query OpportunityStage", include_deleted=False):
        for row in rows:
            for key in ("MasterLabel", "ApiName"):  # ApiName wins
                if row.get(key):
                    ids[row[key]] = row["Id"]
                    if row.get("IsClosed"):
                        closed.add(row[key])
    return ids, closed


class Rates:
    """Conversion rates (units per 1 corporate currency) for ``amount_base``."""

    def __init__(self, corporate: str | None, current: dict[str, float],
                 dated: dict[str, list[tuple[str, str | None, float]]]) -> None:
        self.corporate = corporate
        self.current = current
        self.dated = dated

    @classmethod
    def load(cls, client: SalesforceClient, currency_type: ObjectDescription | None,
             dated_rate: ObjectDescription | None) -> Rates:
        """Read CurrencyType and, with Advanced Currency Management, DatedConversionRate
        (``None`` descriptions: the org lacks the object)."""
        corporate, current = None, {}
        dated: dict[str, list[tuple[str, str | None, float]]] = {}
        if currency_type is not None:
            text = soql.select("CurrencyType", ["IsoCode", "ConversionRate", "IsCorporate"],
                               order_by=("IsoCode",))
            for rows in client.query_pages(text, what="query CurrencyType",
                                           include_deleted=False):
                for r in rows:
                    current[r["IsoCode"]] = float(r["ConversionRate"])
                    if r.get("IsCorporate"):
                        corporate = r["IsoCode"]
        if dated_rate is not None:
            text = soql.select("DatedConversionRate",
                               ["IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
                               order_by=("IsoCode", "StartDate"))
            for rows in client.query_pages(text, what="query DatedConversionRate",
                                           include_deleted=False):
                for r in rows:
                    dated.setdefault(r["IsoCode"], []).append(
                        (r["StartDate"], r.get("NextStartDate"), float(r["ConversionRate"])))
        return cls(corporate, current, dated)

    def rate(self, currency: str | None, on: dt.date | None) -> float | None:
        """The rate valid on ``on`` (dated rates), else today's rate."""
        if currency is None:
            return None
        if on is not None:
            day = on.isoformat()
            for start, end, value in self.dated.get(currency, ()):
                if start <= day and (not end or day < end):
                    return value
        return self.current.get(currency)
