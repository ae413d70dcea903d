"""The store: migrations on both dialects, upserts, SQLite WAL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from crmsync.cli import cli
from crmsync.core.schema import accounts, metadata
from crmsync.store import Store, upsert_rows
from crmsync.store.migrate import head

NOW = dt.datetime(2026, 1, 1)


def test_migrations_create_exactly_the_schema(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    assert diff == []
    assert store.current_revision() == head()


def test_opening_a_current_store_applies_nothing(empty_store_url):
    Store(empty_store_url).dispose()
    again = Store(empty_store_url, upgrade=False)
    assert again.upgrade() == []
    again.dispose()


def test_db_upgrade_command_migrates_an_empty_store(tmp_path):
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text('[store]\nurl = "sqlite:///fresh.db"\n')
    result = CliRunner().invoke(cli, ["--config", str(cfg), "db", "upgrade"])
    assert result.exit_code == 0 and "applied 0001" in result.output
    result = CliRunner().invoke(cli, ["--config", str(cfg), "db", "upgrade"])
    assert "up to date" in result.output


def test_sqlite_store_uses_wal(sqlite_store):
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def row(rid: str, name: str, connection: str = "c") -> dict:
    base = {c.name: None for c in accounts.c if c.name != "id"}
    return base | {"connection": connection, "remote_id": rid, "name": name,
                   "is_deleted": False, "synced_at": NOW}


def test_upsert_is_keyed_on_connection_and_remote_id(store):
    with store.engine.begin() as conn:
        upsert_rows(conn, accounts, [row("1", "a"), row("2", "b"), row("1", "x", "other")])
        upsert_rows(conn, accounts, [row("1", "a2")])
    with store.engine.connect() as conn:
        got = sorted(conn.execute(sa.select(accounts.c.connection, accounts.c.remote_id,
                                            accounts.c.name)).all())
    assert got == [("c", "1", "a2"), ("c", "2", "b"), ("other", "1", "x")]


def test_upserted_values_read_back_with_their_types(store):
    r = row("1", "typed") | {"remote_created_at": dt.datetime(2026, 5, 1, 13, 45, 7, 120),
                             "custom": {"tier": "gold"}, "is_deleted": True,
                             "employee_count": 12, "annual_revenue": 0.1 + 0.2}
    with store.engine.begin() as conn:
        upsert_rows(conn, accounts, [r, row("2", "nulls")])
    with store.engine.connect() as conn:
        got = conn.execute(sa.select(accounts).order_by(accounts.c.remote_id)).mappings().all()
        null_json = conn.execute(sa.select(sa.func.count()).where(accounts.c.custom.is_(None))
                                 ).scalar_one()
    assert got[0]["remote_created_at"] == dt.datetime(2026, 5, 1, 13, 45, 7, 120)
    assert got[0]["custom"] == {"tier": "gold"} and got[0]["is_deleted"] is True
    assert got[0]["annual_revenue"] == 0.1 + 0.2 and got[0]["employee_count"] == 12
    assert null_json == 1  # a missing JSON value is SQL NULL, not the JSON text 'null'


def test_upserted_timestamps_compare_correctly_in_sql(store):
    early, late = dt.datetime(2026, 1, 1, 9, 0), dt.datetime(2026, 1, 1, 9, 0, 0, 5)
    with store.engine.begin() as conn:
        upsert_rows(conn, accounts, [row("1", "a") | {"remote_updated_at": early},
                                     row("2", "b") | {"remote_updated_at": late}])
    with store.engine.connect() as conn:
        newer = conn.execute(sa.select(accounts.c.remote_id)
                             .where(accounts.c.remote_updated_at > early)).scalars().all()
        same = conn.execute(sa.select(accounts.c.remote_id)
                            .where(accounts.c.remote_updated_at == early)).scalars().all()
    assert (newer, same) == (["2"], ["1"])


def _add_accounts(store, n, start=0):
    with store.engine.begin() as conn:
        upsert_rows(conn, accounts, [row(str(i), f"a{i}") for i in range(start, start + n)])


def test_a_table_without_statistics_is_analysed_after_a_sync_changed_it(store):
    _add_accounts(store, 100)

    assert store.analyze({"accounts": 100, "contacts": 0}) == ["accounts"]


def test_a_small_change_keeps_the_statistics_and_a_large_one_refreshes_them(store):
    _add_accounts(store, 100)
    store.analyze({"accounts": 100})

    assert store.analyze({"accounts": 9}) == []  # under a tenth of the 100 analysed rows
    _add_accounts(store, 50, start=100)
    assert store.analyze({"accounts": 50}) == ["accounts"]
