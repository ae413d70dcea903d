"""Metric values as CRM field values: which field kinds suit a unit, rounding, hashing.

The host formats values into plain Python values of the field's kind (``int``/``float``,
``datetime.date``…); turning those into the wire format (HubSpot's strings, its dates at
midnight UTC) is the connector's job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from crmsync.plugin.connector import FIELD_TYPES, FieldInfo

__all__ = ["field_kind", "kind_for_unit", "compatible_kinds", "decimals_for", "format_value",
           "value_hash", "same_value", "is_empty"]

#: The kind of field crmsync creates for a metric unit.
_CREATE = {"ratio": "percent", "currency": "currency", "days": "number", "minutes": "number",
           "count": "number", "score": "number", "multiple": "number"}
#: Field kinds a unit may be written to.
_COMPATIBLE = {"ratio": ("percent", "number"), "currency": ("currency", "number"),
               "days": ("number",), "minutes": ("number",), "count": ("number",),
               "score": ("number",), "multiple": ("number",)}
#: Digits kept after the decimal point, per unit (a percent field: of the 0–100 value).
_DECIMALS = {"ratio": 4, "currency": 2, "days": 0, "minutes": 0, "count": 0, "score": 1,
             "multiple": 2}
_PERCENT_DECIMALS = 2
#: Common vendor spellings of the kinds (a connector should report the kinds themselves).
_SYNONYMS = {"double": "number", "int": "number", "integer": "number", "long": "number",
             "decimal": "number", "float": "number", "text": "string", "textarea": "string",
             "bool": "boolean"}


def field_kind(info: FieldInfo) -> str:
    """The kind (:data:`crmsync.FIELD_TYPES`) of a CRM field, or its own type when unknown."""
    kind = info.type.lower()
    kind = _SYNONYMS.get(kind, kind)
    return kind if kind in FIELD_TYPES else info.type


def kind_for_unit(unit: str) -> str:
    """The kind of field to create for a metric of ``unit``."""
    return _CREATE.get(unit, "number")


def compatible_kinds(unit: str) -> tuple[str, ...]:
    """The field kinds a metric of ``unit`` can be written to."""
    return _COMPATIBLE.get(unit, ("number",))


def decimals_for(unit: str, kind: str, override: int | None = None,
                 scale: int | None = None) -> int:
    """Digits kept after the point: the mapping's ``decimals``, else the unit's default, never
    more than the field's own ``scale``."""
    if override is not None:
        digits = override
    elif kind == "percent":
        digits = _PERCENT_DECIMALS
    else:
        digits = _DECIMALS.get(unit, 2)
    return min(digits, scale) if scale is not None else digits


def format_value(value: float | None, unit: str, kind: str, decimals: int) -> Any:
    """``value`` as the field holds it: ``None`` stays ``None``; a percent field gets 0–100;
    whole days are rounded down (12.9 days in stage is 12 days); values with no decimals
    become ``int``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    number = Decimal(repr(float(value)))
    if kind == "percent" and unit == "ratio":
        number *= 100
    mode = ROUND_FLOOR if unit == "days" else ROUND_HALF_UP
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=mode)
    if decimals == 0:
        return int(rounded)
    return float(rounded)


def _canonical(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True)


def value_hash(value: Any) -> str:
    """SHA-256 (hex) of a formatted value: ``12`` and ``12.0`` hash alike."""
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def is_empty(value: Any) -> bool:
    """A CRM value that counts as empty: missing, null or blank text."""
    return value is None or (isinstance(value, str) and not value.strip())


def same_value(crm: Any, sent: Any) -> bool:
    """Whether the CRM's current value is the one crmsync sent (CRMs may return numbers as
    text, ``"12"`` or ``"12.0"``)."""
    if is_empty(crm) or sent is None:
        return is_empty(crm) and sent is None
    try:
        return math.isclose(float(crm), float(sent), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return str(crm) == str(sent)
