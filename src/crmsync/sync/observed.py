"""Observed field history: the changes of tracked deal fields the engine sees between syncs.

For the tracked fields (:data:`crmsync.core.schema.HISTORY_FIELDS`) a connector does not read
the history of (``Connector.history_fields()``), the engine compares, in the transaction of
each ``opportunities`` batch and before its upsert, the stored values of the deals the batch
holds with their new values, and writes one ``opportunity_field_history`` row per changed
field with ``source = 'observed'`` and ``changed_at`` = the batch's time (the deal row's
``synced_at``). A deal not stored yet, or stored as deleted, is not compared. See
docs/history.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from crmsync.core.schema import HISTORY_FIELDS, SYNCED_TABLES
from crmsync.store.adapt import value_adapter
from crmsync.store.upsert import upsert_prepared

__all__ = ["history_text", "observed_id", "FieldObserver", "observer_for"]

OPPORTUNITIES = SYNCED_TABLES["opportunities"]
FIELD_HISTORY = SYNCED_TABLES["opportunity_field_history"]
#: Remote ids per query of stored values (SQLite's bound-parameter limit is 999 on old builds).
_CHUNK = {"sqlite": 900, "postgresql": 10_000}
#: The longest deal remote id kept as is in an observed row's remote id (255 characters).
_LONGEST_ID = 180


def history_text(value: Any) -> str | None:
    """``value`` in the history's one text encoding: numbers as Python float text
    (``12500.0``), dates as ``YYYY-MM-DD``, text as is; ``None`` and ``""`` as ``None``."""
    kind = type(value)
    if kind is str:
        return value or None
    if value is None:
        return None
    if kind is float or kind is int:
        return repr(float(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def observed_id(opportunity_id: str, field: str, changed_at: dt.datetime) -> str:
    """The remote id of an observed change: ``observed:<deal>:<field>:<changed_at ISO>``
    (a deal id too long to fit is replaced by its SHA-1)."""
    if len(opportunity_id) > _LONGEST_ID:
        opportunity_id = "sha1-" + hashlib.sha1(opportunity_id.encode()).hexdigest()
    return f"observed:{opportunity_id}:{field}:{changed_at.isoformat()}"


class FieldObserver:
    """Compares a batch of ``opportunities`` rows with the stored ones and records the changes.

    The stored values are read as the driver returns them, which is how the batch's rows
    hold theirs (adapted for the dialect: a date is ISO text on SQLite, a ``date`` on
    PostgreSQL), so unchanged values compare equal without being encoded; only differing
    ones are encoded, and compared again as text (``100`` and ``100.0`` are no change).

    :param fields: the tracked fields to observe.
    :param columns: the batch rows' columns, in order.
    :param dialect: the store's dialect.
    """

    def __init__(self, fields: Iterable[str], columns: Sequence[str], dialect: str) -> None:
        wanted = set(fields)
        self.fields = tuple(f for f in HISTORY_FIELDS if f in wanted)
        at = [columns.index(f) for f in self.fields]
        getter = operator.itemgetter(*at)
        self._new_values: Callable[[Sequence[Any]], tuple[Any, ...]] = \
            getter if len(at) > 1 else lambda row: (getter(row),)
        mark = "%s" if dialect == "postgresql" else "?"
        names = ", ".join(f'"{f}"' for f in ("remote_id", *self.fields))
        self._sql = (f'SELECT {names} FROM "{OPPORTUNITIES.name}" WHERE "connection" = {mark} '
                     f'AND NOT "is_deleted" AND "remote_id" ')
        self._chunk = _CHUNK.get(dialect, 900)
        self._columns = [c for c in FIELD_HISTORY.columns if c.name != "id"]
        self._adapters = {c.name: value_adapter(dialect, c) for c in self._columns}

    def stored(self, conn: Connection, connection: str, ids: Sequence[str]
               ) -> list[tuple[Any, ...]]:
        """``(remote_id, value…)`` of the stored, non-deleted deals among ``ids``, values as
        the driver returns them (read with the driver's cursor: no per-row work above it)."""
        out: list[tuple[Any, ...]] = []
        chunk = self._chunk
        cursor = conn.connection.cursor()
        try:
            for start in range(0, len(ids), chunk):
                part = list(ids[start:start + chunk])
                if conn.dialect.name == "postgresql":
                    cursor.execute(self._sql + "= ANY(%s)", (connection, part))
                else:
                    marks = ", ".join("?" * len(part))
                    cursor.execute(f"{self._sql}IN ({marks})", (connection, *part))
                out.extend(cursor.fetchall())
        finally:
            cursor.close()
        return out

    def changes(self, stored: Iterable[tuple[Any, ...]],
                rows: Mapping[str, Sequence[Any]]) -> list[tuple[str, str, Any, Any]]:
        """``(remote_id, field, old text, new text)`` of the values of ``rows`` (by remote id)
        that differ from ``stored``."""
        out = []
        fields, new_values = self.fields, self._new_values
        for found in stored:
            rid, old_values = found[0], found[1:]
            values = new_values(rows[rid])
            if values == old_values:  # the common case, compared in C
                continue
            for field, old, new in zip(fields, old_values, values, strict=True):
                if new != old:
                    old_text, new_text = history_text(old), history_text(new)
                    if old_text != new_text:
                        out.append((rid, field, old_text, new_text))
        return out

    def history_rows(self, changes: Iterable[tuple[str, str, Any, Any]], connection: str,
                     at: dt.datetime) -> list[list[Any]]:
        """``opportunity_field_history`` rows of ``changes`` at ``at``, as value lists in
        table order adapted for the dialect."""
        constants = {"connection": connection, "remote_created_at": at,
                     "remote_updated_at": at, "is_deleted": False, "synced_at": at,
                     "changed_at": at, "source": "observed"}
        base = []
        for column in self._columns:
            value, adapter = constants.get(column.name), self._adapters[column.name]
            base.append(value if adapter is None or value is None else adapter(value))
        names = [c.name for c in self._columns]
        positions = [names.index(n) for n in ("remote_id", "opportunity_id", "field",
                                              "old_value", "new_value")]
        stamp = at.isoformat()
        out = []
        for rid, field, old, new in changes:
            row = base.copy()
            key = f"observed:{rid}:{field}:{stamp}" if len(rid) <= _LONGEST_ID else \
                observed_id(rid, field, at)
            for position, value in zip(positions, (key, rid, field, old, new), strict=True):
                row[position] = value
            out.append(row)
        return out

    def observe(self, conn: Connection, connection: str, rows: Mapping[str, Sequence[Any]],
                at: dt.datetime) -> int:
        """Record the changes ``rows`` bring to the stored deals, in ``conn``'s transaction
        (before the rows are upserted); returns how many."""
        if not rows:
            return 0
        stored = self.stored(conn, connection, list(rows))
        changes = self.changes(stored, rows) if stored else []
        if not changes:
            return 0
        return upsert_prepared(conn, FIELD_HISTORY, [c.name for c in self._columns],
                               self.history_rows(changes, connection, at))


def observer_for(entity: str, history_fields: Iterable[str], columns: Sequence[str],
                 dialect: str, first_load: bool) -> FieldObserver | None:
    """The observer of a sync of ``entity``, or ``None`` when there is nothing to observe:
    another entity than ``opportunities``, a first load into an empty table, or a connector
    that reads the history of every tracked field.

    :param history_fields: ``Connector.history_fields()``.
    """
    if entity != "opportunities" or first_load:
        return None
    observed = set(HISTORY_FIELDS) - set(history_fields)
    return FieldObserver(observed, columns, dialect) if observed else None
