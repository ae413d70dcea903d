"""Rejects that still stand, and resolving them (``docs/concepts.md#rejects``).

A reject stands until a later sync stores its record: one with the reject's remote id or, for a
reject without one, from its source (``accounts.csv line 4``). Resolved rejects keep their row
in ``sync_rejects`` with ``resolved_at`` set, as history; ``crmsync status`` shows the standing
ones only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crmsync.core.schema import sync_rejects
from crmsync.plugin.connector import StandingRejects

__all__ = ["load_standing", "resolve"]

_CHUNK = 500


def load_standing(engine: Engine, connection: str, entity: str) -> StandingRejects:
    """The remote ids and sources of ``entity``'s rejects no sync has resolved."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_rejects.c.remote_id, sync_rejects.c.source).distinct()
            .where(sync_rejects.c.connection == connection, sync_rejects.c.entity == entity,
                   sync_rejects.c.resolved_at.is_(None))).all()
    return StandingRejects(remote_ids=frozenset(r for r, _ in rows if r is not None),
                           sources=frozenset(s for _, s in rows if s is not None))


def resolve(conn: Connection, connection: str, entity: str, standing: StandingRejects, *,
            remote_ids: Iterable[str], sources: Iterable[str],
            now: dt.datetime) -> StandingRejects:
    """Mark resolved the standing rejects whose records were just stored (``remote_ids``,
    ``sources``); returns what still stands. A record rejected earlier in the same run and
    stored now is resolved too: its latest version is the stored one."""
    ids = standing.remote_ids.intersection(remote_ids)
    places = standing.sources.intersection(sources)
    if not ids and not places:
        return standing
    # a source names one record only for rejects without a remote id ("accounts.csv line 4");
    # one like "GET /deals" may be shared by a whole page
    by_id = sync_rejects.c.remote_id.in_

    def by_source(chunk: list[str]) -> sa.ColumnElement[bool]:
        return sa.and_(sync_rejects.c.remote_id.is_(None), sync_rejects.c.source.in_(chunk))
    for match, keys in ((by_id, ids), (by_source, places)):
        ordered = sorted(keys)
        for i in range(0, len(ordered), _CHUNK):
            conn.execute(sa.update(sync_rejects).where(
                sync_rejects.c.connection == connection, sync_rejects.c.entity == entity,
                sync_rejects.c.resolved_at.is_(None),
                match(ordered[i:i + _CHUNK])).values(resolved_at=now))
    return StandingRejects(standing.remote_ids - ids, standing.sources - places)
