"""A record sent again with every value as stored is not written again (crmsync.store.upsert),
on SQLite and PostgreSQL, through each of the write paths: the small batch's ``executemany``,
PostgreSQL's ``COPY`` + merge, and SQLite's pair of statements. Its ``synced_at`` keeps the
time it last changed; on PostgreSQL it keeps its row version (``xmin``), so a ``--full`` sync
of an unchanged source leaves no dead rows behind. A changed record is written, whichever of
its columns changed (to NULL and from NULL included)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync.core.schema import SYNCED_TABLES
from crmsync.store import Store, upsert_rows
from crmsync.store.upsert import COPY_THRESHOLD

ACTIVITIES = SYNCED_TABLES["activities"]
T0 = dt.datetime(2026, 3, 1, 9, 0)
LATER = T0 + dt.timedelta(days=1)


def activity(i: int) -> dict[str, Any]:
    return {"connection": "crm", "remote_id": f"T{i:05d}", "type": "call",
            "subject": f"call {i}", "occurred_at": T0 + dt.timedelta(minutes=i),
            "owner_id": f"U{i % 5}", "contact_id": None if i % 2 else f"C{i % 11}",
            "account_id": f"A{i % 3}", "opportunity_id": None, "duration_seconds": i,
            "custom": {"score": i % 7, "tags": ["a", "b"]} if i % 3 else None,
            "is_deleted": False, "synced_at": T0}


#: One edit per kind of column: plain, indexed, to NULL, from NULL, JSON, deleted.
EDITS: dict[int, dict[str, Any]] = {
    1: {"subject": "edited"},
    2: {"owner_id": "U9"},
    3: {"duration_seconds": None},
    4: {"opportunity_id": "O1"},
    5: {"custom": {"score": 99, "tags": ["a", "b"]}},
    6: {"is_deleted": True},
    7: {"occurred_at": T0 - dt.timedelta(days=3)},
}


def stored(store: Store) -> dict[str, dict[str, Any]]:
    """Every activity by its remote id; on PostgreSQL with its row version (``xmin``)."""
    version = (sa.literal_column("xmin::text") if store.engine.dialect.name == "postgresql"
               else sa.literal(None)).label("version")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ACTIVITIES, version)).mappings().all()
    return {r["remote_id"]: dict(r) for r in rows}


@pytest.mark.parametrize("size", [40, COPY_THRESHOLD + 200], ids=["executemany", "copy"])
def test_rows_sent_again_unchanged_are_not_written(store: Store, size: int) -> None:
    first = [activity(i) for i in range(size)]
    with store.engine.begin() as conn:
        assert upsert_rows(conn, ACTIVITIES, first) == size  # rows written
    before = stored(store)

    again = [{**row, "synced_at": LATER} for row in first]
    for i, edit in EDITS.items():
        again[i].update(edit)
    with store.engine.begin() as conn:
        assert upsert_rows(conn, ACTIVITIES, again) == len(EDITS)
    after = stored(store)

    assert len(after) == size
    for i, row in enumerate(again):
        now, then = after[row["remote_id"]], before[row["remote_id"]]
        if i in EDITS:  # written: every value sent, and the new stamp
            assert now["synced_at"] == LATER, row["remote_id"]
            for column, value in EDITS[i].items():
                assert now[column] == value, (row["remote_id"], column)
            if then["version"] is not None:
                assert now["version"] != then["version"], row["remote_id"]
        else:  # left alone: the same row, its stamp and its version
            assert now == then, row["remote_id"]
    if store.engine.dialect.name == "postgresql":
        versions = {r["version"] for r in after.values()}
        assert len(versions) == 2  # one transaction wrote the edits, one the rest


def test_only_the_stamp_changed_is_not_a_change(store: Store) -> None:
    def read() -> tuple[Any, ...]:
        with store.engine.connect() as conn:
            return tuple(conn.execute(sa.select(ACTIVITIES.c.subject,
                                                ACTIVITIES.c.synced_at)).one())

    with store.engine.begin() as conn:
        upsert_rows(conn, ACTIVITIES, [activity(1)])
    with store.engine.begin() as conn:
        assert upsert_rows(conn, ACTIVITIES, [{**activity(1), "synced_at": LATER}]) == 0
    assert read() == ("call 1", T0)
    with store.engine.begin() as conn:
        assert upsert_rows(conn, ACTIVITIES, [{**activity(1), "subject": None,
                                               "synced_at": LATER}]) == 1
    assert read() == (None, LATER)
