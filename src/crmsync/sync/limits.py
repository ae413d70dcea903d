"""What each store dialect cannot hold, though every Python type allows it (docs/schema.md,
"Value limits"): integers beyond a column's range, and on PostgreSQL U+0000 in text and
``jsonb`` and NaN or infinite numbers in ``jsonb``.

:mod:`crmsync.sync.validate` rejects such values naming the record and field; the engine's
bisection of a batch the database refuses (:mod:`crmsync.sync.refusals`) is only the safety
net. :func:`storable` makes a reject row itself always storable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from crmsync.store.adapt import column_kind, jsonb_from_text

__all__ = ["StoreLimitError", "integer_range", "dialect_limit", "storable"]


class StoreLimitError(ValueError):
    """A value the store's dialect cannot hold; the message says why."""


_INT16 = (-(1 << 15), (1 << 15) - 1)
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)


def integer_range(column: sa.Column[Any], dialect: str | None) -> tuple[int, int] | None:
    """The integers ``dialect`` stores in ``column``: SQLite's INTEGER is 64-bit whatever its
    declared type; PostgreSQL's ``smallint``/``integer``/``bigint`` are 16/32/64-bit.
    ``None`` for plain Python values (no dialect)."""
    if dialect is None:
        return None
    t = column.type
    if dialect == "sqlite" or isinstance(t, sa.BigInteger):
        return _INT64
    if isinstance(t, sa.SmallInteger):
        return _INT16
    return _INT32


def _in_range(low: int, high: int) -> Callable[[int], int]:
    def check(v: int) -> int:
        if low <= v <= high:
            return v
        raise StoreLimitError(f"{v} is out of the column's range in the store ({low} to {high})")
    return check


def _no_nul(v: str) -> str:
    # PostgreSQL text cannot hold U+0000 (psycopg refuses it before sending).
    if "\x00" in v:
        raise StoreLimitError(f"contains a NUL character (U+0000) at position "
                              f"{v.index(chr(0))}, which PostgreSQL cannot store")
    return v


def _json_problem(v: Any, path: str = "") -> str | None:
    """Where a JSON value holds what PostgreSQL's ``jsonb`` refuses: U+0000 in a string or key,
    a NaN or infinite number. (Plain loops: this runs on every record's ``raw``.)"""
    if isinstance(v, Mapping):
        return _mapping_problem(v, path)
    if isinstance(v, str):
        return f"{path or 'the value'} contains a NUL character (U+0000)" if "\x00" in v else None
    if isinstance(v, float):
        return None if math.isfinite(v) else f"{path or 'the value'} is {v!r}, not a JSON number"
    if isinstance(v, (list, tuple)):
        for n, item in enumerate(v):
            if type(item) is str and "\x00" not in item:
                continue
            problem = _json_problem(item, f"{path}[{n}]")
            if problem:
                return problem
    return None


def _plain(item: Any) -> bool:
    """Whether ``item`` is a scalar ``jsonb`` takes as it is (no walk needed)."""
    t = type(item)
    if t is str:
        return "\x00" not in item
    if t is float:
        return math.isfinite(item)
    return t is int or t is bool or item is None


def _mapping_problem(v: Mapping[Any, Any], path: str) -> str | None:
    for key, item in v.items():
        if _plain(item):
            continue
        problem = _json_problem(item, f"{path}.{key}" if path else str(key))
        if problem:
            return problem
    bad = next((str(k) for k in v if "\x00" in str(k)), None)
    if bad is not None:
        return f"a key in {path or 'the value'} ({bad!r}) contains a NUL character (U+0000)"
    return None


def _jsonb_storable(v: dict[str, Any]) -> Any:
    """``v`` as a PostgreSQL ``jsonb`` parameter, unless it holds what ``jsonb`` refuses. The
    check runs on the JSON text (in C), which the driver then sends as it is; the value is
    walked only when the text shows ``\\u0000``, ``NaN`` or ``Infinity``."""
    text = json.dumps(v)
    if "\\u0000" in text or "NaN" in text or "Infinity" in text:
        problem = _json_problem(v)
        if problem:
            raise StoreLimitError(f"{problem}, which PostgreSQL's jsonb cannot store")
    return jsonb_from_text(text)


def dialect_limit(column: sa.Column[Any], dialect: str | None
                  ) -> Callable[[Any], Any] | None:
    """The check of a coerced value against what ``dialect`` stores in ``column`` (``None``
    when there is nothing to check). It returns the value, or for ``jsonb`` the driver's
    parameter already serialised; it raises :class:`StoreLimitError`."""
    kind = column_kind(column)
    if kind == "json":
        return _jsonb_storable if dialect == "postgresql" else None
    if kind == "integer":
        bounds = integer_range(column, dialect)
        return _in_range(*bounds) if bounds else None
    if kind == "text" and dialect == "postgresql":
        return _no_nul
    return None


def storable(value: Any, dialect: str | None) -> Any:
    """``value`` (text, or JSON-like data) made storable by ``dialect`` for a reject row, which
    must never fail to store itself: on PostgreSQL U+0000 becomes the text ``\\x00`` and a NaN
    or infinite number its text."""
    if dialect != "postgresql":
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\\x00") if "\x00" in value else value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {storable(str(k), dialect): storable(v, dialect) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v, dialect) for v in value]
    return value
