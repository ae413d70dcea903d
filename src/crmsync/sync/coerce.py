"""Coercion of one field's value to its column's Python type (docs/schema.md#value-rules).

Per column kind (:func:`crmsync.store.adapt.column_kind`) a coercer accepts the Python type
or a string in a documented form (ISO 8601 dates and times, ``true``/``false``, numbers, JSON
for ``custom``/``raw``) and raises :class:`Invalid` with the reason otherwise.
:mod:`crmsync.sync.validate` compiles them into a record validator.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from crmsync.core import timeparse
from crmsync.core.timeparse import naive_utc
from crmsync.store.adapt import ColumnKind, column_kind
from crmsync.sync.limits import StoreLimitError
from crmsync.sync.value_rules import INTEGER_EXAMPLE, MAX_TEXT_LENGTH, NUMBER_EXAMPLE, number_text

__all__ = ["Invalid", "coercer", "within_limit", "text_limit"]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class Invalid(Exception):
    """A value its column cannot take; :attr:`reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _to_datetime(v: Any) -> dt.datetime:
    if type(v) is dt.datetime:
        return naive_utc(v)
    if isinstance(v, dt.datetime):  # a subclass, e.g. pendulum
        return _to_datetime(dt.datetime.fromisoformat(v.isoformat()))
    if isinstance(v, (str, dt.date)):
        try:
            return naive_utc(timeparse.parse_datetime(v))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    raise Invalid(f"expected a timestamp, got {type(v).__name__} {v!r}")


def _to_date(v: Any) -> dt.date:
    if type(v) is dt.date:
        return v
    if isinstance(v, (str, dt.date)):
        try:
            return timeparse.parse_date(v)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    raise Invalid(f"expected a date, got {type(v).__name__} {v!r}")


def _to_int(v: Any) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool):
        raise Invalid(f"expected an integer, got a boolean {v!r}")
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        text = number_text(v)
        if text is None:
            raise Invalid(f"not an integer: {v!r} (expected {INTEGER_EXAMPLE})")
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise Invalid(f"not an integer: {v!r} (expected {INTEGER_EXAMPLE})") from None
            if f.is_integer():
                return int(f)
    raise Invalid(f"not an integer: {v!r}")


def _to_float(v: Any) -> float:
    if type(v) is float:
        if math.isfinite(v):
            return v
        raise Invalid(f"not a finite number: {v!r}")
    if isinstance(v, bool):
        raise Invalid(f"expected a number, got a boolean {v!r}")
    if isinstance(v, (int, float)):
        return _to_float(float(v))
    if isinstance(v, str):
        text = number_text(v)
        try:
            if text is None:
                raise ValueError(v)
            return _to_float(float(text))
        except ValueError:
            raise Invalid(f"not a number: {v!r} (expected {NUMBER_EXAMPLE})") from None
    try:  # Decimal and friends
        return _to_float(float(v))
    except (TypeError, ValueError):
        raise Invalid(f"expected a number, got {type(v).__name__} {v!r}") from None


def _to_bool(v: Any) -> bool:
    if v is True or v is False:
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise Invalid(f"expected a boolean (true/false), got {v!r}")


def _to_json_object(v: Any) -> dict[str, Any]:
    if type(v) is dict:
        return v
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str):
        try:
            parsed = json.loads(v)
        except ValueError as exc:
            raise Invalid(f"not valid JSON: {exc}") from None
        if isinstance(parsed, dict):
            return parsed
    raise Invalid(f"expected a JSON object, got {type(v).__name__}")


def _string_coercer(length: int) -> Callable[[Any], str]:
    def to_str(v: Any) -> str:
        if type(v) is str:
            text: str = v
        elif isinstance(v, (bool, dict, list)) or not isinstance(v, (str, int, float)):
            raise Invalid(f"expected text, got {type(v).__name__} {v!r}")
        else:
            text = str(v)
        if len(text) > length:
            raise Invalid(f"longer than {length} characters ({len(text)})")
        return text
    return to_str


_COERCERS: dict[ColumnKind, Callable[[Any], Any]] = {
    "json": _to_json_object,
    "datetime": _to_datetime,
    "date": _to_date,
    "boolean": _to_bool,
    "integer": _to_int,
    "float": _to_float,
}


def coercer(column: sa.Column[Any]) -> Callable[[Any], Any]:
    kind = column_kind(column)
    if kind == "text":
        return _string_coercer(text_limit(column))
    try:
        return _COERCERS[kind]
    except KeyError:
        raise TypeError(f"no coercer for {column.table.name}.{column.name} "
                        f"of type {column.type!r}") from None


def within_limit(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``check`` from :mod:`crmsync.sync.limits`, its refusal as a field problem."""
    def limited(v: Any) -> Any:
        try:
            return check(v)
        except StoreLimitError as exc:
            raise Invalid(str(exc)) from None
    return limited


def text_limit(column: sa.Column[Any]) -> int:
    """The maximum length of a text column (:data:`MAX_TEXT_LENGTH` for unbounded text, and
    for a column with choices, whose check names the allowed values instead)."""
    if column.info.get("choices"):
        return MAX_TEXT_LENGTH
    length = column.type.length if isinstance(column.type, sa.String) else None
    return length or MAX_TEXT_LENGTH
