"""Column-wise validation of a whole batch: the common values proven valid a column at a time.

:meth:`crmsync.sync.validate.RecordValidator.validate` works record by record, field by
field; for a large load that per-row Python work costs more than the database
(``docs/performance.md``). :class:`BatchValidator` takes the batch's records that share the
first record's fields and converts each column with one comprehension: text within its
length, ISO 8601 timestamps (``Z`` included) straight to what the store keeps, plain digits,
the documented boolean words, and any other value through the column's own coercer. Then
required columns, choices and ranges are checked per column.

It only ever proves records valid: a record it cannot (an invalid value, a field that is not
a column, a different set of fields, a choice in another case…) is left to ``validate``,
so rejects, their fields and reasons are exactly those of the record-by-record path, and a
row it makes is the row ``validate`` would make.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

from crmsync.plugin.records import RowRecords
from crmsync.sync.coerce import Invalid

__all__ = ["BatchValidator", "Column"]

#: A value the column-wise pass leaves to the record-by-record path.
_SLOW: Any = object()
_fromisoformat = dt.datetime.fromisoformat
_TRUE = ("true", "t", "yes", "y", "1", "True", "TRUE")
_FALSE = ("false", "f", "no", "n", "0", "False", "FALSE")

Convert = Callable[[list[Any]], list[Any]]


def _naive_utc(v: Any) -> dt.datetime | None:
    """``v`` as ``crmsync.core.timeparse`` parses it, as naive UTC; ``None`` for anything
    else (the slow path then decides). ``Z`` is read in C, on Python 3.10 too. A ``datetime``
    (what connectors that parse times themselves give, e.g. Salesforce's) is taken as it is:
    naive means UTC."""
    if type(v) is dt.datetime:
        parsed = v
    elif type(v) is not str:
        return None
    else:
        try:
            parsed = _fromisoformat(v)
        except ValueError:
            if v[-1:] not in ("Z", "z"):
                return None
            try:
                parsed = _fromisoformat(v[:-1] + "+00:00")
            except ValueError:
                return None
    if parsed.tzinfo is None:
        return parsed
    if parsed.utcoffset() == dt.timedelta(0):
        return parsed.replace(tzinfo=None)
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _zulu(v: Any) -> dt.datetime | None:
    """The export's common form, ``2024-09-08T12:40:48[.fff]Z``, parsed without its ``Z`` (the
    same wall-clock time ``_naive_utc`` gives); ``None`` for any other form."""
    if type(v) is not str or len(v) < 20 or v[-1] != "Z" or v[10] != "T":
        return None
    try:
        parsed = _fromisoformat(v[:-1])
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None


_DATETIME_KINDS = frozenset({dt.datetime, type(None)})
_NAIVE_OR_UTC = frozenset({None, dt.timezone.utc})
_TZINFO = attrgetter("tzinfo")

#: The SQLite text of a canonical ``Z`` timestamp by its length: seconds, milliseconds,
#: microseconds (SQLAlchemy's form, ``isoformat(" ", "microseconds")``, cut and pasted).
_PASTE = {20: (19, ".000000"), 24: (23, "000"), 27: (26, "")}


def _sqlite_timestamp(v: Any) -> Any:
    parsed = _zulu(v)
    if parsed is not None:
        paste = _PASTE.get(len(v))
        if paste is not None and v[4] == "-" and v[7] == "-" and v[13] == ":" \
                and v[16] == ":" and (paste[0] == 19 or v[19] == "."):
            end, tail = paste
            return f"{v[:10]} {v[11:end]}{tail}"
    else:
        parsed = _naive_utc(v)
    return _SLOW if parsed is None else parsed.isoformat(" ", "microseconds")


def _timestamp(v: Any) -> Any:
    parsed = _zulu(v) or _naive_utc(v)
    return _SLOW if parsed is None else parsed


def _blank(v: Any) -> Any:
    """``None`` (missing) for ``None`` and the empty string, else the slow path's."""
    return None if v is None or v == "" else _SLOW


def _datetimes(col: list[Any], sqlite: bool) -> list[Any] | None:
    """A column of ``datetime`` values (and ``None``), naive or in UTC, as the store keeps
    them (what ``_naive_utc`` makes of each, without a Python call per value: the form of
    connectors that parse times themselves); ``None`` for any other column."""
    kinds = set(map(type, col))
    if dt.datetime not in kinds or not kinds <= _DATETIME_KINDS:
        return None
    if not set(map(_TZINFO, filter(None, col))) <= _NAIVE_OR_UTC:
        return None
    if sqlite:  # the text of the time in UTC: an aware one's ends "+00:00", cut off
        return [None if v is None else v.isoformat(" ", "microseconds")[:26] for v in col]
    return [None if v is None else v.replace(tzinfo=None) for v in col]


def timestamps(dialect: str | None) -> Convert:
    """Timestamps: SQLite keeps SQLAlchemy's text form, the others ``datetime``."""
    sqlite = dialect == "sqlite"
    one = _sqlite_timestamp if sqlite else _timestamp

    def convert(col: list[Any]) -> list[Any]:
        made = _datetimes(col, sqlite)
        return made if made is not None else [None if v is None or v == "" else one(v)
                                              for v in col]
    return convert


