"""Validation and coercion of normalised records: connectors are not trusted.

Each synced table gets a compiled :class:`RecordValidator`: per column a coercer that accepts
the column's Python type (fast path) or a string in a documented format (ISO 8601 dates and
times, ``true``/``false``, numbers, JSON for ``custom``/``raw``), and rejects anything else
with a :class:`FieldProblem` naming the field. Value rules beyond the type (numbers with
thousands separators, a bound on unbounded text, case-insensitive choices, a column's
``min``/``max``) are those of ``docs/schema.md#value-rules``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crmsync.core.schema import BOOK_KEEPING_COLUMNS, SYNCED_TABLES
from crmsync.sync.limits import StoreLimitError, dialect_limit
from crmsync.sync.value_rules import INTEGER_EXAMPLE, MAX_TEXT_LENGTH, NUMBER_EXAMPLE, number_text

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
            raise _Invalid(f"not an ISO 8601 timestamp: {v!r} "
                          f"(expected e.g. 2025-03-15T13:45:00Z or 2025-03-15)") from None
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
            raise _Invalid(f"not an ISO 8601 date: {v!r} (expected e.g. 2025-03-15)") from None
    raise _Invalid(f"expected a date, got {type(v).__name__} {v!r}")


def _to_int(v: Any) -> int:
    if type(v) is int:
        return v
    if isinstance(v, bool):
        raise _Invalid(f"expected an integer, got a boolean {v!r}")
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        text = number_text(v)
        if text is None:
            raise _Invalid(f"not an integer: {v!r} (expected {INTEGER_EXAMPLE})")
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise _Invalid(f"not an integer: {v!r} (expected {INTEGER_EXAMPLE})") from None
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
        text = number_text(v)
        try:
            if text is None:
                raise ValueError(v)
            return _to_float(float(text))
        except ValueError:
            raise _Invalid(f"not a number: {v!r} (expected {NUMBER_EXAMPLE})") from None
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


def _string_coercer(length: int) -> Callable[[Any], str]:
    def to_str(v: Any) -> str:
        if type(v) is not str:
            if isinstance(v, (bool, dict, list)) or not isinstance(v, (str, int, float)):
                raise _Invalid(f"expected text, got {type(v).__name__} {v!r}")
            v = str(v)
        if len(v) > length:
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
        return _string_coercer(_text_limit(column))
    raise TypeError(f"no coercer for {column.table.name}.{column.name} of type {t!r}")


def _within_limit(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``check`` from :mod:`crmsync.sync.limits`, its refusal as a field problem."""
    def limited(v: Any) -> Any:
        try:
            return check(v)
        except StoreLimitError as exc:
            raise _Invalid(str(exc)) from None
    return limited


_STR, _DATETIME, _OTHER = 0, 1, 2


def _text_limit(column: sa.Column) -> int:
    """The maximum length of a text column (:data:`MAX_TEXT_LENGTH` for unbounded text, and
    for a column with choices, whose check names the allowed values instead)."""
    if column.info.get("choices"):
        return MAX_TEXT_LENGTH
    return column.type.length or MAX_TEXT_LENGTH


def _kind(column: sa.Column) -> int:
    t = column.type
    if isinstance(t, sa.JSON) or column.name in ("custom", "raw"):
        return _OTHER
    if isinstance(t, sa.DateTime):
        return _DATETIME
    if isinstance(t, sa.String):
        return _STR
    return _OTHER


