"""Small lookups read once per run: stages (names → ids), currency conversion rates, and record
types with their sales processes (see :mod:`crmsync_salesforce.pipelines`).

Their queries (and describe layouts) go together in one composite call (:func:`load`): one API
request for all of them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Deletion, Reject
from crmsync_salesforce import composite, pipelines, soql
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.pipelines import Pipelines

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["Lookups", "Rates", "load", "stage_ids", "OBJECTS", "whole_batch"]

log = logging.getLogger(__name__)

#: The objects the lookups are read from (whose describes :func:`load` needs).
OBJECTS = ("OpportunityStage", "CurrencyType", "DatedConversionRate", "Opportunity")


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
    """What the mappers look up, read once per run.

    :param stages: the OpportunityStage rows (every field the ``stages`` table maps).
    """

    stages: list[dict[str, Any]]
    closed_stages: set[str]
    rates: Rates
    pipelines: Pipelines


def load(client: SalesforceClient, describes: Mapping[str, ObjectDescription | None], *,
         stage_fields: Sequence[str]) -> Lookups:
    """Read the lookups from the objects this org has, in one composite call.

    :param describes: OpportunityStage, CurrencyType, DatedConversionRate and Opportunity
        (``None``: the org lacks it — a single-currency org has neither currency object).
        Record types and sales processes are read when Opportunity has record types.
    :param stage_fields: the OpportunityStage fields to select.
    """
    queries: dict[str, str] = {}
    if describes.get("OpportunityStage") is not None:
        queries["OpportunityStage"] = soql.select("OpportunityStage", stage_fields,
                                                  order_by=("SortOrder", "Id"))
    if describes.get("CurrencyType") is not None:
        queries["CurrencyType"] = soql.select(
            "CurrencyType", ["IsoCode", "ConversionRate", "IsCorporate"], order_by=("IsoCode",))
    if describes.get("DatedConversionRate") is not None:
        queries["DatedConversionRate"] = soql.select(
            "DatedConversionRate", ["IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
            order_by=("IsoCode", "StartDate"))
    opportunity = describes.get("Opportunity")
    record_types = opportunity is not None and opportunity.has_record_types
    gets = []
    if record_types:
        queries["RecordType"] = pipelines.RECORD_TYPE_QUERY
        queries["BusinessProcess"] = pipelines.PROCESS_QUERY
        gets.append(composite.Get("layouts", pipelines.LAYOUTS_PATH))
    answers = composite.get_all(client, [composite.Get(ref, composite.query_path(text))
                                         for ref, text in queries.items()] + gets,
                                what="read lookups") if queries or gets else {}
    rows = {ref: composite.rows(client, answers.get(ref), what=f"query {ref}")
            for ref in queries}
    stages = rows.get("OpportunityStage", [])
    ids, closed = stage_ids(stages)
    layouts = answers.get("layouts")
    if layouts is not None and not layouts.ok:
        log.warning("%s: cannot read Opportunity describe layouts (%s): each sales process "
                    "gets every stage", client.connection, layouts.code or layouts.status)
    return Lookups(
        stages=stages, closed_stages=closed,
        rates=Rates.from_rows(rows.get("CurrencyType", ()), rows.get("DatedConversionRate", ())),
        pipelines=Pipelines.from_org(
            ids, rows.get("RecordType", ()), rows.get("BusinessProcess", ()),
            layouts.body if layouts is not None and layouts.ok else None))


def whole_batch(records: list[dict[str, Any]], rejects: list[Reject], cursor: Any) -> Batch:
    """A small entity read whole: its records, and a deletion for each record the previous
    run stored that is gone now (the cursor keeps the ids stored)."""
    ids = sorted(str(r["remote_id"]) for r in records)
    gone = sorted(set((cursor or {}).get("ids") or ()) - set(ids))
    return Batch(records=records, rejects=rejects, cursor={"ids": ids},
                 deleted=[Deletion(remote_id=i) for i in gone])
