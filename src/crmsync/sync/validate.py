"""Validation and coercion of normalised records: connectors are not trusted.

Each synced table gets a compiled :class:`RecordValidator`: per column a coercer
(:mod:`crmsync.sync.coerce`) that accepts the column's Python type (fast path) or a string in a
documented format (ISO 8601 dates and times, ``true``/``false``, numbers, JSON for
``custom``/``raw``), and rejects anything else with a :class:`FieldProblem` naming the field.
Value rules beyond the type (numbers with thousands separators, a bound on unbounded text,
case-insensitive choices, a column's ``min``/``max``) are those of
``docs/schema.md#value-rules``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crmsync.core.schema import BOOK_KEEPING_COLUMNS, SYNCED_TABLES
from crmsync.store.adapt import Adapter, ColumnKind, column_kind, value_adapter
from crmsync.sync.coerce import Invalid, coercer, text_limit, within_limit
from crmsync.sync.columns import (
    BatchValidator,
    Column,
    Convert,
    booleans,
    integers,
    texts,
    through,
    timestamps,
)
from crmsync.sync.limits import dialect_limit, integer_range

__all__ = ["FieldProblem", "RecordValidator", "validator_for"]

@dataclass(frozen=True)
class FieldProblem:
    """Why one field of one record is invalid."""

    field: str
    reason: str


#: How :meth:`RecordValidator.validate` treats a column's text: inline (text, naive ISO
#: timestamps) or through the column's coercer.
_STR, _DATETIME, _OTHER = 0, 1, 2
_FAST_KINDS: dict[ColumnKind, int] = {"text": _STR, "datetime": _DATETIME}


def _naive_iso(value: str) -> dt.datetime | None:
    """``value`` parsed when it is an ISO 8601 timestamp without an offset (the common case,
    stored as it is), else ``None``."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None


#: A column's validation: its index in the row, fast-path kind, text limit and coercer.
_Spec = tuple[int, int, int, Callable[[Any], Any]]


def _specs(table: sa.Table, index: Mapping[str, int], adapters: Mapping[str, Adapter | None],
           dialect: str | None, enforce_limits: bool) -> dict[str, _Spec]:
    """Per data column: coerce, then check the dialect's limits, then adapt for the driver."""
    specs: dict[str, _Spec] = {}
    for column in table.columns:
        if column.name in BOOK_KEEPING_COLUMNS:
            continue
        coerce = coercer(column)
        limit = dialect_limit(column, dialect) if enforce_limits else None
        if limit is not None:
            coerce = _then(coerce, within_limit(limit))
        adapt = adapters[column.name]
        if adapt is not None:
            coerce = _then(coerce, adapt)
        kind = _FAST_KINDS.get(column_kind(column), _OTHER)
        specs[column.name] = (index[column.name], kind,
                              text_limit(column) if kind == _STR else 0, coerce)
    return specs


_Required = tuple[tuple[int, str], ...]
_Choices = tuple[tuple[int, str, frozenset[str]], ...]
_Ranges = tuple[tuple[int, str, Any, Any], ...]


def _value_rules(columns: list[tuple[int, sa.Column[Any]]]
                 ) -> tuple[_Required, _Choices, _Ranges]:
    """The required columns, the columns with choices and those with a ``min``/``max``
    (docs/schema.md#value-rules), each with its index in the row."""
    required = tuple((i, c.name) for i, c in columns if c.info.get("required"))
    choices = tuple((i, c.name, frozenset(c.info["choices"])) for i, c in columns
                    if c.info.get("choices"))
    ranges = tuple((i, c.name, c.info.get("min"), c.info.get("max"))
                   for i, c in columns if "min" in c.info or "max" in c.info)
    return required, choices, ranges


