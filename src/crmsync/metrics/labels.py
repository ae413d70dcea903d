"""Names for the ids that metric values carry (docs/metrics.md, "Names, n and partial periods").

A metric value's ``dimension_value`` is a remote id for the ``owner`` and ``pipeline``
dimensions, and its ``subject_id`` is the remote id of the record (or stage) it is about. People
read names: :class:`Labels` loads the names of users, pipelines, stages and the records of one
subject kind once, and answers by id. An id without a stored name is shown as itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.dimensions import Dimension

__all__ = ["Labels", "load_labels", "subject_table", "dimension_tables"]

#: Dimension → the synced table whose ``remote_id`` its values are.
_DIMENSION_TABLES = {"owner": "users", "pipeline": "pipelines", "stage": "stages"}
#: More wanted ids than this read the whole table instead of an ``IN`` list.
_MAX_IDS = 2000
#: Subject kind → the synced table whose ``remote_id`` a ``subject_id`` is.
_SUBJECT_TABLES = {"opportunity": "opportunities", "account": "accounts", "lead": "leads",
                   "contact": "contacts", "user": "users", "stage": "stages"}


def _name_column(table: sa.Table) -> sa.ColumnElement[str]:
    if "name" in table.c:
        return table.c.name
    if "label" in table.c:
        return table.c.label
    # contacts: first and last name
    return sa.func.trim(sa.func.coalesce(table.c.first_name, "") + " "
                        + sa.func.coalesce(table.c.last_name, ""))


@dataclass
class Labels:
    """Display names by table and remote id."""

    names: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Dimension → the synced table whose ``remote_id`` its values are: the built-in ones and
    #: declared dimensions with ``labels`` (:func:`dimension_tables`).
    tables: dict[str, str] = field(default_factory=lambda: dict(_DIMENSION_TABLES))

    def of(self, table: str, remote_id: str | None) -> str | None:
        """The name of ``remote_id`` in ``table`` (``None`` for ``None``; the id itself when
        no name is stored)."""
        if remote_id is None:
            return None
        return self.names.get(table, {}).get(remote_id) or remote_id

    def dimension(self, dimension: str | None, value: str | None) -> str | None:
        """The display name of a dimension value (a rep's name for ``owner``)."""
        table = self.tables.get(dimension or "")
        return self.of(table, value) if table else value

    def subject(self, kind: str | None, subject_id: str | None) -> str | None:
        """The display name of a value's subject (a deal's name for ``opportunity``)."""
        table = _SUBJECT_TABLES.get(kind or "")
        return self.of(table, subject_id) if table else subject_id


def load_labels(conn: Connection, tables: Iterable[str] = ("users", "pipelines", "stages"),
                ids: dict[str, set[str]] | None = None) -> Labels:
    """Load the names of ``tables`` (live and deleted rows: a value may name a rep who has
    left). ``ids`` limits a table to the given remote ids (record-level subjects)."""
    labels = Labels()
    for name in dict.fromkeys(tables):
        table = SYNCED_TABLES[name]
        query = sa.select(table.c.remote_id, _name_column(table)).order_by(
            table.c.is_deleted.desc(), table.c.id)  # live rows last: they win
        wanted = (ids or {}).get(name)
        if wanted is not None:
            if not wanted:
                continue
            if len(wanted) <= _MAX_IDS:  # past that, one scan beats a huge IN list
                query = query.where(table.c.remote_id.in_(sorted(wanted)))
        found = labels.names.setdefault(name, {})
        for remote_id, label in conn.execute(query):
            if label:
                found[remote_id] = label
    return labels


def subject_table(kind: str | None) -> str | None:
    """The synced table a subject kind's ids point into (``None`` for aggregates)."""
    return _SUBJECT_TABLES.get(kind or "")


def dimension_tables(declared: Iterable[Dimension]) -> dict[str, str]:
    """Dimension → labelled table: the built-in ones and those of ``declared`` that have
    ``labels`` (docs/writing-a-metric.md, "Declaring a dimension")."""
    return {**_DIMENSION_TABLES, **{d.name: d.labels for d in declared if d.labels}}
