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

__all__ = ["StoreLimitError", "integer_range", "dialect_limit", "storable"]


class StoreLimitError(ValueError):
    """A value the store's dialect cannot hold; the message says why."""


_INT16 = (-(1 << 15), (1 << 15) - 1)
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)


def integer_range(column: sa.Column, dialect: str | None) -> tuple[int, int] | None:
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
        for key, item in v.items():
            t = type(item)
            if t is str:
                if "\x00" not in item:
                    continue
            elif t is int or t is bool or item is None:
                pass
            elif t is float:
                if math.isfinite(item):
                    continue
            where = f"{path}.{key}" if path else str(key)
            problem = _json_problem(item, where)
            if problem:
                return problem
        if any("\x00" in str(key) for key in v):
            bad = next(str(k) for k in v if "\x00" in str(k))
            return f"a key in {path or 'the value'} ({bad!r}) contains a NUL character (U+0000)"
        return None
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


def _jsonb_storable(v: dict[str, Any]) -> Any:
    """``v`` as a PostgreSQL ``jsonb`` parameter, unless it holds what ``jsonb`` refuses. The
    check runs on the JSON text (in C), which the driver then sends as it is; the value is
    walked only when the text shows ``\\u0000``, ``NaN`` or ``Infinity``."""
    from crmsync.store.adapt import jsonb_from_text

    text = json.dumps(v)
    if "\\u0000" in text or "NaN" in text or "Infinity" in text:
        problem = _json_problem(v)
        if problem:
            raise StoreLimitError(f"{problem}, which PostgreSQL's jsonb cannot store")
    return jsonb_from_text(text)


def dialect_limit(column: sa.Column, dialect: str | None) -> Callable[[Any], Any] | None:
    """The check of a coerced value against what ``dialect`` stores in ``column`` (``None``
    when there is nothing to check). It returns the value, or for ``jsonb`` the driver's
    parameter already serialised; it raises :class:`StoreLimitError`."""
    t = column.type
    if isinstance(t, sa.JSON) or column.name in ("custom", "raw"):
        return _jsonb_storable if dialect == "postgresql" else None
    if isinstance(t, sa.Integer):
        bounds = integer_range(column, dialect)
        return _in_range(*bounds) if bounds else None
    if isinstance(t, sa.String) and dialect == "postgresql":
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
