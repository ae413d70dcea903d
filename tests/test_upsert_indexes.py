"""SQLite upserts leave a secondary index alone when a re-sent row's indexed columns keep
their values (crmsync.store.upsert): the rows stored are those of the one-statement upsert,
and every index still finds them."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from conftest import table_rows
from crmsync.core.schema import SYNCED_TABLES
from crmsync.store import Store, upsert_rows
from crmsync.store import upsert as upsert_module

ACTIVITIES = SYNCED_TABLES["activities"]
T0 = dt.datetime(2026, 3, 1, 9, 0)


def activity(i: int, rng: random.Random) -> dict[str, Any]:
    return {"connection": "crm", "remote_id": f"T{i:04d}", "type": "call",
            "subject": f"call {i}", "occurred_at": T0 + dt.timedelta(hours=i),
            "owner_id": f"U{i % 5}", "contact_id": rng.choice([None, f"C{i % 11}"]),
            "account_id": f"A{i % 3}", "opportunity_id": rng.choice([None, f"O{i % 7}"]),
            "duration_seconds": i, "is_deleted": False, "synced_at": T0}


def edited(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The row as a later sync sends it: unchanged, with a plain column changed, or with an
    indexed column changed (to a value, to NULL, from NULL)."""
    kind = rng.randrange(5)
    new = {**row, "synced_at": T0 + dt.timedelta(days=1)}
    if kind == 1:
        new["subject"] = row["subject"] + " (edited)"
    elif kind == 2:
        new["owner_id"] = "U9"
    elif kind == 3:
        new["opportunity_id"] = None if row["opportunity_id"] else "O99"
    elif kind == 4:
        new["occurred_at"] = row["occurred_at"] + dt.timedelta(minutes=5)
        new["subject"] = "moved"
    return new


def load(store: Store, batches: list[list[dict[str, Any]]]) -> list[tuple]:
    for batch in batches:
        with store.engine.begin() as conn:
            upsert_rows(conn, ACTIVITIES, batch)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    return table_rows(store, "activities")


def test_the_two_statements_store_what_one_upsert_stores(tmp_path: Path, monkeypatch) -> None:
    rng = random.Random(5)
    first = [activity(i, rng) for i in range(300)]
    second = [edited(r, rng) for r in first[:200]] + [activity(i, rng) for i in range(300, 350)]
    third = [edited(r, rng) for r in second[::3]]
    batches = [first, second, third]
    fast = Store(f"sqlite:///{tmp_path / 'fast.db'}")
    fast_rows = load(fast, batches)
    monkeypatch.setattr(upsert_module, "_sqlite_pair", lambda table, columns: None)
    plain = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    assert load(plain, batches) == fast_rows
    # the indexes find the rows by their new values, not their old ones
    for store in (fast, plain):
        with store.engine.connect() as conn:
            moved = conn.execute(sa.select(sa.func.count()).select_from(ACTIVITIES).where(
                ACTIVITIES.c.connection == "crm", ACTIVITIES.c.owner_id == "U9")).scalar()
            assert moved == sum(r["owner_id"] == "U9" for r in
                                {r["remote_id"]: r for b in batches for r in b}.values())
        store.dispose()


def test_rows_sent_again_run_only_the_statement_that_sets_no_indexed_column(tmp_path: Path
                                                                          ) -> None:
    rng = random.Random(7)
    rows = [activity(i, rng) for i in range(500)]
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    load(store, [rows])

    def upserts(batch: list[dict[str, Any]]) -> list[str]:
        """The upserts SQLite ran for ``batch``, one per row executed (its trace of each
        execution, values bound): ``alike`` sets no indexed column, ``changed`` sets them
        all."""
        ran: list[str] = []
        with store.engine.begin() as conn:
            raw = conn.connection.dbapi_connection
            raw.set_trace_callback(ran.append)
            upsert_rows(conn, ACTIVITIES, batch)
            raw.set_trace_callback(None)
        return ["changed" if "WHERE NOT (" in s else "alike" for s in ran
                if s.startswith("INSERT INTO activities")]

    later = T0 + dt.timedelta(days=2)
    same = upserts([{**r, "synced_at": later, "subject": "again"} for r in rows])
    assert set(same) == {"alike"}
    assert set(upserts([activity(i, rng) for i in range(500, 600)])) == {"alike"}  # new rows
    # a row whose indexed column changed takes the second statement, and only that row
    ran = upserts([{**rows[0], "owner_id": "U9"}, *rows[1:10], {**rows[10], "lead_id": "L1"}])
    assert ran.count("alike") == 11
    assert ran.count("changed") == 2
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM activities WHERE subject = 'again'"
                                    ).scalar() == 489  # rows 0-10 got their first subject back
    store.dispose()
