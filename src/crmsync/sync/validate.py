"""Validation and coercion of normalised records: connectors are not trusted.

Each synced table gets a compiled :class:`RecordValidator`: per column a coercer that accepts
the column's Python type (fast path) or a string in a documented format (ISO 8601 dates and
times, ``true``/``false``, numbers, JSON for ``custom``/``raw``), and rejects anything else
with a :class:`FieldProblem` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crmsync.schema import BOOK_KEEPING_COLUMNS, SYNCED_TABLES

__all__ = ["FieldProblem", "RecordValidator", "validator_for", "parse_datetime", "parse_date"]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_UTC = dt.timezone.utc


@dataclass(frozen=True)
class FieldProblem:
    """Why one field of one record is invalid."""

    field: str
    reason: str


class _Invalid(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def parse_datetime(value: str) -> dt.datetime:
    """Parse ISO 8601 (``2024-05-01``, ``2024-05-01T13:45:00Z``, ``…+02:00``) to naive UTC."""
    try:  # the common, well-formed case, in C
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(_UTC).replace(tzinfo=None)
        return parsed
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_UTC).replace(tzinfo=None)
    return parsed


def parse_date(value: str) -> dt.date:
    """Parse an ISO 8601 date; a full timestamp is cut to its (UTC) date."""
    text = value.strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return parse_datetime(text).date()


def _to_datetime(v: Any) -> dt.datetime:
    if type(v) is dt.datetime:
        if v.tzinfo is None:
            return v
        return v.astimezone(_UTC).replace(tzinfo=None)
    if isinstance(v, str):
        try:
            return parse_datetime(v)
        except ValueError:
            raise _Invalid(f"not an ISO 8601 timestamp: {v!r}") from None
    if isinstance(v, dt.datetime):  # a subclass, e.g. pendulum
        return _to_datetime(dt.datetime.fromisoformat(v.isoformat()))
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    raise _Invalid(f"expected a timestamp, got {type(v).__name__} {v!r}")


def _to_date(v: Any) -> dt.date:
    if type(v) is dt.date:
        return v
    if isinstance(v, dt.datetime):
        return _to_datetime(v).date()
    if isinstance(v, dt.date):
        return dt.date(v.year, v.month, v.day)
    if isinstance(v, str):
        try:
            return parse_date(v)
        except ValueError:
            raise _Invalid(f"not an ISO 8601 date: {v!r}") from None
    raise _Invalid(f"expected a date, got {type(v).__name__} {v!r}")


def _to_int(v: Any) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool):
        raise _Invalid(f"expected an integer, got a boolean {v!r}")
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                raise _Invalid(f"not an integer: {v!r}") from None
            if f.is_integer():
                return int(f)
    raise _Invalid(f"not an integer: {v!r}")


def _to_float(v: Any) -> float:
    if type(v) is float:
        if math.isfinite(v):
            return v
        raise _Invalid(f"not a finite number: {v!r}")
    if isinstance(v, bool):
        raise _Invalid(f"expected a number, got a boolean {v!r}")
    if isinstance(v, (int, float)):
        return _to_float(float(v))
    if isinstance(v, str):
        try:
            return _to_float(float(v.strip()))
        except ValueError:
            raise _Invalid(f"not a number: {v!r}") from None
    try:  # Decimal and friends
        return _to_float(float(v))
    except (TypeError, ValueError):
        raise _Invalid(f"expected a number, got {type(v).__name__} {v!r}") from None


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
    raise _Invalid(f"expected a boolean (true/false), got {v!r}")


def _to_json_object(v: Any) -> dict[str, Any]:
    if type(v) is dict:
        return v
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str):
        try:
            parsed = json.loads(v)
        except ValueError as exc:
            raise _Invalid(f"not valid JSON: {exc}") from None
        if isinstance(parsed, dict):
            return parsed
    raise _Invalid(f"expected a JSON object, got {type(v).__name__}")


def _string_coercer(length: int | None) -> Callable[[Any], str]:
    def to_str(v: Any) -> str:
        if type(v) is not str:
            if isinstance(v, (bool, dict, list)) or not isinstance(v, (str, int, float)):
                raise _Invalid(f"expected text, got {type(v).__name__} {v!r}")
            v = str(v)
        if length is not None and len(v) > length:
            raise _Invalid(f"longer than {length} characters ({len(v)})")
        return v
    return to_str


def _coercer(column: sa.Column) -> Callable[[Any], Any]:
    t = column.type
    if isinstance(t, sa.JSON) or column.name in ("custom", "raw"):
        return _to_json_object
    if isinstance(t, sa.DateTime):
        return _to_datetime
    if isinstance(t, sa.Date):
        return _to_date
    if isinstance(t, sa.Boolean):
        return _to_bool
    if isinstance(t, sa.Integer):
        return _to_int
    if isinstance(t, sa.Float):
        return _to_float
    if isinstance(t, sa.String):
        return _string_coercer(t.length)
    raise TypeError(f"no coercer for {column.table.name}.{column.name} of type {t!r}")


def _text_limit(column: sa.Column) -> int:
    """The maximum length of a text column (a large number for unbounded text), else 0."""
    t = column.type
    if isinstance(t, sa.String) and not isinstance(t, sa.JSON) and column.name not in (
            "custom", "raw"):
        return t.length or 1 << 30
    return 0


class RecordValidator:
    """Validates and coerces records of one synced table into complete rows."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self.columns = tuple(c.name for c in table.columns if c.name not in BOOK_KEEPING_COLUMNS)
        self._coercers = {c.name: _coercer(c) for c in table.columns
                          if c.name not in BOOK_KEEPING_COLUMNS}
        # (max length, coercer): text that already fits is taken without a function call
        self._specs = {name: (_text_limit(table.c[name]), coerce)
                       for name, coerce in self._coercers.items()}
        self._required = tuple(c.name for c in table.columns if c.info.get("required"))
        self._choices = {c.name: frozenset(c.info["choices"]) for c in table.columns
                         if c.info.get("choices")}
        self._template: dict[str, Any] = dict.fromkeys(self.columns)
        self._template["is_deleted"] = False

    def __call__(self, record: Mapping[str, Any]) -> tuple[dict[str, Any] | None,
                                                             list[FieldProblem]]:
        """Return ``(row, [])`` for a valid record, ``(None, problems)`` otherwise.

        ``row`` has every column of the table except ``id``, ``connection`` and ``synced_at``;
        a column missing from the record is ``None`` (``is_deleted`` defaults to false).
        """
        row = self._template.copy()
        problems: list[FieldProblem] | None = None
        specs = self._specs
        for key, value in record.items():
            if value is None or value == "":
                continue
            spec = specs.get(key)
            if spec is None:
                problems = problems or []
                problems.append(FieldProblem(key, f"not a column of table {self.table.name}"))
                continue
            limit, coerce = spec
            if limit and type(value) is str and len(value) <= limit:
                row[key] = value
                continue
            try:
                row[key] = coerce(value)
            except _Invalid as exc:
                problems = problems or []
                problems.append(FieldProblem(key, exc.reason))
        for key in self._required:
            if row[key] is None and not (problems and any(p.field == key for p in problems)):
                problems = problems or []
                problems.append(FieldProblem(key, "required, but missing or empty"))
        for key, allowed in self._choices.items():
            value = row[key]
            if value is not None and value not in allowed:
                problems = problems or []
                problems.append(FieldProblem(
                    key, f"{value!r} is not one of {', '.join(sorted(allowed))}"))
        if problems:
            return None, problems
        return row, []


_VALIDATORS: dict[str, RecordValidator] = {}


def validator_for(entity: str) -> RecordValidator:
    """The (cached) validator of a synced table."""
    try:
        return _VALIDATORS[entity]
    except KeyError:
        v = _VALIDATORS[entity] = RecordValidator(SYNCED_TABLES[entity])
        return v
