"""Values a database refuses at INSERT never block a table (SQLite and PostgreSQL).

Validation knows each dialect's limits (integer ranges, U+0000 in text) and rejects such values
naming the record and field; a batch the database still refuses is bisected so only the refused
record is rejected and its neighbours are stored with the cursor (docs/concepts.md, "Rejects").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync import Batch, Connector
from crmsync.core.schema import SYNCED_TABLES, sync_rejects, sync_runs, sync_state
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.sync import engine as engine_module
from crmsync.sync.validate import RecordValidator, validator_for

T0 = dt.datetime(2026, 1, 1, 9, 0)
BEYOND_64_BITS = 1 << 63


def account(i: int, **extra: Any) -> dict[str, Any]:
    return {"remote_id": f"A{i}", "name": f"Account {i}",
            "remote_updated_at": T0 + dt.timedelta(minutes=i), **extra}


class OneBatch(Connector):
    """Serves the records it is given as one batch of accounts with cursor ``{"page": 1}``."""

    NAME = "one-batch"
    ENTITIES = ("accounts",)

    def __init__(self, name: str, settings: dict[str, Any], records: list[dict[str, Any]]
                 ) -> None:
        super().__init__(name, settings)
        self.records = records

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        yield Batch(records=self.records, cursor={"page": 1},
                    sources=[f"accounts.csv line {n + 2}" for n in range(len(self.records))])


def sync(store: Store, records: list[dict[str, Any]]) -> Any:
    return SyncEngine(store, OneBatch("crm", {}, records)).sync_entity("accounts")


def stored_ids(store: Store) -> list[str]:
    table = SYNCED_TABLES["accounts"]
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.remote_id)).scalars())


def rejects(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.field,
                                      sync_rejects.c.reason)).all()


@pytest.fixture
def no_limit_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine validates without the dialect limits: only the database refuses."""
    monkeypatch.setattr(engine_module, "validator_for", lambda entity, dialect: RecordValidator(
        SYNCED_TABLES[entity], dialect, enforce_limits=False))


# -- validation knows the dialect's limits ----------------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_integer_beyond_64_bits_is_rejected_naming_the_field(dialect: str) -> None:
    row, problems = validator_for("accounts", dialect).validate(
        account(1, employee_count=BEYOND_64_BITS))
    assert row is None
    assert [p.field for p in problems] == ["employee_count"]
    assert "out of the column's range" in problems[0].reason


def test_an_integer_beyond_32_bits_fits_sqlite_but_not_a_postgresql_integer_column() -> None:
    big = account(1, employee_count=1 << 31)
    assert validator_for("accounts", "sqlite").validate(big)[0] is not None
    row, problems = validator_for("accounts", "postgresql").validate(big)
    assert row is None and problems[0].field == "employee_count"
    assert "-2147483648 to 2147483647" in problems[0].reason


def test_nul_in_text_is_rejected_on_postgresql_only() -> None:
    record = account(1, industry="Soft\x00ware")
    assert validator_for("accounts", "sqlite").validate(record)[0] is not None
    row, problems = validator_for("accounts", "postgresql").validate(record)
    assert row is None
    assert [(p.field, "NUL" in p.reason) for p in problems] == [("industry", True)]


def test_nul_or_nan_inside_json_is_rejected_on_postgresql_naming_the_key() -> None:
    validator = validator_for("accounts", "postgresql")
    row, problems = validator.validate(account(1, custom={"notes": ["ok", "b\x00d"]}))
    assert row is None and problems[0].field == "custom"
    assert "notes[1]" in problems[0].reason
    row, problems = validator.validate(account(1, raw={"score": float("nan")}))
    assert row is None and problems[0].field == "raw" and "score" in problems[0].reason


