"""Python values → what each dialect's driver stores, as SQLAlchemy's bind processing would.

The sync engine adapts values once, while validating, and hands rows straight to the driver's
``executemany``: per-row bind processing in SQLAlchemy would otherwise cost more than the
database work itself (``bench/sync_files.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, Literal

import sqlalchemy as sa

__all__ = ["ColumnKind", "column_kind", "value_adapter", "jsonb_from_text"]

Adapter = Callable[[Any], Any]

#: What a column holds, as validation, value adapters and store limits tell columns apart.
ColumnKind = Literal["json", "datetime", "date", "boolean", "integer", "float", "text", "other"]

#: SQLAlchemy types → kinds, in the order they are tried.
_KINDS: tuple[tuple[type[sa.types.TypeEngine[Any]], ColumnKind], ...] = (
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Float, "float"),
    (sa.String, "text"),
)


def column_kind(column: sa.Column[Any]) -> ColumnKind:
    """The kind of ``column``'s values: ``json`` for JSON columns (and the synced tables'
    ``custom`` and ``raw``), else by its SQLAlchemy type; ``other`` for any other type."""
    t = column.type
    if isinstance(t, sa.JSON) or column.name in ("custom", "raw"):
        return "json"
    for type_, kind in _KINDS:
        if isinstance(t, type_):
            return kind
    return "other"


def _sqlite_datetime(v: dt.datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, so SQL comparisons and reads agree.
    return v.isoformat(" ", "microseconds")


def _sqlite_date(v: dt.date) -> str:
    return v.isoformat()


def _sqlite_bool(v: bool) -> int:
    return 1 if v else 0


def _json_text(v: Any) -> str:
    return json.dumps(v)


def _jsonb(v: Any) -> Any:
    from psycopg.types.json import Jsonb

    return v if isinstance(v, Jsonb) else Jsonb(v)


def jsonb_from_text(text: str) -> Any:
    """A PostgreSQL ``jsonb`` parameter from JSON text already made (``json.dumps``), so the
    driver does not serialise the value a second time."""
    from psycopg.types.json import Jsonb

    return Jsonb(text, dumps=str)


def value_adapter(dialect: str | None, column: sa.Column[Any]) -> Adapter | None:
    """The adapter of ``column``'s values for ``dialect``, or ``None`` when the driver takes
    the Python value as it is (and always for ``dialect=None``)."""
    if dialect is None:
        return None
    kind = column_kind(column)
    if kind == "json":
        return _jsonb if dialect == "postgresql" else _json_text
    if dialect == "sqlite":
        return _SQLITE.get(kind)
    return None


_SQLITE: dict[ColumnKind, Adapter] = {
    "datetime": _sqlite_datetime,
    "date": _sqlite_date,
    "boolean": _sqlite_bool,
}