def _convert(column: sa.Column[Any], spec: _Spec, dialect: str | None, enforce_limits: bool,
             nul_ok: bool) -> Convert:
    """The column-wise conversion of a data column (:mod:`crmsync.sync.columns`)."""
    kind = column_kind(column)
    if kind == "text":
        return texts(spec[2], nul_ok)
    if kind == "datetime":
        return timestamps(dialect)
    if kind == "integer":
        bounds = integer_range(column, dialect) if enforce_limits else None
        return integers(*bounds) if bounds else integers(-(1 << 63), (1 << 63) - 1)
    if kind == "boolean":
        return booleans(1, 0) if dialect == "sqlite" else booleans(True, False)
    return through(spec[3])


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
        self.table = table
        self.dialect = dialect
        self.columns = tuple(c.name for c in table.columns if c.name != "id")
        self.data_columns = tuple(c for c in self.columns if c not in BOOK_KEEPING_COLUMNS)
        index = {name: i for i, name in enumerate(self.columns)}
        self.remote_id_index = index["remote_id"]
        self._adapters = {c.name: value_adapter(dialect, c) for c in table.columns
                          if c.name != "id"}
        self._specs = _specs(table, index, self._adapters, dialect, enforce_limits)
        self._sqlite_times = dialect == "sqlite"
        self._nul_ok = dialect != "postgresql" or not enforce_limits
        columns = [(index[c.name], c) for c in table.columns if c.name != "id"]
        self._required, self._choices, self._ranges = _value_rules(columns)
        self._defaults = self.template()
        self._batch = BatchValidator({
            c.name: Column(index[c.name], _convert(c, self._specs[c.name], dialect,
                                                   enforce_limits, self._nul_ok),
                           self._defaults[index[c.name]], required=bool(c.info.get("required")),
                           choices=frozenset(c.info["choices"]) if c.info.get("choices")
                           else None, low=c.info.get("min"), high=c.info.get("max"))
            for c in table.columns if c.name in self._specs}, len(self.columns))

    def template(self, **fixed: Any) -> list[Any]:
        """A row of defaults (``is_deleted`` false) with bookkeeping values such as
        ``connection`` and ``synced_at`` filled in, adapted for the dialect."""
        values = dict.fromkeys(self.columns)
        values["is_deleted"] = False
        values.update(fixed)
        row = []
        for name, value in values.items():
            adapt = self._adapters[name]
            row.append(value if value is None or adapt is None else adapt(value))
        return row

    def validate(self, record: Mapping[str, Any], template: list[Any] | None = None
                 ) -> tuple[list[Any] | None, list[FieldProblem]]:
        """Return ``(row, [])`` for a valid record, ``(None, problems)`` otherwise.

        :param template: from :meth:`template`; a column missing from the record keeps the
            template's value (``None``, or ``False`` for ``is_deleted``).
        """
        row = (template or self._defaults).copy()
        problems: list[FieldProblem] = []
        self._coerce_fields(record, row, problems)
        self._check_required(row, problems)
        self._check_choices(row, problems)
        self._check_ranges(row, problems)
        if problems:
            return None, problems
        return row, []

    def validate_many(self, records: Sequence[Mapping[str, Any]], template: list[Any]
                      ) -> list[tuple[list[Any] | None, list[FieldProblem]]]:
        """:meth:`validate` of each record, the common ones a column at a time
        (:mod:`crmsync.sync.columns`): the same rows and problems, faster."""
        rows = self._batch.rows(records, template)
        none: list[FieldProblem] = []  # shared: a valid record's problems are never added to
        return [(row, none) if row is not None else self.validate(records[i], template)
                for i, row in enumerate(rows)]

    def _coerce_fields(self, record: Mapping[str, Any], row: list[Any],
                       problems: list[FieldProblem]) -> None:
        """Coerce each field of ``record`` into its place in ``row``; a field that is not a
        column, or whose value is invalid, adds a problem."""
        specs = self._specs
        sqlite_times = self._sqlite_times
        nul_ok = self._nul_ok
        for key, value in record.items():
            if value is None:
                continue
            spec = specs.get(key)
            if spec is None:
                if value != "":
                    problems.append(FieldProblem(key, f"not a column of table {self.table.name}"))
                continue
            i, kind, limit, coerce = spec
            if type(value) is str:  # the common cases inline
                if not value:
                    continue  # empty means missing
                if kind == _STR:
                    if len(value) <= limit and (nul_ok or "\x00" not in value):
                        row[i] = value
                        continue
                elif kind == _DATETIME:
                    parsed = _naive_iso(value)
                    if parsed is not None:
                        row[i] = parsed.isoformat(" ", "microseconds") if sqlite_times else parsed
                        continue
            try:
                row[i] = coerce(value)
            except Invalid as exc:
                problems.append(FieldProblem(key, exc.reason))

    def _check_required(self, row: list[Any], problems: list[FieldProblem]) -> None:
        """A required column left empty is a problem (unless its value already was one)."""
        for i, name in self._required:
            if row[i] is None and not (problems and any(p.field == name for p in problems)):
                problems.append(FieldProblem(name, "required, but missing or empty"))

    def _check_choices(self, row: list[Any], problems: list[FieldProblem]) -> None:
        """A column with choices takes one of them, case and surrounding blanks ignored."""
        for i, name, allowed in self._choices:
            value = row[i]
            if value is None or value in allowed:
                continue
            folded = value.strip().lower() if isinstance(value, str) else None
            if folded in allowed:
                row[i] = folded
                continue
            problems.append(FieldProblem(
                name, f"{value!r} is not one of {', '.join(sorted(allowed))} (case is ignored)"))

    def _check_ranges(self, row: list[Any], problems: list[FieldProblem]) -> None:
        """A column's ``min``/``max`` (docs/schema.md#value-rules)."""
        for i, name, low, high in self._ranges:
            value = row[i]
            if value is None:
                continue
            if low is not None and value < low:
                problems.append(FieldProblem(
                    name, f"{value!r} is below {low}, the least this column takes"))
            elif high is not None and value > high:
                problems.append(FieldProblem(
                    name, f"{value!r} is above {high}, the most this column takes"))

    def __call__(self, record: Mapping[str, Any]) -> tuple[dict[str, Any] | None,
                                                             list[FieldProblem]]:
        """Validate one record into a mapping of its data columns (everything but ``id``,
        ``connection`` and ``synced_at``), or ``(None, problems)``."""
        row, problems = self.validate(record)
        if row is None:
            return None, problems
        values = dict(zip(self.columns, row, strict=True))
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
