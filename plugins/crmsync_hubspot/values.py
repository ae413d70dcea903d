"""Reading HubSpot property values, which are all strings or null (see
:mod:`crmsync_hubspot.mapping`): numbers, flags, timestamps, text and inline associations."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from crmsync import parse_datetime

__all__ = ["Unmappable", "number", "flag", "when", "associated_ids", "forecast_code"]


class Unmappable(ValueError):
    """A HubSpot value that cannot be mapped: names the property."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(reason)


# -- values ------------------------------------------------------------------------------------


def number(props: Mapping[str, Any], name: str) -> float | None:
    """A numeric property (sent as a string) or ``None`` when empty."""
    value = props.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unmappable(name, f"expected a number, got {value!r}") from None


def flag(props: Mapping[str, Any], name: str) -> bool | None:
    """A boolean property (``"true"``/``"false"``) or ``None`` when empty."""
    value = props.get(name)
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Unmappable(name, f"expected true or false, got {value!r}")


def when(props: Mapping[str, Any], name: str) -> dt.datetime | None:
    """A datetime property (ISO 8601 with ``Z``, or epoch milliseconds) as aware UTC."""
    value = props.get(name)
    if value is None or value == "":
        return None
    text = str(value)
    try:
        if text.lstrip("-").isdigit():
            return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.timezone.utc)
        return parse_datetime(text)
    except (ValueError, OverflowError):
        raise Unmappable(name, f"expected an ISO 8601 timestamp, got {value!r}") from None


def _text(props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    return None if value is None or value == "" else str(value)


def associated_ids(record: Mapping[str, Any], to_type: str) -> list[str]:
    """Ids of ``to_type`` records associated inline, each once (HubSpot lists the labelled and
    the unlabelled association of one pair as two entries)."""
    block = (record.get("associations") or {}).get(to_type) or {}
    return list(dict.fromkeys(str(a["id"]) for a in block.get("results", ())))


#: ``hs_manual_forecast_category``'s options → the schema's codes.
_FORECAST = {"OMIT": "omitted", "OMITTED": "omitted", "PIPELINE": "pipeline",
             "BEST_CASE": "best_case", "COMMIT": "commit", "CLOSED": "closed"}


def forecast_code(value: Any) -> str | None:
    """``BEST_CASE`` → ``best_case``, ``OMIT`` → ``omitted``…; an unknown option lower-cased."""
    if value in (None, ""):
        return None
    text = str(value).strip().upper()
    return _FORECAST.get(text) or re.sub(r"\W+", "_", text.lower())
