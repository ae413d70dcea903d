"""KPI inputs from the org itself: ``ForecastingQuota`` → ``quotas`` and ``Campaign`` →
``spend`` (docs/connectors/salesforce.md, "Quotas and campaign spend").

Both are read like every other object (incremental on ``SystemModstamp``, REST or Bulk by
size, getDeleted for deletions; Campaign also ``queryAll`` for the recycle bin). An org
without Collaborative Forecasts or Campaigns, or a user who may not read them (describe
answers ``NOT_FOUND``/``INVALID_TYPE``, a query ``INSUFFICIENT_ACCESS``), is skipped with
one log line (:data:`NOT_READABLE`). Quirks handled here:

* **One forecast type.** An org with several forecast types (opportunity revenue, splits,
  product families…) keeps one quota per owner, period *and type*: summing them would count
  a rep's target several times. Only the quotas of the ``forecast_type`` setting
  (``ForecastingType.DeveloperName``, default ``OpportunityRevenue``) become rows; the
  others are :class:`NotAnInput`.
* **Amount or quantity.** A quota of a revenue forecast type (``IsAmount``) is
  ``QuotaAmount``; of a quantity type (``IsQuantity`` without ``IsAmount``) ``QuotaQuantity``,
  with no currency and ``custom.quota_unit = quantity``.
* **Period end.** A quota has only ``StartDate``; its period is ``PeriodId``, a row of
  ``Period`` (the org's fiscal-year settings: month, quarter or year, whatever the forecast
  period is), read through the relationship ``Period.EndDate``. A quota without one cannot
  say when it ends: a reject naming ``PeriodId``.
* **Team.** The owner's role (``QuotaOwner.UserRole.Name``), as ``users.team`` is.
* **Campaign cost.** ``ActualCost`` is the campaign's own cost (``ActualCostInHierarchy``
  adds the children's: never read, so a parent and its children are not counted twice). A
  campaign without ``ActualCost`` has spent nothing known — not zero — and is not a spend
  row (:class:`NotAnInput`; one stored before is marked deleted). ``BudgetedCost`` and the
  campaign's ``Name`` are kept in ``custom``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync import Batch, ConnectorError
from crmsync_salesforce.line_items import number
from crmsync_salesforce.mapping import MappingContext, Unmappable, base_record, related

__all__ = ["MAPPERS", "STANDARD_FIELDS", "OPTIONAL_FIELDS", "NOT_READABLE", "NotAnInput",
           "InputContext", "forecasting_quota", "campaign", "DEFAULT_FORECAST_TYPE",
           "unless_unreadable"]

log = logging.getLogger(__name__)

#: Error codes meaning "this user cannot read the object": skipped with a note, not an error.
NOT_READABLE = frozenset({"INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY",
                          "INVALID_TYPE", "NOT_FOUND"})
#: The forecast type whose quotas are read unless ``forecast_type`` names another.
DEFAULT_FORECAST_TYPE = "OpportunityRevenue"

#: The standard fields each mapper reads.
STANDARD_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ForecastingQuota": ("QuotaOwnerId", "StartDate", "QuotaAmount", "QuotaQuantity",
                         "IsAmount", "IsQuantity", "PeriodId", "Period.EndDate",
                         "ForecastingTypeId", "ForecastingType.DeveloperName",
                         "QuotaOwner.UserRole.Name"),
    "Campaign": ("Name", "Type", "Status", "StartDate", "EndDate", "ActualCost",
                 "BudgetedCost"),
}
#: Read where the org has them (currencies are a feature; product-family forecasts a setting).
OPTIONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ForecastingQuota": ("CurrencyIsoCode", "ProductFamily"),
    "Campaign": ("CurrencyIsoCode", "ParentId"),
}


class NotAnInput(ValueError):
    """A record that is not a row of its table (a campaign without cost, a quota of another
    forecast type, a record in the recycle bin): not a reject; the connector marks one stored
    before deleted."""


@dataclass
class InputContext(MappingContext):
    """:class:`MappingContext` plus the forecast type whose quotas are read."""

    forecast_type: str = DEFAULT_FORECAST_TYPE


def _required(raw: Mapping[str, Any], name: str, what: str) -> Any:
    value = related(raw, name) if "." in name else raw.get(name)
    if value in (None, ""):
        raise Unmappable(name.split(".", 1)[0] if "." in name else name, what)
    return value


def _with(raw: Mapping[str, Any], ctx: MappingContext, columns: dict[str, Any],
          custom: dict[str, Any]) -> dict[str, Any]:
    record = base_record(raw, ctx)
    for key, value in columns.items():
        record.setdefault(key, value)  # a field_map target wins over the default mapping
    if custom:
        record["custom"] = {**custom, **(record.get("custom") or {})}
    return record


def forecasting_quota(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """ForecastingQuota → quotas (module doc: forecast type, amount or quantity, period)."""
    forecast_type = getattr(ctx, "forecast_type", DEFAULT_FORECAST_TYPE)
    kind = related(raw, "ForecastingType.DeveloperName")
    if kind is not None and kind != forecast_type:
        raise NotAnInput(f"a quota of forecast type {kind!r}, not {forecast_type!r}")
    quantity = bool(raw.get("IsQuantity")) and not raw.get("IsAmount")
    field = "QuotaQuantity" if quantity else "QuotaAmount"
    amount = number(raw.get(field), field)
    if amount is None:
        raise Unmappable(field, "the quota is empty")
    return _with(raw, ctx, {
        "owner_id": raw.get("QuotaOwnerId"), "team": related(raw, "QuotaOwner.UserRole.Name"),
        "period_start": _required(raw, "StartDate", "a quota needs its StartDate"),
        "period_end": _required(raw, "Period.EndDate",
                                "no forecast Period (PeriodId) to end the quota period"),
        "amount": amount,
        "currency": raw.get("CurrencyIsoCode") if ctx.multi_currency and not quantity else None,
    }, {**({"quota_unit": "quantity"} if quantity else {}),
        **({"ProductFamily": raw["ProductFamily"]} if raw.get("ProductFamily") else {})})


def campaign(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Campaign → spend: ``ActualCost`` over ``StartDate``–``EndDate``, ``Type`` the channel,
    category ``marketing``; ``segment`` only through ``field_map`` (no standard field)."""
    if raw.get("IsDeleted"):
        raise NotAnInput("in the recycle bin")
    cost = number(raw.get("ActualCost"), "ActualCost")
    if cost is None:
        raise NotAnInput("a campaign without ActualCost")
    kept = {k: raw[k] for k in ("Name", "BudgetedCost", "Status") if raw.get(k) is not None}
    return _with(raw, ctx, {
        "category": "marketing", "channel": raw.get("Type"), "amount": cost,
        "period_start": _required(raw, "StartDate", "a campaign with a cost needs StartDate"),
        "period_end": _required(raw, "EndDate", "a campaign with a cost needs EndDate"),
        "currency": raw.get("CurrencyIsoCode") if ctx.multi_currency else None,
    }, kept)


def unless_unreadable(connection: str, obj: str, batches: Iterator[Batch]) -> Iterator[Batch]:
    """``batches``, or none with one log line when the org or this user cannot read ``obj``
    (:data:`NOT_READABLE`: the feature is off, or the permission is missing)."""
    try:
        yield from batches
    except ConnectorError as exc:
        code = getattr(exc, "code", None)
        if code not in NOT_READABLE:
            raise
        log.info("%s: this user cannot read %s (%s: the feature is off or a permission is "
                 "missing); skipping", connection, obj, code)


MAPPERS: Mapping[str, Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]] = {
    "ForecastingQuota": forecasting_quota, "Campaign": campaign,
}
