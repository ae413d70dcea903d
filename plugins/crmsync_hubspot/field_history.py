"""Deal property history → ``opportunity_field_history`` changes.

A batch read with ``propertiesWithHistory`` returns, per property, every value it has had,
newest first, as ``{value, timestamp, sourceType, sourceId, updatedByUserId}``. A *change* is
an entry whose value differs from the entry before it (oldest first): ``old_value`` is the
previous entry's value, ``changed_at`` the entry's timestamp and ``remote_id``
``<deal id>:<property>:<timestamp ms>``. The first entry is the value the deal was created with
(no change) unless it was set later than ``createdate`` (then a change from empty). An entry
equal to the previous one (a re-save, a recalculation) is no change.

``changed_by`` is the HubSpot owner of the user who made the change: ``updatedByUserId`` (or a
``sourceId`` of ``userId:<n>``) is a *user* id, and the owners API gives each owner's
``userId``; a change by an integration, a workflow or an import has no user and stays NULL, as
does a user who is no owner.

Values are text in the schema's encoding (docs/schema.md): ``amount`` and
``hs_deal_stage_probability`` (already 0–1) as decimals, ``closedate`` as its UTC date,
``dealstage`` and ``hubspot_owner_id`` as ids, ``hs_manual_forecast_category`` as a code
(:func:`forecast_code`), ``deal_currency_code`` upper-case. When the portal returns no history
of ``hs_deal_stage_probability`` (a calculated property), the probability changes are the
stage changes' stage probabilities.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crmsync_hubspot.mapping import StageIndex
from crmsync_hubspot.values import Unmappable, forecast_code, when

__all__ = ["HISTORY_PROPERTIES", "forecast_code", "deal_changes", "user_of", "owners_by_user"]

#: Deal property → the opportunities column its history records.
HISTORY_PROPERTIES: Mapping[str, str] = {
    "dealstage": "stage_id", "amount": "amount", "closedate": "expected_close_date",
    "hubspot_owner_id": "owner_id", "hs_deal_stage_probability": "probability",
    "hs_manual_forecast_category": "forecast_category", "deal_currency_code": "currency",
}
#: Tolerance between ``createdate`` and a value set when the deal was created.
CREATED_TOLERANCE = dt.timedelta(seconds=1)
_USER_SOURCE = re.compile(r"userId:(\d+)")


def owners_by_user(owners: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``userId`` → owner id, from owners API results."""
    return {str(o["userId"]): str(o["id"]) for o in owners if o.get("userId") is not None}


def user_of(entry: Mapping[str, Any]) -> str | None:
    """The HubSpot user who wrote a history entry, if a user did."""
    if entry.get("updatedByUserId") not in (None, ""):
        return str(entry["updatedByUserId"])
    match = _USER_SOURCE.fullmatch(str(entry.get("sourceId") or ""))
    return match.group(1) if match else None


def _number(value: Any, name: str) -> str | None:
    try:
        return repr(round(float(value), 12))
    except (TypeError, ValueError):
        raise Unmappable(name, f"expected a number, got {value!r}") from None


def encode(prop: str, value: Any) -> str | None:
    """A history entry's value in the schema's text encoding."""
    if value is None or value == "":
        return None
    if prop in ("amount", "hs_deal_stage_probability"):
        return _number(value, prop)
    if prop == "closedate":
        day = when({prop: value}, prop)
        return day.date().isoformat() if day else None
    if prop == "hs_manual_forecast_category":
        return forecast_code(value)
    if prop == "deal_currency_code":
        return str(value).strip().upper()
    return str(value)


def _entries(history: Mapping[str, Any], prop: str) -> list[tuple[dt.datetime, Any, Any]]:
    """``(timestamp, value, entry)`` of one property, oldest first."""
    out = []
    for entry in history.get(prop) or ():
        at = when(entry, "timestamp")
        if at is not None:
            out.append((at, entry.get("value"), entry))
    return sorted(out, key=lambda e: e[0])


def _stage_probabilities(history: Mapping[str, Any], stages: StageIndex
                         ) -> list[tuple[dt.datetime, Any, Any]]:
    """Probability entries made from the stage entries (each stage's probability)."""
    out = []
    for at, value, entry in _entries(history, "dealstage"):
        stage = stages.get(str(value) if value else None)
        probability = stage.get("probability") if stage else None
        out.append((at, None if probability is None else str(probability), entry))
    return out


def deal_changes(deal_id: str, created: dt.datetime | None, history: Mapping[str, Any],
                 stages: StageIndex, users: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every change of one deal's history properties, oldest first.

    :param created: the deal's ``createdate`` (values set then are no change).
    :param history: the batch read's ``propertiesWithHistory``.
    :param users: ``userId`` → owner id.
    """
    out: list[dict[str, Any]] = []
    for prop, column in HISTORY_PROPERTIES.items():
        entries = _entries(history, prop)
        if prop == "hs_deal_stage_probability" and not entries:
            entries = _stage_probabilities(history, stages)
        previous: str | None = None
        for k, (at, value, entry) in enumerate(entries):
            new = encode(prop, value)
            first = k == 0
            if (first and (created is None or at <= created + CREATED_TOLERANCE)) or \
                    (not first and new == previous):
                previous = new if first else previous
                continue
            user = user_of(entry)
            stamp = int(at.timestamp() * 1000)
            out.append({"remote_id": f"{deal_id}:{prop}:{stamp}", "opportunity_id": deal_id,
                        "field": column, "changed_at": at, "old_value": previous,
                        "new_value": new, "changed_by": users.get(user) if user else None,
                        "source": "crm", "remote_created_at": at, "remote_updated_at": at})
            previous = new
    return sorted(out, key=lambda c: (c["changed_at"], c["remote_id"]))


def history_names() -> Sequence[str]:
    """The properties asked with ``propertiesWithHistory``."""
    return list(HISTORY_PROPERTIES)
