"""The as-of building block (src/crmsync/plugin/history.py) on hand-built histories, on SQLite
and PostgreSQL: every expected value below is read off the histories by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import load_records
from crmsync import opportunities_as_of, table_as_of
from crmsync.store import Store

STAGES = [
    {"remote_id": "S1", "pipeline_id": "PL", "label": "Qualify", "is_closed": False},
    {"remote_id": "S2", "pipeline_id": "PL", "label": "Propose", "is_closed": False},
    {"remote_id": "W", "pipeline_id": "PL", "label": "Won", "is_closed": True, "is_won": True},
    {"remote_id": "L", "pipeline_id": "PL", "label": "Lost", "is_closed": True,
     "is_won": False},
]


def change(rid: str, opp: str, field: str, at: str, old: str | None, new: str | None,
           source: str = "crm", by: str | None = None) -> dict[str, Any]:
    return {"remote_id": rid, "opportunity_id": opp, "field": field, "changed_at": at,
            "old_value": old, "new_value": new, "source": source, "changed_by": by}


DATA: dict[str, list[dict[str, Any]]] = {
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": STAGES,
    "opportunities": [
        # pushed, resized, moved to another owner, then won
        {"remote_id": "D1", "status": "won", "stage_id": "W", "amount": 1500.0,
         "currency": "USD", "owner_id": "U2", "expected_close_date": "2026-04-15",
         "remote_created_at": "2026-01-01T09:00:00", "remote_updated_at": "2026-03-01T10:00:00",
         "closed_at": "2026-03-01T10:00:00", "won_reason": "price", "pipeline_id": "PL"},
        # created after every instant below but the last
        {"remote_id": "D2", "status": "open", "stage_id": "S1", "amount": 10.0,
         "remote_created_at": "2026-03-10T00:00:00", "pipeline_id": "PL"},
        # lost, then reopened: open now, with no close time
        {"remote_id": "D3", "status": "open", "stage_id": "S1", "amount": 200.0,
         "remote_created_at": "2026-01-05T00:00:00", "pipeline_id": "PL",
         "lost_reason": "timing"},
        # deleted on 5 March
        {"remote_id": "D4", "status": "open", "stage_id": "S1", "amount": 300.0,
         "remote_created_at": "2026-01-05T00:00:00", "is_deleted": True,
         "deleted_at": "2026-03-05T00:00:00", "pipeline_id": "PL"},
        # EUR until 1 February, USD since; the CRM's base amount is today's
        {"remote_id": "D5", "status": "open", "stage_id": "S2", "amount": 400.0,
         "currency": "USD", "amount_base": 400.0, "remote_created_at": "2026-01-05T00:00:00",
         "pipeline_id": "PL"},
        # never changed
        {"remote_id": "D6", "status": "open", "stage_id": "S2", "amount": 50.0, "probability": 0.6,
         "amount_base": 50.0, "remote_created_at": "2026-01-05T00:00:00", "pipeline_id": "PL"},
    ],
    "opportunity_field_history": [
        change("h1", "D1", "stage_id", "2026-02-01T00:00:00", "S1", "S2"),
        change("h2", "D1", "stage_id", "2026-03-01T10:00:00", "S2", "W"),
        change("h3", "D1", "amount", "2026-02-15T00:00:00", "1000.0", "1500.0"),
        change("h4", "D1", "expected_close_date", "2026-02-10T00:00:00", "2026-03-01",
               "2026-04-15"),
        change("h5", "D1", "owner_id", "2026-02-20T00:00:00", "U1", "U2"),
        # an observed change of a field the CRM also reports: ignored
        change("o1", "D1", "amount", "2026-01-20T00:00:00", "1000.0", "999.0", "observed"),
        change("h6", "D3", "stage_id", "2026-02-01T00:00:00", "S1", "L"),
        change("h7", "D3", "stage_id", "2026-03-01T00:00:00", "L", "S1"),
        change("h8", "D5", "currency", "2026-02-01T00:00:00", "EUR", "USD"),
        change("h9", "D5", "amount", "2026-02-01T00:00:00", "370.0", "400.0"),
        # observed only: used
        change("o2", "D6", "probability", "2026-02-01T00:00:00", "0.2", "0.6", "observed"),
    ],
}

COLUMNS = ("remote_id", "status", "stage_id", "amount", "currency", "amount_base", "owner_id",
           "expected_close_date", "closed_at", "is_deleted", "won_reason", "lost_reason",
           "probability")


def state(store: Store, at: dt.datetime) -> dict[str, dict[str, Any]]:
    q = opportunities_as_of(store.dialect, at).subquery("o")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*(q.c[c] for c in COLUMNS))).mappings().all()
    return {r["remote_id"]: dict(r) for r in rows}


@pytest.fixture
def history_store(store: Store) -> Store:
    load_records(store, DATA)
    return store


def test_a_deal_before_any_change_holds_the_old_values(history_store: Store) -> None:
    d1 = state(history_store, dt.datetime(2026, 1, 15))["D1"]
    assert (d1["status"], d1["stage_id"], d1["amount"], d1["owner_id"],
            d1["expected_close_date"], d1["closed_at"], d1["won_reason"]) == (
        "open", "S1", 1000.0, "U1", dt.date(2026, 3, 1), None, None)


def test_a_deal_between_changes_holds_the_latest_change_so_far(history_store: Store) -> None:
    d1 = state(history_store, dt.datetime(2026, 2, 16))["D1"]
    assert (d1["status"], d1["stage_id"], d1["amount"], d1["owner_id"],
            d1["expected_close_date"]) == ("open", "S2", 1500.0, "U1", dt.date(2026, 4, 15))


def test_a_won_deal_after_its_close_is_won_by_its_owner_at_close(history_store: Store) -> None:
    d1 = state(history_store, dt.datetime(2026, 3, 2))["D1"]
    assert (d1["status"], d1["owner_id"], d1["closed_at"], d1["won_reason"]) == (
        "won", "U2", dt.datetime(2026, 3, 1, 10), "price")


def test_the_change_instant_itself_already_holds_the_new_value(history_store: Store) -> None:
    assert state(history_store, dt.datetime(2026, 2, 1))["D1"]["stage_id"] == "S2"


def test_deals_created_later_are_absent(history_store: Store) -> None:
    assert "D2" not in state(history_store, dt.datetime(2026, 3, 2))
    assert "D2" in state(history_store, dt.datetime(2026, 3, 10))


def test_a_reopened_deal_was_lost_while_it_was_closed(history_store: Store) -> None:
    lost = state(history_store, dt.datetime(2026, 2, 15))["D3"]
    assert (lost["status"], lost["closed_at"], lost["lost_reason"]) == (
        "lost", dt.datetime(2026, 2, 1), "timing")
    reopened = state(history_store, dt.datetime(2026, 3, 2))["D3"]
    assert (reopened["status"], reopened["closed_at"]) == ("open", None)


def test_a_deal_deleted_later_was_not_deleted_then(history_store: Store) -> None:
    assert state(history_store, dt.datetime(2026, 3, 1))["D4"]["is_deleted"] is False
    assert state(history_store, dt.datetime(2026, 3, 6))["D4"]["is_deleted"] is True


def test_the_crm_base_amount_is_dropped_while_the_money_differed(history_store: Store) -> None:
    before = state(history_store, dt.datetime(2026, 1, 20))["D5"]
    assert (before["amount"], before["currency"], before["amount_base"]) == (370.0, "EUR", None)
    after = state(history_store, dt.datetime(2026, 2, 2))["D5"]
    assert (after["amount"], after["currency"], after["amount_base"]) == (400.0, "USD", 400.0)


def test_observed_changes_count_only_where_the_crm_reports_none(history_store: Store) -> None:
    assert state(history_store, dt.datetime(2026, 1, 25))["D1"]["amount"] == 1000.0
    d6 = state(history_store, dt.datetime(2026, 1, 25))["D6"]
    assert (d6["probability"], d6["amount_base"]) == (0.2, 50.0)


def test_now_the_rebuilt_deals_equal_the_stored_ones(history_store: Store) -> None:
    o = sa.table("opportunities", *(sa.column(c) for c in COLUMNS))
    with history_store.engine.connect() as conn:
        stored = {r["remote_id"]: dict(r) for r in
                  conn.execute(sa.select(*(o.c[c] for c in COLUMNS))).mappings()}
    rebuilt = state(history_store, dt.datetime(2027, 1, 1))
    for row in (*stored.values(), *rebuilt.values()):
        row["is_deleted"] = bool(row["is_deleted"])
        row["expected_close_date"] = str(row["expected_close_date"] or "")[:10]
        row["closed_at"] = str(row["closed_at"] or "")[:19].replace("T", " ")
    assert rebuilt == stored


def test_event_tables_are_cut_at_the_instant(store: Store) -> None:
    load_records(store, {
        "activities": [{"remote_id": "A1", "type": "call", "occurred_at": "2026-01-10T00:00:00"},
                       {"remote_id": "A2", "type": "call", "occurred_at": "2026-02-10T00:00:00"}],
        "leads": [{"remote_id": "L1", "remote_created_at": "2026-01-01T00:00:00",
                   "converted_at": "2026-02-01T00:00:00", "converted_opportunity_id": "D1"}],
    })
    at = dt.datetime(2026, 1, 15)
    with store.engine.connect() as conn:
        acts = conn.execute(sa.select(table_as_of(store.dialect, "activities", at)
                                      .subquery().c.remote_id)).scalars().all()
        lead = conn.execute(table_as_of(store.dialect, "leads", at)).mappings().one()
    assert acts == ["A1"]
    assert (lead["converted_at"], lead["converted_opportunity_id"]) == (None, None)
