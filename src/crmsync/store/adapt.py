"""Python values → what each dialect's driver stores, as SQLAlchemy's bind processing would.

The sync engine adapts values once, while validating, and hands rows straight to the driver's
``executemany``: per-row bind processing in SQLAlchemy would otherwise cost more than the
database work itself (``bench/sync_files.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

__all__ = ["value_adapter", "jsonb_from_text"]

Adapter = Callable[[Any], Any]


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


def value_adapter(dialect: str | None, column: sa.Column) -> Adapter | None:
    """The adapter of ``column``'s values for ``dialect``, or ``None`` when the driver takes
    the Python value as it is (and always for ``dialect=None``)."""
    t = column.type
    if dialect is None:
        return None
    if isinstance(t, sa.JSON):
        return _jsonb if dialect == "postgresql" else _json_text
    if dialect == "sqlite":
        if isinstance(t, sa.DateTime):
            return _sqlite_datetime
        if isinstance(t, sa.Date):
            return _sqlite_date
        if isinstance(t, sa.Boolean):
            return _sqlite_bool
    return None
