"""Finding the records a database refuses, so one bad value never blocks a whole table.

Validation knows each dialect's limits (:mod:`crmsync.sync.validate`), but a value it lets
through may still fail at INSERT. When a batch's transaction fails on a data error, the engine
asks :func:`refused_rows` which rows the database refuses: the rows are upserted in probe
transactions that are always rolled back, halving the failing part until single rows remain.
The engine then commits the other rows, the rejects and the cursor in one transaction, as for
any batch (docs/concepts.md, "Rejects").
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crmsync.store import upsert_prepared

__all__ = ["is_data_error", "refused_rows", "describe_refusal"]

K = TypeVar("K", bound=Hashable)


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's exception behind ``exc`` (SQLAlchemy wraps it), or ``None`` when the
    connection itself was lost."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated or exc.orig is None:
            return None
        return exc.orig
    return exc


def is_data_error(exc: BaseException, engine: Engine) -> bool:
    """True when the database (or its driver) refused the values sent, not the connection:
    a DBAPI ``DataError`` or ``IntegrityError``, PostgreSQL's program limits (class 54, e.g. an
    index row too large), or sqlite3's ``OverflowError`` for an integer beyond 64 bits."""
    orig = _driver_error(exc)
    if orig is None:
        return False
    if isinstance(orig, OverflowError):
        return True
    dbapi = engine.dialect.loaded_dbapi
    if isinstance(orig, (dbapi.DataError, dbapi.IntegrityError)):
        return True
    return (isinstance(orig, dbapi.OperationalError)
            and str(getattr(orig, "sqlstate", "") or "").startswith("54"))


def refused_rows(engine: Engine, table: sa.Table, columns: Sequence[str],
                 rows: Sequence[tuple[K, Sequence[Any]]]
                 ) -> list[tuple[K, BaseException]]:
    """The rows of ``rows`` (``(key, values)`` pairs) the database refuses, each with its
    error, found by bisection in transactions that are rolled back: nothing is written.

    An empty list means the rows store fine on their own (the failure was elsewhere). An error
    that is not a data error (a lost connection) is raised.
    """

    def probe(part: Sequence[tuple[K, Sequence[Any]]]) -> BaseException | None:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                upsert_prepared(conn, table, columns, [values for _, values in part])
            except Exception as exc:
                if not is_data_error(exc, engine):
                    raise
                return exc
            finally:
                transaction.rollback()
        return None

    def bisect(part: Sequence[tuple[K, Sequence[Any]]], error: BaseException
               ) -> list[tuple[K, BaseException]]:
        if len(part) == 1:
            return [(part[0][0], error)]
        found: list[tuple[K, BaseException]] = []
        middle = len(part) // 2
        for half in (part[:middle], part[middle:]):
            half_error = probe(half)
            if half_error is not None:
                found.extend(bisect(half, half_error))
        return found

    error = probe(rows) if rows else None
    return bisect(rows, error) if error is not None else []


_INT64 = range(-(1 << 63), 1 << 63)


def describe_refusal(exc: BaseException, columns: Sequence[str], values: Sequence[Any]
                     ) -> tuple[str | None, str]:
    """``(field, reason)`` of a database's refusal of one row (``values`` in ``columns``
    order): the column when the database names it (PostgreSQL's diagnostics) or when the
    driver's error can only come from one (sqlite3's ``OverflowError``: an integer beyond 64
    bits), and the error's first line."""
    orig = _driver_error(exc) or exc
    diag = getattr(orig, "diag", None)
    field = getattr(diag, "column_name", None) if diag is not None else None
    if field is None and isinstance(orig, OverflowError):
        field = next((c for c, v in zip(columns, values, strict=False)
                      if type(v) is int and v not in _INT64), None)
    message = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return field, f"the database refused the record: {message}"