class RecordValidator:
    """Validates and coerces records of one synced table into complete, storage-ready rows.

    :param table: the synced table.
    :param dialect: ``"sqlite"`` or ``"postgresql"`` to produce values in the form that
        dialect's driver stores (what SQLAlchemy's bind processing would make of them), or
        ``None`` for plain Python values.
    :param enforce_limits: reject values ``dialect`` cannot store (integer ranges, U+0000 in
        text); tests turn it off to reach the database's own refusal.

    Rows are lists in :attr:`columns` order: every column of the table but ``id``.
    """

    def __init__(self, table: sa.Table, dialect: str | None = None, *,
                 enforce_limits: bool = True) -> None:
        from crmsync.store.adapt import value_adapter

        self.table = table
        self.dialect = dialect
        self.columns = tuple(c.name for c in table.columns if c.name != "id")
        self.data_columns = tuple(c for c in self.columns if c not in BOOK_KEEPING_COLUMNS)
        index = {name: i for i, name in enumerate(self.columns)}
        self.remote_id_index = index["remote_id"]
        self._adapters = {c.name: value_adapter(dialect, c) for c in table.columns
                          if c.name != "id"}
        specs: dict[str, tuple[int, int, int, Callable[[Any], Any]]] = {}
        for column in table.columns:
            if column.name in BOOK_KEEPING_COLUMNS:
                continue
            coerce = _coercer(column)
            limit = dialect_limit(column, dialect) if enforce_limits else None
            if limit is not None:
                coerce = _then(coerce, _within_limit(limit))
            adapt = self._adapters[column.name]
            if adapt is not None:
                coerce = _then(coerce, adapt)
            kind = _kind(column)
            specs[column.name] = (index[column.name], kind,
                                  _text_limit(column) if kind == _STR else 0, coerce)
        self._specs = specs
        self._sqlite_times = dialect == "sqlite"
        self._nul_ok = dialect != "postgresql" or not enforce_limits
        self._required = tuple((index[c.name], c.name) for c in table.columns
                               if c.info.get("required"))
        self._choices = tuple((index[c.name], c.name, frozenset(c.info["choices"]))
                              for c in table.columns if c.info.get("choices"))
        self._ranges = tuple((index[c.name], c.name, c.info.get("min"), c.info.get("max"))
                             for c in table.columns if "min" in c.info or "max" in c.info)
        self._defaults = self.template()

    def template(self, **fixed: Any) -> list[Any]:
        """A row of defaults (``is_deleted`` false) with bookkeeping values such as
        ``connection`` and ``synced_at`` filled in, adapted for the dialect."""
        values = dict.fromkeys(self.columns)
        values["is_deleted"] = False
        values.update(fixed)
        return [v if v is None or self._adapters[k] is None else self._adapters[k](v)
                for k, v in values.items()]

    def validate(self, record: Mapping[str, Any], template: list[Any] | None = None
                 ) -> tuple[list[Any] | None, list[FieldProblem]]:
        """Return ``(row, [])`` for a valid record, ``(None, problems)`` otherwise.

        :param template: from :meth:`template`; a column missing from the record keeps the
            template's value (``None``, or ``False`` for ``is_deleted``).
        """
        row = (template or self._defaults).copy()
        problems: list[FieldProblem] | None = None
        specs = self._specs
        fromiso = dt.datetime.fromisoformat
        sqlite_times = self._sqlite_times
        nul_ok = self._nul_ok
        for key, value in record.items():
            if value is None:
                continue
            spec = specs.get(key)
            if spec is None:
                if value != "":
                    problems = problems or []
                    problems.append(FieldProblem(key,
                                                 f"not a column of table {self.table.name}"))
                continue
            i, kind, limit, coerce = spec
            if type(value) is str:  # the common cases inline, no function calls
                if not value:
                    continue  # empty means missing
                if kind == _STR:
                    if len(value) <= limit and (nul_ok or "\x00" not in value):
                        row[i] = value
                        continue
                elif kind == _DATETIME:
                    try:
                        parsed = fromiso(value)
                    except ValueError:
                        parsed = None
                    if parsed is not None and parsed.tzinfo is None:
                        row[i] = parsed.isoformat(" ", "microseconds") if sqlite_times else parsed
                        continue
            try:
                row[i] = coerce(value)
            except _Invalid as exc:
                problems = problems or []
                problems.append(FieldProblem(key, exc.reason))
        for i, name in self._required:
            if row[i] is None and not (problems and any(p.field == name for p in problems)):
                problems = problems or []
                problems.append(FieldProblem(name, "required, but missing or empty"))
        for i, name, allowed in self._choices:
            value = row[i]
            if value is not None and value not in allowed:
                folded = value.strip().lower() if isinstance(value, str) else None
                if folded in allowed:  # case and surrounding blanks are ignored
                    row[i] = folded
                    continue
                problems = problems or []
                problems.append(FieldProblem(
                    name, f"{value!r} is not one of {', '.join(sorted(allowed))} "
                          f"(case is ignored)"))
        for i, name, low, high in self._ranges:
            value = row[i]
            if value is None:
                continue
            if low is not None and value < low:
                problems = problems or []
                problems.append(FieldProblem(name, f"{value!r} is below {low}, the least "
                                                   f"this column takes"))
            elif high is not None and value > high:
                problems = problems or []
                problems.append(FieldProblem(name, f"{value!r} is above {high}, the most "
                                                   f"this column takes"))
        if problems:
            return None, problems
        return row, []

    def __call__(self, record: Mapping[str, Any]) -> tuple[dict[str, Any] | None,
                                                             list[FieldProblem]]:
        """Validate one record into a mapping of its data columns (everything but ``id``,
        ``connection`` and ``synced_at``), or ``(None, problems)``."""
        row, problems = self.validate(record)
        if row is None:
            return None, problems
        values = dict(zip(self.columns, row))
        return {c: values[c] for c in self.data_columns}, []


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def both(v: Any) -> Any:
        return second(first(v))
    return both


_VALIDATORS: dict[tuple[str, str | None], RecordValidator] = {}


def validator_for(entity: str, dialect: str | None = None) -> RecordValidator:
    """The (cached) validator of a synced table, producing values for ``dialect``."""
    try:
        return _VALIDATORS[(entity, dialect)]
    except KeyError:
        v = _VALIDATORS[(entity, dialect)] = RecordValidator(SYNCED_TABLES[entity], dialect)
        return v
