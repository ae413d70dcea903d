"""Merged records: references to a merged-away record are pointed at its survivor.

When a CRM merges records (HubSpot merges contacts, companies and deals; Salesforce merges
accounts, contacts and leads), the merged-away ids stop existing. The connector reports each as
a :class:`~crmsync.Deletion` with ``merged_into`` = the survivor's id; the engine marks it
deleted and, in the same transaction, rewrites every reference column in the connection that
still names it (a deal's ``account_id``, an activity's ``contact_id``…), so metrics attribute
the history to the survivor without waiting for the CRM to modify each referencing record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmsync.core.schema import SYNCED_TABLES

__all__ = ["REFERENCES", "repoint_references"]

# Reference columns by the entity they name (references hold remote ids: docs/schema.md).
_TARGET_OF = {
    "owner_id": "users", "manager_id": "users",
    "account_id": "accounts", "converted_account_id": "accounts",
    "contact_id": "contacts", "converted_contact_id": "contacts",
    "opportunity_id": "opportunities", "converted_opportunity_id": "opportunities",
    "lead_id": "leads", "stage_id": "stages", "pipeline_id": "pipelines",
}


def _references() -> dict[str, list[tuple[sa.Table, sa.Column]]]:
    refs: dict[str, list[tuple[sa.Table, sa.Column]]] = {}
    for name, table in SYNCED_TABLES.items():
        for column in table.c:
            target = "accounts" if (name, column.name) == ("accounts", "parent_id") \
                else _TARGET_OF.get(column.name)
            if target is not None:
                refs.setdefault(target, []).append((table, column))
    return refs


#: For each entity, the ``(table, column)`` pairs whose values are its remote ids.
REFERENCES: dict[str, list[tuple[sa.Table, sa.Column]]] = _references()


def repoint_references(conn: Connection, entity: str, connection: str,
                       merges: Sequence[tuple[str, str]], now: dt.datetime) -> int:
    """Point references to merged-away ``entity`` records at their survivors.

    :param merges: ``(merged_id, survivor_id)`` pairs.
    :return: how many stored rows were changed.
    """
    if not merges:
        return 0
    params = [{"b_connection": connection, "b_old": old, "b_new": new} for old, new in merges
              if old != new]
    changed = 0
    for table, column in REFERENCES.get(entity, []):
        stmt = (sa.update(table)
                .where(table.c.connection == sa.bindparam("b_connection"),
                       column == sa.bindparam("b_old"))
                .values({column.name: sa.bindparam("b_new"), "synced_at": now}))
        changed += max(conn.execute(stmt, params).rowcount, 0)
    return changed
