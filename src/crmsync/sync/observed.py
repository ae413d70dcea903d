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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmsync.core.schema import HISTORY_FIELDS, SYNCED_TABLES
from crmsync.store.upsert import upsert_rows

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
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
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

    :param fields: the tracked fields to observe.
    :param columns: the batch rows' columns, in order.
    """

    def __init__(self, fields: Iterable[str], columns: Sequence[str]) -> None:
        wanted = set(fields)
        self.fields = tuple(f for f in HISTORY_FIELDS if f in wanted)
        self._at = [columns.index(f) for f in self.fields]
        self._select = sa.select(OPPORTUNITIES.c.remote_id,
                                 *(OPPORTUNITIES.c[f] for f in self.fields)).where(
            OPPORTUNITIES.c.connection == sa.bindparam("connection"),
            OPPORTUNITIES.c.is_deleted.is_(False),
            OPPORTUNITIES.c.remote_id.in_(sa.bindparam("ids", expanding=True)))

    def stored(self, conn: Connection, connection: str, ids: Sequence[str]
               ) -> dict[str, tuple[str | None, ...]]:
        """The stored, non-deleted deals among ``ids``: their tracked values as text."""
        chunk = _CHUNK.get(conn.dialect.name, 900)
        out: dict[str, tuple[str | None, ...]] = {}
        for start in range(0, len(ids), chunk):
            params = {"connection": connection, "ids": list(ids[start:start + chunk])}
            for rid, *values in conn.execute(self._select, params):
                out[rid] = tuple(history_text(v) for v in values)
        return out

    def changes(self, stored: Mapping[str, tuple[str | None, ...]],
                rows: Mapping[str, Sequence[Any]], connection: str,
                at: dt.datetime) -> list[dict[str, Any]]:
        """The ``opportunity_field_history`` rows of the values of ``rows`` (by remote id)
        that differ from ``stored``."""
        out = []
        fields, positions = self.fields, self._at
        for rid, old_values in stored.items():
            row = rows[rid]
            for field, i, old in zip(fields, positions, old_values, strict=True):
                new = history_text(row[i])
                if new != old:
                    out.append({
                        "connection": connection, "remote_id": observed_id(rid, field, at),
                        "remote_created_at": at, "remote_updated_at": at,
                        "is_deleted": False, "synced_at": at, "opportunity_id": rid,
                        "field": field, "changed_at": at, "old_value": old, "new_value": new,
                        "source": "observed"})
        return out

    def observe(self, conn: Connection, connection: str, rows: Mapping[str, Sequence[Any]],
                at: dt.datetime) -> int:
        """Record the changes ``rows`` bring to the stored deals, in ``conn``'s transaction
        (before the rows are upserted); returns how many."""
        if not rows:
            return 0
        stored = self.stored(conn, connection, list(rows))
        changes = self.changes(stored, rows, connection, at) if stored else []
        return upsert_rows(conn, FIELD_HISTORY, changes)


def observer_for(entity: str, history_fields: Iterable[str], columns: Sequence[str],
                 first_load: bool) -> FieldObserver | None:
    """The observer of a sync of ``entity``, or ``None`` when there is nothing to observe:
    another entity than ``opportunities``, a first load into an empty table, or a connector
    that reads the history of every tracked field.

    :param history_fields: ``Connector.history_fields()``.
    """
    if entity != "opportunities" or first_load:
        return None
    observed = set(HISTORY_FIELDS) - set(history_fields)
    return FieldObserver(observed, columns) if observed else None
