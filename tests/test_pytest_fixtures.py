"""The pytest fixtures crmsync gives plugin authors (crmsync_pytest; docs/testing-plugins.md,
"Fixtures"): a PostgreSQL store in a throw-away schema, and a clock whose sleeps are instant
and recorded, which ``crmsync_sync`` waits on."""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest
import sqlalchemy as sa

from contract_subjects import MemoryCrm, ReferenceConnector, make_connector
from crmsync.store import Store
from crmsync.testing import FakeClock


@pytest.fixture
def crm() -> MemoryCrm:
    crm = MemoryCrm()
    for _ in range(5):
        crm.create("accounts")
    return crm


@pytest.fixture
def connector(crm: MemoryCrm) -> ReferenceConnector:
    return make_connector(ReferenceConnector, crm)


def test_pg_store_is_a_migrated_postgresql_store_in_its_own_schema(crmsync_pg_store: Store
                                                                   ) -> None:
    with crmsync_pg_store.engine.connect() as conn:
        schema = conn.execute(sa.text("select current_schema()")).scalar_one()
        tables = set(sa.inspect(conn).get_table_names())
    assert crmsync_pg_store.dialect == "postgresql"
    assert schema.startswith("t_")
    assert {"accounts", "opportunities", "sync_runs", "sync_state"} <= tables


def test_pg_store_schema_is_dropped_after_the_test(tmp_path: Path, crmsync_pg_server: str
                                                   ) -> None:
    module = tmp_path / "test_uses_pg_store.py"
    module.write_text(
        "import sqlalchemy as sa\n\n\n"
        "def test_it(crmsync_pg_store):\n"
        "    with crmsync_pg_store.engine.connect() as conn:\n"
        "        name = conn.execute(sa.text('select current_schema()')).scalar_one()\n"
        f"    open({str(tmp_path / 'schema.txt')!r}, 'w').write(name)\n")
    code = pytest.main([str(module), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                        "-o", "addopts=", "--import-mode=importlib",
                        "--rootdir", str(tmp_path)])
    assert code == pytest.ExitCode.OK
    schema = (tmp_path / "schema.txt").read_text()
    engine = sa.create_engine(crmsync_pg_server)
    try:
        with engine.connect() as conn:
            left = conn.execute(sa.text("select count(*) from information_schema.schemata "
                                        "where schema_name = :s"), {"s": schema}).scalar_one()
    finally:
        engine.dispose()
    assert schema.startswith("t_") and left == 0


def test_sync_waits_the_retry_after_on_the_clock_without_sleeping(
        crm: MemoryCrm, connector: ReferenceConnector, crmsync_sync, crmsync_clock: FakeClock
        ) -> None:
    crm.fail_next(429, retry_after="7")
    crm.fail_next(429, retry_after="30")

    [result] = crmsync_sync(connector, ["accounts"])

    assert (result.status, result.rows_upserted) == ("success", 5)
    assert crmsync_clock.waits == [7.0, 30.0]


def test_sync_sleeps_on_the_sleep_it_is_given(crm: MemoryCrm, connector: ReferenceConnector,
                                              crmsync_sync, crmsync_clock: FakeClock) -> None:
    waits: list[float] = []
    crm.fail_next(429, retry_after="4")

    crmsync_sync(connector, ["accounts"], sleep=waits.append)

    assert waits == [4.0] and crmsync_clock.waits == []


def test_sync_into_the_postgresql_store(connector: ReferenceConnector, crmsync_sync,
                                        crmsync_pg_store: Store) -> None:
    [result] = crmsync_sync(connector, ["accounts"], store=crmsync_pg_store)

    with crmsync_pg_store.engine.connect() as conn:
        stored = conn.execute(sa.text("select count(*) from accounts")).scalar_one()
    assert (result.status, stored) == ("success", 5)


def test_clock_moves_only_by_its_sleeps() -> None:
    clock = FakeClock(start=1000.0)

    clock.sleep(2.5)
    clock.sleep(0)

    assert (clock.time(), clock.waits) == (1002.5, [2.5, 0.0])


def test_clock_reads_an_http_date_retry_after_against_itself() -> None:
    clock = FakeClock()
    header = email.utils.formatdate(clock.time() + 90, usegmt=True)

    assert clock.retry_after(header) == 90.0
    assert clock.retry_after("12") == 12.0
