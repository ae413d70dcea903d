"""``crmsync.deal_states`` (src/crmsync/plugin/history.py): several instants rebuilt from one
read of the history equal ``crmsync.opportunities_as_of`` at each instant, column for column,
on the hand-built histories (observed and CRM changes of one field, reopen, delete, currency
change) and on the generated world, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from as_of_support import world
from conftest import load_records
from crmsync import deal_states, opportunities_as_of
from crmsync.store import Store
from test_history_as_of import DATA, change

#: Every column :func:`deal_states` can give but ``remote_updated_at`` (a look-up the
#: reports comparing instants do not read).
COLUMNS = ("connection", "remote_id", "name", "remote_created_at", "is_deleted",
           "deleted_at", "status", "stage_id", "closed_at", "amount", "currency",
           "amount_base", "owner_id", "expected_close_date", "probability",
           "forecast_category", "won_reason", "lost_reason")

#: Observed changes of a field both before and after instants where the CRM also reports
#: changes of it, and observed-only changes after one instant but not the other.
MORE = [
    change("o3", "D1", "expected_close_date", "2026-02-12T00:00:00", "2026-03-01",
           "2026-03-09", "observed"),
    change("o4", "D5", "owner_id", "2026-01-10T00:00:00", "U7", "U8", "observed"),
    change("o5", "D5", "owner_id", "2026-02-25T00:00:00", "U8", "U9", "observed"),
    change("h10", "D6", "amount", "2026-02-25T00:00:00", "40.0", "50.0"),
    change("h11", "D6", "amount", "2026-02-25T00:00:00", "45.0", "50.0"),  # a tie: row id
]

INSTANTS = [dt.datetime(2026, 1, 15), dt.datetime(2026, 2, 1), dt.datetime(2026, 2, 16),
            dt.datetime(2026, 2, 25), dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 10)]


def _as_of(store: Store, at: dt.datetime) -> dict[str, dict[str, Any]]:
    """``opportunities_as_of`` at ``at``, every deal (no creation cut)."""
    q = opportunities_as_of(store.dialect, at)
    q = sa.select(*q.selected_columns).select_from(*q.get_final_froms()).subquery("o")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*(q.c[c] for c in COLUMNS))).mappings().all()
    return {r["remote_id"]: dict(r) for r in rows}


def _states(store: Store, instants: list[dt.datetime], columns: tuple[str, ...] = COLUMNS
            ) -> list[dict[str, dict[str, Any]]]:
    q = deal_states(store.dialect, instants, columns).subquery("s")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(q)).mappings().all()
    return [{r["s0_remote_id"]: {c: r[f"s{k}_{c}"] for c in columns} for r in rows}
            for k in range(len(instants))]


def _expected(store: Store, at: dt.datetime, columns: tuple[str, ...] = COLUMNS
              ) -> dict[str, dict[str, Any]]:
    return {d: {c: row[c] for c in columns} for d, row in _as_of(store, at).items()}


@pytest.mark.parametrize("pair", [(0, 2), (1, 3), (2, 4), (3, 5), (0, 5), (4, 4)])
def test_two_instants_from_one_read_equal_each_rebuilt_alone(store: Store,
                                                             pair: tuple[int, int]) -> None:
    load_records(store, {**DATA, "opportunity_field_history":
                         [*DATA["opportunity_field_history"], *MORE]})
    instants = [INSTANTS[pair[0]], INSTANTS[pair[1]]]
    both = _states(store, instants)
    for at, got in zip(instants, both, strict=True):
        assert got == _expected(store, at), at


def test_three_instants_in_any_order(store: Store) -> None:
    load_records(store, {**DATA, "opportunity_field_history":
                         [*DATA["opportunity_field_history"], *MORE]})
    instants = [INSTANTS[4], INSTANTS[0], INSTANTS[2]]
    for at, got in zip(instants, _states(store, instants), strict=True):
        assert got == _expected(store, at), at


def test_a_few_columns_read_only_the_fields_they_need(store: Store) -> None:
    load_records(store, {**DATA, "opportunity_field_history":
                         [*DATA["opportunity_field_history"], *MORE]})
    columns = ("remote_id", "status", "amount_base", "expected_close_date")
    instants = [INSTANTS[0], INSTANTS[3]]
    for at, got in zip(instants, _states(store, instants, columns), strict=True):
        assert got == _expected(store, at, columns), at


def test_the_generated_world_at_two_instants(store: Store) -> None:
    load_records(store, world(None))
    instants = [dt.datetime(2026, 4, 1), dt.datetime(2026, 7, 1)]
    got = _states(store, instants)
    for at, states in zip(instants, got, strict=True):
        expected = _expected(store, at)
        assert len(expected) > 50
        assert states == expected, at