def texts(limit: int, nul_ok: bool) -> Convert:
    """Text of at most ``limit`` characters (without U+0000 unless ``nul_ok``)."""
    if nul_ok:
        return lambda col: [v if type(v) is str and 0 < len(v) <= limit
                            else None if v is None else _blank(v) for v in col]
    return lambda col: [v if type(v) is str and 0 < len(v) <= limit and "\x00" not in v
                        else None if v is None else _blank(v) for v in col]


def integers(low: int, high: int) -> Convert:
    """Integers, and text of plain ASCII digits, within ``low``–``high``."""
    def one(v: Any) -> Any:
        if type(v) is str:
            if not (v.isascii() and v.isdigit() and len(v) <= 18):
                return _SLOW
            v = int(v)
        elif type(v) is not int:
            return _SLOW
        return v if low <= v <= high else _SLOW
    return lambda col: [None if v is None or v == "" else one(v) for v in col]


def booleans(true: Any, false: Any) -> Convert:
    """The documented boolean words and Python booleans, stored as ``true``/``false``."""
    words = {**dict.fromkeys(_TRUE, true), **dict.fromkeys(_FALSE, false)}
    get = words.get
    return lambda col: [None if v is None or v == "" else true if v is True
                        else false if v is False else get(v, _SLOW) if type(v) is str else _SLOW
                        for v in col]


def through(coerce: Callable[[Any], Any]) -> Convert:
    """Any other kind: the column's own coercer, value by value."""
    def one(v: Any) -> Any:
        try:
            return coerce(v)
        except Invalid:
            return _SLOW
    return lambda col: [None if v is None or v == "" else one(v) for v in col]


class Column:
    """One data column's column-wise conversion and value rules.

    :param index: its position in the row.
    :param convert: the fast conversion; values it cannot prove valid become ``_SLOW``.
    :param default: the template's value, kept when the record has none.
    """

    def __init__(self, index: int, convert: Convert, default: Any, *, required: bool = False,
                 choices: frozenset[str] | None = None, low: Any = None, high: Any = None
                 ) -> None:
        self.index, self.convert, self.default = index, convert, default
        self.required, self.choices, self.low, self.high = required, choices, low, high

    def values(self, col: list[Any], slow: set[int]) -> list[Any]:
        """``col`` converted; the positions of records left to the slow path join ``slow``."""
        out = self.convert(col)
        if _SLOW in out:
            slow.update(j for j, v in enumerate(out) if v is _SLOW)
        if None in out:
            if self.required:
                slow.update(j for j, v in enumerate(out) if v is None)
            elif self.default is not None:
                out = [self.default if v is None else v for v in out]
        if self.choices is not None:
            allowed = self.choices
            slow.update(j for j, v in enumerate(out)
                        if v is not None and v is not _SLOW and v not in allowed)
        if self.low is not None or self.high is not None:
            slow.update(j for j, v in enumerate(out) if self._out_of_range(v))
        return out

    def _out_of_range(self, v: Any) -> bool:
        if v is None or v is _SLOW:
            return False
        return (self.low is not None and v < self.low) or (self.high is not None
                                                           and v > self.high)


class BatchValidator:
    """Rows for the records of a batch it proves valid, ``None`` for the others.

    :param columns: the data columns by name.
    :param width: the row's length.
    """

    def __init__(self, columns: Mapping[str, Column], width: int) -> None:
        self.columns = columns
        self.width = width
        self.required = [name for name, c in columns.items() if c.required and c.default is None]

    def rows(self, records: Sequence[Mapping[str, Any]], template: list[Any]
             ) -> list[list[Any] | None]:
        """One entry per record: its row, or ``None`` for the record-by-record path."""
        if not records:
            return []
        names, values, same = _transposed(records)
        size = len(records) if same is None else sum(same)
        slow: set[int] = set()
        columns: list[Any] = [repeat(v) for v in template]
        finite = False
        for name, col in zip(names, values, strict=False):
            spec = self.columns.get(name)
            if spec is None:  # not a column: fine only while empty
                slow.update(j for j, v in enumerate(col) if v is not None and v != "")
                continue
            columns[spec.index] = spec.values(list(col), slow)
            finite = True
        if any(name not in names for name in self.required):  # missing from every record
            slow.update(range(size))
        # (zip over constants alone would never end)
        made = ([list(row) for row in zip(*columns, strict=False)] if finite
                else [template.copy() for _ in range(size)])
        if same is None:  # every record in the group
            every: list[list[Any] | None] = [None if j in slow else row
                                             for j, row in enumerate(made)] if slow else [*made]
            return every
        rows: list[list[Any] | None] = []
        it = iter(enumerate(made))
        for ok in same:
            if not ok:
                rows.append(None)
                continue
            j, row = next(it)
            rows.append(None if j in slow else row)
        return rows


def _transposed(records: Sequence[Mapping[str, Any]]
                ) -> tuple[list[str], Any, list[bool] | None]:
    """The names of the first record's fields, the values of the records that have exactly
    those fields a column at a time, and which records do (``None``: all of them, as in
    :class:`~crmsync.RowRecords`, whose rows are transposed as they are)."""
    if type(records) is RowRecords:
        return list(records.names), records.columns(), None
    fields = records[0].keys()
    same = [r.keys() == fields for r in records]
    group = [r for r, ok in zip(records, same, strict=True) if ok]
    names = list(fields)
    # the batch's values a column at a time, in C: one tuple per record, transposed
    values = zip(*map(itemgetter(*names), group), strict=True) if len(names) > 1 \
        else ([r[names[0]] for r in group],)
    return names, values, same