def test_values_a_dialect_refuses_are_rejected_and_the_neighbours_stored(store: Store) -> None:
    bad = {"A2": {"employee_count": BEYOND_64_BITS}}
    if store.dialect == "postgresql":
        bad["A4"] = {"name": "Ac\x00me"}
    records = [account(i, **bad.get(f"A{i}", {})) for i in range(1, 6)]
    result = sync(store, records)
    assert result.status == "success" and result.rejects == len(bad)
    assert stored_ids(store) == sorted({f"A{i}" for i in range(1, 6)} - set(bad))
    assert sorted((rid, field) for rid, field, _ in rejects(store)) == sorted(
        (rid, next(iter(fields))) for rid, fields in bad.items())


def test_a_rejected_record_holding_nul_keeps_its_payload_storable(store: Store) -> None:
    result = sync(store, [account(1, name="Ac\x00me", employee_count=BEYOND_64_BITS)])
    assert result.status == "success" and result.rejects == 1
    with store.engine.connect() as conn:
        payloads = conn.execute(sa.select(sync_rejects.c.payload)).scalars().all()
    expected = "Ac\\x00me" if store.dialect == "postgresql" else "Ac\x00me"
    assert payloads and {p["name"] for p in payloads} == {expected}


# -- the database's refusal is bisected -------------------------------------------------------


def test_a_batch_the_database_refuses_rejects_only_the_refused_record(
        store: Store, no_limit_checks: None) -> None:
    records = [account(i, employee_count=BEYOND_64_BITS if i == 7 else i) for i in range(1, 11)]
    result = sync(store, records)
    assert result.status == "success"
    assert (result.rows_read, result.rows_upserted, result.rejects) == (10, 9, 1)
    assert stored_ids(store) == sorted(f"A{i}" for i in range(1, 11) if i != 7)
    [(rid, field, reason)] = rejects(store)
    assert rid == "A7" and reason.startswith("the database refused the record: ")
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sync_rejects.c.source)).scalar() == "accounts.csv line 8"
    if store.dialect == "sqlite":  # the driver's overflow can only come from that column
        assert field == "employee_count"
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sync_state.c.cursor)).scalar_one() == {"page": 1}
        run = conn.execute(sa.select(sync_runs.c.rows_upserted, sync_runs.c.rejects)).one()
    assert tuple(run) == (9, 1)


def test_the_next_sync_is_not_blocked_by_a_refused_record(store: Store,
                                                          no_limit_checks: None) -> None:
    records = [account(i, employee_count=BEYOND_64_BITS if i in (1, 5) else i)
               for i in range(1, 6)]
    sync(store, records)
    records[2]["name"] = "Renamed"
    again = sync(store, records)
    assert again.status == "success" and again.rejects == 2
    assert stored_ids(store) == ["A2", "A3", "A4"]
    assert sorted(r[0] for r in rejects(store)) == ["A1", "A5"]  # replaced, not piled up
    table = SYNCED_TABLES["accounts"]
    with store.engine.connect() as conn:
        name = conn.execute(sa.select(table.c.name).where(table.c.remote_id == "A3")).scalar()
    assert name == "Renamed"


def test_nul_the_database_refuses_is_bisected_on_postgresql(pg_url: str,
                                                            no_limit_checks: None) -> None:
    with Store(pg_url) as store:
        result = sync(store, [account(1), account(2, industry="x\x00y"), account(3)])
        assert (result.status, result.rejects) == ("success", 1)
        assert stored_ids(store) == ["A1", "A3"]
        [(rid, _field, reason)] = rejects(store)
        assert rid == "A2" and "NUL" in reason


def test_a_connector_error_holding_nul_is_recorded_on_the_run(store: Store) -> None:
    from crmsync import ConnectorError

    class Garbled(OneBatch):
        def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
            raise ConnectorError("HTTP 500: bad\x00body", connection=self.name, entity=entity)
            yield  # pragma: no cover

    result = SyncEngine(store, Garbled("crm", {}, [])).sync_entity("accounts")
    assert result.status == "failed"
    with store.engine.connect() as conn:
        status, error = conn.execute(sa.select(sync_runs.c.status, sync_runs.c.error)).one()
    assert status == "failed" and "bad" in error and "body" in error
