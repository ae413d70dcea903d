"""Small lookups read once per run: stage names → stage ids, currency conversion rates.

Their queries go together in one composite call (:func:`load`), one API request for all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync_salesforce import composite, soql
from crmsync_salesforce.client import SalesforceClient
from crmsync_salesforce.describe import ObjectDescription

__all__ = ["Lookups", "Rates", "load", "stage_ids", "OBJECTS"]

#: The objects the lookups are read from.
OBJECTS = ("OpportunityStage", "CurrencyType", "DatedConversionRate")


def stage_ids(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], set[str]]:
    """``({StageName: OpportunityStage Id}, {closed stage names})`` from OpportunityStage rows.

    Opportunity.StageName holds the stage's ``ApiName`` (equal to ``MasterLabel`` unless the
    label was translated or renamed); both are keys, ``ApiName`` winning.
    """
    ids: dict[str, str] = {}
    closed: set[str] = set()
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
    def from_rows(cls, currency_types: Sequence[Mapping[str, Any]],
                  dated_rates: Sequence[Mapping[str, Any]]) -> Rates:
        """From CurrencyType rows and (Advanced Currency Management) DatedConversionRate rows
        ordered by ``IsoCode, StartDate``."""
        corporate, current = None, {}
        for r in currency_types:
            current[r["IsoCode"]] = float(r["ConversionRate"])
            if r.get("IsCorporate"):
                corporate = r["IsoCode"]
        dated: dict[str, list[tuple[str, str | None, float]]] = {}
        for r in dated_rates:
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


@dataclass
class Lookups:
    """What the mappers look up, read once per run."""

    stage_ids: dict[str, str]
    closed_stages: set[str]
    rates: Rates


def load(client: SalesforceClient, describes: Mapping[str, ObjectDescription | None]
         ) -> Lookups:
    """Read the lookups (one composite call) from the objects this org has.

    :param describes: OpportunityStage, CurrencyType and DatedConversionRate (``None``: the
        org lacks it — a single-currency org has neither currency object).
    """
    queries: dict[str, str] = {}
    stage = describes.get("OpportunityStage")
    if stage is not None:
        fields = [f for f in ("Id", "ApiName", "MasterLabel", "IsClosed") if stage.has(f)]
        queries["OpportunityStage"] = soql.select("OpportunityStage", fields, order_by=("Id",))
    if describes.get("CurrencyType") is not None:
        queries["CurrencyType"] = soql.select(
            "CurrencyType", ["IsoCode", "ConversionRate", "IsCorporate"], order_by=("IsoCode",))
    if describes.get("DatedConversionRate") is not None:
        queries["DatedConversionRate"] = soql.select(
            "DatedConversionRate", ["IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
            order_by=("IsoCode", "StartDate"))
    rows = composite.query_all(client, queries, what="read lookups") if queries else {}
    ids, closed = stage_ids(rows.get("OpportunityStage", ()))
    rates = Rates.from_rows(rows.get("CurrencyType", ()), rows.get("DatedConversionRate", ()))
    return Lookups(stage_ids=ids, closed_stages=closed, rates=rates)
